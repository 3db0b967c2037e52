from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from slack_dlp.local.slack_standin import Fault, SlackStandIn
from slack_dlp.model import Category, Confidence, Finding, InspectionResult, MessageRef
from tests.factories import FakeLambdaContext, sqs_event
from tests.integration.conftest import FakeStack


def _result(channel: str = "C0ENG") -> InspectionResult:
    ref = MessageRef(team_id="T1", channel_id=channel, ts="1700000000.000100", user_id="U0BOB", event_id="Ev1",
                     event_time=1700000000)  # fmt: skip
    finding = Finding("github-pat", Category.SECRET, 5, 45, Confidence.HIGH, "ghp_••••", "ab" * 16, "GitHub PAT")
    return InspectionResult(ref=ref, findings=(finding,))


def test_alert_is_posted_to_the_alert_channel_with_blocks_and_permalink(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    reporter = load_handler("reporter")
    response = reporter.handler(sqs_event([_result().to_json()]), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    [alert] = slack.alerts()
    assert alert["args"]["channel"] == "C0ALERTS"
    blocks = json.dumps(alert["args"]["blocks"], ensure_ascii=False)
    assert "ghp_••••" in blocks
    assert "https://local.slack.test/archives/C0ENG/p1700000000000100" in blocks


def test_failed_post_fails_only_its_record(load_handler: Any, stack: FakeStack, slack: SlackStandIn) -> None:
    reporter = load_handler("reporter")
    slack.add_fault(Fault(method="chat.postMessage", error="internal_error", count=1))
    event = sqs_event([_result("C1").to_json(), _result("C2").to_json()])
    response = reporter.handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert len(slack.alerts()) == 1


def test_revoked_token_fails_the_record_and_is_logged_with_the_slack_error(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, logs: Any
) -> None:
    reporter = load_handler("reporter")
    slack.add_fault(Fault(method="*", error="token_revoked", count=10))
    event = sqs_event([_result().to_json()])
    # A batch in which every record failed fails the invocation: the event source backs off.
    with pytest.raises(BatchProcessingError):
        reporter.handler(event, FakeLambdaContext())
    assert '"slack_error":"token_revoked"' in logs.getvalue()


def test_short_rate_limit_is_absorbed_by_the_retry_handler(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    reporter = load_handler("reporter")
    slack.add_fault(Fault(method="chat.postMessage", error="ratelimited", count=1, retry_after=1))
    response = reporter.handler(sqs_event([_result().to_json()]), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert len(slack.alerts()) == 1
