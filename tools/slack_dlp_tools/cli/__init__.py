"""The ``slack-dlp`` command: one module per subcommand, registered in ``COMMANDS``.

Operator and developer tooling only: no Lambda function imports this package.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable

from slack_dlp.config import SettingsError
from slack_dlp_tools.cli import (
    allowlist,
    bench,
    cost,
    coverage,
    findings,
    local,
    manifest,
    redrive,
    rules,
    scan,
    smoke,
    status,
)
from slack_dlp_tools.cli.common import EXIT_ERROR, UsageError

#: Each module has ``register(subparsers)``, which sets ``func`` on its parser.
COMMANDS = (scan, rules, findings, status, redrive, allowlist, cost, coverage, bench, local, manifest, smoke)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slack-dlp", description="Data loss prevention for Slack.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    args = build_parser().parse_args(None if argv is None else list(argv))
    try:
        return int(args.func(args))
    except (OSError, UsageError, SettingsError) as error:
        print(f"slack-dlp {args.command}: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # AWS, network: one line (exit 2), never a traceback that reads as "found"
        if os.environ.get("SLACK_DLP_TRACEBACK"):
            raise
        print(f"slack-dlp {args.command}: {type(error).__name__}: {str(error)[:300]} "
              "(SLACK_DLP_TRACEBACK=1 shows where)", file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
