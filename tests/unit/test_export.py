"""Reading Slack exports: odd shapes are read leniently, broken archives are a clear error (exit 2)."""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import pytest

from slack_dlp_tools.cli import main
from slack_dlp_tools.local.samples import fake_github_pat

TOKEN = fake_github_pat(random.Random(8))


def test_a_message_of_an_unexpected_shape_is_still_scanned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a day file where one message has attachments that are not a list, and a non-object entry
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("channels.json", json.dumps([{"id": "C1", "name": "general"}]))
        archive.writestr("general/2026-11-01.json", json.dumps([
            {"type": "message", "ts": "1.0", "user": "U1", "text": f"token {TOKEN}", "attachments": "odd"},
            "not a message",
            {"type": "message", "ts": "2.0", "user": "U1", "text": "clean"},
        ]))  # fmt: skip
    out = tmp_path / "out.jsonl"
    # WHEN it is scanned
    assert main(["scan-export", str(path), "--jsonl", str(out)]) == 1
    # THEN the leak is found, with offsets into the message's text
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert (line["channel"], line["ts"], line["findings"][0]["start"]) == ("general", "1.0", 6)


def test_a_file_that_is_not_a_zip_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.zip"
    path.write_text("hello")
    assert main(["scan-export", str(path)]) == 2
    assert "not a readable ZIP" in capsys.readouterr().err


def test_a_corrupt_day_file_is_a_usage_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("general/2026-11-01.json", json.dumps([{"text": "x" * 5000, "ts": "1.0"}]))
    data = bytearray(path.read_bytes())
    data[80:90] = b"\x00" * 10  # inside the deflated member
    path.write_bytes(bytes(data))
    assert main(["scan-export", str(path)]) == 2
    assert "general/2026-11-01.json" in capsys.readouterr().err


def test_an_archive_without_slack_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert main(["scan-export", str(path)]) == 2
    assert "no channels.json" in capsys.readouterr().err


def test_an_export_zipped_again_under_a_top_folder_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Acme Slack export/channels.json", json.dumps([{"id": "C1", "name": "general"}]))
        archive.writestr("Acme Slack export/groups.json", json.dumps([{"id": "G1", "name": "hr"}]))
        archive.writestr("Acme Slack export/hr/2026-11-01.json", json.dumps([{"ts": "1.0", "text": f"x {TOKEN}"}]))
    assert main(["scan-export", str(path), "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["by_conversation"] == {"hr": 1} and summary["private_conversations_with_findings"] == ["hr"]


def test_an_exported_password_holding_an_escaped_character_is_found_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a day file where Slack escaped the '&' of a password, in a message and in an attachment
    password = "Xk9&mP2q!vL7rT4w"
    sent = f"DB_PASSWORD={password}".replace("&", "&amp;")
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("channels.json", json.dumps([{"id": "C1", "name": "general"}]))
        archive.writestr("general/2026-11-01.json", json.dumps([
            {"type": "message", "ts": "1.0", "user": "U1", "text": sent},
            {"type": "message", "ts": "2.0", "bot_id": "B1", "attachments": [{"text": sent}]},
        ]))  # fmt: skip
    out = tmp_path / "out.jsonl"
    # WHEN it is scanned
    assert main(["scan-export", str(path), "--jsonl", str(out)]) == 1
    # THEN both are found, the whole password as typed (offsets into the decoded text)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(f["start"], f["end"]) for line in lines for f in line["findings"]] == [(12, 12 + len(password))] * 2
