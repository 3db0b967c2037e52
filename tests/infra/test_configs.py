"""Other configurations than the default: a stricter DLP API, and settings the app must refuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions

from app import build_app

REPO = Path(__file__).resolve().parents[2]
#: An API allowing 2 requests/s of 25 rows, with many inspectors queueing on its limiter.
STRICT = {
    "alert_channel": "C0ALERTS",
    "dlp_provider": "google",
    "dlp_project": "acme-dlp",
    "dlp_requests_per_second": "2",
    "batch_size": "25",
    "max_concurrency": "200",
    "max_receive_count": "4",
}


@pytest.fixture(scope="module")
def strict() -> assertions.Template:
    app = build_app(context=STRICT)
    return assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]


def _inspector(template: assertions.Template) -> dict[str, Any]:
    functions = template.find_resources("AWS::Lambda::Function")
    return next(f["Properties"] for k, f in functions.items() if k.startswith("Inspector"))


def test_a_stricter_api_reaches_the_inspector_its_event_source_and_its_queue(strict: assertions.Template) -> None:
    # GIVEN a stack configured for 2 requests/s of 25 rows WHEN synthesized
    env = _inspector(strict)["Environment"]["Variables"]
    # THEN the inspector is told the quota and the rows, and the event source hands it 25 at a time
    assert env["SLACK_DLP_DLP_REQUESTS_PER_SECOND"] == "2"
    assert env["SLACK_DLP_BATCH_SIZE"] == "25"
    strict.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 25, "MaximumBatchingWindowInSeconds": 1, "ScalingConfig": {"MaximumConcurrency": 200}},
    )
    # AND every queue gives up after the configured deliveries; the DLP API's refusals raise an alarm
    for queue in strict.find_resources("AWS::SQS::Queue").values():
        if "RedrivePolicy" in queue["Properties"]:
            assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 4
    assert any(k.startswith("MonitoringDlpRateLimited") for k in strict.find_resources("AWS::CloudWatch::Alarm"))


def test_an_inspector_queued_behind_the_shared_limiter_does_not_time_out_waiting(strict: assertions.Template) -> None:
    # GIVEN 200 inspectors that may all wait for a slot of an API allowing 2 requests/s: up to 100 s
    timeout = _inspector(strict)["Timeout"]
    # THEN the inspector's time-out covers that wait on top of its own 60 s
    assert timeout >= 60 + 200 / 2
    # AND the inspect queue keeps a message invisible for at least six time-outs
    [inspect] = [
        q["Properties"]
        for k, q in strict.find_resources("AWS::SQS::Queue").items()
        if k.startswith("InspectQueue") and "RedrivePolicy" in q["Properties"]
    ]
    assert inspect["VisibilityTimeout"] >= 6 * timeout


def _synth_cli(context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``app.py`` as ``cdk synth -c ...`` runs it: context in CDK_CONTEXT_JSON."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent-never-written"}
    return subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"batch_size": "abc"}, "setting 'batch_size' must be a whole number, not 'abc'"),
        ({"batchsize": "25"}, "unknown setting 'batchsize' (did you mean 'batch_size'?)"),
        ({"custom_rules": "no-such-rules.toml"}, "custom_rules: "),
    ],
)
def test_an_invalid_setting_is_one_clear_line_not_a_traceback(context: dict[str, str], message: str) -> None:
    # WHEN the app is synthesized with an invalid setting
    result = _synth_cli(context)
    # THEN it exits 2 with one line naming the problem, and no stack trace
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
