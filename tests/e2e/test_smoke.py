"""``slack-dlp smoke`` against the stack deployed in MiniStack, as a user runs it after ``make run``."""

from __future__ import annotations

import json

import pytest

from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e


def _stack_args(deployed: LocalDeployment) -> list[str]:
    return ["--endpoint", deployed.endpoint, "--stack-name", deployed.stack_name]


def test_smoke_passes_every_stage_and_its_alert_says_it_is_a_test(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN the deployed stack WHEN smoke runs with the signing secret from Secrets Manager
    before = len(slack.alerts())
    result = run_cli("smoke", *_stack_args(deployed), "--timeout", "90", check=False)
    # THEN it passes, printing each stage with its time
    assert result.returncode == 0, result.stdout + result.stderr
    for stage in ("HTTP", "enqueued", "inspected", "alert posted"):
        line = next(line for line in result.stdout.splitlines() if f"✓ {stage}" in line)
        assert " s " in line, line
    assert "HTTP 200 in" in result.stdout and "PASSED" in result.stdout
    # AND the alert in Slack says it is a smoke test and has no buttons
    alerts = [a for a in slack.alerts()[before:] if "smoke test" in json.dumps(a["args"])]
    assert alerts, "no smoke-test alert reached the Slack stand-in"
    blocks = alerts[-1]["args"]["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert not any(block.get("type") == "actions" for block in blocks)
    assert "AKIASLACKDLPSMOKE" not in json.dumps(slack.alerts())  # masked like any finding


def test_smoke_with_a_wrong_signing_secret_fails_at_the_http_stage_and_says_why(deployed: LocalDeployment) -> None:
    result = run_cli(
        "smoke", *_stack_args(deployed), "--json", "--signing-secret", "not-the-stacks-signing-secret", check=False
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False
    http = report["stages"][0]
    assert http["name"] == "HTTP" and http["passed"] is False and "HTTP 401" in http["detail"]
    assert all(stage["passed"] is None for stage in report["stages"][1:])
    assert any("signing secret mismatch" in hint for hint in report["hints"])


def test_manifest_fills_the_request_urls_from_the_stack(deployed: LocalDeployment) -> None:
    result = run_cli("manifest", *_stack_args(deployed), "--json")
    manifest = json.loads(result.stdout)
    events_url = manifest["settings"]["event_subscriptions"]["request_url"]
    assert events_url == deployed.request_url
    assert manifest["settings"]["interactivity"]["request_url"] == deployed.interactions_url
