"""``slack-dlp allowlist``: the values marked as false positives, per workspace; list and remove."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, StackTarget, UsageError, add_stack_arguments


def register(commands: Any) -> None:
    allowlist = commands.add_parser("allowlist", help="false-positive allowlist: list or remove fingerprints")
    actions = allowlist.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="fingerprint, masked value, who, when, from which alert")
    listing.add_argument("--workspace", action="append", default=[], metavar="T…", help="only this workspace")
    listing.add_argument("--json", action="store_true")
    add_stack_arguments(listing)
    listing.set_defaults(func=run_list)
    remove = actions.add_parser("remove", help="take a fingerprint off the allowlist (it alerts again)")
    remove.add_argument("fingerprint")
    remove.add_argument("--workspace", action="append", default=[], metavar="T…", help="only this workspace")
    add_stack_arguments(remove)
    remove.set_defaults(func=run_remove)


def _store(stack: StackTarget) -> Any:
    from slack_dlp.triage import DynamoDbTriageStore

    return DynamoDbTriageStore(stack.client("dynamodb"), stack.output("TriageTableName"), retention_days=365)


def run_list(args: argparse.Namespace) -> int:
    entries = _store(StackTarget.from_args(args)).allowlist(args.workspace)
    if args.json:
        json.dump({"allowlist": entries}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif not entries:
        print("The allowlist is empty.")
    else:
        print(f"{'WORKSPACE':12} {'FINGERPRINT':34} {'MASKED':22} {'BY':12} {'AT':26} {'EXPIRES':26} ALERT")
        for e in entries:
            print(
                f"{e['workspace']:12} {e['fingerprint']:34} {e['masked'] or '–':22} {e['actor']:12} {e['at']:26} "
                f"{e['expires'] or 'never':26} {e['alert'] or e['item_id']}"
            )
    return EXIT_CLEAN


def run_remove(args: argparse.Namespace) -> int:
    stack = StackTarget.from_args(args)
    store = _store(stack)
    workspaces = args.workspace or sorted(
        {e["workspace"] for e in store.allowlist() if e["fingerprint"] == args.fingerprint}
    )
    removed = [team for team in workspaces if store.remove(team, args.fingerprint)]
    if not removed:
        raise UsageError(f"{args.fingerprint} is not on the allowlist")
    actor = _caller(stack)
    for team in removed:
        store.record("allowlist_removed", actor=actor, team_id=team, fingerprints=[args.fingerprint])
        print(f"removed {args.fingerprint} from {team}'s allowlist: it alerts again")
    return EXIT_CLEAN


def _caller(stack: StackTarget) -> str:
    """Who removed it, for the audit trail: the AWS identity running the command."""
    try:
        return str(stack.client("sts").get_caller_identity()["Arn"])
    except Exception:  # an audit entry without an ARN beats none
        return "unknown"
