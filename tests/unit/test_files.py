from __future__ import annotations

import gzip
import json
import random
import time
from typing import Any

import pytest

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.files.chunk import chunk_segments
from slack_dlp.files.container import Guard, Refused
from slack_dlp.files.extract import UNKNOWN, Extracted, Limits, Segment, Skipped, extract, kind_of, looks_like_text
from slack_dlp.files.where import LineCounter, Locator, locate
from slack_dlp_tools import hostile
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
            found[finding.detector] = locate(chunk.where, chunk.text, finding.start)
    return found


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("deploy.env", f"# config\nGITHUB={TOKEN}\n".encode(), "line 2"),
        ("customers.csv", f"name,token\nAda,{TOKEN}\n".encode(), "line 2"),
        ("statement.pdf", filefactory.pdf(["Monthly statement", f"token {TOKEN}"]), "page 1"),
        ("notes.docx", filefactory.docx(["Handover notes", f"use {TOKEN}"]), "paragraph 2"),
        ("salaries.xlsx", filefactory.xlsx({"Payroll": [["name", "token"], ["Ada", TOKEN]]}), "sheet Payroll, row 2"),
        ("bundle.zip", filefactory.zip_of({"config/.env": f"A=1\nT={TOKEN}\n".encode()}), "config/.env, line 2"),
        ("logs.tar.gz", filefactory.tar_of({"var/log/app.log": f"start\nT={TOKEN}\n".encode()}, gzipped=True),
         "var/log/app.log, line 2"),
        ("logs.tgz", filefactory.tar_of({"app.log": f"T={TOKEN}\n".encode()}, gzipped=True), "app.log, line 1"),
        ("support.tar", filefactory.tar_of({"etc/credentials": f"[ci]\ntoken={TOKEN}\n".encode()}),
         "etc/credentials, line 2"),
        ("app.log.gz", gzip.compress(f"boot\nboot\nT={TOKEN}\n".encode()), "line 3"),
        # names and types that say nothing: the bytes are text, so they are read
        ("credentials", f"[default]\ntoken = {TOKEN}\n".encode(), "line 2"),
        ("analysis.ipynb", json.dumps({"cells": [{"source": [f"TOKEN = '{TOKEN}'"]}]}).encode(), "line 1"),
        ("backup.zip", filefactory.zip_of({"home/.ssh/config.bak": f"# {TOKEN}".encode()}), "home/.ssh/config.bak, line 1"),
        # PowerShell's `>` writes UTF-16 with a byte-order mark; Windows tools write Latin-1
        ("out.txt", f"\r\nToken: {TOKEN}\r\n".encode("utf-16"), "line 2"),
        ("legacy.txt", f"caf\u00e9\nT={TOKEN}\n".encode("latin-1"), "line 2"),
    ],
)  # fmt: skip
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
        ("blob", bytes(RNG.randrange(256) for _ in range(4096)), None, "unsupported_type"),
        ("clip.heic", b"....", None, "unsupported_type"),
        ("bomb.gz", gzip.compress(b"\x00" * 3_000_000), None, "zip_bomb"),
        ("broken.gz", b"\x1f\x8b\x08\x00garbage", None, "corrupt"),
        ("broken.tar", b"not a tar archive " * 100, None, "corrupt"),
        ("many.tar", filefactory.tar_of({f"f{i}.txt": b"" for i in range(1_001)}), None, "too_many_members"),
        ("big.tar.gz", filefactory.tar_of({"a.bin": RNG.randbytes(1_500_000)}, gzipped=True),
         Limits(max_archive_bytes=1_000_000), "too_large"),
        ("image.gz", gzip.compress(b"\x89PNG\r\n\x1a\n\x00\x00" + RNG.randbytes(2000)), None, "unsupported_type"),
    ],
)  # fmt: skip
def test_what_cannot_be_inspected_is_skipped_with_a_reason_and_never_raises(
    name: str, data: bytes, limits: Limits | None, reason: str
) -> None:
    result = extract(name, data, limits=limits)
    assert isinstance(result, Skipped)
    assert result.reason == reason


def test_an_archive_in_an_archive_is_read_and_one_level_deeper_is_refused() -> None:
    # GIVEN a token in a zip inside a zip, and the same inside a third level
    two = filefactory.zip_of({"inner.zip": filefactory.zip_of({"deep.env": f"T={TOKEN}".encode()})})
    three = hostile.nested_zip(3, payload=f"T={TOKEN}".encode())
    # THEN two levels are read, naming both, and three are refused as too deep
    assert _found(extract("outer.zip", two)) == {"github-pat": "inner.zip, deep.env, line 1"}
    assert extract("outer.zip", three) == Skipped("too_deep", "containers nested more than 2 deep")


