"""``slack-dlp local``: the stack in MiniStack with a Slack stand-in (what ``make run`` runs)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    local = commands.add_parser("local", help="deploy the stack into MiniStack with a Slack stand-in (make run)")
    local.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slack_dlp_tools.local.run import main as run_local

    return run_local([])
