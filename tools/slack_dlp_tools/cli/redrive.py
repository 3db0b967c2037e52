"""``slack-dlp redrive``: move a dead-letter queue's messages back to the queue they came from.

With no ``--max``, SQS moves them itself (``StartMessageMoveTask``) where the service supports it.
Otherwise — a ``--max``, or an SQS (emulator) without move tasks — messages are received in batches
of ten, sent to the source queue, and deleted from the DLQ only once SQS has accepted them: a
message is never lost; at worst (a crash between send and delete) it is delivered twice, which the
pipeline's idempotency absorbs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_FOUND, StackTarget, UsageError, add_stack_arguments

#: Which stack outputs hold each pipeline queue and its DLQ.
QUEUES = {
    "inspect": ("InspectQueueUrl", "InspectDlqUrl"),
    "results": ("ResultsQueueUrl", "ResultsDlqUrl"),
    "files": ("FilesQueueUrl", "FilesDlqUrl"),
    "join": ("JoinQueueUrl", "JoinDlqUrl"),
}
#: What an SQS without message move tasks answers (MiniStack: InvalidAction; moto: not implemented).
UNSUPPORTED = {"InvalidAction", "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "NotImplemented"}
#: How long a received message stays invisible while it is being moved.
MOVE_VISIBILITY_SECONDS = 60


@dataclass
class RedriveResult:
    queue: str
    method: str
    moved: int = 0
    failed: int = 0
    remaining: int = 0
    dry_run: bool = False


def register(commands: Any) -> None:
    redrive = commands.add_parser("redrive", help="move a dead-letter queue's messages back to their queue")
    redrive.add_argument("--queue", required=True, choices=sorted(QUEUES), help="which pipeline queue's DLQ")
    redrive.add_argument("--max", type=int, metavar="N", help="move at most N messages (default: all)")
    redrive.add_argument("--dry-run", action="store_true", help="count what would move; move nothing")
    redrive.add_argument("--json", action="store_true")
    add_stack_arguments(redrive)
    redrive.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max is not None and args.max < 1:
        raise UsageError("--max takes a positive number")
    stack = StackTarget.from_args(args)
    source_key, dlq_key = QUEUES[args.queue]
    source_url, dlq_url = stack.output(source_key), stack.output(dlq_key)
    progress = (lambda _: None) if args.json else _print_progress
    result = redrive(
        stack.client("sqs"), args.queue, dlq_url, source_url, limit=args.max, dry_run=args.dry_run, progress=progress
    )
    if args.json:
        json.dump(asdict(result), sys.stdout)
        sys.stdout.write("\n")
    else:
        verb = "would move" if result.dry_run else f"moved ({result.method})"
        print(f"{args.queue}: {verb} {result.moved}, failed {result.failed}, {result.remaining} left in the DLQ")
    return EXIT_FOUND if result.failed else EXIT_CLEAN


def redrive(
    sqs: Any,
    queue: str,
    dlq_url: str,
    source_url: str,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda _: None,
    poll_seconds: float = 2.0,
) -> RedriveResult:
    waiting = depth(sqs, dlq_url)
    if dry_run:
        moving = waiting if limit is None else min(waiting, limit)
        return RedriveResult(queue, "dry-run", moved=moving, remaining=waiting, dry_run=True)
    if limit is None:
        task = _move_task(sqs, dlq_url, source_url, progress, poll_seconds)
        if task is not None:
            return RedriveResult(queue, "StartMessageMoveTask", moved=task, remaining=depth(sqs, dlq_url))
    moved, failed = _move_in_batches(sqs, dlq_url, source_url, limit, progress)
    return RedriveResult(queue, "receive/send/delete", moved=moved, failed=failed, remaining=depth(sqs, dlq_url))


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _move_task(
    sqs: Any, dlq_url: str, source_url: str, progress: Callable[[int], None], poll_seconds: float
) -> int | None:
    """Moved count, or None when this SQS has no message move tasks."""
    from botocore.exceptions import ClientError

    dlq_arn, source_arn = (_arn(sqs, url) for url in (dlq_url, source_url))
    try:
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=source_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in UNSUPPORTED:
            return None
        raise UsageError(f"StartMessageMoveTask failed: {error.response.get('Error', {}).get('Code')}") from None
    except NotImplementedError:
        return None
    while True:
        [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"]
        progress(int(task.get("ApproximateNumberOfMessagesMoved", 0)))
        if task["Status"] in ("COMPLETED", "CANCELLED", "FAILED"):
            if task["Status"] != "COMPLETED":
                raise UsageError(f"the move task ended {task['Status']}: {task.get('FailureReason', '')}")
            return int(task.get("ApproximateNumberOfMessagesMoved", 0))
        time.sleep(poll_seconds)


def _move_in_batches(
    sqs: Any, dlq_url: str, source_url: str, limit: int | None, progress: Callable[[int], None]
) -> tuple[int, int]:
    moved = failed = 0
    while limit is None or moved + failed < limit:
        wanted = 10 if limit is None else min(10, limit - moved - failed)
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=1,
            VisibilityTimeout=MOVE_VISIBILITY_SECONDS,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)
        sent = {entry["Id"] for entry in response.get("Successful", [])}
        if sent:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                    if str(i) in sent
                ],
            )
        unsent = [m for i, m in enumerate(messages) if str(i) not in sent]
        for message in unsent:  # back in the DLQ at once, untouched
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        moved += len(sent)
        failed += len(unsent)
        progress(moved)
        if unsent and not sent:
            break  # the source queue refuses everything: stop rather than spin
    return moved, failed


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _print_progress(moved: int) -> None:
    print(f"\r  moved {moved}", end="", file=sys.stderr, flush=True)
