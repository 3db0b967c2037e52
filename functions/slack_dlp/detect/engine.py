"""The detection engine: runs declared detectors over text and returns masked findings."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from itertools import accumulate
from operator import attrgetter, itemgetter
from typing import Any

from slack_dlp.detect.allowlist import MergedAllowlists, is_benign
from slack_dlp.detect.catalog import BUILTIN_DETECTORS
from slack_dlp.detect.detector import Detector
from slack_dlp.detect.fastre2 import as_latin1
from slack_dlp.detect.prefilter import Prefilter
from slack_dlp.detect.validators import entropy_reaches
from slack_dlp.model import Category, Confidence, Finding

_MASK = "•"
_MAX_MASK_RUN = 12


#: Typography that keyboards and word processors put in place of ASCII (iOS's smart punctuation,
#: Word's autocorrect, no-break spaces from Slack's composer and from web pages), read as the ASCII
#: it stands for: one character for one, so offsets hold, and `password: “…”` is the value without
#: its quotes (a fingerprint the same as of the value typed plainly).
_TYPOGRAPHY = (
    ("\u201c", '"'), ("\u201d", '"'), ("\u201e", '"'), ("\u2018", "'"), ("\u2019", "'"), ("\u201a", "'"),
    ("\u00a0", " "), ("\u2007", " "), ("\u202f", " "),
)  # fmt: skip


def as_typed(text: str) -> str:
    """``text`` with ``_TYPOGRAPHY`` replaced (ASCII text is returned as it is, without a copy)."""
    if text.isascii():
        return text
    for fancy, plain in _TYPOGRAPHY:
        if fancy in text:
            text = text.replace(fancy, plain)
    return text


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
        # HMAC-SHA256 with its two keyed states computed once (RFC 2104): each value then costs two
        # copies and two short hashes instead of a key schedule.
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._inner_copy, self._outer_copy = self._inner.copy, self._outer.copy

    def __call__(self, value: str) -> str:
        inner = self._inner_copy()
        inner.update(value.encode())
        outer = self._outer_copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]


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


#: One candidate: (catalog rank, value start, value end, match start, match end, detector).
_Hit = tuple[int, int, int, int, int, Detector]

#: ``scan_large`` cuts a long text into pieces of this many characters (plus the overlap). Larger
#: pieces waste less on overlaps, smaller ones let keyword-gated rules (gitleaks') skip more pieces.
LARGE_CHUNK_CHARS = 1 << 20
#: ``scan_large``'s overlap when a detector's matches have no bound (a PEM private key: 3.3 KB for
#: RSA-4096, 12.5 KB for RSA-16384): a match up to half of it long is whole in the piece that owns it.
LARGE_OVERLAP_CHARS = 32 * 1024


@dataclass(frozen=True)
class _Batch:
    """Texts joined by newlines (str and Latin-1 bytes), where each starts and ends, and the
    candidates found so far per text."""

    joined: str
    data: bytes
    starts: list[int]
    ends: list[int]
    found: list[list[_Hit]]
    #: Text index -> the text lowercased, for keyword checks (once per text, not once per rule).
    lowered: dict[int, str] = field(default_factory=dict)
    #: Keyword-gated rules that run whatever the text holds (in a piece of a long text: those whose
    #: keywords are elsewhere in the whole text).
    woken: frozenset[int] = frozenset()

    def has_keyword(self, detector: Detector, index: int, rank: int) -> bool:
        """``_has_keyword`` for text ``index``."""
        if not detector.keyword_gated or rank in self.woken:
            return True
        lowered = self.lowered.get(index)
        if lowered is None:
            lowered = self.lowered[index] = self.joined[self.starts[index] : self.ends[index]].lower()
        return any(keyword in lowered for keyword in detector.keywords)

    def located(
        self, prefilter: Prefilter, rank: int, locator: Any, applies: list[bool] | None
    ) -> Iterator[tuple[int, list[Any]]]:
        """Locator hits (text index, spans) in the texts the detector applies to (None: all)."""
        located = prefilter.locate(locator, self.data, self.starts, self.ends, prefilter.word_prefix[rank])
        if applies is None:
            return located
        return ((index, spans) for index, spans in located if applies[index])


def _append(
    out: list[_Hit], rank: int, detector: Detector, base: int, value: tuple[int, int], match: tuple[int, int]
) -> None:
    """A candidate, in the offsets of its own text (which starts at ``base``). Its value is checked
    when overlaps are resolved: one inside a value a more specific detector took costs no check."""
    if value[1] > value[0]:
        out.append((rank, value[0] - base, value[1] - base, match[0] - base, match[1] - base, detector))


def _has_keyword(detector: Detector, text: str) -> bool:
    """gitleaks runs a rule with keywords only on texts that hold one (not merely on their batch)."""
    if not detector.keyword_gated:
        return True
    lowered = text.lower()
    return any(keyword in lowered for keyword in detector.keywords)


class DetectionEngine:
    """Runs detectors over batches of texts: one prefilter pass per batch, exact patterns after.

    The RE2 gate tells which detectors can match anywhere in the batch; each of those runs its
    RE2 locator over the whole batch once, and its exact pattern only where a locator hit starts
    (never over whole texts). Overlaps are resolved in O(n log n), before the value checks.
    """

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
        duplicates = sorted({i for i, n in Counter(ids).items() if n > 1})
        if duplicates:
            raise ValueError(f"duplicate detector ids: {', '.join(duplicates)}")
        # Order decides overlaps: specific detectors first (in the given order), generic ones last.
        self._detectors = tuple(sorted((d for d in detectors if self._policy.runs(d)), key=lambda d: d.generic))
        self._prefilter = Prefilter(self._detectors)
        self._rejected: list[set[str]] = [set() for _ in self._detectors]
        self._allowlists = [MergedAllowlists(d.allowlists) if d.allowlists else None for d in self._detectors]
        self._fingerprint = fingerprinter
        self._reported = [c for c in Confidence if c.at_least(self._policy.min_confidence)]

    @property
    def detectors(self) -> tuple[Detector, ...]:
        return self._detectors

    @cached_property
    def overlap(self) -> int:
        """Overlap ``scan_large`` keeps between pieces: twice the longest match any detector can make
        (LARGE_OVERLAP_CHARS when one has no bound), so a value across a cut is whole in its piece."""
        width = self._prefilter.max_width()
        return LARGE_OVERLAP_CHARS if width is None else min(max(width, 256) * 2, LARGE_OVERLAP_CHARS)

    def scan(self, text: str, path: str = "") -> list[Finding]:
        """Findings in ``text``, non-overlapping, ordered by position. ``path``: the file it came from."""
        return self.scan_many([text], [path] if path else None)[0]

    def scan_large(self, text: str, path: str = "", chunk_chars: int = LARGE_CHUNK_CHARS) -> list[Finding]:
        """``scan`` for a long text (a whole file), in overlapping pieces of ``chunk_chars``.

        A value is reported by the piece that owns its start (pieces own the text from the middle
        of the overlap before them), so values across a cut are found once, and partial values at
        the start of a piece are not reported.
        """
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be positive")
        if len(text) <= chunk_chars + self.overlap:
            return self.scan(text, path)  # which reads its typography (``as_typed``)
        text = as_typed(text)
        # Rules gated by keywords (gitleaks') run in every piece when the whole text holds one, as ``scan``
        # runs them, unless each of their matches holds a keyword (then only pieces holding one can match).
        woken = self._prefilter.keyword_rules_in(text, unless_in_match=True)
        findings: list[Finding] = []
        half = self.overlap // 2
        piece_start = 0
        while piece_start < len(text):
            piece_end = min(len(text), piece_start + chunk_chars + self.overlap)
            owned_from = piece_start + half if piece_start else 0
            owned_to = piece_end - half if piece_end < len(text) else piece_end
            piece = text[piece_start:piece_end]
            [hits] = self._hits([piece], [path], woken)
            findings.extend(
                f for f in self._confirm(piece, hits, shift=piece_start, path=path) if owned_from <= f.start < owned_to
            )
            if piece_end == len(text):
                break
            piece_start = piece_end - self.overlap
        return findings

    def scan_many(self, texts: Sequence[str], paths: Sequence[str] | None = None) -> list[list[Finding]]:
        """Findings per text (``paths``: the file name of each text, "" for messages)."""
        if not texts:
            return []
        names = list(paths) if paths is not None else [""] * len(texts)
        if not all(map(str.isascii, texts)):
            texts = [as_typed(text) for text in texts]
        found = self._hits(texts, names)
        return self._confirm_many(texts, found, names)

    def _hits(
        self, texts: Sequence[str], names: Sequence[str], woken: frozenset[int] = frozenset()
    ) -> list[list[_Hit]]:
        """Candidate values per text (overlaps not yet resolved, values not yet checked). ``woken``:
        keyword-gated rules that run in every text, whether it holds one of their keywords or not."""
        if self._use_prefilter and self._prefilter.uses_re2:
            return self._located_hits(texts, names, woken)
        return self._exhaustive_hits(texts, names, woken)

    def _exhaustive_hits(
        self, texts: Sequence[str], names: Sequence[str], woken: frozenset[int] = frozenset()
    ) -> list[list[_Hit]]:
        """Every detector's exact pattern over every text it applies to: the reference behaviour."""
        found: list[list[_Hit]] = [[] for _ in texts]
        for rank, detector in enumerate(self._detectors):
            for index, text in enumerate(texts):
                if not detector.applies_to(names[index]):
                    continue
                if rank not in woken and not _has_keyword(detector, text):
                    continue
                self._exact_in(rank, detector, text, 0, len(text), 0, found[index])
        return found

    @staticmethod
    def _exact_in(rank: int, detector: Detector, source: str, low: int, high: int, base: int, out: list[_Hit]) -> None:
        """Candidates of ``detector``'s exact pattern in ``source[low:high]`` (one text starting at ``base``)."""
        for m in detector.compiled.finditer(source, low, high):
            _append(out, rank, detector, base, detector.value_span(m), m.span())

    def _located_hits(
        self, texts: Sequence[str], names: Sequence[str], woken: frozenset[int] = frozenset()
    ) -> list[list[_Hit]]:
        joined = "\n".join(texts)
        data = as_latin1(joined)
        ends = [end + i for i, end in enumerate(accumulate(map(len, texts)))]
        starts = [0, *[end + 1 for end in ends[:-1]]]
        found: list[list[_Hit]] = [[] for _ in texts]
        batch = _Batch(joined, data, starts, ends, found, woken=woken)
        prefilter = self._prefilter
        candidates = prefilter.candidates(data)
        # Keyword rules run in a piece whose keywords are elsewhere in the whole text (one with a trigger
        # of its own still needs it here: a match cannot be where its trigger is not).
        forced = {rank for rank in woken if not self._detectors[rank].trigger}
        if forced:
            candidates = sorted(forced.union(candidates))
        for rank in candidates:
            detector = self._detectors[rank]
            applies = None
            if detector.path:  # only files whose name matches; messages have none
                applies = [bool(name) and detector.applies_to(name) for name in names] if any(names) else []
                if not any(applies):
                    continue
            locator = prefilter.locator(rank)
            if locator is None:  # no RE2 form: the exact pattern over each text
                for index, start in enumerate(starts):
                    if (applies is None or applies[index]) and batch.has_keyword(detector, index, rank):
                        self._exact_in(rank, detector, joined, start, ends[index], start, found[index])
            elif prefilter.exact[rank]:
                self._exact_hits(rank, detector, locator, batch, applies)
            else:
                self._windowed_hits(rank, detector, locator, batch, applies)
        return found

    def _exact_hits(
        self, rank: int, detector: Detector, locator: Any, batch: _Batch, applies: list[bool] | None
    ) -> None:
        """The locator is the exact pattern: its hits are the matches."""
        starts, ends, found = batch.starts, batch.ends, batch.found
        gated: dict[int, bool] = {}  # text index -> holds one of the rule's keywords
        keyword_gated = detector.keyword_gated
        for index, spans in batch.located(self._prefilter, rank, locator, applies):
            end = ends[index]
            if keyword_gated:
                if index not in gated:
                    gated[index] = batch.has_keyword(detector, index, rank)
                if not gated[index]:
                    continue
            first, last = spans[0]
            value_start, value_end = detector.value_span_of(spans)
            value_end = min(value_end, end)
            if value_end > value_start:  # _append, inlined: one call less for every hit
                base = starts[index]
                found[index].append(
                    (rank, value_start - base, value_end - base, first - base, min(last, end) - base, detector)
                )

    def _windowed_hits(
        self, rank: int, detector: Detector, locator: Any, batch: _Batch, applies: list[bool] | None
    ) -> None:
        """The exact (Python) pattern is tried where each locator hit starts (anchored: no scanning);
        only when a look-around rejects that start does it search the hit's window."""
        joined, starts, ends, found = batch.joined, batch.starts, batch.ends, batch.found
        reach = self._prefilter.reach(rank)
        compiled = detector.compiled
        group = detector.group_index
        covered = -1  # joined offset up to which this detector's matches are taken
        for index, spans in batch.located(self._prefilter, rank, locator, applies):
            first, last = spans[0]
            if first < covered:
                continue
            base, end = starts[index], ends[index]
            stop = min(end, max(last, first + 1) + reach)
            m = compiled.match(joined, first, end) or compiled.search(joined, first, stop)
            while m is not None:
                match_start, covered = m.span()
                if covered == stop < end and match_start != first:  # the window cut it short
                    m = compiled.search(joined, match_start, end)
                    if m is None:
                        break
                    match_start, covered = m.span()
                # _append with detector.value_span inlined for a named or numbered group (most
                # built-ins) and for the whole match: one call less for every hit.
                if group > 0:
                    value_start, value_end = m.span(group)
                    if value_start < 0 or value_end <= value_start:
                        value_start, value_end = match_start, covered
                elif group == 0:
                    value_start, value_end = match_start, covered
                else:
                    value_start, value_end = detector.value_span(m)
                if value_end > value_start:
                    found[index].append(
                        (rank, value_start - base, value_end - base, match_start - base, covered - base, detector)
                    )
                # The relaxed hit may hold more than one real match (a real one can be shorter).
                m = compiled.search(joined, covered, stop) if covered < last else None

    def _confirm(self, text: str, candidates: list[_Hit], shift: int = 0, path: str = "") -> list[Finding]:
        """Resolve overlaps (specific before generic), apply confidence and the policy; ``shift`` moves
        the offsets (a piece of a larger text)."""
        return self._confirm_many([text], [candidates], [path], shift)[0]

    def _confirm_many(
        self, texts: Sequence[str], found: list[list[_Hit]], names: Sequence[str], shift: int = 0
    ) -> list[list[Finding]]:
        """``_confirm`` for every text of a batch in one loop (most texts of a batch have no candidate)."""
        policy = self._policy
        filters_values = bool(policy.allow_fingerprints or policy.allow_patterns)
        reported = self._reported
        rejected = self._rejected
        allow = self._allowlists
        fingerprint_of = self._fingerprint
        new_finding = _new_finding
        out: list[list[Finding]] = []
        for text, candidates, path in zip(texts, found, names, strict=True):
            if not candidates:
                out.append([])
                continue
            taken_starts: list[int] = []
            taken_ends: list[int] = []
            findings: list[Finding] = []
            previous: tuple[int, int, int] | None = None
            # Specific detectors (earlier in the catalog) win a span over generic ones.
            if len(candidates) > 1:
                candidates.sort(key=_RANK_START)
            for rank, start, end, match_start, match_end, detector in candidates:
                if previous == (rank, start, end):
                    continue  # the same value found twice (a duplicate elsewhere gets the same verdict)
                previous = (rank, start, end)
                at = bisect_right(taken_starts, start)
                if (at and taken_ends[at - 1] > start) or (at < len(taken_starts) and taken_starts[at] < end):
                    continue  # overlaps a value already taken
                value = text[start:end]
                known = rejected[rank]
                if value in known:
                    continue
                if not _value_is_real(detector, value):
                    _remember(known, value)
                    continue
                allowlists = allow[rank]
                if allowlists is not None and _allowlisted(allowlists, value, text, match_start, match_end, path):
                    continue
                confidence = detector.adjusted_confidence(text, start, end)
                if confidence not in reported:  # identity on three members: cheaper than at_least
                    continue
                fingerprint = fingerprint_of(value)
                if filters_values and policy.allows_value(value, fingerprint):
                    continue
                taken_starts.insert(at, start)
                taken_ends.insert(at, end)
                findings.append(
                    new_finding(
                        detector.id,
                        detector.category,
                        start + shift,
                        end + shift,
                        confidence,
                        mask(value),
                        fingerprint,
                        detector.description,
                    )
                )
            if len(findings) > 1:
                findings.sort(key=_START)
            out.append(findings)
        return out


