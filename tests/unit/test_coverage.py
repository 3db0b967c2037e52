"""Coverage in the core: joining channels, Grid triage and alerts, the coverage command's pacing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from slack_dlp.model import Category, Confidence, Finding, InspectionResult, JoinRequest, MessageRef
from slack_dlp.slack.actions import NotifyError
from slack_dlp.slack.alerts import build_alert, build_digest
from slack_dlp.slack.join import ChannelJoiner
from slack_dlp.triage import TriageTarget
from slack_dlp_tools.cli.coverage import CoverageScan
from tests.fakes import FakeClock, InMemoryAuditLog


class FakeJoinApi:
    def __init__(self, fail: NotifyError | None = None) -> None:
        self.joined: list[str] = []
        self.fail = fail

    def join(self, channel_id: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.joined.append(channel_id)


REQUEST = JoinRequest(team_id="T0WEST", channel_id="C0NEW", reason="channel_created", enterprise_id="E0ORG")


def test_joiner_joins_and_records_the_channel_with_its_workspace() -> None:
    api, audit = FakeJoinApi(), InMemoryAuditLog()
    assert ChannelJoiner(api, audit).process(REQUEST) == "joined"
    assert api.joined == ["C0NEW"]
    assert audit.records == [("channel_joined", {"team_id": "T0WEST", "enterprise_id": "E0ORG", "channel": "C0NEW",
                                                 "reason": "channel_created"})]  # fmt: skip


def test_a_channel_that_cannot_be_joined_is_recorded_not_retried() -> None:
    audit = InMemoryAuditLog()
    outcome = ChannelJoiner(FakeJoinApi(NotifyError("channel_not_found")), audit).process(REQUEST)
    assert outcome == "channel_not_found"
    assert audit.kinds() == ["join_skipped"]


@pytest.mark.parametrize(
    "error", [NotifyError("ratelimited", retry_after=30), NotifyError("missing_scope", fatal=True)]
)
def test_rate_limits_and_setup_errors_fail_the_record_for_sqs_to_retry(error: NotifyError) -> None:
    audit = InMemoryAuditLog()
    with pytest.raises(NotifyError):
        ChannelJoiner(FakeJoinApi(error), audit).process(REQUEST)
    assert audit.records == []


def test_grid_alert_buttons_work_from_any_workspace_of_the_org_and_no_other() -> None:
    target = TriageTarget(team_id="T0WEST", item_id="E0ORG:C1:1.0", fingerprints=("f1",), enterprise_id="E0ORG")
    assert TriageTarget.from_value(target.to_value()) == target
    assert target.tenant_id == "E0ORG"
    assert target.belongs_to("T0EAST", "E0ORG")
    assert not target.belongs_to("T0WEST", "E0OTHER")
    single = TriageTarget(team_id="T1", item_id="T1:C1:1.0", fingerprints=())
    assert single.belongs_to("T1") and not single.belongs_to("T2")


@pytest.mark.parametrize(
    "where",
    [{"team": {"id": "T0EAST", "enterprise_id": "E0ORG"}}, {"team": {"id": "T0EAST"}, "enterprise": {"id": "E0ORG"}}],
)
def test_a_button_pressed_on_grid_names_the_org(where: dict[str, Any]) -> None:
    from urllib.parse import urlencode

    from slack_dlp.triage import ACKNOWLEDGE, Pressed

    target = TriageTarget(team_id="T0WEST", item_id="E0ORG:C1:1.0", fingerprints=("f1",), enterprise_id="E0ORG")
    payload = {"type": "block_actions", "user": {"id": "U1"}, **where,
               "container": {"channel_id": "C0ALERTS", "message_ts": "1.0"},
               "actions": [{"action_id": ACKNOWLEDGE, "value": target.to_value()}]}  # fmt: skip
    pressed = Pressed.parse(urlencode({"payload": json.dumps(payload)}).encode())
    assert (pressed.team_id, pressed.enterprise_id) == ("T0EAST", "E0ORG")
    assert pressed.target.belongs_to(pressed.team_id, pressed.enterprise_id)


def _result(ref: MessageRef) -> InspectionResult:
    finding = Finding(detector="aws-access-key-id", category=Category.SECRET, start=0, end=20,
                      confidence=Confidence.HIGH, masked="AKIA••••", fingerprint="f" * 32)  # fmt: skip
    return InspectionResult(ref=ref, findings=(finding,))


def test_alerts_name_the_workspace_on_grid_and_the_app_that_posted() -> None:
    ref = MessageRef(team_id="T0WEST", channel_id="C1", ts="1.0", enterprise_id="E0ORG", bot_id="B0CI")
    alert = json.dumps([b.to_dict() for b in build_alert(_result(ref), "https://x.test").blocks])
    assert "*Workspace*\\n`T0WEST`" in alert
    assert "an app (bot `B0CI`)" in alert
    assert '\\"e\\":\\"E0ORG\\"' in alert  # the buttons carry the org
    digest = json.dumps([b.to_dict() for b in build_digest([(_result(ref), "u"), (_result(ref), "u")]).blocks])
    assert "workspace `T0WEST`" in digest


class FakeWebClient:
    """Answers like slack_sdk's WebClient (``.data``); records the join calls."""

    class Response:
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.join_times: list[float] = []

    def auth_test(self) -> Response:
        return self.Response({"ok": True, "team_id": "T1", "user_id": "U0DLPBOT"})

    def conversations_list(self, **_: Any) -> Response:
        channels = [{"id": f"C{i}", "name": f"c{i}", "is_member": i == 0} for i in range(4)]
        return self.Response({"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}})

    def conversations_join(self, channel: str) -> Response:
        self.join_times.append(self.clock())
        return self.Response({"ok": True})


def test_coverage_joins_no_faster_than_the_rate_it_is_given() -> None:
    # GIVEN 3 public channels the app is not in, and 30 joins a minute
    clock = FakeClock()
    client = FakeWebClient(clock)
    lines: list[str] = []
    scan = CoverageScan(client, per_minute=30, progress=lines.append, sleep=clock.sleep, clock=clock)
    # WHEN it joins them
    coverage = scan.run(join=True)
    # THEN the joins are 2 s apart, each is reported, none is left
    assert [t - client.join_times[0] for t in client.join_times] == [0.0, 2.0, 4.0]
    assert [c.id for c in coverage.workspaces[0].joined_now] == ["C1", "C2", "C3"]
    assert coverage.missing == 0
    assert lines[-1] == "[T1] 3/3 joined #c3 (C3)"


def test_findings_table_shows_the_workspace_the_lost_window_and_joins() -> None:
    from slack_dlp.triage import render_events

    table = render_events([
        {"at": "2026-01-01T00:00:03+00:00", "kind": "events_rate_limited", "team_id": "T0BUSY", "minute": 60,
         "window_start": "1970-01-01T00:01:00+00:00", "window_end": "1970-01-01T00:02:00+00:00"},
        {"at": "2026-01-01T00:00:04+00:00", "kind": "join_skipped", "team_id": "T0WEST", "channel": "C0GONE",
         "reason": "channel_unarchive", "error": "channel_not_found"},
    ])  # fmt: skip
    rows = table.splitlines()[1:]
    assert "T0BUSY" in rows[0] and "events lost 1970-01-01T00:01:00+00:00 to 1970-01-01T00:02:00+00:00" in rows[0]
    assert "T0WEST" in rows[1] and "C0GONE" in rows[1] and "channel_unarchive channel_not_found" in rows[1]
