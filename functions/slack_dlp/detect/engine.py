"""The detection engine: runs declared detectors over text and returns masked findings."""

from __future__ import annotations

import hashlib
import hmac
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from slack_dlp.detect.allowlist import is_benign
from slack_dlp.detect.catalog import BUILTIN_DETECTORS
from slack_dlp.detect.detector import Detector
from slack_dlp.detect.prefilter import Prefilter
from slack_dlp.detect.validators import shannon_entropy
from slack_dlp.model import Confidence, Finding

_MASK = "•"
_MAX_MASK_RUN = 12


def mask(value: str) -> str:
    """A preview that names the kind of value without giving it away: ``ghp_••••••••••••…``."""
    visible = min(4, len(value) // 4)
    hidden = len(value) - visible
    return value[:visible] + _MASK * min(hidden, _MAX_MASK_RUN) + ("…" if hidden > _MAX_MASK_RUN else "")


class Fingerprinter:
    """Keyed hash of a value: stable per deployment, useless to anyone without the key.

    A plain hash of a card number or SSN could be reversed by enumerating the small space of
    valid values; the key (a generated secret in the stack) prevents that.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("fingerprint key must be at least 16 bytes")
        self._key = key

    def __call__(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:32]


@dataclass(frozen=True)
class Policy:
    """Which detectors run and which findings are reported."""

    min_confidence: Confidence = Confidence.MEDIUM
    disabled: frozenset[str] = frozenset()
    #: Detectors that are off by default (email, phone) and the user switched on.
    enabled: frozenset[str] = frozenset()
    allow_fingerprints: frozenset[str] = frozenset()
    allow_patterns: tuple[Any, ...] = field(default_factory=tuple)

    @staticmethod
    def compile_allow_patterns(patterns: Sequence[str]) -> tuple[Any, ...]:
        """User-supplied allowlist regexes, compiled with RE2 (linear time)."""
        import re2

        compiled = []
        for pattern in patterns:
            try:
                compiled.append(re2.compile(pattern))
            except re2.error as error:
                raise ValueError(f"allow pattern {pattern!r} does not compile: {error}") from None
        return tuple(compiled)

    def runs(self, detector: Detector) -> bool:
        if detector.id in self.disabled:
            return False
        return detector.enabled_by_default or detector.id in self.enabled

    def allows_value(self, value: str, fingerprint: str) -> bool:
        """True when the user allowlisted this value (by fingerprint or by regex)."""
        if fingerprint in self.allow_fingerprints:
            return True
        return any(p.search(value) for p in self.allow_patterns)


class DetectionEngine:
    """Runs detectors over batches of texts: one prefilter pass per batch, exact patterns after."""

    def __init__(
        self,
        detectors: Sequence[Detector] = BUILTIN_DETECTORS,
        *,
        fingerprinter: Fingerprinter,
        policy: Policy | None = None,
        use_prefilter: bool = True,
    ) -> None:
        self._policy = policy or Policy()
        self._use_prefilter = use_prefilter
        ids = [d.id for d in detectors]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate detector ids: {', '.join(duplicates)}")
        self._detectors = tuple(d for d in detectors if self._policy.runs(d))
        self._prefilter = Prefilter(self._detectors)
        self._fingerprint = fingerprinter

    @property
    def detectors(self) -> tuple[Detector, ...]:
        return self._detectors

    def scan(self, text: str) -> list[Finding]:
        """Findings in ``text``, non-overlapping, ordered by position."""
        return self.scan_many([text])[0]

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Findings per text. RE2 finds the candidate detectors for the whole batch in one pass and
        then the texts each candidate's trigger occurs in; exact patterns run on those texts only."""
        if not texts:
            return []
        joined = "\n".join(texts)
        candidates = self._prefilter.candidates(joined) if self._use_prefilter else range(len(self._detectors))
        if not candidates:
            return [[] for _ in texts]
        starts = [0, *(end + i for i, end in enumerate(accumulate(map(len, texts[:-1])), start=1))]
        found: list[list[tuple[int, int, int, Detector]]] = [[] for _ in texts]
        for rank in candidates:
            detector = self._detectors[rank]
            spans = self._prefilter.locate(rank, joined) if self._use_prefilter else None
            if spans is None:
                indexes: Iterable[int] = range(len(texts))
            else:
                indexes = sorted(
                    {
                        bisect_right(starts, position) - 1
                        for span in spans
                        for position in (span[0], max(span[0], span[1] - 1))
                    }
                )
            for index in indexes:
                found[index].extend(
                    (rank, *detector.value_span(m), detector) for m in detector.compiled.finditer(texts[index])
                )
        return [self._confirm(text, hits) if hits else [] for text, hits in zip(texts, found, strict=True)]

    def _confirm(self, text: str, candidates: list[tuple[int, int, int, Detector]]) -> list[Finding]:
        taken: list[tuple[int, int]] = []
        findings: list[Finding] = []
        # Specific detectors (earlier in the catalog) win a span over generic ones.
        for _, start, end, detector in sorted(candidates, key=lambda c: (c[0], c[1])):
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            value = text[start:end]
            if not self._is_real(detector, value):
                continue
            confidence = detector.adjusted_confidence(text, start, end)
            if not confidence.at_least(self._policy.min_confidence):
                continue
            fingerprint = self._fingerprint(value)
            if self._policy.allows_value(value, fingerprint):
                continue
            taken.append((start, end))
            findings.append(
                Finding(
                    detector=detector.id,
                    category=detector.category,
                    start=start,
                    end=end,
                    confidence=confidence,
                    masked=mask(value),
                    fingerprint=fingerprint,
                    description=detector.description,
                )
            )
        findings.sort(key=lambda f: f.start)
        return findings

    @staticmethod
    def _is_real(detector: Detector, value: str) -> bool:
        if is_benign(value):
            return False
        if detector.min_entropy is not None and shannon_entropy(value) < detector.min_entropy:
            return False
        if any(p.search(value) for p in detector.compiled_allow):
            return False
        return detector.validator is None or detector.validator(value)
