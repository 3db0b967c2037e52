from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from slack_dlp.model import InspectionItem
from tests.factories import (
    FakeLambdaContext,
    canary_secrets,
    event_envelope,
    http_api_event,
    message_event,
    signed_request,
    sqs_event,
)
from tests.integration.conftest import FakeStack


def _invoke(handler: Any, envelope: dict[str, Any] | bytes, **kwargs: Any) -> dict[str, Any]:
    body, headers = signed_request(envelope, **kwargs)
    return dict(handler.handler(http_api_event(body, headers), FakeLambdaContext()))


def _markers() -> list[dict[str, Any]]:
    return list(boto3.client("dynamodb").scan(TableName="dedup")["Items"])


RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


def test_fast_first_delivery_writes_nothing_and_only_the_first_retry_gets_through(
    load_handler: Any, stack: FakeStack
) -> None:
    # GIVEN the ingest function wired to DynamoDB, SQS and Secrets Manager (moto)
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("hello there", channel="C0GENERAL"))
    # WHEN Slack delivers the event (answered at once)
    assert _invoke(ingest, envelope)["statusCode"] == 200
    # THEN it is enqueued and the dedup table is not written
    assert _markers() == []
    assert len(stack.drain(stack.inspect_queue_url)) == 1
    # WHEN Slack retries it three times all the same (say the answer was lost)
    statuses = []
    for retry in ("1", "2", "3"):
        retry_headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        statuses.append(_invoke(ingest, envelope, extra_headers=retry_headers)["statusCode"])
    # THEN every delivery is acknowledged; the first retry is enqueued once more (absorbed by the
    # alert key, see the next test), the later ones are dropped
    assert statuses == [200, 200, 200]
    messages = stack.drain(stack.inspect_queue_url)
    assert len(messages) == 1
    assert InspectionItem.from_json(messages[0]["Body"]).text == "hello there"
    # AND one marker (the message identity, about 100 bytes) expires with the table's TTL
    [marker] = _markers()
    assert marker["id"]["S"] == InspectionItem.from_json(messages[0]["Body"]).id
    assert time.time() < int(marker["expiration"]["N"]) <= time.time() + 21600 + 1


def test_a_message_enqueued_twice_is_alerted_once(load_handler: Any, stack: FakeStack, slack: Any) -> None:
    # GIVEN a leak delivered, answered fast, and retried by Slack: enqueued twice
    ingest, inspector, reporter = load_handler("ingest"), load_handler("inspector"), load_handler("reporter")
    leak = canary_secrets(seed=11)["github"]
    envelope = event_envelope(message_event(f"token {leak}", channel="C0TWICE"))
    assert _invoke(ingest, envelope)["statusCode"] == 200
    assert _invoke(ingest, envelope, extra_headers=RETRY)["statusCode"] == 200
    bodies = [m["Body"] for m in stack.drain(stack.inspect_queue_url)]
    assert len(bodies) == 2
    # WHEN each copy is inspected and reported in its own invocation (no batch sees both)
    for body in bodies:
        assert inspector.handler(sqs_event([body]), FakeLambdaContext()) == {"batchItemFailures": []}
        results = [m["Body"] for m in stack.drain(stack.results_queue_url)]
        assert reporter.handler(sqs_event(results), FakeLambdaContext()) == {"batchItemFailures": []}
    # THEN one alert: the reporter's alert key is the message identity and what was found
    assert len(slack.alerts()) == 1


def test_slow_first_delivery_leaves_a_marker_and_slacks_retry_is_dropped(load_handler: Any, stack: FakeStack) -> None:
    # GIVEN a first delivery that API Gateway received 2.5 s ago (a cold start, a slow queue)
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("late answer"))
    body, headers = signed_request(envelope)
    late = http_api_event(body, headers, received_ms=int((time.time() - 2.5) * 1000))
    # WHEN it is handled, then Slack's http_timeout retry arrives
    assert ingest.handler(late, FakeLambdaContext())["statusCode"] == 200
    assert len(_markers()) == 1
    assert _invoke(ingest, envelope, extra_headers=RETRY)["statusCode"] == 200
    # THEN the message is enqueued once
    assert len(stack.drain(stack.inspect_queue_url)) == 1


