from __future__ import annotations

import random

import pytest

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.files.chunk import chunk_segments
from slack_dlp.files.extract import Extracted, Limits, Segment, Skipped, extract
from slack_dlp_tools.local import samples
from tests import filefactory

RNG = random.Random(61)
TOKEN = samples.fake_github_pat(RNG)
CARD = samples.fake_card_number(RNG)
ENGINE = DetectionEngine(fingerprinter=Fingerprinter(b"files-test-fingerprint-key-00000"))


def _found(result: Extracted | Skipped) -> dict[str, str]:
    """detector -> where, over every chunk of an extracted file."""
    assert isinstance(result, Extracted), result
    found = {}
    for chunk in chunk_segments(result.segments):
        for finding in ENGINE.scan(chunk.text):
            found[finding.detector] = chunk.where
    return found


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("deploy.env", f"# config\nGITHUB={TOKEN}\n".encode(), "line 1"),
        ("customers.csv", f"name,token\nAda,{TOKEN}\n".encode(), "line 1"),
        ("statement.pdf", filefactory.pdf(["Monthly statement", f"token {TOKEN}"]), "page 1"),
        ("notes.docx", filefactory.docx(["Handover notes", f"use {TOKEN}"]), "paragraph 1"),
        ("salaries.xlsx", filefactory.xlsx({"Payroll": [["name", "token"], ["Ada", TOKEN]]}), "sheet Payroll, row 2"),
        ("bundle.zip", filefactory.zip_of({"config/.env": f"A=1\nT={TOKEN}\n".encode()}), "config/.env, line 1"),
    ],
)
def test_planted_values_are_found_in_every_supported_format_with_their_location(
    name: str, data: bytes, where: str
) -> None:
    assert _found(extract(name, data)).get("github-pat") == where


def test_cards_in_a_csv_export_are_found() -> None:
    assert "payment-card" in _found(extract("customers.csv", f"name,card\nAda,{CARD}\n".encode()))


def test_docx_tables_are_read() -> None:
    data = filefactory.docx(["x"], table=[["card"], [CARD]])
    assert "payment-card" in _found(extract("t.docx", data))


@pytest.mark.parametrize(
    ("name", "data", "limits", "reason"),
    [
        ("big.txt", b"x" * 2048, Limits(max_file_bytes=1024), "too_large"),
        ("photo.png", b"\x89PNG\r\n\x1a\n....", None, "unsupported_type"),
        ("broken.pdf", b"%PDF-1.4\nthis is not a pdf at all", None, "corrupt"),
        ("locked.pdf", filefactory.encrypted_pdf([f"token {TOKEN}"]), None, "encrypted"),
        ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, None, "encrypted"),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook", None, "corrupt"),
        ("broken.zip", b"PK\x03\x04 truncated", None, "corrupt"),
        ("bomb.zip", filefactory.zip_of({"zeros.txt": b"\x00" * 3_000_000}), Limits(max_archive_bytes=1_000_000),
         "zip_bomb"),
        ("ratio.zip", filefactory.zip_of({"a.txt": b"a" * 2_000_000}), None, "zip_bomb"),
        ("blob.txt", b"\x00\x01\x02binary", None, "binary"),
    ],
)  # fmt: skip
def test_what_cannot_be_inspected_is_skipped_with_a_reason_and_never_raises(
    name: str, data: bytes, limits: Limits | None, reason: str
) -> None:
    result = extract(name, data, limits=limits)
    assert isinstance(result, Skipped)
    assert result.reason == reason


def test_archives_are_opened_one_level_deep_only() -> None:
    inner = filefactory.zip_of({"deep.env": f"T={TOKEN}".encode()})
    outer = filefactory.zip_of({"inner.zip": inner, "readme.txt": b"nothing here"})
    assert _found(extract("outer.zip", outer)) == {}


def test_text_is_capped_and_marked_truncated() -> None:
    result = extract("huge.log", b"line\n" * 1000, limits=Limits(max_text_chars=100))
    assert isinstance(result, Extracted)
    assert result.truncated
    assert sum(len(s.text) for s in result.segments) == 100


def test_chunks_overlap_so_a_value_across_a_boundary_is_found_whole() -> None:
    # GIVEN a private key straddling every possible boundary of small chunks
    key = samples.fake_private_key(RNG)
    for offset in range(0, 1200, 97):
        text = "x" * offset + "\n" + key + "\n" + "filler line\n" * 50
        chunks = chunk_segments([Segment(text, "line 1")], size=len(key) + 900, overlap=len(key) + 100)
        # THEN some chunk holds the whole key
        assert any(key in chunk.text for chunk in chunks)


def test_chunks_report_the_line_they_start_at() -> None:
    text = "".join(f"line {i}\n" for i in range(1, 2001))
    chunks = chunk_segments([Segment(text, "line 1")], size=1000, overlap=200)
    assert chunks[0].where == "line 1"
    for chunk in chunks[1:]:
        assert chunk.where == f"line {chunk.first_line}"
        assert chunk.text.startswith(f"line {chunk.first_line}\n") or chunk.text.split("\n", 1)[0] in text
