"""Coverage, end to end with Slack's payload shapes: other apps' messages, new channels joined,
rate-limited minutes counted and recorded, two workspaces of one Enterprise Grid org."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from slack_dlp.triage import ACKNOWLEDGE
from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.samples import event_envelope, message_event
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.e2e.conftest import post_signed, run_cli, wait_for
from tests.factories import canary_secrets

pytestmark = pytest.mark.e2e

CANARIES = canary_secrets(seed=1313)


def _alerted_item_ids(slack: SlackStandIn) -> list[str]:
    """The item id of each alerted result (one per alert, one per section of a digest)."""
    ids = []
    for call in slack.alerts():
        for block in call["args"].get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == ACKNOWLEDGE:
                    ids.append(json.loads(element["value"])["i"])
    return ids


def _alert_text(slack: SlackStandIn) -> str:
    return json.dumps([c["args"] for c in slack.alerts()], ensure_ascii=False)


def _logs(deployed: LocalDeployment) -> str:
    return (deployed.state_dir / "ministack.log").read_text(errors="replace")


def test_another_apps_webhook_message_with_a_key_alerts(deployed: LocalDeployment, slack: SlackStandIn) -> None:
    # GIVEN a CI webhook's bot_message: no text, the key in an attachment field (Slack's shape)
    ts = f"{time.time():.6f}"
    event = {
        "type": "message", "subtype": "bot_message", "text": "", "ts": ts, "channel": "C0E2ECI",
        "channel_type": "channel", "bot_id": "B0E2ECI", "username": "ci",
        "attachments": [{"id": 1, "fallback": "Build #7 failed", "title": "Build #7 failed", "color": "D00000",
                         "fields": [{"title": "env", "value": f"AWS_ACCESS_KEY_ID={CANARIES['aws']}",
                                     "short": False}]}],
    }  # fmt: skip
    # WHEN Slack delivers it
    assert post_signed(deployed, event_envelope(event))[0] == 200
    # THEN an alert names the channel and the app, never the value
    assert wait_for(lambda: f"T0LOCAL:C0E2ECI:{ts}" in _alerted_item_ids(slack)), "no alert for the bot's message"
    alerts = _alert_text(slack)
    assert "an app (bot `B0E2ECI`)" in alerts
    assert CANARIES["aws"] not in json.dumps(slack.state.calls)
    assert CANARIES["aws"] not in _logs(deployed) and CANARIES["aws"] not in _cloudwatch_logs(deployed)


def test_channel_created_makes_the_app_join_it_and_coverage_joins_the_rest(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN a new public channel, and an older one nobody invited the app to
    slack.add_channel("C0E2ENEW", "e2e-new")
    slack.add_channel("C0E2EQUIET", "e2e-quiet")
    created = {"type": "channel_created", "channel": {"id": "C0E2ENEW", "name": "e2e-new",
                                                      "created": int(time.time()), "creator": "U0ALICE"}}  # fmt: skip
    # WHEN Slack sends channel_created
    status, _ = post_signed(deployed, event_envelope(created))
    # THEN ingest answers 200 and the joiner calls conversations.join for that channel
    assert status == 200
    assert wait_for(
        lambda: any(c["args"].get("channel") == "C0E2ENEW" and c["ok"] for c in slack.calls_of("conversations.join"))
    ), "conversations.join was not called for the new channel"
    assert slack.state.channels["C0E2ENEW"]["is_member"]
    # AND slack-dlp coverage (stack outputs, the bot token secret) lists the old one, then joins it
    listed = run_cli("coverage", "--endpoint", deployed.endpoint, "--json", check=False)
    report = json.loads(listed.stdout)
    not_joined = [c["id"] for w in report["workspaces"] for c in w["not_joined"]]
    assert "C0E2EQUIET" in not_joined and "C0E2ENEW" not in not_joined
    joined = run_cli("coverage", "--endpoint", deployed.endpoint, "--join", check=False)
    assert "joined #e2e-quiet (C0E2EQUIET)" in joined.stderr
    assert slack.state.channels["C0E2EQUIET"]["is_member"]


def test_app_rate_limited_is_acknowledged_counted_and_recorded_for_a_backfill(deployed: LocalDeployment) -> None:
    # GIVEN Slack's app_rate_limited envelope for a busy workspace
    minute = int(time.time()) // 60 * 60
    envelope = {"token": "unused", "type": "app_rate_limited", "team_id": "T0E2EBUSY",
                "minute_rate_limited": minute, "api_app_id": "A0DLP"}  # fmt: skip
    # WHEN it arrives
    status, _ = post_signed(deployed, envelope)
    # THEN Slack gets 200, and the metric is emitted: CloudWatch's embedded metric format in the
    # function's CloudWatch Logs (MiniStack keeps them; AWS turns them into the alarm's metric)
    assert status == 200
    assert wait_for(lambda: _emf_count(_cloudwatch_logs(deployed), "EventsRateLimited") >= 1, timeout=30)
    # AND the audit trail holds the workspace and the minute, in the documented shape
    findings = run_cli("findings", "--endpoint", deployed.endpoint, "--since", "1d", "--json")
    events = [e for e in json.loads(findings.stdout)["events"] if e["kind"] == "events_rate_limited"]
    assert [(e["team_id"], e["minute"]) for e in events] == [("T0E2EBUSY", minute)]
    assert set(events[0]) >= {"window_start", "window_end", "enterprise_id", "api_app_id"}


def _cloudwatch_logs(deployed: LocalDeployment) -> str:
    """Every event of every log group of the stack's functions, read through the CloudWatch Logs API."""
    logs = deployed.client("logs")
    lines: list[str] = []
    for group in logs.describe_log_groups().get("logGroups", []):
        arguments: dict[str, Any] = {"logGroupName": group["logGroupName"]}
        while True:
            page = logs.filter_log_events(**arguments)
            lines += [event["message"] for event in page.get("events", [])]
            if not page.get("nextToken") or page["nextToken"] == arguments.get("nextToken"):
                break
            arguments["nextToken"] = page["nextToken"]
    return "\n".join(lines)


