from __future__ import annotations

import io
import json
import time

import pytest

from slack_dlp.config import Settings
from slack_dlp.http import HttpRequest
from slack_dlp.ingest import IngestService
from slack_dlp.model import InspectionItem, JoinRequest
from slack_dlp.observability import metrics
from slack_dlp.slack.verify import SlackRequestVerifier
from tests.factories import SIGNING_SECRET, canary_secrets, event_envelope, message_event, signed_request
from tests.fakes import InMemoryAuditLog, InMemoryMarkers, InMemoryPublisher


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def markers() -> InMemoryMarkers:
    return InMemoryMarkers()


NOW = 1_800_000_000.0


@pytest.fixture
def service(publisher: InMemoryPublisher, markers: InMemoryMarkers) -> IngestService:
    return IngestService(
        settings=Settings(max_body_bytes=4096),
        verifier=SlackRequestVerifier(lambda: SIGNING_SECRET),
        dedup=markers,
        publisher=publisher,
        clock=lambda: NOW,
    )


def _request(body: bytes, headers: dict[str, str], *, age: float = 0.05) -> HttpRequest:
    """A request API Gateway received ``age`` seconds before the service's clock."""
    return HttpRequest(body=body, headers=headers, received_at=NOW - age)


def _retry(envelope: dict[str, object], num: int = 1, **kwargs: float) -> HttpRequest:
    retry_headers = {"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": "http_timeout"}
    return _request(*signed_request(envelope, extra_headers=retry_headers), **kwargs)


def test_signed_message_is_enqueued_as_a_normalized_item_without_a_dedup_write_log_or_metric(
    service: IngestService, publisher: InMemoryPublisher, markers: InMemoryMarkers, logs: io.StringIO
) -> None:
    # GIVEN a signed message event, answered fast
    metrics.clear_metrics()
    envelope = event_envelope(message_event("hello", channel="C1"))
    # WHEN Slack delivers it for the first time
    first = service.handle_event_request(_request(*signed_request(envelope)))
    # THEN one normalized item is enqueued (not the envelope)
    assert first.status == 200
    assert len(publisher.bodies) == 1
    item = InspectionItem.from_json(publisher.bodies[0])
    assert item.text == "hello" and item.ref.channel_id == "C1"
    assert "authorizations" not in publisher.bodies[0]
    # AND nothing is written to the dedup table, logged at INFO or counted (API Gateway and SQS count it)
    assert markers.writes == 0
    assert metrics.metric_set == {}
    assert logs.getvalue() == ""


def test_a_retry_after_a_fast_answer_is_enqueued_once_more_and_a_second_retry_is_dropped(
    service: IngestService, publisher: InMemoryPublisher, markers: InMemoryMarkers, logs: io.StringIO
) -> None:
    # GIVEN a message answered fast (no marker), whose answer Slack did not get
    metrics.clear_metrics()
    envelope = event_envelope(message_event("hello", channel="C1"))
    assert service.handle_event_request(_request(*signed_request(envelope))).status == 200
    # WHEN Slack retries it twice
    statuses = [service.handle_event_request(_retry(envelope, n)).status for n in (1, 2)]
    # THEN the first retry claims the marker and is enqueued again (the reporter's alert key, the
    # message identity too, keeps it from alerting twice); the second finds the marker and is dropped
    assert statuses == [200, 200]
    assert len(publisher.bodies) == 2
    assert publisher.bodies[0] == publisher.bodies[1]
    # (the first retry's claim, its confirmation once enqueued, the second retry's failed claim)
    assert markers.writes == 3
    assert metrics.metric_set["EventsDeduplicated"]["Value"] == [1.0]
    assert [json.loads(line)["message"] for line in logs.getvalue().splitlines()] == ["duplicate delivery dropped"]


def _record_marker_during_enqueue(publisher: InMemoryPublisher, markers: InMemoryMarkers) -> list[bool]:
    """Whether a dedup marker existed at each enqueue, in order."""
    marked: list[bool] = []
    publish = publisher.publish

    def observed(body: str) -> str:
        marked.append(bool(markers.markers))
        return publish(body)

    publisher.publish = observed  # type: ignore[method-assign]
    return marked