def test_a_document_inside_an_archive_is_read_through_the_same_guard() -> None:
    data = filefactory.zip_of({"handover/notes.docx": filefactory.docx(["intro", f"token {TOKEN}"])})
    assert _found(extract("bundle.zip", data)) == {"github-pat": "handover/notes.docx, paragraph 2"}


@pytest.mark.parametrize(("name", "make"), [(n, m) for n, (m, _) in hostile.WORST_CASES.items()])
def test_hostile_containers_are_refused_with_their_reason_quickly(name: str, make: Any) -> None:
    # GIVEN a bomb, a nest, an entity bomb, a lying header or thousands of members
    data = make()
    expected = hostile.WORST_CASES[name][1]
    # WHEN it is extracted
    started = time.monotonic()
    result = extract(name, data)
    # THEN it is refused for that reason, without reading what it would expand to
    assert isinstance(result, Skipped) and result.reason == expected, result
    assert time.monotonic() - started < 5


def test_a_header_that_lies_about_sizes_is_caught_while_streaming() -> None:
    # GIVEN a member that declares 1 MB and its ratio but whose data expand to 3 MB
    data = bytearray(hostile.lying_zip(real_bytes=3_000_000, declared_bytes=2_000_000))
    # THEN it is refused (bytes beyond the declared size are never produced) and nothing raises
    result = extract("lying.zip", bytes(data), limits=Limits(max_compression_ratio=10_000))
    assert isinstance(result, Skipped) and result.reason in ("corrupt", "zip_bomb")


def test_the_time_budget_refuses_a_slow_file() -> None:
    # GIVEN a clock that moves 20 s each time it is read, and a 30 s budget
    ticks = iter(range(0, 10_000, 20))
    data = filefactory.zip_of({f"f{i}.txt": b"nothing" for i in range(10)})
    result = extract("slow.zip", data, clock=lambda: float(next(ticks)))
    assert result == Skipped("timeout", "more than 30 s")


def test_the_alarm_stops_work_that_does_not_return_in_time() -> None:
    guard = Guard(Limits(max_seconds=0.2))
    started = time.monotonic()
    with pytest.raises(Refused) as refused, guard.alarm():
        _spin_forever()
    assert refused.value.reason == "timeout"
    assert time.monotonic() - started < 2


def test_pptx_and_odt_are_read_with_their_location() -> None:
    slides = filefactory.pptx([["Roadmap"], ["Credentials", f"token {TOKEN}"]])
    assert _found(extract("deck.pptx", slides)) == {"github-pat": "slide 2"}
    odt = filefactory.odt(["Notes"], table=[["card", CARD]])
    assert _found(extract("notes.odt", odt)) == {"payment-card": "line 2"}


def test_xlsx_rows_keep_their_numbers_across_gaps() -> None:
    rows: list[list[object]] = [["header"]] + [[] for _ in range(98)] + [["Ada", TOKEN]]
    assert _found(extract("s.xlsx", filefactory.xlsx({"S": rows}))) == {"github-pat": "sheet S, row 100"}


def test_a_large_document_is_read_streaming_and_truncated_at_the_text_budget() -> None:
    data = hostile.docx(f"paragraph {i} " + "words " * 20 for i in range(20_000))
    result = extract("long.docx", data, limits=Limits(max_text_chars=100_000))
    assert isinstance(result, Extracted) and result.truncated
    assert sum(len(s.text) for s in result.segments) <= 100_000


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


def test_chunks_of_a_long_text_start_at_the_lines_counted_from_the_top() -> None:
    # GIVEN a text of numbered lines of every length (empty ones too) cut into many small chunks
    rng = random.Random(8)
    text = "".join(f"{n}:" + "y" * rng.choice((0, 1, 5, 40, 300)) + "\n" * rng.choice((1, 1, 2)) for n in range(3000))
    # WHEN chunked (lines are counted on from chunk to chunk)
    chunks = chunk_segments([Segment(text, "sheet S, row 7", first_line=7)], size=700, overlap=150)
    # THEN each chunk's line is the one counting from the top gives
    assert len(chunks) > 20
    at = 0
    for chunk in chunks:
        start = text.index(chunk.text, at)
        assert chunk.first_line == 7 + text.count("\n", 0, start)
        assert chunk.where == f"sheet S, row {chunk.first_line}"
        at = start + 1


