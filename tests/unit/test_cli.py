from __future__ import annotations

import io
import json
import random
import re
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


def test_every_finding_of_a_long_file_says_its_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a file of a thousand lines with tokens here and there, some two on a line
    rng = random.Random(12)
    lines = [
        " ".join(fake_github_pat(rng) if rng.random() < 0.3 else "word" * rng.randint(0, 3) for _ in range(3))
        for _ in range(1000)
    ]
    text = "\n".join(lines)
    source = tmp_path / "notes.txt"
    source.write_text(text)
    expected = [f"{n}:{m.start() + 1}" for n, line in enumerate(lines, start=1) for m in re.finditer(r"ghp_\w+", line)]
    # WHEN scanned as a file and from stdin
    assert main(["scan", str(source), "--json"]) == 1
    as_file = [row["where"] for row in json.loads(capsys.readouterr().out)["findings"]]
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["scan", "-"]) == 1
    from_stdin = [row.split()[0] for row in capsys.readouterr().out.splitlines()[1:-1]]
    # THEN each is where it is (line:column, counting from 1)
    assert len(expected) > 500
    assert as_file == from_stdin == expected


def test_a_file_longer_than_the_fetchers_text_limit_says_what_was_inspected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from slack_dlp.files.extract import Limits
    from slack_dlp_tools.cli.scan import build_local_engine, scan_file

    # GIVEN a token early in a file and another past the text limit
    source = tmp_path / "app.log"
    source.write_text(f"a {TOKEN}\n" + "filler\n" * 100 + f"b {TOKEN}\n")
    # WHEN scanned with a limit of 300 characters
    found = scan_file(build_local_engine(None), source, Limits(max_text_chars=300))
    # THEN the first is found, and stderr says the rest was not read
    assert isinstance(found, list) and [f.where for f in found] == ["1:3"]
    assert "only the first 300 characters inspected" in capsys.readouterr().err


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


def test_scan_reads_documents_like_the_fetcher_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests import filefactory

    # GIVEN an ordinary .docx and .xlsx holding a key
    (tmp_path / "handover.docx").write_bytes(filefactory.docx(["Handover", f"token {TOKEN}"]))
    (tmp_path / "keys.xlsx").write_bytes(filefactory.xlsx({"Keys": [["name", "value"], ["ci", TOKEN]]}))
    # WHEN both are scanned
    code = main(["scan", str(tmp_path / "handover.docx"), str(tmp_path / "keys.xlsx"), "--json"])
    # THEN the key is found in each, with where it is, and never printed
    out = capsys.readouterr().out
    rows = json.loads(out)["findings"]
    assert code == 1
    assert {(Path(r["file"]).name, r["where"], r["type"]) for r in rows} == {
        ("handover.docx", "paragraph 2", "github-pat"),
        ("keys.xlsx", "sheet Keys, row 2", "github-pat"),
    }
    assert TOKEN not in out


@pytest.mark.parametrize(("name", "reason"), [("bomb.docx", "zip_bomb"), ("bomb.xlsx", "zip_bomb"),
                                              ("nested.zip", "too_deep")])  # fmt: skip
def test_scan_refuses_hostile_files_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    from slack_dlp_tools import hostile

    make = {"bomb.docx": hostile.docx_bomb, "bomb.xlsx": hostile.xlsx_bomb, "nested.zip": hostile.nested_zip}[name]
    path = tmp_path / name
    path.write_bytes(make())
    assert main(["scan", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"slack-dlp scan: {path}: not inspected: {reason}")
    assert "\n" not in err


def test_scan_of_a_missing_file_is_exit_2_and_a_finding_elsewhere_still_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text(f"token {TOKEN}\n")
    assert main(["scan", str(tmp_path / "missing.txt")]) == 2
    assert "not inspected: unreadable" in capsys.readouterr().err
    assert main(["scan", str(tmp_path / "missing.txt"), str(tmp_path / "notes.txt")]) == 1


def test_scan_of_a_directory_reads_every_file_under_it_and_counts_what_is_not_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a checkout: a credentials file without a suffix, a clean file, an image, a symbolic link
    # to a file outside it, and a token in git's own store
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "credentials").write_text(f"[ci]\ntoken = {TOKEN}\n")
    (tmp_path / "README.md").write_text("nothing here\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text(f"token {TOKEN}\n")
    (tmp_path / "linked.txt").symlink_to(outside)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "COMMIT_EDITMSG").write_text(f"token {TOKEN}\n")
    # WHEN the directory is scanned
    code = main(["scan", str(tmp_path)])
    captured = capsys.readouterr()
    # THEN the credentials file is found, with its path; the image is counted, not an error; the
    # link and git's store are not read
    assert code == 1
    assert f"{tmp_path / 'deploy' / 'credentials'}  2:9" in captured.out
    assert "1 finding(s)." in captured.out
    assert captured.err.strip() == "slack-dlp scan: 3 file(s), 1 not text"
    assert TOKEN not in captured.out + captured.err


def test_a_directory_holding_only_an_image_says_so_rather_than_only_no_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main(["scan", str(tmp_path)]) == 0
    assert capsys.readouterr().err.strip() == "slack-dlp scan: 1 file(s), 1 not text"


def test_an_image_named_on_the_command_line_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main(["scan", str(tmp_path / "logo.png")]) == 2
    assert "not inspected: unsupported_type (.png)" in capsys.readouterr().err


def test_findings_without_a_region_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["findings"]) == 2
    err = capsys.readouterr().err
    assert "region" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_scan_applies_path_rules_to_archive_members_by_their_own_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    # GIVEN the upstream gitleaks rules, and a zip holding a Terraform file and the same text as notes
    rules = Path(__file__).resolve().parents[1] / "data" / "gitleaks.toml"
    terraform = 'resource "azurerm_sql_server" "db" {\n  administrator_login_password = "Tq7Zk2Lp9Wm4xv"\n}\n'
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("infra/main.tf", terraform)
        archive.writestr("notes.txt", terraform)
    # WHEN the zip is scanned
    assert main(["scan", "--json", "--rules", str(rules), str(tmp_path / "bundle.zip")]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    # THEN the Terraform rule fires in main.tf only, as if the file had been shared alone
    fired = {f["where"].split(",")[0] for f in findings if f["type"] == "gitleaks.hashicorp-tf-password"}
    assert fired == {"infra/main.tf"}