def test_without_a_receipt_time_the_first_request_counts_the_init(load_handler: Any, stack: FakeStack) -> None:
    # GIVEN an execution environment whose init began 2 s ago, and an event without timeEpoch
    ingest = load_handler("ingest")
    ingest._pending_init["started"] = time.time() - 2
    body, headers = signed_request(event_envelope(message_event("cold")))
    event = http_api_event(body, headers)
    del event["requestContext"]["timeEpoch"]
    # WHEN it is the first request
    assert ingest.handler(event, FakeLambdaContext())["statusCode"] == 200
    # THEN it counts as slow (a marker); the next request is timed from its own start (none)
    assert len(_markers()) == 1
    body, headers = signed_request(event_envelope(message_event("warm")))
    event = http_api_event(body, headers)
    del event["requestContext"]["timeEpoch"]
    assert ingest.handler(event, FakeLambdaContext())["statusCode"] == 200
    assert len(_markers()) == 1


def test_dynamodb_down_still_enqueues(load_handler: Any, stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the dedup table unreachable (here: gone)
    ingest = load_handler("ingest")
    monkeypatch.setattr(ingest.service.dedup, "_table", "dedup-missing")
    # WHEN Slack retries a delivery
    response = _invoke(ingest, event_envelope(message_event("keep me")), extra_headers=RETRY)
    # THEN it is enqueued all the same
    assert response["statusCode"] == 200
    assert len(stack.drain(stack.inspect_queue_url)) == 1


def test_url_verification(load_handler: Any, stack: FakeStack) -> None:
    ingest = load_handler("ingest")
    response = _invoke(ingest, {"type": "url_verification", "challenge": "c-123"})
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"challenge": "c-123"}


def test_bad_signature_is_401_and_nothing_is_enqueued(load_handler: Any, stack: FakeStack) -> None:
    ingest = load_handler("ingest")
    body, headers = signed_request(event_envelope(message_event("x")), secret="wrong-secret")
    response = ingest.handler(http_api_event(body, headers), FakeLambdaContext())
    assert response["statusCode"] == 401
    assert stack.drain(stack.inspect_queue_url) == []


def test_base64_encoded_body_is_verified_over_the_decoded_bytes(load_handler: Any, stack: FakeStack) -> None:
    ingest = load_handler("ingest")
    body, headers = signed_request(event_envelope(message_event("encoded")))
    response = ingest.handler(http_api_event(body, headers, base64_body=True), FakeLambdaContext())
    assert response["statusCode"] == 200
    assert len(stack.drain(stack.inspect_queue_url)) == 1


@pytest.mark.parametrize("body", [b"{oops", b"\x00\x01\x02"])
def test_malformed_bodies_are_4xx(load_handler: Any, stack: FakeStack, body: bytes) -> None:
    ingest = load_handler("ingest")
    response = _invoke(ingest, body)
    assert 400 <= response["statusCode"] < 500


def test_unknown_route_is_404(load_handler: Any, stack: FakeStack) -> None:
    ingest = load_handler("ingest")
    body, headers = signed_request(event_envelope(message_event("x")))
    response = ingest.handler(http_api_event(body, headers, path="/other"), FakeLambdaContext())
    assert response["statusCode"] == 404


def test_queue_failure_is_5xx_and_the_retry_is_enqueued(
    load_handler: Any, stack: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the inspect queue is unreachable for the first delivery and Slack's first retry
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("must not be lost"))
    real_url = stack.inspect_queue_url
    monkeypatch.setattr(ingest.service.publisher, "_queue_url", real_url + "-missing")
    # WHEN Slack delivers it, then retries it (the retry claims the marker before enqueueing)
    assert _invoke(ingest, envelope)["statusCode"] == 503
    assert _invoke(ingest, envelope, extra_headers=RETRY)["statusCode"] == 503
    # THEN the failed retry deleted its marker, and Slack's next retry, once the queue is back, is enqueued
    assert _markers() == []
    monkeypatch.setattr(ingest.service.publisher, "_queue_url", real_url)
    assert _invoke(ingest, envelope, extra_headers={"X-Slack-Retry-Num": "2"})["statusCode"] == 200
    assert len(stack.drain(real_url)) == 1


