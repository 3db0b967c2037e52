"""``slack-dlp backfill``: start a history backfill in the deployed stack and follow its progress."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from slack_dlp_tools.cli.common import (
    EXIT_CLEAN,
    EXIT_ERROR,
    StackTarget,
    UsageError,
    add_stack_arguments,
    parse_duration,
)

if TYPE_CHECKING:
    from slack_dlp.backfill import DynamoDbRunStore


def register(commands: Any) -> None:
    backfill = commands.add_parser(
        "backfill", help="inspect Slack history (before the install, lost windows) with the deployed stack"
    )
    backfill.add_argument("--since", default="30d", help="how far back: 12h, 7d, 30d (default 30d)")
    backfill.add_argument("--channels", help="comma-separated channel ids (default: every conversation the bot is in)")
    backfill.add_argument("--oldest", help="start of the window as a Slack ts / epoch seconds (instead of --since)")
    backfill.add_argument("--latest", help="end of the window as a Slack ts / epoch seconds (default: now)")
    backfill.add_argument("--page-size", type=int, default=200, help="messages per history page (1-999)")
    backfill.add_argument("--run", metavar="RUN_ID", help="follow (or report) a run already started")
    backfill.add_argument("--no-wait", action="store_true", help="start the run and return its id")
    backfill.add_argument("--timeout", type=float, default=0, help="stop following after this many seconds")
    backfill.add_argument("--json", action="store_true", help="print one final summary object")
    add_stack_arguments(backfill)
    backfill.set_defaults(func=run)


def start_command(args: argparse.Namespace, now: float) -> dict[str, Any]:
    command: dict[str, Any] = {"action": "start", "page_size": args.page_size}
    channels = [c.strip() for c in (args.channels or "").split(",") if c.strip()]
    if channels:
        command["channels"] = channels
    if args.oldest:
        command["oldest"] = args.oldest
    else:
        command["oldest"] = f"{now - parse_duration(args.since):.6f}"
    if args.latest:
        command["latest"] = args.latest
    return command


def invoke(stack: StackTarget, payload: dict[str, Any]) -> dict[str, Any]:
    function = stack.output("BackfillFunctionName")
    try:
        response = stack.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    except UsageError:
        raise
    except Exception as error:  # botocore errors: no function, no credentials, no endpoint
        raise UsageError(f"cannot invoke {function}: {type(error).__name__}") from None
    body = response["Payload"].read()
    if response.get("FunctionError"):
        raise UsageError(f"the backfill function failed: {body.decode(errors='replace')[:300]}")
    answer = json.loads(body or b"{}")
    if not isinstance(answer, dict) or not answer.get("ok"):
        reason = answer.get("error") if isinstance(answer, dict) else answer
        raise UsageError(f"backfill refused: {reason}")
    return answer


def progress_line(summary: dict[str, Any], width: int = 24) -> str:
    channels, done = int(summary.get("channels", 0)), int(summary.get("channels_done", 0))
    filled = round(width * done / channels) if channels else width
    eta = "done" if summary.get("done") else f"ETA ~{_duration(float(summary.get('eta_seconds', 0)))}"
    return (
        f"[{'#' * filled}{'-' * (width - filled)}] {done}/{channels} channels · {summary.get('messages', 0):,} "
        f"messages read · {summary.get('enqueued', 0):,} enqueued · {summary.get('threads', 0):,} threads · {eta}"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def follow(
    status: Callable[[], dict[str, Any] | None],
    out: TextIO,
    *,
    tty: bool,
    timeout: float = 0,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the run's state until every channel is done (or the timeout); a bar on a terminal."""
    deadline = clock() + timeout if timeout else None
    while True:
        summary = status()
        if summary is None:
            raise UsageError("run not found (it expires 30 days after it started)")
        if tty:
            out.write("\r" + progress_line(summary) + "\033[K")
            out.flush()
        if summary.get("done") or (deadline is not None and clock() >= deadline):
            if tty:
                out.write("\n")
            return summary
        sleep(interval)


def _run_store(stack: StackTarget) -> DynamoDbRunStore:
    from slack_dlp.backfill import DynamoDbRunStore

    return DynamoDbRunStore(stack.client("dynamodb"), stack.output("BackfillTableName"))


def status_reader(stack: StackTarget, run_id: str) -> Callable[[], dict[str, Any] | None]:
    """Reads a run's state from the stack's backfill table (no function invocation needed)."""
    store = _run_store(stack)

    def status() -> dict[str, Any] | None:
        state = store.status(run_id)
        return None if state is None else state.summary()

    return status


def running(stack: StackTarget) -> list[dict[str, Any]]:
    """The summary of each run the stack's backfill table holds that has channels left, oldest first."""
    store = _run_store(stack)
    summaries = []
    for run_id in store.run_ids():
        state = store.status(run_id)
        if state is not None and not state.done:
            summaries.append(state.summary())
    return summaries


def run(args: argparse.Namespace) -> int:
    stack = StackTarget.from_args(args)
    run_id = args.run
    if not run_id:
        started = invoke(stack, start_command(args, time.time()))
        run_id = started["run_id"]
        if not args.json:
            print(f"Backfill {run_id} started: {started['channels']} channel(s), team {started['team_id']}.")
        if args.no_wait:
            if args.json:
                print(json.dumps(started))
            else:
                print(f"Follow it with: slack-dlp backfill --run {run_id}")
            return EXIT_CLEAN
    try:
        tty = sys.stderr.isatty() and not args.json
        summary = follow(status_reader(stack, run_id), sys.stderr, tty=tty, timeout=args.timeout)
    except KeyboardInterrupt:
        print(f"\nThe run goes on in the stack; follow it again with: slack-dlp backfill --run {run_id}")
        return EXIT_ERROR
    if args.json:
        print(json.dumps(summary))
    else:
        state = "done" if summary["done"] else "still running"
        print(
            f"Backfill {run_id} {state}: {summary['channels_done']}/{summary['channels']} channels, "
            f"{summary['pages']:,} pages, {summary['messages']:,} messages read, {summary['enqueued']:,} enqueued "
            f"for inspection, {summary['files']:,} files, {summary['threads']:,} threads."
        )
        for channel, error in summary["errors"].items():
            print(f"  {channel}: not read ({error})")
    return EXIT_CLEAN if summary["done"] else EXIT_ERROR
