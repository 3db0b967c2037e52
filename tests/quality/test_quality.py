"""Precision and recall of the built-in engine on the labeled corpus; fails below 0.99."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from slack_dlp.detect.catalog import BUILTIN_DETECTORS
from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from tests.quality.corpus import GENERATORS, HARD_NEGATIVES, positives

THRESHOLD = 0.99


@pytest.fixture(scope="module")
def scores() -> dict[str, tuple[int, int, int]]:
    """detector -> (true positives, false positives, false negatives)."""
    engine = DetectionEngine(fingerprinter=Fingerprinter(b"quality-test-fingerprint-key-000"))
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for planted in positives():
        start = planted.text.index(planted.value)
        end = start + len(planted.value)
        hit = False
        others = [(planted.text.index(v), planted.text.index(v) + len(v)) for v in planted.also]
        for finding in engine.scan(planted.text):
            if finding.detector == planted.detector and finding.start < end and start < finding.end:
                hit = True
            elif not any(finding.start < o_end and o_start < finding.end for o_start, o_end in others):
                fp[finding.detector] += 1
        (tp if hit else fn)[planted.detector] += 1
    for text in HARD_NEGATIVES:
        for finding in engine.scan(text):
            fp[finding.detector] += 1
    return {d: (tp[d], fp[d], fn[d]) for d in {*tp, *fp, *fn}}


def _ratio(good: int, bad: int) -> float:
    return good / (good + bad) if good + bad else 1.0


def test_every_enabled_detector_is_in_the_corpus() -> None:
    enabled = {d.id for d in BUILTIN_DETECTORS if d.enabled_by_default and d.id != "stripe-test-key"}
    assert enabled <= set(GENERATORS)
    assert len(HARD_NEGATIVES) >= 80


def test_precision_and_recall_are_at_least_099(scores: dict[str, tuple[int, int, int]]) -> None:
    rows = []
    for detector in sorted(scores):
        tp, fp, fn = scores[detector]
        rows.append((detector, tp, fp, fn, _ratio(tp, fp), _ratio(tp, fn)))
    total_tp, total_fp, total_fn = (sum(s[i] for s in scores.values()) for i in range(3))
    overall = (_ratio(total_tp, total_fp), _ratio(total_tp, total_fn))
    print(f"\n{'detector':34} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}")
    for detector, tp, fp, fn, precision, recall in rows:
        print(f"{detector:34} {tp:4} {fp:4} {fn:4} {precision:9.3f} {recall:7.3f}")
    print(f"{'OVERALL':34} {total_tp:4} {total_fp:4} {total_fn:4} {overall[0]:9.3f} {overall[1]:7.3f}")
    weak = [r[0] for r in rows if r[4] < THRESHOLD or r[5] < THRESHOLD]
    assert overall[0] >= THRESHOLD and overall[1] >= THRESHOLD
    assert not weak, f"below {THRESHOLD}: {weak}"


def test_the_prefilter_never_changes_what_is_found() -> None:
    # GIVEN the labeled corpus mixed into everyday and keyword-dense chatter, in batches of 100
    from slack_dlp_tools.chatter import chatter, dense_chatter

    texts = [p.text for p in positives(per_detector=8, seed=3)] + list(HARD_NEGATIVES)
    texts += chatter(1500, seed=9) + dense_chatter(1500, seed=9)
    import random

    random.Random(1).shuffle(texts)
    key = Fingerprinter(b"quality-test-fingerprint-key-000")
    fast = DetectionEngine(fingerprinter=key)
    exhaustive = DetectionEngine(fingerprinter=key, use_prefilter=False)
    # WHEN scanned with the RE2 prefilter and with every detector on every text
    for first in range(0, len(texts), 100):
        batch = texts[first : first + 100]
        # THEN the findings are identical
        assert fast.scan_many(batch) == exhaustive.scan_many(batch)


def test_the_prefilter_never_changes_what_gitleaks_rules_find() -> None:
    # GIVEN the upstream gitleaks rules beside the built-ins, and corpus values in dense chatter
    from pathlib import Path

    from slack_dlp.detect.rules import load_rules
    from slack_dlp_tools.chatter import dense_chatter

    rules = load_rules(Path(__file__).resolve().parents[1] / "data" / "gitleaks.toml")
    texts = [p.text for p in positives(per_detector=2, seed=5)] + dense_chatter(300, seed=4)
    random.Random(2).shuffle(texts)
    key = Fingerprinter(b"quality-test-fingerprint-key-000")
    fast = DetectionEngine((*BUILTIN_DETECTORS, *rules), fingerprinter=key)
    exhaustive = DetectionEngine((*BUILTIN_DETECTORS, *rules), fingerprinter=key, use_prefilter=False)
    # WHEN scanned with locators and with every rule on every text, THEN the findings are identical
    for first in range(0, len(texts), 100):
        batch = texts[first : first + 100]
        assert fast.scan_many(batch) == exhaustive.scan_many(batch)
