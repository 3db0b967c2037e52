"""``slack-dlp smoke`` with its collaborators faked: stages, timings, and what it says on failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slack_sdk.models.blocks import ActionsBlock

from slack_dlp.model import Category, Confidence, Finding, InspectionResult, MessageRef
from slack_dlp.report import AutoDelete, Reporter
from slack_dlp.slack.alerts import build_alert, build_digest
from slack_dlp.slack.verify import SlackRequestVerifier
from slack_dlp_tools.cli.scan import build_local_engine
from slack_dlp_tools.logs import LogLine, StackLogs, emulator_errors, error_summary
from slack_dlp_tools.smoke import SMOKE_VALUE_MARK, SmokeTest, smoke_envelope, smoke_value
from tests.fakes import FakeClock, RecordingNotifier

SECRET = "smoke-unit-signing-secret"


class FakeAudit:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.recorded: list[tuple[str, dict[str, Any]]] = []

    def since(self, seconds: float) -> list[dict[str, Any]]:
        return self.events

    def record(self, kind: str, **fields: Any) -> None:
        self.recorded.append((kind, fields))


class FakeLogs(StackLogs):
    def __init__(self) -> None:
        super().__init__(client=None, groups={})
        self.entries: list[LogLine] = []

    def lines(self, since_ms: int, functions: Any = None) -> list[LogLine]:
        return [e for e in self.entries if functions is None or e.function in functions]


def _json_line(function: str, at: float, **record: Any) -> LogLine:
    return LogLine(function, int(at * 1000), json.dumps(record))


class Pipeline:
    """What a working stack does with the smoke event: verify, enqueue, inspect, alert."""

    def __init__(self, clock: FakeClock, audit: FakeAudit, logs: FakeLogs, *, reporter_error: str = "") -> None:
        self.clock, self.audit, self.logs, self.reporter_error = clock, audit, logs, reporter_error
        self.verifier = SlackRequestVerifier(lambda: SECRET)
        self.bodies: list[bytes] = []

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        self.bodies.append(body)
        self.clock.now += 0.05
        if not self.verifier.is_valid(body, headers):
            return 401, '{"error": "invalid or missing Slack signature"}'
        envelope = json.loads(body)
        item = f"{envelope['team_id']}:{envelope['event']['channel']}:{envelope['event']['ts']}"
        start = self.clock.now
        self.logs.entries.append(_json_line("Ingest", start, level="INFO", message="event enqueued", item_id=item))
        self.logs.entries.append(
            _json_line(
                "Inspector",
                start + 1.2,
                level="INFO",
                message="findings published",
                item_id=item,
                detectors=["aws-access-key-id"],
            )
        )
        if self.reporter_error:
            self.logs.entries.append(
                _json_line(
                    "Reporter",
                    start + 2,
                    level="ERROR",
                    slack_error=self.reporter_error,
                    message="alerts cannot be posted until the Slack setup is fixed",
                )
            )
        else:
            self.audit.events.append({"kind": "alert", "item_id": item, "alert_ts": "1700000000.000001"})
        return 200, '{"ok": true}'


def _smoke(pipeline: Pipeline, secret: str = SECRET, timeout: float = 10) -> SmokeTest:
    return SmokeTest("https://x.example/slack/events", secret, pipeline.audit, pipeline.logs, timeout=timeout,
                     clock=pipeline.clock, sleep=pipeline.clock.sleep, send=pipeline.send)  # fmt: skip


def test_the_smoke_value_is_detected_marked_and_not_the_documented_example() -> None:
    value = smoke_value()
    assert value.startswith("AKIA" + SMOKE_VALUE_MARK) and len(value) == 20
    text = smoke_envelope(value, 1_700_000_000.0)["event"]["text"]
    assert "smoke test" in text and "not a credential" in text
    findings = build_local_engine(None).scan(text)
    assert [(f.detector, f.confidence) for f in findings] == [("aws-access-key-id", Confidence.HIGH)]


def test_a_working_stack_passes_every_stage_with_its_time() -> None:
    clock = FakeClock(1_700_000_000.0)
    pipeline = Pipeline(clock, FakeAudit(), FakeLogs())
    report = _smoke(pipeline).run()
    assert report.passed
    assert [s.name for s in report.stages] == ["HTTP", "enqueued", "inspected", "alert posted"]
    assert report.stage("HTTP").detail.startswith("HTTP 200 in 50 ms")
    assert report.stage("inspected").seconds is not None and report.stage("inspected").seconds > 1
    assert "aws-access-key-id" in report.stage("inspected").detail
    assert "PASSED" in report.render()


def test_a_wrong_signing_secret_fails_at_the_http_stage_and_says_so() -> None:
    clock = FakeClock(1_700_000_000.0)
    report = _smoke(Pipeline(clock, FakeAudit(), FakeLogs()), secret="not-the-stacks-secret").run()
    assert not report.passed
    assert report.stage("HTTP").passed is False and "HTTP 401" in report.stage("HTTP").detail
    assert report.stage("enqueued").passed is None
    assert "signing secret mismatch" in report.render()
    assert report.render().rstrip().endswith("FAILED.")


def test_an_alert_slack_refuses_fails_at_the_alert_stage_with_the_slack_error_explained() -> None:
    clock = FakeClock(1_700_000_000.0)
    report = _smoke(Pipeline(clock, FakeAudit(), FakeLogs(), reporter_error="not_in_channel")).run()
    assert not report.passed
    assert report.stage("inspected").passed is True
    assert report.stage("alert posted").passed is False
    assert "not seen within 10 s" in report.stage("alert posted").detail
    rendered = report.render()
    assert "/invite @slack-dlp" in rendered
    assert "Reporter: alerts cannot be posted until the Slack setup is fixed (not_in_channel)" in rendered


def _smoke_result() -> InspectionResult:
    envelope = smoke_envelope(smoke_value(), 1_700_000_000.0)
    ref = MessageRef(team_id="T0SMOKETEST", channel_id="C0SMOKETEST", ts=envelope["event"]["ts"],
                     user_id="U0SMOKETEST", event_id=envelope["event_id"])  # fmt: skip
    finding = Finding("aws-access-key-id", Category.SECRET, 0, 20, Confidence.HIGH, "AKIA••••", "f" * 32)
    return InspectionResult(ref=ref, findings=(finding,))


def test_the_smoke_alert_says_it_is_a_test_and_has_no_buttons_alone_or_in_a_digest() -> None:
    result = _smoke_result()
    assert result.ref.is_smoke_test
    alert = build_alert(result, "https://x", can_delete=True)
    assert "smoke test" in alert.text and "not a leak" in alert.text
    assert not any(isinstance(block, ActionsBlock) for block in alert.blocks)
    real = InspectionResult(ref=MessageRef(team_id="T1", channel_id="C1", ts="1.0", event_id="Ev1"),
                            findings=result.findings)  # fmt: skip
    digest = build_digest([(result, "https://x"), (real, "https://y")], can_delete=True)
    actions = [block for block in digest.blocks if isinstance(block, ActionsBlock)]
    assert len(actions) == 1  # the real result's buttons only
    assert "smoke test" in json.dumps([b.to_dict() for b in digest.blocks])


def test_the_reporter_records_a_smoke_alert_but_neither_notifies_nor_deletes() -> None:
    notifier, audit = RecordingNotifier(), FakeAudit()
    reporter = Reporter(notifier, author_notice="you leaked {kinds}", audit=audit,
                        auto_delete=AutoDelete(categories=frozenset({Category.SECRET}), min_confidence=Confidence.LOW))  # fmt: skip
    outcomes = reporter.report_batch([("m1", _smoke_result().to_json())])
    assert outcomes == {"m1": None}
    assert len(notifier.results) == 1
    assert notifier.notices == [] and notifier.deleted == []
    assert audit.recorded[0][0] == "alert" and audit.recorded[0][1]["smoke_test"] is True


def test_errors_are_read_from_powertools_json_runtime_lines_and_the_emulators_log(tmp_path: Path) -> None:
    assert error_summary(_json_line("Reporter", 0, level="INFO", message="alert posted")) is None
    assert error_summary(LogLine("Inspector", 0, "[ERROR] Runtime.ImportModuleError: Unable to import module")) == (
        "Inspector: [ERROR] Runtime.ImportModuleError: Unable to import module"
    )
    log = tmp_path / "ministack.log"
    message = "Worker init failed: cannot import name '_re2' from partially initialized module 're2'"
    log.write_text(
        f"2026 INFO [lambda] started\n"
        f"2026 ERROR [lambda] Warm worker execution error for SlackDlp-Inspector-1: {message} (/tmp/w-1/re2/a.py)\n"
        f"2026 WARNING [lambda] ESM: Lambda SlackDlp-Inspector-1 failed processing SQS batch from Q "
        f"(errorType=RuntimeError errorMessage={message} (/tmp/w-2/re2/a.py))\n"
    )
    errors = emulator_errors(log)
    assert len(errors) == 1  # the same error, twice, in two workers' directories
    assert errors[0].startswith(f"SlackDlp-Inspector-1: {message}")
