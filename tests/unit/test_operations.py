"""Findings and triage actions on the event bus, who may triage, and opt-in tracing."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from slack_dlp.config import Settings
from slack_dlp.events_bus import FINDING, BusEvent, EventBridgePublisher, finding_events
from slack_dlp.model import InspectionResult, MessageKind, MessageRef
from slack_dlp.queues import PublishError
from slack_dlp.report import Reporter
from slack_dlp.slack.actions import MAX_BUTTON_VALUE, NotifyError, TriageTarget
from slack_dlp.triage import TriagePolicy
from slack_dlp.wiring.inspector import build_dlp_client
from tests.factories import canary_secrets
from tests.fakes import FakeClock, InMemoryDeduplicator, InMemoryEventPublisher, RecordingNotifier

CANARIES = canary_secrets(seed=1111)
REF = MessageRef(team_id="T1", channel_id="C0ENG", ts="1700000000.000100", user_id="U0BOB", event_id="Ev1")


def _result(text: str, ref: MessageRef = REF) -> InspectionResult:
    [findings] = build_dlp_client(Settings(), b"k" * 32).inspect([text])
    assert isinstance(findings, list) and findings
    return InspectionResult(ref=ref, findings=tuple(findings))


def test_finding_events_carry_what_the_alert_shows_and_never_the_value() -> None:
    # GIVEN a result for a message leaking two canaries
    result = _result(f"aws {CANARIES['aws']} and {CANARIES['github']}")
    # WHEN it becomes bus events
    events = finding_events(result)
    # THEN one masked event per finding, with where, who and a link, and no canary anywhere
    assert [e.detail_type for e in events] == [FINDING, FINDING]
    details = [dict(e.detail) for e in events]
    assert {d["detector"] for d in details} == {f.detector for f in result.findings}
    for detail in details:
        assert detail["workspace"] == "T1" and detail["channel"] == "C0ENG" and detail["user"] == "U0BOB"
        assert detail["permalink"].startswith("https://slack.com/archives/C0ENG/p1700000000000100")
        assert detail["masked"] and detail["fingerprint"] and detail["id"]
        assert {"category", "confidence", "location", "ts"} <= set(detail)
    rendered = json.dumps(details)
    for value in CANARIES.values():
        assert value not in rendered


def test_a_file_finding_names_the_file_and_where_in_it() -> None:
    ref = MessageRef(team_id="T1", channel_id="C0ENG", ts="", kind=MessageKind.FILE, file_id="F1",
                     file_name="dump.csv", file_where="line 3", file_link="https://files.slack.com/F1")  # fmt: skip
    [event] = finding_events(_result(f"token {CANARIES['github']}", ref))
    assert event.detail["file"] == {"id": "F1", "name": "dump.csv", "where": "line 3"}
    assert event.detail["permalink"] == "https://files.slack.com/F1"


class _EventsClient:
    def __init__(self, failed: int = 0) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.failed = failed

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        entries = [{"ErrorCode": "InternalFailure"}] * self.failed + [{"EventId": "e"}] * (len(Entries) - self.failed)
        return {"FailedEntryCount": self.failed, "Entries": entries}


def test_eventbridge_adapter_sends_batches_of_ten_to_the_bus_and_raises_on_rejected_entries() -> None:
    client = _EventsClient()
    EventBridgePublisher(client, "security").put([BusEvent(FINDING, {"n": i}) for i in range(23)])
    assert [len(call) for call in client.calls] == [10, 10, 3]
    entry = client.calls[0][0]
    assert entry["EventBusName"] == "security" and entry["Source"] == "slack-dlp"
    assert entry["DetailType"] == "slack-dlp finding" and json.loads(entry["Detail"]) == {"n": 0}
    with pytest.raises(PublishError, match="InternalFailure"):
        EventBridgePublisher(_EventsClient(failed=1), "security").put([BusEvent(FINDING, {"secret": "x"})])


def test_reporter_publishes_findings_after_the_alert_and_a_redelivery_publishes_once_without_reposting() -> None:
    # GIVEN a reporter whose event bus fails the first time
    notifier, dedup, bus = RecordingNotifier(), InMemoryDeduplicator(), InMemoryEventPublisher()
    bus.fail_times = 1
    reporter = Reporter(notifier, dedup=dedup, events=bus)
    body = _result(f"key {CANARIES['github']}").to_json()
    # WHEN the result is delivered: the alert is posted, the publish fails, the record fails
    [outcome] = reporter.report_batch([("m1", body)]).values()
    assert isinstance(outcome, PublishError)
    assert len(notifier.results) == 1 and not bus.events
    # AND SQS delivers it again, twice
    assert reporter.report_batch([("m1", body)]) == {"m1": None}
    assert reporter.report_batch([("m1", body)]) == {"m1": None}
    # THEN the alert was posted once and the finding published once
    assert len(notifier.results) == 1
    assert len(bus.details(FINDING)) == 1


def test_no_event_is_published_for_an_alert_that_could_not_be_posted() -> None:
    notifier, bus = RecordingNotifier(), InMemoryEventPublisher()
    notifier.fail = NotifyError("ratelimited", retry_after=5)
    reporter = Reporter(notifier, dedup=InMemoryDeduplicator(), events=bus)
    [outcome] = reporter.report_batch([("m1", _result(f"key {CANARIES['github']}").to_json())]).values()
    assert isinstance(outcome, NotifyError) and not bus.events


# -- who may triage ----------------------------------------------------------------------------------


def test_without_a_list_anyone_may_triage_with_one_only_listed_users_and_group_members() -> None:
    assert TriagePolicy().allows("U0ANYONE")
    calls: list[str] = []

    def members(group: str) -> set[str]:
        calls.append(group)
        return {"U0GROUP"}

    clock = FakeClock()
    policy = TriagePolicy(["U0LEAD"], "S0SECOPS", members, cache_seconds=300, clock=clock)
    assert policy.allows("U0LEAD") and policy.allows("U0GROUP")
    assert not policy.allows("U0OTHER")
    assert calls == ["S0SECOPS"]  # cached
    clock.sleep(301)
    assert policy.allows("U0GROUP") and calls == ["S0SECOPS", "S0SECOPS"]


def test_when_slack_cannot_list_the_group_only_listed_users_may_triage() -> None:
    def members(group: str) -> set[str]:
        raise NotifyError("missing_scope", fatal=True)

    policy = TriagePolicy(["U0LEAD"], "S0SECOPS", members)
    assert policy.allows("U0LEAD") and not policy.allows("U0GROUP")


def test_triage_target_carries_masked_values_escaped_and_only_when_they_fit() -> None:
    target = TriageTarget("T1", "T1:C1:1.0", ("ab" * 16, "cd" * 16), "C1", "1.0", masked=("<!channel>••", "AKIA••"))
    value = target.to_value()
    assert "<" not in value and ">" not in value
    assert TriageTarget.from_value(value).masked_by_fingerprint == {"ab" * 16: "<!channel>••", "cd" * 16: "AKIA••"}
    crowded = TriageTarget("T1", "i", tuple(f"{i:032x}" for i in range(40)), masked=tuple("x" * 30 for _ in range(40)))
    assert len(crowded.to_value()) <= MAX_BUTTON_VALUE
    assert TriageTarget.from_value(crowded.to_value()).masked == ()


def test_tracing_wraps_the_handler_only_when_enabled_and_never_captures_responses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aws_lambda_powertools import Tracer

    from slack_dlp.observability import traced

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        return {"secret": "response"}

    monkeypatch.delenv("SLACK_DLP_TRACING", raising=False)
    assert traced(handler) is handler
    captured: dict[str, Any] = {}

    def capture(self: Tracer, lambda_handler: Any = None, **kwargs: Any) -> Any:
        captured.update(kwargs)
        return functools.partial(lambda_handler)

    monkeypatch.setenv("SLACK_DLP_TRACING", "True")
    monkeypatch.setattr(Tracer, "capture_lambda_handler", capture)
    wrapped = traced(handler)
    assert wrapped is not handler and wrapped({}, None) == {"secret": "response"}
    assert captured == {"capture_response": False, "capture_error": False}


def test_usergroups_read_is_requested_only_when_triage_is_limited_to_a_user_group() -> None:
    from slack_dlp.slack.scopes import requirements

    assert "usergroups:read" not in requirements(Settings()).bot_scopes
    assert "usergroups:read" in requirements(Settings(triage_usergroup="S0SECOPS")).bot_scopes
    assert "chat:write" in requirements(Settings(notify_author=False, triage_users=("U0LEAD",))).bot_scopes