def test_a_slow_first_delivery_leaves_a_marker_after_the_enqueue_and_slacks_retry_is_dropped(
    service: IngestService, publisher: InMemoryPublisher, markers: InMemoryMarkers
) -> None:
    # GIVEN a publisher that records whether the marker existed while it enqueued
    envelope = event_envelope(message_event("hello", channel="C1"))
    marked_during_enqueue = _record_marker_during_enqueue(publisher, markers)
    # WHEN the first delivery ends 0.9 s after API Gateway received it, but the answer is late
    # (by the time the item is enqueued the request is older than a second)
    clock = iter([NOW, NOW + 0.2])
    late = IngestService(settings=Settings(), verifier=service.verifier, dedup=markers, publisher=publisher,
                         clock=lambda: next(clock))  # fmt: skip
    assert late.handle_event_request(_request(*signed_request(envelope), age=0.9)).status == 200
    # THEN it was enqueued first and marked after (one write), and Slack's retry is dropped
    assert marked_during_enqueue == [False]
    assert markers.writes == 1
    assert service.handle_event_request(_retry(envelope)).status == 200
    assert len(publisher.bodies) == 1


def test_a_delivery_already_slow_claims_the_marker_before_the_enqueue(
    service: IngestService, publisher: InMemoryPublisher, markers: InMemoryMarkers
) -> None:
    # GIVEN a first delivery that reaches the enqueue 1.5 s after API Gateway received it
    envelope = event_envelope(message_event("hello", channel="C1"))
    marked_during_enqueue = _record_marker_during_enqueue(publisher, markers)
    # WHEN it is handled
    assert service.handle_event_request(_request(*signed_request(envelope), age=1.5)).status == 200
    # THEN the marker existed before the enqueue: a retry arriving meanwhile is dropped
    assert marked_during_enqueue == [True]
    assert service.handle_event_request(_retry(envelope)).status == 200
    # (the claim, its confirmation once enqueued, the retry's failed claim)
    assert len(publisher.bodies) == 1 and markers.writes == 3


@pytest.mark.parametrize("slow_first", [True, False], ids=["slow first delivery", "retry"])
def test_an_enqueue_failure_after_the_claim_deletes_the_marker_so_slacks_retry_is_enqueued(
    markers: InMemoryMarkers, publisher: InMemoryPublisher, slow_first: bool
) -> None:
    # GIVEN the inspect queue fails while a delivery that claimed the marker is enqueued
    envelope = event_envelope(message_event("must not be lost"))
    verifier = SlackRequestVerifier(lambda: SIGNING_SECRET)
    down = IngestService(settings=Settings(), verifier=verifier, dedup=markers, clock=lambda: NOW,
                         publisher=InMemoryPublisher(fail_with="SQS SendMessage failed: ServiceUnavailable"))  # fmt: skip
    first = _request(*signed_request(envelope), age=2.0) if slow_first else _retry(envelope, 1)
    # WHEN it is handled
    response = down.handle_event_request(first)
    # THEN Slack gets a 503 (it retries), the marker is gone, and the next retry is enqueued
    assert response.status == 503
    assert markers.markers == set() and markers.deletes == 1
    up = IngestService(settings=Settings(), verifier=verifier, dedup=markers, publisher=publisher, clock=lambda: NOW)
    assert up.handle_event_request(_retry(envelope, 2)).status == 200
    assert len(publisher.bodies) == 1


def test_concurrent_retries_are_enqueued_exactly_once(
    service: IngestService, publisher: InMemoryPublisher, markers: InMemoryMarkers
) -> None:
    # GIVEN Slack's second retry arriving while the first retry is still enqueueing
    envelope = event_envelope(message_event("slow delivery"))
    publish = publisher.publish
    nested: list[int] = []

    def publish_while_another_retry_arrives(body: str) -> str:
        if not nested:
            nested.append(service.handle_event_request(_retry(envelope, 2)).status)
        return publish(body)

    publisher.publish = publish_while_another_retry_arrives  # type: ignore[method-assign]
    # WHEN
    assert service.handle_event_request(_retry(envelope, 1)).status == 200
    # THEN both are acknowledged and the message is enqueued once
    assert nested == [200]
    assert len(publisher.bodies) == 1


def test_the_dedup_store_failing_still_enqueues_and_is_counted(
    service: IngestService, publisher: InMemoryPublisher, markers: InMemoryMarkers
) -> None:
    # GIVEN DynamoDB throttling every call
    metrics.clear_metrics()
    markers.fail_with = OSError("ProvisionedThroughputExceededException")
    envelope = event_envelope(message_event("hello"))
    # WHEN a retry and a slow first delivery arrive
    assert service.handle_event_request(_retry(envelope)).status == 200
    assert service.handle_event_request(_request(*signed_request(envelope), age=1.5)).status == 200
    # THEN both are enqueued (a duplicate is absorbed by the alert key; a refusal would lose it)
    assert len(publisher.bodies) == 2
    assert metrics.metric_set["DedupFailures"]["Value"] == [1.0, 1.0]


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
    own = event_envelope(message_event("x", bot_id="B0DLP", app_id="A0DLP"))
    response = service.handle_event_request(_request(*signed_request(own)))
    assert response.status == 200
    assert publisher.bodies == []


