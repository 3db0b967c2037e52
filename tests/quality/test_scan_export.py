"""``slack-dlp scan-export`` on an export built from the labeled corpus: recall and precision >= 0.97,
through the CLI and its JSONL output (planted values in messages, thread replies, attachments, files)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from slack_dlp_tools.chatter import chatter
from slack_dlp_tools.cli import main
from slack_dlp_tools.export import write_export
from tests.quality.corpus import HARD_NEGATIVES, positives

THRESHOLD = 0.97


Where = tuple[str, int, int, str, tuple[tuple[int, int], ...]]


def _export(path: Path) -> tuple[Path, dict[tuple[str, str], Where], set[tuple[str, str]]]:
    """An export with every planted value somewhere; returns where each is, and the clean messages."""
    rng = random.Random(5)
    names = ["general", "eng", "ops-private", "D0DIRECT"]
    conversations: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    planted: dict[tuple[str, str], Where] = {}
    clean: set[tuple[str, str]] = set()
    ts = 1_700_000_000

    def add(name: str, message: dict[str, Any]) -> str:
        nonlocal ts
        ts += 61
        message = {"type": "message", "user": f"U{rng.randrange(10**6):07d}", "ts": f"{ts}.000100", **message}
        conversations[name].append(message)
        return str(message["ts"])

    for number, plant in enumerate(positives()):
        start = plant.text.index(plant.value)
        # Other real values the text holds (a key id beside its secret) are not false positives.
        also = tuple((plant.text.index(v), plant.text.index(v) + len(v)) for v in plant.also)
        where = (plant.detector, start, start + len(plant.value))
        name = names[number % len(names)]
        shape = number % 5
        if shape == 3:  # a bot's attachment: its text is scanned as an attachment of the message
            stamp = add(name, {"text": "", "bot_id": "B0CI", "attachments": [{"fallback": plant.text}]})
            planted[(name, stamp)] = (*where, "attachment", also)
        elif shape == 4:  # a snippet whose text Slack keeps in the file's preview
            stamp = add(name, {"text": "", "files": [{"id": f"F{number}", "name": "notes.txt", "preview": plant.text}]})
            planted[(name, stamp)] = (*where, "file", also)
        else:
            parent = conversations[name][-1]["ts"] if shape == 2 and conversations[name] else ""
            stamp = add(name, {"text": plant.text, **({"thread_ts": parent} if parent else {})})
            planted[(name, stamp)] = (*where, "text", also)
    for text in [*HARD_NEGATIVES, *chatter(3000, seed=21)]:
        name = rng.choice(names)
        clean.add((name, add(name, {"text": text})))
    write_export(path, conversations, private=["ops-private", "D0DIRECT"])
    return path, planted, clean


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("export")
    path, planted, clean = _export(directory / "export.zip")
    out = directory / "findings.jsonl"
    code = main(["scan-export", str(path), "--jsonl", str(out), "--json"])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return {"code": code, "lines": lines, "planted": planted, "clean": clean, "out": out}


def test_recall_and_precision_on_an_export_of_the_labeled_corpus_are_at_least_097(scanned: dict[str, Any]) -> None:
    planted, clean = scanned["planted"], scanned["clean"]
    tp = fp = 0
    hit: set[tuple[str, str]] = set()
    for line in scanned["lines"]:
        key = (line["channel"], line["ts"])
        for finding in line["findings"]:
            expected = planted.get(key)
            start, end = finding["start"], finding["end"]
            if expected and finding["type"] == expected[0] and start < expected[2] and expected[1] < end:
                hit.add(key)
            elif not (expected and any(start < o_end and o_start < end for o_start, o_end in expected[4])):
                fp += 1  # not the planted value, nor another real value planted beside it
    tp = len(hit)
    recall, precision = tp / len(planted), tp / (tp + fp)
    print(f"\nscan-export: {len(planted)} planted, {tp} found, {fp} false positives, "
          f"{len(clean)} clean messages; recall {recall:.3f}, precision {precision:.3f}")  # fmt: skip
    assert recall >= THRESHOLD and precision >= THRESHOLD
    assert scanned["code"] == 1


def test_jsonl_lines_name_the_conversation_thread_and_file_and_never_hold_the_value(scanned: dict[str, Any]) -> None:
    lines = scanned["lines"]
    assert {"channel", "ts", "user", "findings"} <= set(lines[0])
    assert any("thread_ts" in line for line in lines)
    assert any(line.get("file") == "notes.txt" for line in lines)
    assert set(lines[0]["findings"][0]) == {"type", "category", "start", "end", "confidence", "masked"}
    text = scanned["out"].read_text()
    for plant in positives()[::7]:
        assert plant.value not in text


def test_summary_counts_per_conversation_and_detector_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _planted, _ = _export(tmp_path / "export.zip")
    assert main(["scan-export", str(path), "--exit-zero"]) == 0
    out = capsys.readouterr().out
    assert "By conversation:" in out and "ops-private (private)" in out and "By detector:" in out
    assert "MB/s" in out
    for plant in positives()[::5]:
        assert plant.value not in out
