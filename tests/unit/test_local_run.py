"""``make run`` says why when the expected alerts do not arrive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from slack_dlp_tools.local.run import explain_missing_alerts

IMPORT_ERROR = "Worker init failed: cannot import name '_re2' from partially initialized module 're2'"


@dataclass
class BrokenDeployment:
    state_dir: Path
    stack_name: str = "SlackDlp"

    def client(self, service: str) -> Any:
        raise ConnectionError(service)


def test_the_emulators_function_errors_are_printed_once_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN MiniStack logged the inspector failing to start, for every batch, in several workers
    (tmp_path / "ministack.log").write_text(
        "".join(
            f"2026 ERROR [lambda] Warm worker execution error for SlackDlp-Inspector-1: {IMPORT_ERROR} "
            f"(/tmp/worker-{n}/code/re2/__init__.py)\n"
            for n in range(3)
        )
    )
    # WHEN make run explains the missing alerts (the functions' CloudWatch Logs unreachable here)
    explain_missing_alerts(BrokenDeployment(tmp_path), since=0)  # type: ignore[arg-type]
    # THEN the error is printed once, with its function, and the unreadable logs are said so
    out = capsys.readouterr().out
    assert out.count(IMPORT_ERROR) == 1
    assert "SlackDlp-Inspector-1: " + IMPORT_ERROR in out
    assert "function logs unreadable: ConnectionError" in out


def test_without_errors_it_points_at_the_emulators_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ministack.log").write_text("2026 INFO [lambda] all fine\n")
    explain_missing_alerts(BrokenDeployment(tmp_path), since=0)  # type: ignore[arg-type]
    assert f"No function logged an error; MiniStack's log: {tmp_path / 'ministack.log'}" in capsys.readouterr().out