def _remember(known: set[str], value: str) -> None:
    """A value rejected on its own (the checks of ``_value_is_real``) is remembered per detector."""
    if len(known) >= _REJECTED_PER_DETECTOR:
        known.clear()
    known.add(value)


def _value_is_real(detector: Detector, value: str) -> bool:
    """The checks that depend on the value alone, cheapest first: entropy, the validator, the
    rule's allow patterns, then the benign-value checks (examples, placeholders, references)."""
    if detector.min_entropy is not None and not entropy_reaches(
        value, detector.min_entropy, strictly=detector.entropy_exclusive
    ):
        return False
    if detector.validator is not None and not detector.validator(value):
        return False
    if detector.compiled_allow and any(p.search(value) for p in detector.compiled_allow):
        return False
    return not is_benign(value)


def _allowlisted(
    allowlists: MergedAllowlists, value: str, text: str, match_start: int, match_end: int, path: str
) -> bool:
    """A rule's allowlists (gitleaks' semantics) on the value, its whole match and its line (each
    cut out of the text only when an allowlist looks at it)."""
    match = text[match_start:match_end] if allowlists.needs_match else ""
    line = ""
    if allowlists.needs_line:
        line_start = text.rfind("\n", 0, match_start) + 1
        line_end = text.find("\n", match_end)
        line = text[line_start : len(text) if line_end < 0 else line_end]
    return allowlists.allows(value, match, line, path)