def test_concurrent_retries_are_enqueued_once(
    load_handler: Any, stack: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Slack's second retry arrives while the first retry is still enqueueing
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("slow delivery"))
    publish = ingest.service.publisher.publish
    retry_statuses: list[int] = []

    def publish_while_retry_arrives(body: str) -> str:
        retry = _invoke(ingest, envelope, extra_headers={"X-Slack-Retry-Num": "2"})
        retry_statuses.append(retry["statusCode"])
        return str(publish(body))

    monkeypatch.setattr(ingest.service.publisher, "publish", publish_while_retry_arrives)
    # WHEN
    first = _invoke(ingest, envelope, extra_headers=RETRY)
    # THEN both are acknowledged and the message is enqueued once
    assert (first["statusCode"], retry_statuses) == (200, [200])
    assert len(stack.drain(stack.inspect_queue_url)) == 1


def test_a_rate_limited_minute_is_audited_once_through_the_deferred_audit(load_handler: Any, stack: FakeStack) -> None:
    # GIVEN ingest, whose audit trail and DynamoDB client are built by their first use
    ingest = load_handler("ingest")
    envelope = {"type": "app_rate_limited", "team_id": "T0BUSY", "minute_rate_limited": 1518467820}
    # WHEN Slack reports the same rate-limited minute twice
    statuses = [_invoke(ingest, envelope)["statusCode"] for _ in range(2)]
    # THEN both are acknowledged and the audit trail holds the minute once
    assert statuses == [200, 200]
    items = boto3.client("dynamodb").scan(TableName=stack.triage_table)["Items"]
    assert [item["kind"]["S"] for item in items] == ["events_rate_limited"]


def test_after_a_snapstart_restore_the_first_request_is_timed_from_the_restore(
    load_handler: Any, stack: FakeStack
) -> None:
    # GIVEN an environment initialized (snapshotted) an hour ago, then restored
    from slack_dlp import aws

    ingest = load_handler("ingest")
    ingest._pending_init["started"] = time.time() - 3600
    aws.refresh_after_restore()
    body, headers = signed_request(event_envelope(message_event("restored")))
    event = http_api_event(body, headers)
    del event["requestContext"]["timeEpoch"]
    # WHEN its first request arrives without a receipt time, THEN it is not taken for a slow one
    assert ingest.handler(event, FakeLambdaContext())["statusCode"] == 200
    assert _markers() == []


class _Killed(BaseException):
    """The invocation ends mid-request (Lambda's timeout): nothing after this point runs."""


def test_a_retry_that_dies_after_claiming_its_marker_does_not_block_slacks_later_retries(
    load_handler: Any, stack: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Slack's first retry claims the marker, then its invocation is killed before it enqueues
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("must not be lost either"))
    publish = ingest.service.publisher.publish

    def killed(body: str) -> str:
        raise _Killed

    monkeypatch.setattr(ingest.service.publisher, "publish", killed)
    with pytest.raises(_Killed):
        _invoke(ingest, envelope, extra_headers=RETRY)
    # WHEN Slack's next retry arrives a minute later (its retries come after 1 and 5 minutes)
    monkeypatch.setattr(ingest.service.publisher, "publish", publish)
    monkeypatch.setattr(ingest.service.dedup, "_clock", lambda: time.time() + 60)
    response = _invoke(ingest, envelope, extra_headers={"X-Slack-Retry-Num": "2"})
    # THEN it is enqueued: the dead claim held the message only for a short lease, not the dedup TTL
    assert response["statusCode"] == 200
    assert len(stack.drain(stack.inspect_queue_url)) == 1
    # AND the retry after it (5 minutes later) is dropped: the enqueued marker lasts the TTL
    monkeypatch.setattr(ingest.service.dedup, "_clock", lambda: time.time() + 360)
    assert _invoke(ingest, envelope, extra_headers={"X-Slack-Retry-Num": "3"})["statusCode"] == 200
    assert stack.drain(stack.inspect_queue_url) == []