def test_line_counter_answers_as_counting_from_the_top_in_any_order() -> None:
    # GIVEN a text with empty lines, a long line and no final newline, and offsets in order and not
    rng = random.Random(9)
    text = "\n\nab\n" + "z" * 5000 + "\ncd\n\n\nlast"
    ordered = sorted(rng.randrange(-3, len(text) + 3) for _ in range(300))
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    for offsets in (ordered, shuffled, [0, len(text), 0, 3, 2, 2, len(text) - 1]):
        lines = LineCounter(text)
        for offset in offsets:
            at = max(0, min(offset, len(text)))
            # THEN the same line and column as counting from the start each time
            assert lines.newlines_before(offset) == text.count("\n", 0, at)
            assert lines.column(offset) == at - (text.rfind("\n", 0, at) + 1) + 1


@pytest.mark.parametrize("where", ["line 1", "line 40", "sheet Pay roll, row 3", "a.zip, x/.env, line 2", "page 3"])
def test_a_locator_says_what_locate_says(where: str) -> None:
    text = "a\nbb\n\nccc\n" * 50
    locator = Locator(where, text)
    for offset in [*range(0, len(text), 7), 3, 0, len(text)]:
        assert locator(offset) == locate(where, text, offset)


def _spin_forever() -> None:
    while True:
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("name", "filetype", "mimetype", "kind"),
    [
        ("photo.jpg", "", "", ""),  # media: never downloaded
        ("Untitled", "binary", "application/octet-stream", ""),
        ("clip", "", "video/mp4", ""),
        ("credentials", "", "", UNKNOWN),  # downloaded, and read if its bytes are text
        ("id_rsa", "", "application/octet-stream", UNKNOWN),
        ("Untitled", "kotlin", "", "text"),  # a snippet: Slack names the language
        ("dump.gz", "gzip", "application/gzip", "gzip"),
        ("key.key", "", "", "text"),  # a PEM key far more often than a Keynote deck
    ],
)
def test_what_a_file_is_taken_for_before_it_is_downloaded(name: str, filetype: str, mimetype: str, kind: str) -> None:
    assert kind_of(name, filetype, mimetype) == kind


def test_text_is_told_from_binary_by_its_first_bytes() -> None:
    assert looks_like_text("naïve café\tok\r\n".encode("latin-1"))
    assert looks_like_text("\u2713 done\x1b[0m".encode())  # UTF-8 with a terminal colour code
    assert looks_like_text("x".encode("utf-16"))
    assert not looks_like_text(b"\x7fELF\x02\x01\x01" + bytes(100))
    assert not looks_like_text(bytes(range(1, 32)) * 20)  # no NUL, but control bytes throughout


def test_a_gzip_bomb_is_refused_before_it_expands() -> None:
    # GIVEN 20 MB of zeros gzipped into 87 KB (229x overall), and a file budget of 5 MB, which 100x
    # the whole compressed size would not reach
    data = gzip.compress(b"\x00" * 20_000_000, compresslevel=1)
    # THEN it is refused as a bomb from its first megabytes, not read up to the budget
    started = time.monotonic()
    result = extract("zeros.log.gz", data, limits=Limits(max_archive_bytes=5_000_000))
    assert result == Skipped("zip_bomb", "gzip expands more than 100x")
    assert time.monotonic() - started < 5


def test_segments_and_chunks_of_archive_members_know_the_member_path() -> None:
    # GIVEN a zip holding a file and a zip that holds a tar.gz with a Terraform file
    inner = filefactory.zip_of({"deploy/logs.tar.gz": filefactory.tar_of({"infra/main.tf": b"x"}, gzipped=True)})
    data = filefactory.zip_of({"README.md": b"read me", "inner.zip": inner})
    # WHEN it is extracted and chunked
    result = extract("bundle.zip", data, limits=Limits(max_depth=3))
    assert isinstance(result, Extracted)
    # THEN each segment and chunk names its member, nested archives joined by "!" (gitleaks' way)
    assert [s.member for s in result.segments] == ["README.md", "inner.zip!deploy/logs.tar.gz!infra/main.tf"]
    assert [c.member for c in chunk_segments(result.segments)] == [s.member for s in result.segments]
    # AND a file that is no archive has none
    plain = extract("main.tf", b"x")
    assert isinstance(plain, Extracted) and plain.segments[0].member == ""
