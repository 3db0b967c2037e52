"""``slack-dlp findings``: the audit trail of a deployed stack, masked."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, StackTarget, add_stack_arguments, parse_duration


def register(commands: Any) -> None:
    findings = commands.add_parser("findings", help="the audit trail: alerts and actions taken on them (masked)")
    findings.add_argument("--since", default="7d", help="how far back: 30m, 12h, 7d (default 7d)")
    findings.add_argument("--json", action="store_true")
    add_stack_arguments(findings)
    findings.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slack_dlp.triage import DynamoDbTriageStore, render_events

    seconds = parse_duration(args.since)
    stack = StackTarget.from_args(args)
    table = stack.output("TriageTableName")
    store = DynamoDbTriageStore(stack.client("dynamodb"), table, retention_days=0)
    events = store.since(seconds)
    if args.json:
        json.dump({"events": events}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_events(events) if events else f"No alerts or actions in the last {args.since}.")
    return EXIT_CLEAN
