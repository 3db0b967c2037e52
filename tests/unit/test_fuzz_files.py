"""Extractors on random, truncated and corrupted files: never an exception, bounded time and memory."""

from __future__ import annotations

import random
import resource
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slack_dlp.files.extract import Extracted, Limits, Skipped, extract
from slack_dlp_tools import hostile
from tests import filefactory
from tests.strategies import FUZZ

RNG = random.Random(7)
SEEDS = {
    "notes.docx": filefactory.docx(["Handover", "token ghp_x"], table=[["a", "b"]]),
    "sheet.xlsx": filefactory.xlsx({"S": [["a", 1], ["b", 2.5]], "T": [["c"]]}),
    "deck.pptx": filefactory.pptx([["one"], ["two"]]),
    "notes.odt": filefactory.odt(["x"], table=[["a", "b"]]),
    "statement.pdf": filefactory.pdf(["Statement", "card"]),
    "bundle.zip": filefactory.zip_of({"a.env": b"A=1", "in.zip": filefactory.zip_of({"b.txt": b"b"})}),
    "nested.zip": hostile.nested_zip(2),
    "entities.docx": hostile.entity_bomb_docx(3),
}
#: Small caps, so that random bytes that happen to parse cannot take long either.
LIMITS = Limits(max_archive_bytes=2 * 1024 * 1024, max_seconds=5)


def _check(name: str, data: bytes) -> None:
    started, cpu_started = time.monotonic(), time.process_time()
    result = extract(name, data, limits=LIMITS)
    assert isinstance(result, Extracted | Skipped)
    # The 5 s budget holds in CPU time; wall time only loosely, on a machine other work shares.
    assert time.process_time() - cpu_started < 6
    assert time.monotonic() - started < 30


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1),
       st.integers(0, 255)), max_size=8))  # fmt: skip
def test_truncated_and_corrupted_files_are_read_or_refused_never_raise(
    name: str, cut: float, flips: list[tuple[float, int]]
) -> None:
    data = bytearray(SEEDS[name][: max(1, int(len(SEEDS[name]) * cut))] if cut < 0.95 else SEEDS[name])
    for where, value in flips:
        data[min(len(data) - 1, int(len(data) * where))] = value
    _check(name, bytes(data))


@FUZZ
@given(name=st.sampled_from([*SEEDS, "x.txt", "y.ods", "z.pptm"]), data=st.binary(max_size=2000))
def test_random_bytes_under_any_name_are_read_or_refused_never_raise(name: str, data: bytes) -> None:
    _check(name, data)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_prefix_of_a_file_is_handled(name: str) -> None:
    seed = SEEDS[name]
    for end in range(0, len(seed), max(1, len(seed) // 60)):
        _check(name, seed[:end])


def test_memory_stays_bounded_over_the_hostile_cases() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, (make, _) in hostile.WORST_CASES.items():
        _check(name, make())
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"peak memory grew {grown_mb:.0f} MB"
