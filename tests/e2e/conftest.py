"""One stack deployed into MiniStack for the whole e2e session; every e2e module shares it.

A module that needs other settings deploys its own ``LocalDeployment`` (each costs a minute or two).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.conftest import REPO_ROOT
from tests.factories import signed_request

SECRET = "e2e-signing-secret-0123456789abcdef"
TOKEN = "xoxb-e2e-standin-token"


@pytest.fixture(scope="session")
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN) as standin:
        yield standin


@pytest.fixture(scope="session")
def deployed(slack: SlackStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    state = tmp_path_factory.mktemp("local")
    deployment = LocalDeployment(
        repo_root=REPO_ROOT,
        state_dir=state,
        signing_secret=SECRET,
        bot_token=TOKEN,
        slack_api_url=slack.api_url,
        alert_channel="C0ALERTS",
        cdk_out=state / "cdk.out",
        log=lambda _: None,
    )
    with deployment:
        yield deployment


def post_signed(deployed: LocalDeployment, envelope: dict[str, object], **kwargs: object) -> tuple[int, str]:
    body, headers = signed_request(envelope, secret=SECRET, **kwargs)  # type: ignore[arg-type]
    return deployed.post_event(body, headers)


def wait_for(condition: Callable[[], bool], timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def run_cli(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``slack-dlp ARGS`` from this checkout's sources (not whichever checkout the venv was installed from)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in ("functions", "tools"))}
    return subprocess.run(
        [sys.executable, "-m", "slack_dlp_tools.cli", *args],
        capture_output=True, text=True, check=check, timeout=timeout, env=env, cwd=REPO_ROOT,
    )  # fmt: skip
