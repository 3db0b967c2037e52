"""``slack-dlp smoke``: send a signed synthetic event to a deployed stack and follow it to the alert."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_FOUND, StackTarget, UsageError, add_stack_arguments, api_url


def register(commands: Any) -> None:
    smoke = commands.add_parser(
        "smoke", help="verify a deployment end to end: a signed test event in, its alert out, each stage timed"
    )
    add_stack_arguments(smoke)
    smoke.add_argument("--timeout", type=float, default=60, help="seconds to wait for the alert (default 60)")
    smoke.add_argument("--json", action="store_true")
    smoke.add_argument(
        "--signing-secret",
        help="sign with this instead of the stack's SigningSecretArn value (to check what Slack would see)",
    )
    smoke.set_defaults(func=run)


def _secret(stack: StackTarget, output: str) -> str:
    try:
        value = stack.client("secretsmanager").get_secret_value(SecretId=stack.output(output))
    except UsageError:
        raise
    except Exception as error:  # botocore: no access, no value yet
        raise UsageError(f"cannot read the {output} secret: {type(error).__name__}") from None
    return str(value.get("SecretString", ""))


def run(args: argparse.Namespace) -> int:
    from slack_dlp.triage import DynamoDbTriageStore
    from slack_dlp_tools.logs import StackLogs
    from slack_dlp_tools.smoke import SmokeTest

    stack = StackTarget.from_args(args)
    request_url = api_url(stack, "RequestUrl", "/slack/events")
    signing_secret = args.signing_secret or _secret(stack, "SigningSecretArn")
    bot_token_missing = not _secret(stack, "BotTokenSecretArn").startswith("xox")
    try:
        logs: StackLogs | None = StackLogs.of_stack(
            stack.client("cloudformation"), stack.client("logs"), stack.stack_name
        )
    except Exception as error:  # no permission to list resources: stages are inferred from the alert
        print(f"slack-dlp smoke: function logs unavailable ({type(error).__name__})", file=sys.stderr)
        logs = None
    audit = DynamoDbTriageStore(stack.client("dynamodb"), stack.output("TriageTableName"), retention_days=0)
    report = SmokeTest(request_url, signing_secret, audit, logs, timeout=args.timeout).run()
    if bot_token_missing and not report.passed:
        report.hints.insert(0, "missing bot token: the BotToken secret holds no xoxb- token (README step 4)")
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.render())
    return EXIT_CLEAN if report.passed else EXIT_FOUND
