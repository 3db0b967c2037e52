"""The backfill function in-process: moto queues and tables, the Slack stand-in's seeded history."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from slack_dlp.model import InspectionItem
from slack_dlp_tools.local.slack_standin import Fault, SlackStandIn
from tests.factories import FakeLambdaContext
from tests.integration.conftest import FakeStack


@pytest.fixture
def backfill(stack: FakeStack, monkeypatch: pytest.MonkeyPatch, load_handler: Any) -> Any:
    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="backfill",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("BACKFILL_QUEUE_URL", sqs.create_queue(QueueName="backfill")["QueueUrl"])
    monkeypatch.setenv("BACKFILL_TABLE_NAME", "backfill")
    # Paced, but fast enough for a test: 1,000 calls a minute per method.
    monkeypatch.setenv("SLACK_DLP_BACKFILL_REQUESTS_PER_MINUTE", "1000")
    return load_handler("backfill")


def _history() -> dict[str, Any]:
    def msg(ts: str, text: str, **extra: Any) -> dict[str, Any]:
        return {"type": "message", "user": "U0ALICE", "ts": ts, "text": text, **extra}

    parent = msg("1700000100.000100", "release thread", thread_ts="1700000100.000100", reply_count=1)
    return {
        "channels": [{"id": "C0HIST1", "name": "eng"}, {"id": "C0HIST2", "name": "secret-ops", "is_private": True}],
        "messages": {
            "C0HIST1": [msg(f"17000000{i:02d}.000100", f"eng message {i}") for i in range(5)] + [parent],
            "C0HIST2": [msg("1700000200.000100", "ops message")],
        },
        "replies": {"C0HIST1": {parent["ts"]: [parent, msg("1700000101.000100", "a reply", thread_ts=parent["ts"])]}},
    }


def _records(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [{"messageId": str(uuid.uuid4()), "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
             "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"} for m in messages]  # fmt: skip


def _drain(handler: Any, queue_url: str) -> int:
    pages = 0
    while records := _records(queue_url):
        for record in records:
            assert handler.handler({"Records": [record]}, FakeLambdaContext()) == {"batchItemFailures": []}
            pages += 1
    return pages


def test_a_run_reads_every_page_and_thread_into_the_inspect_queue_and_reports_done(
    backfill: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN seeded history in two channels, one with a thread, read two messages per page
    slack.seed_history(_history())
    # WHEN a run is started by a direct invocation and its queue is consumed
    started = backfill.handler({"action": "start", "channels": ["C0HIST1", "C0HIST2"], "page_size": 2},
                               FakeLambdaContext())  # fmt: skip
    assert started["ok"] and started["team_id"] == "T0LOCAL" and started["done"] is False
    queue = backfill.service._tasks._queue_url
    pages = _drain(backfill, queue)
    # THEN every message and reply is on the inspect queue, with the live identity
    items = [InspectionItem.from_json(m["Body"]) for m in stack.drain(stack.inspect_queue_url)]
    assert sorted(i.text for i in items) == sorted([f"eng message {i}" for i in range(5)] +
                                                   ["release thread", "a reply", "ops message"])  # fmt: skip
    assert {i.id for i in items} >= {"T0LOCAL:C0HIST2:1700000200.000100"}
    # AND the run's state says so
    status = backfill.handler({"action": "status", "run_id": started["run_id"]}, FakeLambdaContext())
    assert status["done"] and status["channels_done"] == 2
    assert (status["pages"], status["messages"], status["enqueued"], status["threads"]) == (pages, 9, 8, 1)
    # AND Slack saw paged history calls with cursors, and one replies call
    calls = [c for c in slack.state.calls if c["method"].startswith("conversations.")]
    assert sum(c["method"] == "conversations.replies" for c in calls) == 1
    assert sum(bool(c["args"].get("cursor")) for c in calls if c["method"] == "conversations.history") == 2


def test_slack_rate_limit_fails_the_page_and_the_retry_reads_it(
    backfill: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    slack.seed_history(_history())
    started = backfill.handler({"action": "start", "channels": ["C0HIST2"]}, FakeLambdaContext())
    queue = backfill.service._tasks._queue_url
    slack.add_fault(Fault(method="conversations.history", error="ratelimited", retry_after=40))
    record = _records(queue)[0]
    # WHEN Slack answers 429 with a Retry-After longer than the client waits out, the page fails
    with pytest.raises(BatchProcessingError):
        backfill.handler({"Records": [record]}, FakeLambdaContext())
    assert stack.drain(stack.inspect_queue_url) == []
    # THEN the redelivery reads the page
    assert backfill.handler({"Records": [record]}, FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(stack.drain(stack.inspect_queue_url)) == 1
    assert backfill.handler({"action": "status", "run_id": started["run_id"]}, FakeLambdaContext())["done"]


def test_a_start_without_channels_uses_the_conversations_the_bot_is_in(backfill: Any, slack: SlackStandIn) -> None:
    spec = _history()
    spec["channels"].append({"id": "C0OUT", "name": "not-joined", "is_member": False})
    slack.seed_history(spec)
    started = backfill.handler({"action": "start", "since_seconds": 3600}, FakeLambdaContext())
    assert started["ok"] and started["channels"] == 2
    assert backfill.handler({"action": "start", "oldest": "x"}, FakeLambdaContext())["ok"] is False


def test_the_stand_in_takes_history_over_http_and_serves_it_like_slack(slack: SlackStandIn) -> None:
    import json
    import urllib.request

    def call(path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the local stand-in
            slack.base_url + path, data=json.dumps(data).encode() if data is not None else None,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {slack.state.token}"},
        )  # fmt: skip
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return dict(json.loads(response.read()))

    assert call("/_standin/history", _history()) == {"ok": True, "channels": 2, "messages": 9}
    first = call("/api/conversations.history?channel=C0HIST1&limit=4&oldest=1700000001")
    assert [m["ts"] for m in first["messages"]] == ["1700000100.000100", "1700000004.000100",
                                                    "1700000003.000100", "1700000002.000100"]  # fmt: skip
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    rest = call(f"/api/conversations.history?channel=C0HIST1&limit=4&oldest=1700000001&cursor={cursor}")
    assert [m["ts"] for m in rest["messages"]] == ["1700000001.000100"] and rest["has_more"] is False
    thread = call("/api/conversations.replies?channel=C0HIST1&ts=1700000100.000100")
    assert [m["text"] for m in thread["messages"]] == ["release thread", "a reply"]
    assert call("/api/conversations.history?channel=C0HIST1&cursor=%%%")["error"] == "invalid_cursor"
    assert call("/api/conversations.history?channel=C0NOPE")["error"] == "channel_not_found"


def test_status_lists_the_runs_still_reading_and_not_the_finished_ones(
    backfill: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    from slack_dlp_tools.cli.common import StackTarget
    from slack_dlp_tools.cli.status import collect, render

    # GIVEN a finished run, and a run started after it whose pages are still queued
    slack.seed_history(_history())
    finished = backfill.handler({"action": "start", "channels": ["C0HIST2"]}, FakeLambdaContext())
    _drain(backfill, backfill.service._tasks._queue_url)
    running = backfill.handler({"action": "start", "channels": ["C0HIST1", "C0HIST2"]}, FakeLambdaContext())
    # WHEN the stack's status is collected (as `slack-dlp status --json` prints it) and rendered
    target = StackTarget("SlackDlp", _outputs={"TriageTableName": stack.triage_table, "BackfillTableName": "backfill"})
    report = collect(target)
    # THEN only the running run is listed, with its progress
    [listed] = report["backfills"]
    assert listed["run_id"] == running["run_id"] != finished["run_id"]
    assert (listed["done"], listed["channels"], listed["channels_done"], listed["team_id"]) == (False, 2, 0, "T0LOCAL")
    text = render(report)
    assert "Backfills running: 1" in text and f"{running['run_id']} (team T0LOCAL): [" in text
    assert "0/2 channels" in text and finished["run_id"] not in text
    # AND once it is read to the end, none is
    _drain(backfill, backfill.service._tasks._queue_url)
    assert collect(target)["backfills"] == []
    assert "Backfills running: none" in render(collect(target))
