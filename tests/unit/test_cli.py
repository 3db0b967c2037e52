from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from slack_dlp_tools.cli import main
from slack_dlp_tools.local.samples import fake_github_pat

TOKEN = fake_github_pat(random.Random(3))


def test_scan_prints_a_masked_table_and_exits_1_when_something_is_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "notes.txt"
    source.write_text(f"first line\ntoken {TOKEN}\n")
    assert main(["scan", str(source)]) == 1
    out = capsys.readouterr().out
    assert "github-pat" in out and "2:7" in out
    assert TOKEN not in out


def test_scan_json_and_exit_zero(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"token {TOKEN}"))
    assert main(["scan", "-", "--json", "--exit-zero"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert findings[0]["type"] == "github-pat"
    assert (findings[0]["start"], findings[0]["end"]) == (6, 6 + len(TOKEN))


def test_scan_jsonl_writes_one_line_per_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "nothing"}) + "\n" + json.dumps({"id": 2, "text": TOKEN}) + "\n")
    assert main(["scan", "--jsonl", str(source)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"id": "a", "findings": []}
    assert lines[1]["id"] == 2
    assert set(lines[1]["findings"][0]) == {"type", "category", "start", "end", "confidence", "masked"}


def test_scan_clean_text_exits_0(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("nothing to see"))
    assert main(["scan"]) == 0
    assert "No sensitive data found" in capsys.readouterr().out


def test_scan_bad_jsonl_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("not json\n")
    assert main(["scan", "--jsonl", str(source)]) == 2
    assert "line 1" in capsys.readouterr().err