def test_enqueue_failure_of_a_fast_first_delivery_is_503_and_slacks_retry_is_enqueued(
    publisher: InMemoryPublisher,
) -> None:
    # GIVEN a queue that fails
    metrics.clear_metrics()
    failing = InMemoryPublisher(fail_with="SQS SendMessage failed: ServiceUnavailable")
    markers = InMemoryMarkers()
    settings = Settings()
    verifier = SlackRequestVerifier(lambda: SIGNING_SECRET)
    envelope = event_envelope(message_event("hello"))
    # WHEN the first delivery fails
    down = IngestService(settings=settings, verifier=verifier, dedup=markers, publisher=failing, clock=lambda: NOW)
    assert down.handle_event_request(_request(*signed_request(envelope))).status == 503
    assert metrics.metric_set["EnqueueFailures"]["Value"] == [1.0]
    # THEN Slack's retry is enqueued once the queue is back
    up = IngestService(settings=settings, verifier=verifier, dedup=markers, publisher=publisher, clock=lambda: NOW)
    assert up.handle_event_request(_retry(envelope)).status == 200
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


# -- coverage: other apps, new channels, rate-limited minutes ----------------------------------------


@pytest.fixture
def audit() -> InMemoryAuditLog:
    return InMemoryAuditLog()


@pytest.fixture
def joins() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def covering(publisher: InMemoryPublisher, joins: InMemoryPublisher, audit: InMemoryAuditLog) -> IngestService:
    return IngestService(
        settings=Settings(skip_bot_ids=("B0NOISY",)),
        verifier=SlackRequestVerifier(lambda: SIGNING_SECRET),
        dedup=InMemoryMarkers(),
        publisher=publisher,
        joins=joins,
        audit=audit,
    )


def test_another_apps_message_is_enqueued_and_a_listed_bot_is_not(
    covering: IngestService, publisher: InMemoryPublisher
) -> None:
    # GIVEN a CI bot's message with a key, and a bot the operator listed in skip_bot_ids
    secret = canary_secrets(seed=5)["aws"]
    ci = event_envelope(
        message_event(f"export AWS_ACCESS_KEY_ID={secret}", user="", bot_id="B0CI", subtype="bot_message")
    )
    noisy = event_envelope(message_event(f"again {secret}", bot_id="B0NOISY", subtype="bot_message"))
    # WHEN both arrive
    assert covering.handle_event_request(_request(*signed_request(ci))).status == 200
    assert covering.handle_event_request(_request(*signed_request(noisy))).status == 200
    # THEN only the CI bot's message is inspected
    assert [InspectionItem.from_json(b).ref.bot_id for b in publisher.bodies] == ["B0CI"]


def test_channel_created_queues_one_join_and_answers_at_once(
    covering: IngestService, joins: InMemoryPublisher, publisher: InMemoryPublisher
) -> None:
    # GIVEN Slack's channel_created event, delivered twice (a retry)
    envelope = event_envelope({"type": "channel_created", "channel": {"id": "C0NEW", "name": "new",
                                                                      "created": 1700000000, "creator": "U1"}})  # fmt: skip
    first = covering.handle_event_request(_request(*signed_request(envelope)))
    retry = covering.handle_event_request(_request(*signed_request(envelope, extra_headers={"X-Slack-Retry-Num": "1"})))
    # THEN both get 200, one join is queued, nothing goes to the inspect queue
    assert (first.status, retry.status) == (200, 200)
    assert [JoinRequest.from_json(b).channel_id for b in joins.bodies] == ["C0NEW"]
    assert publisher.bodies == []


def test_channel_events_without_auto_join_are_acknowledged(
    service: IngestService, publisher: InMemoryPublisher
) -> None:
    envelope = event_envelope({"type": "channel_unarchive", "channel": "C0OLD", "user": "U1"})
    assert service.handle_event_request(_request(*signed_request(envelope))).status == 200
    assert publisher.bodies == []


