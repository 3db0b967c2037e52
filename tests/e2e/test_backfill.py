"""History backfill through the deployed stack: seeded Slack history in, alerts out, once."""

from __future__ import annotations

import json
import time

import pytest

from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.samples import sample_history
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.e2e.conftest import run_cli, wait_for

pytestmark = pytest.mark.e2e

HISTORY = sample_history(seed=14, channels=3, messages=5, prefix="C0BACK")


def _permalink(channel: str, ts: str) -> str:
    return f"/archives/{channel}/p{ts.replace('.', '')}"


def _backfill(deployed: LocalDeployment) -> dict[str, object]:
    done = run_cli(
        "backfill", "--endpoint", deployed.endpoint, "--channels", ",".join(HISTORY.channels), "--since", "7d",
        "--page-size", "3", "--json", "--timeout", "240", timeout=300,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_seeded_history_is_backfilled_every_leak_alerts_once_and_a_second_run_posts_nothing(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN past messages and thread replies in three channels (one private), one leak at the top
    # level and one in a thread per channel, that no event ever announced
    slack.seed_history(HISTORY.spec)
    before = len(slack.alerts())
    # WHEN `slack-dlp backfill` runs against the stack, three messages per page
    summary = _backfill(deployed)
    # THEN every channel was read to its end, threads included
    assert summary["done"] and summary["channels_done"] == 3 and summary["threads"] == 3
    assert summary["enqueued"] == len(HISTORY.leaks) + len(HISTORY.clean)

    # AND every planted value alerts, linking to its message, and no clean message does
    def alerted() -> str:
        return json.dumps([a["args"] for a in slack.alerts()[before:]])

    assert wait_for(lambda: all(_permalink(*leak) in alerted() for leak in HISTORY.leaks), timeout=120), (
        "not every leak alerted"
    )
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=60)
    time.sleep(3)  # a duplicate or a clean message's alert would arrive now
    assert not any(_permalink(*message) in alerted() for message in HISTORY.clean)
    posts = len(slack.alerts())
    # WHEN the same range is backfilled again
    again = _backfill(deployed)
    assert again["done"] and again["enqueued"] == summary["enqueued"] and again["run_id"] != summary["run_id"]
    # THEN the messages were inspected again but nothing new is posted
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=90)
    time.sleep(3)
    assert len(slack.alerts()) == posts
    # AND Slack saw paged history calls with cursors and one replies call per thread per run
    calls = [c for c in slack.state.calls if c["method"].startswith("conversations.")]
    assert sum(c["method"] == "conversations.replies" for c in calls) == 6
    assert any(c["args"].get("cursor") for c in calls if c["method"] == "conversations.history")
