"""``slack-dlp coverage`` against the Slack stand-in: listing, joining, rate limits, Enterprise Grid."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from slack_dlp_tools.cli import main
from slack_dlp_tools.local.slack_standin import Fault, SlackStandIn

TOKEN = "xoxb-coverage-test"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN) as standin:
        standin.add_channel("C0GENERAL", "general", is_member=True)
        standin.add_channel("C0RANDOM", "random")
        standin.add_channel("C0BUILDS", "builds")
        standin.add_channel("C0OLD", "old", is_archived=True)
        standin.add_channel("G0SECRET", "secret", is_private=True)
        yield standin


def _coverage(slack: SlackStandIn, *args: str) -> int:
    return main(["coverage", "--token", TOKEN, "--slack-api-url", slack.api_url, "--per-minute", "6000", *args])


def test_coverage_lists_public_channels_the_app_is_not_in(
    slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN coverage runs without --join
    assert _coverage(slack, "--json") == 1  # something is not covered
    # THEN it names the unjoined public channels (not the archived one, not the private one)
    report = json.loads(capsys.readouterr().out)
    [workspace] = report["workspaces"]
    assert (workspace["team_id"], workspace["public_channels"], workspace["member_of"]) == ("T0LOCAL", 3, 1)
    assert sorted(c["id"] for c in workspace["not_joined"]) == ["C0BUILDS", "C0RANDOM"]
    assert "cannot join" in report["private_channels_and_dms"]
    assert slack.calls_of("conversations.join") == []


def test_coverage_join_joins_each_once_honouring_a_rate_limit(
    slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN Slack rate-limits the first join (HTTP 429, Retry-After: 1)
    slack.add_fault(Fault(method="conversations.join", error="ratelimited", count=1, retry_after=1))
    # WHEN coverage --join runs
    assert _coverage(slack, "--join") == 0
    # THEN both channels are joined (the limited call waited and was repeated), with progress shown
    joins = slack.calls_of("conversations.join")
    assert [c["args"]["channel"] for c in joins if c["ok"]] == ["C0RANDOM", "C0BUILDS"]
    assert [c["ok"] for c in joins] == [False, True, True]
    captured = capsys.readouterr()
    assert "2/2 joined #builds (C0BUILDS)" in captured.err
    assert "not in 0" in captured.out
    # AND a second run finds nothing to do
    assert _coverage(slack) == 0


def test_coverage_of_an_org_wide_install_covers_each_workspace(
    slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an Enterprise Grid org-wide install reaching two workspaces
    slack.state.enterprise_id, slack.state.teams = "E0ORG", ("T0EAST", "T0WEST")
    slack.state.channels.clear()
    slack.add_channel("C0EAST", "east-general", team_id="T0EAST")
    slack.add_channel("C0WEST", "west-general", team_id="T0WEST", is_member=True)
    # WHEN
    assert _coverage(slack, "--json") == 1
    # THEN each workspace is listed with the org-level token (team_id on every conversations.list)
    report = json.loads(capsys.readouterr().out)
    assert report["enterprise_id"] == "E0ORG"
    assert {w["team_id"]: [c["id"] for c in w["not_joined"]] for w in report["workspaces"]} == {
        "T0EAST": ["C0EAST"],
        "T0WEST": [],
    }
    assert {c["args"].get("team_id") for c in slack.calls_of("conversations.list")} == {"T0EAST", "T0WEST"}


def test_coverage_with_a_bad_token_is_a_clear_error(slack: SlackStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coverage", "--token", "xoxb-wrong", "--slack-api-url", slack.api_url]) == 2
    assert "auth.test: invalid_auth" in capsys.readouterr().err
