from __future__ import annotations

import json
import time

import pytest

from slack_dlp.config import Settings
from slack_dlp.http import HttpRequest
from slack_dlp.ingest import IngestService
from slack_dlp.model import InspectionItem
from slack_dlp.slack.verify import SlackRequestVerifier
from tests.factories import SIGNING_SECRET, canary_secrets, event_envelope, message_event, signed_request
from tests.fakes import InMemoryDeduplicator, InMemoryPublisher


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def service(publisher: InMemoryPublisher) -> IngestService:
    return IngestService(
        settings=Settings(max_body_bytes=4096),
        verifier=SlackRequestVerifier(lambda: SIGNING_SECRET),
        dedup=InMemoryDeduplicator(),
        publisher=publisher,
    )


def _request(body: bytes, headers: dict[str, str]) -> HttpRequest:
    return HttpRequest(body=body, headers=headers)


def test_signed_message_is_enqueued_once_as_a_normalized_item(
    service: IngestService, publisher: InMemoryPublisher
) -> None:
    # GIVEN a signed message event
    envelope = event_envelope(message_event("hello", channel="C1"))
    # WHEN Slack delivers it, then retries it
    first = service.handle_event_request(_request(*signed_request(envelope)))
    retry = service.handle_event_request(_request(*signed_request(envelope, extra_headers={"X-Slack-Retry-Num": "1"})))
    # THEN both get 200 and exactly one normalized item is enqueued (not the envelope)
    assert (first.status, retry.status) == (200, 200)
    assert len(publisher.bodies) == 1
    item = InspectionItem.from_json(publisher.bodies[0])
    assert item.text == "hello" and item.ref.channel_id == "C1"
    assert "authorizations" not in publisher.bodies[0]


def test_url_verification_answers_the_challenge(service: IngestService) -> None:
    response = service.handle_event_request(
        _request(
            *signed_request(
                {
                    "type": "url_verification",
                    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                }
            )
        )
    )
    assert response.status == 200
    assert response.body == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b, h: (b + b" ", h),  # body changed after signing
        lambda b, h: (b, {**h, "X-Slack-Signature": "v0=" + "0" * 64}),
        lambda b, h: (b, {k: v for k, v in h.items() if k != "X-Slack-Signature"}),
        lambda b, h: (b, {k: v for k, v in h.items() if k != "X-Slack-Request-Timestamp"}),
        lambda b, h: (b, {**h, "X-Slack-Request-Timestamp": "yesterday"}),
        lambda b, h: signed_request(b, timestamp=int(time.time()) - 301),  # replayed after 5 min
        lambda b, h: signed_request(b, secret="another-apps-secret"),
    ],
)
def test_bad_signatures_get_401_and_nothing_is_enqueued(
    service: IngestService, publisher: InMemoryPublisher, tamper: object
) -> None:
    body, headers = signed_request(event_envelope(message_event("hello")))
    response = service.handle_event_request(_request(*tamper(body, headers)))  # type: ignore[operator]
    assert response.status == 401
    assert publisher.bodies == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"\xff\xfe", "application/json", 401),  # not UTF-8: cannot be a Slack signature base string
        (b"payload=%7B%7D", "application/x-www-form-urlencoded", 415),
        (json.dumps({"type": "event_callback", "team_id": "T1"}).encode(), "application/json", 400),
        (json.dumps({"type": "url_verification"}).encode(), "application/json", 400),
    ],
)
def test_malformed_bodies_are_4xx_never_5xx(
    service: IngestService, publisher: InMemoryPublisher, body: bytes, content_type: str, status: int
) -> None:
    headers = signed_request(b"{}", content_type=content_type)[1] if status == 401 else None
    request = _request(body, headers) if headers else _request(*signed_request(body, content_type=content_type))
    response = service.handle_event_request(request)
    assert response.status == status
    assert publisher.bodies == []


def test_oversized_body_is_413(service: IngestService, publisher: InMemoryPublisher) -> None:
    response = service.handle_event_request(_request(*signed_request(event_envelope(message_event("x" * 5000)))))
    assert response.status == 413
    assert publisher.bodies == []


def test_skipped_events_are_acknowledged_without_enqueueing(
    service: IngestService, publisher: InMemoryPublisher
) -> None:
    response = service.handle_event_request(_request(*signed_request(event_envelope(message_event("x", bot_id="B1")))))
    assert response.status == 200
    assert publisher.bodies == []


def test_enqueue_failure_is_503_so_slack_retries_and_the_retry_is_not_deduplicated(
    publisher: InMemoryPublisher,
) -> None:
    # GIVEN a queue that fails
    failing = InMemoryPublisher(fail_with="SQS SendMessage failed: ServiceUnavailable")
    dedup = InMemoryDeduplicator()
    settings = Settings()
    verifier = SlackRequestVerifier(lambda: SIGNING_SECRET)
    envelope = event_envelope(message_event("hello"))
    # WHEN the first delivery fails
    down = IngestService(settings=settings, verifier=verifier, dedup=dedup, publisher=failing)
    assert down.handle_event_request(_request(*signed_request(envelope))).status == 503
    # THEN Slack's retry is enqueued once the queue is back
    up = IngestService(settings=settings, verifier=verifier, dedup=dedup, publisher=publisher)
    assert up.handle_event_request(_request(*signed_request(envelope))).status == 200
    assert len(publisher.bodies) == 1


def test_rejections_never_echo_the_message_text(service: IngestService, capsys: pytest.CaptureFixture[str]) -> None:
    canary = canary_secrets()["github"]
    body, headers = signed_request(event_envelope(message_event(f"token {canary}")))
    for request in (
        _request(body + b"x", headers),
        _request(body, {**headers, "Content-Type": "text/plain"}),
    ):
        response = service.handle_event_request(request)
        assert canary not in str(response.body)
    assert canary not in capsys.readouterr().out