def _emf_count(logs: str, metric: str) -> int:
    count = 0
    for line in logs.splitlines():
        start = line.find('{"_aws"')
        if start < 0:
            continue
        try:
            document: dict[str, Any] = json.loads(line[start:])
        except ValueError:
            continue
        names = [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
        if metric in names and document.get("service") == "slack-dlp":
            count += int(document[metric]) if not isinstance(document[metric], list) else len(document[metric])
    return count


def _grid(event: dict[str, Any], workspace: str) -> dict[str, Any]:
    envelope = event_envelope(event, team_id=workspace)
    authorization = {"enterprise_id": "E0E2EORG", "team_id": workspace, "user_id": "W0DLPBOT", "is_bot": True,
                     "is_enterprise_install": True}  # fmt: skip
    return {**envelope, "enterprise_id": "E0E2EORG", "context_team_id": workspace,
            "context_enterprise_id": "E0E2EORG", "authorizations": [authorization]}  # fmt: skip


def test_two_workspaces_of_one_org_alert_with_their_workspace_and_a_shared_message_once(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN an org-wide install: a leak in each of two workspaces, and the west leak delivered again
    # through the east workspace (a channel the two share)
    east = message_event(f"east key {CANARIES['github']}", channel="C0E2EEAST", ts=f"{time.time():.6f}")
    west = message_event(f"west card {CANARIES['card']} exp 01/30", channel="C0E2EWEST", ts=f"{time.time():.6f}")
    # WHEN Slack delivers them
    for envelope in (_grid(east, "T0E2EEAST"), _grid(west, "T0E2EWEST"), _grid(west, "T0E2EEAST")):
        assert post_signed(deployed, envelope)[0] == 200
    # THEN one alert per message, each naming its workspace
    east_id, west_id = f"E0E2EORG:C0E2EEAST:{east['ts']}", f"E0E2EORG:C0E2EWEST:{west['ts']}"
    assert wait_for(lambda: {east_id, west_id} <= set(_alerted_item_ids(slack))), "Grid alerts did not arrive"
    time.sleep(2)  # a duplicate would arrive now
    ids = _alerted_item_ids(slack)
    assert (ids.count(east_id), ids.count(west_id)) == (1, 1)
    alerts = _alert_text(slack)
    assert "T0E2EEAST" in alerts and "T0E2EWEST" in alerts
    # AND the audit trail's alert records carry the workspace and the org
    findings = json.loads(run_cli("findings", "--endpoint", deployed.endpoint, "--since", "1d", "--json").stdout)
    grid = {e["item_id"]: e for e in findings["events"] if e["kind"] == "alert" and e.get("enterprise_id")}
    assert (grid[east_id]["team_id"], grid[west_id]["team_id"]) == ("T0E2EEAST", "T0E2EWEST")
    assert grid[west_id]["enterprise_id"] == "E0E2EORG"