def test_app_rate_limited_is_acknowledged_and_recorded_once_per_workspace_and_minute(
    covering: IngestService, audit: InMemoryAuditLog
) -> None:
    # GIVEN Slack's app_rate_limited envelope (no event_id, no inner event), sent twice for one minute
    metrics.clear_metrics()
    envelope = {"token": "x", "type": "app_rate_limited", "team_id": "T0BUSY", "minute_rate_limited": 1518467820,
                "api_app_id": "A0DLP"}  # fmt: skip
    responses = [covering.handle_event_request(_request(*signed_request(envelope))) for _ in range(2)]
    # THEN Slack gets 200, the audit trail holds the workspace and minute once
    assert [r.status for r in responses] == [200, 200]
    assert audit.kinds() == ["events_rate_limited"]
    assert audit.records[0][1]["team_id"] == "T0BUSY"
    assert audit.records[0][1]["window_start"] == "2018-02-12T20:37:00+00:00"
    # AND it is counted once (EventsRateLimited has an alarm)
    assert metrics.metric_set["EventsRateLimited"]["Value"] == [1.0]


def test_rate_limited_minute_not_recorded_is_503_and_recorded_on_slacks_retry(
    covering: IngestService, audit: InMemoryAuditLog
) -> None:
    envelope = {"type": "app_rate_limited", "team_id": "T0BUSY", "minute_rate_limited": 1518467880}
    audit.fail_with = OSError("DynamoDB unavailable")
    assert covering.handle_event_request(_request(*signed_request(envelope))).status == 503
    audit.fail_with = None
    assert covering.handle_event_request(_request(*signed_request(envelope))).status == 200
    assert audit.kinds() == ["events_rate_limited"]


def test_malformed_rate_limited_envelope_is_400(covering: IngestService, audit: InMemoryAuditLog) -> None:
    envelope = {"type": "app_rate_limited", "team_id": "T0BUSY"}
    assert covering.handle_event_request(_request(*signed_request(envelope))).status == 400
    assert audit.records == []


@pytest.mark.parametrize(
    "envelope",
    [
        event_envelope({"type": ["channel_created"], "channel": {"id": "C1"}}),
        event_envelope({"type": "channel_created", "channel": {"id": ["C1"]}}),
        event_envelope({"type": "channel_unarchive", "channel": "C" * 100}),
        {"type": "app_rate_limited", "team_id": "T1", "minute_rate_limited": 10**30},
        {"type": "app_rate_limited", "team_id": {"id": "T1"}, "minute_rate_limited": 60},
    ],
)
def test_channel_and_rate_limited_envelopes_of_a_shape_slack_never_sends_are_400(
    covering: IngestService, joins: InMemoryPublisher, audit: InMemoryAuditLog, envelope: dict[str, object]
) -> None:
    assert covering.handle_event_request(_request(*signed_request(envelope))).status == 400
    assert joins.bodies == [] and audit.records == []


def test_a_marker_that_cannot_be_deleted_after_a_failed_enqueue_is_counted_and_logged(
    markers: InMemoryMarkers, logs: io.StringIO
) -> None:
    # GIVEN SQS failing, and DynamoDB failing right after the claim (the delete)
    metrics.clear_metrics()
    envelope = event_envelope(message_event("double fault"))

    def failing_release(key: str) -> None:
        raise OSError("DynamoDB unavailable")

    markers.release = failing_release  # type: ignore[method-assign]
    down = IngestService(settings=Settings(), verifier=SlackRequestVerifier(lambda: SIGNING_SECRET), dedup=markers,
                         publisher=InMemoryPublisher(fail_with="SQS down"), clock=lambda: NOW)  # fmt: skip
    # WHEN a retry claims the marker and cannot be enqueued
    assert down.handle_event_request(_retry(envelope)).status == 503
    # THEN the stuck marker (Slack's next retries of it would be dropped) is counted and logged by item id
    assert metrics.metric_set["DedupFailures"]["Value"] == [1.0]
    assert "dedup marker not deleted after a failure" in logs.getvalue()
    assert "double fault" not in logs.getvalue()


def test_the_smoke_tests_own_message_is_logged_when_enqueued_so_its_report_shows_the_stage(
    service: IngestService, logs: io.StringIO
) -> None:
    from slack_dlp.model import SMOKE_TEST_EVENT_PREFIX

    smoke = event_envelope(message_event("smoke"), event_id=SMOKE_TEST_EVENT_PREFIX + "abc")
    assert service.handle_event_request(_request(*signed_request(smoke))).status == 200
    assert [json.loads(line)["message"] for line in logs.getvalue().splitlines()] == ["event enqueued"]