def _finding_builder() -> Callable[[str, Category, int, int, Confidence, str, str, str], Finding]:
    """``Finding(...)`` for the fields in order. A frozen dataclass's ``__init__`` sets each field
    through ``object.__setattr__`` (1.7 µs a finding); filling the new instance's ``__dict__`` gives
    the same object in 0.6. Should ``Finding`` ever stop being that plain class (slots, a
    ``__post_init__``, other fields), its own constructor is used."""
    plain = (
        tuple(f.name for f in fields(Finding)) == _FINDING_FIELDS
        and "__slots__" not in vars(Finding)
        and not hasattr(Finding, "__post_init__")
    )
    if not plain:
        return Finding
    new = object.__new__

    def build(
        detector: str,
        category: Category,
        start: int,
        end: int,
        confidence: Confidence,
        masked: str,
        fingerprint: str,
        description: str,
    ) -> Finding:
        finding = new(Finding)
        finding.__dict__.update(
            detector=detector,
            category=category,
            start=start,
            end=end,
            confidence=confidence,
            masked=masked,
            fingerprint=fingerprint,
            description=description,
        )
        return finding

    return build


_FINDING_FIELDS = ("detector", "category", "start", "end", "confidence", "masked", "fingerprint", "description")
_new_finding = _finding_builder()
_RANK_START = itemgetter(0, 1)  # a stable sort: ties stay in the order they were found
_START = attrgetter("start")
#: Values a detector rejected on their own (placeholders, references, failed checksums) are remembered,
#: so a value repeated across messages costs one lookup; at this many the memory starts over.
_REJECTED_PER_DETECTOR = 4096
