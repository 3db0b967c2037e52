"""Bad input on both endpoints and on every queue: a 4xx or a failed record, never a 5xx or a lost batch."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from slack_dlp.config import Settings, SettingsError
from slack_dlp.http import HttpRequest
from slack_dlp.ingest import IngestService
from slack_dlp.inspect import Inspector
from slack_dlp.model import InspectionItem, MalformedMessage
from slack_dlp.report import Reporter
from slack_dlp.slack.actions import NotifyError
from slack_dlp.slack.verify import SlackRequestVerifier
from slack_dlp.triage import ACKNOWLEDGE, TriageService, TriageTarget
from tests.factories import event_envelope, inspection_item, message_event, signed_request
from tests.fakes import FakeDlpClient, InMemoryDeduplicator, InMemoryMarkers, InMemoryPublisher, RecordingNotifier

SLACK_MAX_CHARS = 40_000
SQS_MAX_BYTES = 256 * 1024


class MemoryAudit:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(self, kind: str, **fields: Any) -> None:
        self.records.append({"kind": kind, **fields})

    def since(self, seconds: float) -> list[dict[str, Any]]:
        return self.records


class FakeUpdater:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.updates: list[tuple[str, str]] = []

    def update_alert(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        if self.fail:
            raise self.fail
        self.updates.append((channel, ts))


class FakeAllowlist:
    def add(self, team_id: str, fingerprints: Any, *, actor: str, item_id: str) -> None:
        return None

    def allowed(self, team_id: str, fingerprints: Any) -> set[str]:
        return set()


@pytest.fixture
def ingest() -> tuple[IngestService, InMemoryPublisher, MemoryAudit]:
    publisher, audit = InMemoryPublisher(), MemoryAudit()
    service = IngestService(
        settings=Settings(),
        verifier=SlackRequestVerifier(lambda: "8f742231b10e8888abcd99yyyzzz85a5"),
        dedup=InMemoryMarkers(),
        publisher=publisher,
        audit=audit,
    )
    return service, publisher, audit


def _post(service: IngestService, body: object, **kwargs: Any) -> int:
    return service.handle_event_request(HttpRequest(*signed_request(body, **kwargs))).status  # type: ignore[arg-type]


@pytest.mark.parametrize("signature", ["\x80", "v0=é", "v0=\udcff", "v0=" + "ß" * 64])
def test_a_non_ascii_signature_is_401_not_500(ingest: Any, signature: str) -> None:
    service, publisher, _ = ingest
    body, headers = signed_request(event_envelope(message_event("hi")))
    response = service.handle_event_request(HttpRequest(body, {**headers, "X-Slack-Signature": signature}))
    assert response.status == 401
    assert publisher.bodies == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "event_callback", "event": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        event_envelope(message_event("x")) | {"event_time": 1e400},
        json.dumps(event_envelope(message_event("x"))).replace('"event_time": ', '"event_time": 1e400, "x": ').encode(),
        event_envelope(message_event("x") | {"subtype": []}),
        event_envelope(message_event("x") | {"subtype": {"a": 1}}),
        event_envelope(message_event("x") | {"type": ["message"]}),
        event_envelope({"type": "file_shared", "file": "F1", "user_id": "U1"}),
        event_envelope({"type": "message", "subtype": "message_changed", "message": {"subtype": [], "text": "x"}}),
        b'{"type": NaN}',
        b'{"type": "event_callback", "event_id": ' + b"9" * 5000 + b"}",
    ],
)
def test_signed_but_malformed_bodies_are_4xx_never_5xx(ingest: Any, body: object) -> None:
    service, publisher, _ = ingest
    assert 200 <= _post(service, body) < 500
    assert all(InspectionItem.from_json(b) for b in publisher.bodies)


def test_the_largest_message_slack_can_send_is_accepted_and_fits_the_queue(ingest: Any) -> None:
    # GIVEN a 40,000-character message of 4-byte characters, with its rich-text blocks, JSON-escaped
    text = "\U0001f600" * SLACK_MAX_CHARS
    blocks = [{"type": "rich_text", "elements": [{"type": "rich_text_section",
                                                   "elements": [{"type": "text", "text": text}]}]}]  # fmt: skip
    body = json.dumps(event_envelope(message_event(text) | {"blocks": blocks})).encode()
    assert len(body) > 900_000
    service, publisher, _ = ingest
    # WHEN it is delivered
    assert _post(service, body) == 200
    # THEN it is inspected: one item, which fits an SQS message
    [item] = publisher.bodies
    assert len(item.encode()) < SQS_MAX_BYTES
    assert InspectionItem.from_json(item).text == text


def test_a_signed_request_too_large_is_counted_and_recorded_once_however_often_slack_retries(ingest: Any) -> None:
    service, publisher, audit = ingest
    small = IngestService(**{**service.__dict__, "settings": Settings(max_body_bytes=4096)})
    envelope = event_envelope(message_event("x" * 5000, channel="C0BIG"))
    statuses = [_post(small, envelope, extra_headers={"X-Slack-Retry-Num": str(n)}) for n in range(3)]
    assert statuses == [413, 413, 413]
    assert publisher.bodies == []
    [record] = audit.records
    assert record["kind"] == "message_too_large" and record["channel"] == "C0BIG"
    assert record["bytes"] > 4096 and "x" * 100 not in json.dumps(record)


def test_an_unsigned_request_too_large_is_413_and_not_recorded(ingest: Any) -> None:
    service, _, audit = ingest
    small = IngestService(**{**service.__dict__, "settings": Settings(max_body_bytes=4096)})
    body = json.dumps(event_envelope(message_event("x" * 5000))).encode()
    assert small.handle_event_request(HttpRequest(body, {"Content-Type": "application/json"})).status == 413
    assert audit.records == []


def test_the_body_limit_cannot_exceed_what_lambda_can_receive() -> None:
    with pytest.raises(SettingsError, match="max_body_bytes"):
        Settings(max_body_bytes=6 * 1024 * 1024)


# -- interactions ------------------------------------------------------------------------------------


def _interaction(payload: object) -> HttpRequest:
    body = urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)})
    return HttpRequest(*signed_request(body, content_type="application/x-www-form-urlencoded"))


def _payload(**overrides: Any) -> dict[str, Any]:
    value = TriageTarget(team_id="T0TEAM", item_id="T0TEAM:C1:1.0", fingerprints=("ab",)).to_value()
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0SECOPS"},
        "container": {"channel_id": "C0ALERTS", "message_ts": "1700000001.000100"},
        "message": {"blocks": []},
        "actions": [{"action_id": ACKNOWLEDGE, "value": value}],
    }
    return payload | overrides


def _triage(updater: FakeUpdater | None = None) -> tuple[TriageService, MemoryAudit]:
    audit = MemoryAudit()
    service = TriageService(SlackRequestVerifier(lambda: "8f742231b10e8888abcd99yyyzzz85a5"),
                            updater or FakeUpdater(), FakeAllowlist(), audit)  # fmt: skip
    return service, audit


@pytest.mark.parametrize("team", [None, {}, {"id": None}, {"id": ""}, "T0TEAM", []])
def test_an_interaction_without_a_workspace_is_refused(team: object) -> None:
    service, audit = _triage()
    payload = _payload(team=team) if team is not None else {k: v for k, v in _payload().items() if k != "team"}
    assert service.handle_interaction_request(_interaction(payload)).status == 403
    assert audit.records == []


@pytest.mark.parametrize(
    "payload",
    [
        _payload(message=None),
        _payload(message={"blocks": None}),
        _payload(message={"blocks": [1, "x", None]}),
        _payload(user=None),
        _payload(container=None),
        _payload(actions=None),
        _payload(actions=[None]),
        _payload(actions=[{"action_id": ACKNOWLEDGE, "value": None}]),
        _payload(actions=[{"action_id": ACKNOWLEDGE, "value": "[" * 5000}]),
        _payload(actions=[{"action_id": ACKNOWLEDGE, "value": '{"t": 1e400, "i": "x", "f": []}'}]),
        _payload(type=None),
        [1, 2],
        "[" * 10_000,
        "null",
    ],
)
def test_malformed_interactions_are_4xx_or_ignored_never_5xx(payload: object) -> None:
    service, _ = _triage()
    assert service.handle_interaction_request(_interaction(payload)).status in (200, 400, 403)


def test_a_failing_chat_update_still_records_the_action_and_answers_200() -> None:
    for failure in (NotifyError("message_not_found"), ConnectionResetError()):
        service, audit = _triage(FakeUpdater(fail=failure))
        assert service.handle_interaction_request(_interaction(_payload())).status == 200
        assert [r["kind"] for r in audit.records] == ["acknowledged"]


# -- queues --------------------------------------------------------------------------------------------

POISON = [
    '{"v": 1, "ref": {"team_id": "T", "channel_id": "C", "ts": "1", "event_time": 1e400}, "text": "x"}',
    '{"v": 1, "ref": ' + "[" * 5000 + "]" * 5000 + ', "text": "x"}',
    '{"v": 1, "ref": {"team_id": "T", "channel_id": "C", "ts": "1", "kind": ["file"]}, "text": "x"}',
    "NaN",
    "",
    '{"v": 1, "ref": {"team_id": "T", "channel_id": "C", "ts": "1", "event_time": "' + "9" * 5000 + '"}, "text": ""}',
]


@pytest.mark.parametrize("poison", POISON)
def test_one_poison_record_among_99_good_ones_fails_alone_in_the_inspector(poison: str) -> None:
    results = InMemoryPublisher()
    inspector = Inspector(FakeDlpClient(), results)
    records = [(f"m{i}", inspection_item(f"text {i}", ts=f"1700000000.{i:06d}").to_json()) for i in range(99)]
    records.insert(50, ("poison", poison))
    batch = inspector.inspect(records)
    for message_id, _ in records:
        if message_id == "poison":
            with pytest.raises(MalformedMessage):
                inspector.complete(batch, message_id)
        else:
            inspector.complete(batch, message_id)


@pytest.mark.parametrize("poison", [*POISON, '{"v": 1, "ref": {"team_id": "T", "channel_id": "C", "ts": "1"}, '
                                    '"findings": [{"detector": "d", "category": "secret", "start": 1e400, "end": 2, '
                                    '"confidence": "high", "fingerprint": "f"}]}'])  # fmt: skip
def test_one_poison_record_fails_alone_in_the_reporter(poison: str) -> None:
    from slack_dlp.model import Category, Confidence, Finding, InspectionResult

    notifier = RecordingNotifier()
    reporter = Reporter(notifier, dedup=InMemoryDeduplicator())
    good = InspectionResult(
        ref=inspection_item("x").ref,
        findings=(Finding("github-pat", Category.SECRET, 0, 4, Confidence.HIGH, "ghp_••", "fp"),),
    )
    outcomes = reporter.report_batch([("good", good.to_json()), ("poison", poison)])
    assert outcomes["good"] is None
    assert isinstance(outcomes["poison"], MalformedMessage)
    assert len(notifier.results) == 1


@pytest.mark.parametrize("level", ["DEBUG", "warning", "ERROR"])
def test_log_level_sets_the_level_of_every_function(level: str) -> None:
    from slack_dlp.observability import logger
    from slack_dlp.wiring import configure_logging

    previous = logger.log_level
    try:
        configure_logging(Settings(log_level=level))
        assert logger.log_level == __import__("logging").getLevelName(level.upper())
    finally:
        logger.setLevel(previous)


def test_an_unknown_log_level_is_refused() -> None:
    with pytest.raises(SettingsError, match="log_level"):
        Settings(log_level="LOUD")
