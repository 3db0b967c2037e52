"""channel_created in at the ingest handler, conversations.join out of the joiner handler (moto, stand-in)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from slack_dlp.model import JoinRequest
from slack_dlp.triage import DynamoDbTriageStore
from slack_dlp_tools.local.slack_standin import Fault, SlackStandIn
from tests.factories import FakeLambdaContext, event_envelope, http_api_event, signed_request, sqs_event
from tests.integration.conftest import FakeStack


@pytest.fixture
def join_queue(stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(boto3.client("sqs").create_queue(QueueName="join")["QueueUrl"])
    monkeypatch.setenv("JOIN_QUEUE_URL", url)
    return url


def _audit_kinds(stack: FakeStack) -> list[str]:
    return [e["kind"] for e in DynamoDbTriageStore(boto3.client("dynamodb"), stack.triage_table, 1).since(3600)]


def test_channel_created_is_queued_by_ingest_and_joined_by_the_joiner(
    load_handler: Any, stack: FakeStack, join_queue: str, slack: SlackStandIn
) -> None:
    # GIVEN a new public channel and Slack's channel_created event for it
    slack.add_channel("C0NEW", "new")
    created = {"type": "channel_created", "channel": {"id": "C0NEW", "name": "new", "created": 1700000000,
                                                      "creator": "U0ALICE"}}  # fmt: skip
    # WHEN ingest receives it
    response = load_handler("ingest").handler(http_api_event(*signed_request(event_envelope(created))),
                                              FakeLambdaContext())  # fmt: skip
    # THEN it answers 200 and queues the channel (no Slack call from ingest)
    assert response["statusCode"] == 200
    assert slack.calls_of("conversations.join") == []
    [message] = stack.drain(join_queue)
    assert JoinRequest.from_json(message["Body"]).channel_id == "C0NEW"
    # AND the joiner joins it and records it in the audit trail
    outcome = load_handler("joiner").handler(sqs_event([message["Body"]]), FakeLambdaContext())
    assert outcome == {"batchItemFailures": []}
    assert [c["args"]["channel"] for c in slack.calls_of("conversations.join")] == ["C0NEW"]
    assert slack.state.channels["C0NEW"]["is_member"]
    assert _audit_kinds(stack) == ["channel_joined"]


def test_joiner_skips_a_vanished_channel_and_retries_a_rate_limited_join(
    load_handler: Any, stack: FakeStack, join_queue: str, slack: SlackStandIn
) -> None:
    # GIVEN one channel that no longer exists and one join Slack rate-limits for a minute
    slack.add_channel("C0BUSY", "busy")
    slack.add_fault(Fault(method="conversations.join", error="ratelimited", count=1, retry_after=60))
    gone = JoinRequest(team_id="T0LOCAL", channel_id="C0GONE", reason="channel_unarchive").to_json()
    busy = JoinRequest(team_id="T0LOCAL", channel_id="C0BUSY", reason="channel_created").to_json()
    event = sqs_event([busy, gone])
    # WHEN the joiner runs
    outcome = load_handler("joiner").handler(event, FakeLambdaContext())
    # THEN only the rate-limited record fails (SQS redelivers it); the vanished channel is recorded
    assert outcome == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert _audit_kinds(stack) == ["join_skipped"]
