"""What every ``slack-dlp`` command shares: exit codes, usage errors, and reaching a deployed stack."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from typing import Any

from slack_dlp.model import Finding

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
#: The stack deployed by ``make run`` listens here unless MINISTACK_PORT moved it.
LOCAL_ENDPOINT_HINT = "http://127.0.0.1:4566"


class UsageError(Exception):
    """Bad input or an unreachable target; printed as one line without a traceback, exit code 2."""


def finding_row(finding: Finding) -> dict[str, Any]:
    """A finding as the CLI prints it: never the value, only where it is and its masked preview."""
    return {
        "type": finding.detector,
        "category": finding.category.value,
        "start": finding.start,
        "end": finding.end,
        "confidence": finding.confidence.value,
        "masked": finding.masked,
    }


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip().lower())
    if not match:
        raise UsageError(f"--since takes a duration such as 30m, 12h or 7d, not {text!r}")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return int(match.group(1)) * unit


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """``--stack-name``, ``--region`` and ``--endpoint``: which deployed stack a command talks to."""
    parser.add_argument(
        "--stack-name", "--stack", dest="stack_name", default="SlackDlp", help="CloudFormation stack name"
    )
    parser.add_argument("--region", help="AWS region (default: your AWS configuration)")
    parser.add_argument("--endpoint", help=f"AWS endpoint, e.g. {LOCAL_ENDPOINT_HINT} for the make run stack")


@dataclass
class StackTarget:
    """A deployed slack-dlp stack: its outputs and boto3 clients for its account and region."""

    stack_name: str
    region: str | None = None
    endpoint: str | None = None
    _outputs: dict[str, str] | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StackTarget:
        return cls(stack_name=args.stack_name, region=args.region, endpoint=args.endpoint)

    def client_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        if self.region:
            arguments["region_name"] = self.region
        if self.endpoint:
            arguments["endpoint_url"] = self.endpoint
            if not os.environ.get("AWS_ACCESS_KEY_ID"):
                arguments |= {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
            arguments.setdefault("region_name", "us-east-1")
        return arguments

    def client(self, service: str) -> Any:
        import boto3
        from botocore.exceptions import NoRegionError

        try:
            return boto3.client(service, **self.client_arguments())
        except NoRegionError:
            raise UsageError("no AWS region configured: pass --region or set AWS_REGION") from None

    @property
    def outputs(self) -> dict[str, str]:
        if self._outputs is None:
            try:
                stack = self.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"][0]
            except UsageError:
                raise
            except Exception as error:  # botocore errors: no stack, no credentials, no endpoint
                where = f" at {self.endpoint}" if self.endpoint else ""
                raise UsageError(f"cannot read stack {self.stack_name!r}{where}: {type(error).__name__}") from None
            self._outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return self._outputs

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise UsageError(f"stack {self.stack_name!r} has no {key} output (deploy this version first)")
        return value


def api_url(stack: StackTarget, output_key: str, path: str) -> str:
    """A URL of the stack's HTTP API: its output on AWS; for an emulator (``--endpoint``), the
    path-style URL of the ``$default`` stage (its ``*.execute-api.localhost`` names do not resolve)."""
    if stack.endpoint:
        return f"{stack.endpoint.rstrip('/')}/_aws/execute-api/{stack.output('HttpApiId')}{path}"
    return stack.output(output_key)
