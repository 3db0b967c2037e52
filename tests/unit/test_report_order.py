"""Side effects in a safe order: the alert is posted once, later steps retry on their own keys."""

from __future__ import annotations

from typing import Any

import pytest

from slack_dlp.model import Category, Confidence, Finding, InspectionResult, MessageRef
from slack_dlp.report import AlertInProgress, Reporter, alert_key
from slack_dlp.slack.actions import NotifyError
from tests.fakes import InMemoryDeduplicator, RecordingNotifier


def _result(ts: str) -> InspectionResult:
    ref = MessageRef(team_id="T0TEAM", channel_id="C0GENERAL", ts=ts, user_id="U0ALICE")
    finding = Finding("github-pat", Category.SECRET, 0, 40, Confidence.HIGH, "ghp_••••", f"{ts}-fp", "GitHub PAT")
    return InspectionResult(ref=ref, findings=(finding,))


class FlakyAudit:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.records: list[dict[str, Any]] = []

    def record(self, kind: str, **fields: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("DynamoDB unavailable")
        self.records.append({"kind": kind, **fields})

    def since(self, seconds: float) -> list[dict[str, Any]]:
        return self.records


class FlakyNotifier(RecordingNotifier):
    def __init__(self, notice_failures: list[Exception]) -> None:
        super().__init__()
        self.notice_failures = notice_failures

    def notify_author(self, result: InspectionResult, text: str) -> None:
        if self.notice_failures:
            raise self.notice_failures.pop(0)
        super().notify_author(result, text)


def _deliver_until_done(reporter: Reporter, records: list[tuple[str, str]], attempts: int = 10) -> int:
    """SQS: failed records come back until they succeed. Returns the deliveries it took."""
    pending = records
    for attempt in range(1, attempts + 1):
        outcomes = reporter.report_batch(pending)
        pending = [r for r in pending if outcomes[r[0]] is not None]
        if not pending:
            return attempt
    raise AssertionError("records never succeeded")


@pytest.mark.parametrize("batch", [1, 3])
def test_a_failing_audit_write_retries_alone_and_the_alert_is_posted_once(batch: int) -> None:
    # GIVEN an audit trail that fails twice, and a batch of results (one alert or a digest)
    notifier, audit = RecordingNotifier(), FlakyAudit(failures=2)
    reporter = Reporter(notifier, dedup=InMemoryDeduplicator(), audit=audit, author_notice="found {kinds}")
    results = [_result(f"1700000000.00000{i}") for i in range(batch)]
    # WHEN SQS delivers until every record succeeds
    deliveries = _deliver_until_done(reporter, [(f"m{i}", r.to_json()) for i, r in enumerate(results)])
    # THEN it took redeliveries, yet each result was alerted once, audited once and its author told once
    assert deliveries == 3
    assert sorted(r.id for r in notifier.results) == sorted(r.id for r in results)
    assert sorted(a["item_id"] for a in audit.records) == sorted(r.ref.item_id for r in results)
    assert len(notifier.notices) == batch
    # AND the audit record still carries the alert's ts, remembered with the alert's idempotency key
    assert all(a["alert_ts"].startswith("1700000000.") for a in audit.records)


def test_dropped_connections_on_the_author_notice_retry_the_notice_not_the_alert() -> None:
    notifier = FlakyNotifier([ConnectionResetError(), ConnectionResetError()])
    reporter = Reporter(notifier, dedup=InMemoryDeduplicator(), author_notice="found {kinds}")
    deliveries = _deliver_until_done(reporter, [("m1", _result("1700000000.000001").to_json())])
    assert deliveries == 3
    assert len(notifier.results) == 1
    assert len(notifier.notices) == 1


def test_a_notice_slack_refuses_for_good_is_not_retried() -> None:
    notifier = FlakyNotifier([NotifyError("cannot_dm_bot")])
    reporter = Reporter(notifier, dedup=InMemoryDeduplicator(), author_notice="found {kinds}")
    assert reporter.report_batch([("m1", _result("1700000000.000001").to_json())]) == {"m1": None}
    assert len(notifier.results) == 1 and notifier.notices == []


def test_a_rate_limited_notice_is_retried_later() -> None:
    notifier = FlakyNotifier([NotifyError("ratelimited", retry_after=3)])
    reporter = Reporter(notifier, dedup=InMemoryDeduplicator(), author_notice="found {kinds}")
    assert _deliver_until_done(reporter, [("m1", _result("1700000000.000001").to_json())]) == 2
    assert len(notifier.results) == 1 and len(notifier.notices) == 1


def test_a_later_step_another_invocation_is_running_fails_the_record_until_it_is_done() -> None:
    # GIVEN a result already posted, whose author notice another invocation is sending right now
    dedup, notifier = InMemoryDeduplicator(), RecordingNotifier()
    result = _result("1700000000.000001")
    dedup.done.add(alert_key(result))
    dedup.in_progress.add(f"step#{alert_key(result)}#notice")
    reporter = Reporter(notifier, dedup=dedup, author_notice="found {kinds}")
    # WHEN the result comes back here: the notice is not counted as sent, the record is retried
    [outcome] = reporter.report_batch([("m1", result.to_json())]).values()
    assert isinstance(outcome, AlertInProgress)
    # THEN once the other invocation gave the notice up (it failed there), the retry sends it, posting nothing
    dedup.in_progress.clear()
    assert reporter.report_batch([("m1", result.to_json())]) == {"m1": None}
    assert notifier.results == [] and len(notifier.notices) == 1
