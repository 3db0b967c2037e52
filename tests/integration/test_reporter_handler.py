from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from slack_dlp.model import Category, Confidence, Finding, InspectionResult, MessageRef
from slack_dlp_tools.local.slack_standin import Fault, SlackStandIn
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


def test_failed_post_fails_only_its_records_and_the_retry_posts(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    reporter = load_handler("reporter")
    slack.add_fault(Fault(method="chat.postMessage", error="internal_error", count=1))
    event = sqs_event([_result("C1").to_json(), "{poison"])
    with pytest.raises(BatchProcessingError):  # every record failed: the whole invocation fails
        reporter.handler(event, FakeLambdaContext())
    assert slack.alerts() == []
    assert reporter.handler(sqs_event([_result("C1").to_json()]), FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(slack.alerts()) == 1


def test_a_burst_is_coalesced_into_digests_and_no_finding_is_dropped(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN a burst of 200 results, delivered in batches of 10 as the event source does
    reporter = load_handler("reporter")
    results = [_result(f"C{i:04d}") for i in range(200)]
    for first in range(0, 200, 10):
        batch = sqs_event([r.to_json() for r in results[first : first + 10]])
        assert reporter.handler(batch, FakeLambdaContext()) == {"batchItemFailures": []}
    # THEN 20 digest messages instead of 200, naming every one of the 200 messages
    alerts = slack.alerts()
    assert len(alerts) == 20
    posted = json.dumps([a["args"]["blocks"] for a in alerts])
    assert all(f"<#C{i:04d}>" in posted for i in range(200))
    # AND a redelivered batch posts nothing new
    reporter.handler(sqs_event([r.to_json() for r in results[:10]]), FakeLambdaContext())
    assert len(slack.alerts()) == 20


def test_revoked_token_parks_results_in_the_dlq_and_is_logged_once(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, logs: Any
) -> None:
    # GIVEN a token Slack has revoked
    reporter = load_handler("reporter")
    slack.add_fault(Fault(method="*", error="token_revoked", count=10))
    # WHEN two results arrive
    event = sqs_event([_result("C1").to_json(), _result("C2").to_json()])
    response = reporter.handler(event, FakeLambdaContext())
    # THEN no retry loop: both records complete and wait in the DLQ for the token to be fixed
    assert response == {"batchItemFailures": []}
    assert len(stack.drain(stack.results_dlq_url)) == 2
    errors = [line for line in logs.getvalue().splitlines() if '"level":"ERROR"' in line]
    assert len(errors) == 1
    assert '"slack_error":"token_revoked"' in errors[0]


def test_a_redelivered_result_posts_no_second_alert(load_handler: Any, stack: FakeStack, slack: SlackStandIn) -> None:
    reporter = load_handler("reporter")
    body = _result().to_json()
    assert reporter.handler(sqs_event([body]), FakeLambdaContext()) == {"batchItemFailures": []}
    assert reporter.handler(sqs_event([body]), FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(slack.alerts()) == 1


def test_the_author_gets_an_ephemeral_notice_without_the_value(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    reporter = load_handler("reporter")
    reporter.handler(sqs_event([_result("C0ENG").to_json()]), FakeLambdaContext())
    [notice] = [c for c in slack.state.calls if c["method"] == "chat.postEphemeral"]
    assert notice["args"]["user"] == "U0BOB"
    assert notice["args"]["channel"] == "C0ENG"
    assert "github pat" in notice["args"]["text"].lower()
    assert "rotate" in notice["args"]["text"]


def test_a_failed_author_notice_does_not_fail_the_alert(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    reporter = load_handler("reporter")
    slack.add_fault(Fault(method="chat.postEphemeral", error="user_not_in_channel", count=1))
    assert reporter.handler(sqs_event([_result().to_json()]), FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(slack.alerts()) == 1


def test_a_long_rate_limit_fails_the_record_and_delays_its_redelivery(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN a real message on the results queue and Slack asking to wait 30 s (beyond the SDK's retry)
    reporter = load_handler("reporter")
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.results_queue_url, MessageBody=_result().to_json())
    [message] = sqs.receive_message(QueueUrl=stack.results_queue_url, VisibilityTimeout=1)["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=stack.results_queue_url, AttributeNames=["QueueArn"])["Attributes"]
    event = sqs_event([message["Body"]])
    event["Records"][0] |= {"receiptHandle": message["ReceiptHandle"], "eventSourceARN": arn["QueueArn"]}
    slack.add_fault(Fault(method="chat.postMessage", error="ratelimited", count=2, retry_after=30))
    # WHEN the reporter runs
    with pytest.raises(BatchProcessingError):
        reporter.handler(event, FakeLambdaContext())
    # THEN the message stays invisible well past its 1 s visibility timeout
    time.sleep(1.5)
    assert sqs.receive_message(QueueUrl=stack.results_queue_url).get("Messages") is None


def test_a_result_another_invocation_is_posting_comes_back_when_its_claim_ends_not_minutes_later(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    from slack_dlp.report import alert_key

    # GIVEN a result on the results queue (1 s visibility timeout here, minutes in the stack) whose
    # alert key another invocation claimed 3 s before the end of its lease
    reporter = load_handler("reporter")
    sqs = boto3.client("sqs")
    result = _result()
    claim = {"id": {"S": f"reported#{alert_key(result)}"}, "expiration": {"N": str(int(time.time()) + 3)},
             "claimed_by": {"S": "another-invocation"}}  # fmt: skip
    boto3.client("dynamodb").put_item(TableName="dedup", Item=claim)
    sqs.send_message(QueueUrl=stack.results_queue_url, MessageBody=result.to_json())
    [message] = sqs.receive_message(QueueUrl=stack.results_queue_url, VisibilityTimeout=1)["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=stack.results_queue_url, AttributeNames=["QueueArn"])["Attributes"]
    event = sqs_event([message["Body"]])
    event["Records"][0] |= {"receiptHandle": message["ReceiptHandle"], "eventSourceARN": arn["QueueArn"]}
    # WHEN the reporter runs
    with pytest.raises(BatchProcessingError):
        reporter.handler(event, FakeLambdaContext())
    # THEN it posts nothing, and the record stays away until the claim ends (past the 1 s the queue
    # alone would keep it away), then comes back
    assert slack.alerts() == []
    time.sleep(1.5)
    assert sqs.receive_message(QueueUrl=stack.results_queue_url).get("Messages") is None
    deadline = time.monotonic() + 10
    while not (again := sqs.receive_message(QueueUrl=stack.results_queue_url, WaitTimeSeconds=1).get("Messages")):
        assert time.monotonic() < deadline
    assert again[0]["Body"] == message["Body"]


def test_short_rate_limit_is_absorbed_by_the_retry_handler(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    reporter = load_handler("reporter")
    slack.add_fault(Fault(method="chat.postMessage", error="ratelimited", count=1, retry_after=1))
    response = reporter.handler(sqs_event([_result().to_json()]), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert len(slack.alerts()) == 1


def test_a_burst_delivered_one_by_one_is_topped_up_from_the_queue_into_one_digest(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN five results waiting on the queue, and the event source handing over just one more
    reporter = load_handler("reporter")
    sqs = boto3.client("sqs")
    for i in range(5):
        sqs.send_message(QueueUrl=stack.results_queue_url, MessageBody=_result(f"C0Q{i}").to_json())
    # WHEN the reporter runs on that single record
    assert reporter.handler(sqs_event([_result("C0HANDED").to_json()]), FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    # THEN one digest names all six, and the queue is empty
    [digest] = slack.alerts()
    posted = json.dumps(digest["args"]["blocks"])
    assert all(f"<#C0Q{i}>" in posted for i in range(5)) and "<#C0HANDED>" in posted
    assert stack.drain(stack.results_queue_url) == []


def test_results_already_alerted_in_a_digest_post_nothing_when_they_come_back_grouped_differently(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN three results alerted as one digest (a live burst, or a first backfill)
    reporter = load_handler("reporter")
    first = [_result(channel=f"C0D{i}").to_json() for i in range(3)]
    assert reporter.handler(sqs_event(first), FakeLambdaContext()) == {"batchItemFailures": []}
    assert slack.alerted_items() == 3
    # WHEN the same messages are inspected again (a second backfill) and arrive in other groups,
    # one of them with a result never alerted before
    again = [first[2], first[0], _result(channel="C0NEW").to_json()]
    assert reporter.handler(sqs_event(again), FakeLambdaContext()) == {"batchItemFailures": []}
    assert reporter.handler(sqs_event([first[1]]), FakeLambdaContext()) == {"batchItemFailures": []}
    # THEN only the new result is posted
    assert slack.alerted_items() == 4
    assert "C0NEW" in json.dumps(slack.alerts()[-1]["args"])


def test_the_same_result_twice_in_one_batch_is_one_section(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    reporter = load_handler("reporter")
    body = _result(channel="C0TWICE").to_json()
    assert reporter.handler(sqs_event([body, _result(channel="C0OTHER").to_json(), body]), FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    assert len(slack.alerts()) == 1 and slack.alerted_items() == 2


def test_topped_up_messages_whose_receipt_handles_expired_do_not_fail_the_batch(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN results waiting on the queue, and SQS refusing the deletes of what the top-up took
    # (their visibility ran out while the digest was posted: another consumer received them)
    reporter = load_handler("reporter")
    sqs = boto3.client("sqs")
    for i in range(3):
        sqs.send_message(QueueUrl=stack.results_queue_url, MessageBody=_result(f"C0X{i}").to_json())
    refused = {"Code": "ReceiptHandleIsInvalid", "SenderFault": True, "Message": "expired"}
    monkeypatch.setattr(
        reporter.top_up._client,
        "delete_message_batch",
        lambda **kw: {"Successful": [], "Failed": [{"Id": e["Id"], **refused} for e in kw["Entries"]]},
    )
    # WHEN the reporter runs on one handed-over record and tops up with the three
    outcome = reporter.handler(sqs_event([_result("C0HANDED").to_json()]), FakeLambdaContext())
    # THEN the invocation succeeds with one digest of the four
    assert outcome == {"batchItemFailures": []}
    assert slack.alerted_items() == 4
    # ... and when SQS delivers them again, nothing is posted twice
    again = [_result(f"C0X{i}").to_json() for i in range(3)]
    assert reporter.handler(sqs_event(again), FakeLambdaContext()) == {"batchItemFailures": []}
    assert slack.alerted_items() == 4


def test_a_digest_whose_later_step_failed_is_not_posted_again_when_its_results_come_back_regrouped(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN three results posted as one digest, and Slack rate-limiting the author notice for 30 s
    reporter = load_handler("reporter")
    first = [_result(channel=f"C0R{i}").to_json() for i in range(3)]
    slack.add_fault(Fault(method="chat.postEphemeral", error="ratelimited", count=1, retry_after=30))
    with pytest.raises(BatchProcessingError):  # every record fails: SQS delivers them again
        reporter.handler(sqs_event(first), FakeLambdaContext())
    assert slack.alerted_items() == 3
    # WHEN SQS delivers them again in other groups, one beside a result never alerted before
    again = [first[2], first[0], _result(channel="C0FRESH").to_json()]
    assert reporter.handler(sqs_event(again), FakeLambdaContext()) == {"batchItemFailures": []}
    assert reporter.handler(sqs_event([first[1]]), FakeLambdaContext()) == {"batchItemFailures": []}
    # THEN only the new result is posted, and every author is notified once the limit has passed
    assert slack.alerted_items() == 4
    assert "C0FRESH" in json.dumps(slack.alerts()[-1]["args"])
    notified = sorted(c["args"]["channel"] for c in slack.calls_of("chat.postEphemeral") if c.get("ok", True))
    assert {"C0R0", "C0R1", "C0R2", "C0FRESH"} <= set(notified)
