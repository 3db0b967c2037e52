from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from slack_dlp.model import InspectionItem
from tests.factories import FakeLambdaContext, event_envelope, http_api_event, message_event, signed_request
from tests.integration.conftest import FakeStack


def _invoke(handler: Any, envelope: dict[str, Any] | bytes, **kwargs: Any) -> dict[str, Any]:
    body, headers = signed_request(envelope, **kwargs)
    return dict(handler.handler(http_api_event(body, headers), FakeLambdaContext()))


def test_signed_event_is_enqueued_once_across_slack_retries(load_handler: Any, stack: FakeStack) -> None:
    # GIVEN the ingest function wired to DynamoDB, SQS and Secrets Manager (moto)
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("hello there", channel="C0GENERAL"))
    # WHEN Slack delivers the event and retries it three times
    statuses = [_invoke(ingest, envelope)["statusCode"]]
    for retry in ("1", "2", "3"):
        retry_headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        statuses.append(_invoke(ingest, envelope, extra_headers=retry_headers)["statusCode"])
    # THEN every delivery is acknowledged and exactly one item is on the inspect queue
    assert statuses == [200, 200, 200, 200]
    messages = stack.drain(stack.inspect_queue_url)
    assert len(messages) == 1
    item = InspectionItem.from_json(messages[0]["Body"])
    assert item.text == "hello there"
    # AND the dedup record expires (TTL attribute set)
    records = boto3.client("dynamodb").scan(TableName=stack.table)["Items"]
    assert len(records) == 1
    assert int(records[0]["expiration"]["N"]) > time.time()


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
    # GIVEN the inspect queue is unreachable for the first delivery
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("must not be lost"))
    real_url = stack.inspect_queue_url
    monkeypatch.setattr(ingest.service.publisher, "_queue_url", real_url + "-missing")
    # WHEN Slack delivers it
    assert _invoke(ingest, envelope)["statusCode"] >= 500
    # THEN Slack's retry, once the queue is back, is enqueued (the failed attempt left no dedup record)
    monkeypatch.setattr(ingest.service.publisher, "_queue_url", real_url)
    assert _invoke(ingest, envelope, extra_headers={"X-Slack-Retry-Num": "1"})["statusCode"] == 200
    assert len(stack.drain(real_url)) == 1


def test_retry_arriving_while_the_first_delivery_runs_is_acknowledged_not_duplicated(
    load_handler: Any, stack: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Slack's http_timeout retry arrives while the first delivery is still enqueueing
    ingest = load_handler("ingest")
    envelope = event_envelope(message_event("slow delivery"))
    publish = ingest.service.publisher.publish
    retry_statuses: list[int] = []

    def publish_while_retry_arrives(body: str) -> str:
        retry = _invoke(ingest, envelope, extra_headers={"X-Slack-Retry-Num": "1"})
        retry_statuses.append(retry["statusCode"])
        return str(publish(body))

    monkeypatch.setattr(ingest.service.publisher, "publish", publish_while_retry_arrives)
    # WHEN
    first = _invoke(ingest, envelope)
    # THEN both are acknowledged and the message is enqueued once
    assert (first["statusCode"], retry_statuses) == (200, [200])
    assert len(stack.drain(stack.inspect_queue_url)) == 1
