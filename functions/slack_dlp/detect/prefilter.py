"""Which detectors can match in a batch, and where: RE2 passes before any Python pattern runs.

Nearly all chat text contains nothing sensitive, so the engine's cost is deciding that quickly.
The gate is an RE2 ``Set`` of every detector's trigger (its keywords, or a short pattern) run as
one DFA over the whole batch. Each detector it reports runs its locator once over the batch: its
own RE2 pattern, or its Python pattern with the look-arounds relaxed away (a superset of what the
real pattern matches), so the exact pattern only runs where a locator hit starts. Without RE2
the prefilter falls back to each detector's keywords.
"""

from __future__ import annotations

import re
import warnings
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import Any

from slack_dlp.detect.detector import Detector
from slack_dlp.detect.fastre2 import options as re2_options
from slack_dlp.detect.fastre2 import utf8_options as re2_options_utf8

_DFA_MEMORY = 128 << 20  # the gate: one Set of every trigger
_LOCATOR_MEMORY = 16 << 20  # each locator (RE2's default is 8 MB); used lazily, as the text needs
_RE2_MAX_REPEAT = 1000


def relax_for_re2(pattern: str) -> str:
    """A pattern RE2 accepts that matches at least everything ``pattern`` matches."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif char == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i : end + 1])
            i = end + 1
        elif pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            i = _group_end(pattern, i) + 1  # a look-around only ever removes matches
        else:
            out.append(char)
            i += 1
    relaxed = "".join(out)
    relaxed = re.sub(r"\\[1-9]", ".*?", relaxed)  # back-references: any text
    return re.sub(r"\{(\d+),(\d+)\}", _clamp_repeat, relaxed)


def _clamp_repeat(match: re.Match[str]) -> str:
    low, high = int(match.group(1)), int(match.group(2))
    if high <= _RE2_MAX_REPEAT:
        return match.group(0)
    return f"{{{min(low, _RE2_MAX_REPEAT)},}}"


def _class_end(pattern: str, start: int) -> int:
    j = start + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j


def _group_end(pattern: str, start: int) -> int:
    for i, char, depth in _outside_classes(pattern, start):
        if char == ")" and depth == 1:
            return i
    return len(pattern)


def _outside_classes(pattern: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """Each unescaped character outside character classes: its index, itself, and the group depth
    before it."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i) + 1
            continue
        yield i, char, depth
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        i += 1


def trigger_of(detector: Detector) -> str:
    """The cheap condition: an explicit trigger, else any keyword, else the relaxed pattern itself.

    Literal keywords compile to a small DFA; full patterns with counted repetitions would make the
    DFA's state space explode on random-looking text (ids, hashes), so they are the last resort.
    """
    if detector.trigger:
        return detector.trigger
    if detector.keywords:
        return "(?i)(?:" + "|".join(re.escape(k) for k in detector.keywords) + ")"
    flags = "".join(f for bit, f in ((re.I, "i"), (re.S, "s"), (re.M, "m")) if detector.flags & bit)
    source = detector.pattern if detector.engine == "re2" else relax_for_re2(detector.pattern)
    return f"(?{flags}){source}" if flags else source


#: Longest stretch scanned after a locator hit for patterns without a bounded width.
UNBOUNDED_REACH = 1024
_WIDTH_LIMIT = 100_000


def pattern_width(detector: Detector) -> int | None:
    """The longest text ``detector.pattern`` can match; None when it has no bound (or none we can tell)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # RE2 syntax can look like Python's future nested sets
            _, high = re._parser.parse(detector.pattern, detector.flags).getwidth()  # type: ignore[attr-defined]
    except Exception:
        return None
    return None if high >= _WIDTH_LIMIT else max(int(high), 1)


class Prefilter:
    """An RE2 ``Set`` of every detector's trigger (gate) and one RE2 locator per detector.

    Texts are scanned as Latin-1 bytes (see ``as_latin1``), so every offset RE2 reports is a
    Python str offset. A locator is the detector's own RE2 pattern (user rules: the hits are the
    matches), or its Python pattern with look-arounds relaxed away (a superset: the exact
    pattern then runs only in a window after each hit).
    """

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._detectors = tuple(detectors)
        #: The gate: (RE2 Set, detector index of each of its patterns), one for keyword triggers and
        #: one for pattern triggers. Together in one DFA, counted repetitions (card digits, hex runs)
        #: multiply with the keywords' states and fresh text keeps building new ones (~1.6x slower).
        self._sets: list[tuple[Any, list[int]]] = []
        self._always: list[int] = []
        #: Detector index -> its locator (None: it has none), compiled when first needed: a text
        #: seldom wakes most of 300 rules, and compiling all of them cost a tenth of a second at start.
        self._locators: dict[int, Any] = {}
        self._locator_sources: dict[int, str] = {}
        #: ``keyword_rules_in``'s RE2 Sets (UTF-8: keywords may be any text) by the rules they hold (all
        #: keyword-gated ones, or those with an ASCII keyword), built when first needed; False without RE2.
        self._keyword_rules: dict[tuple[int, ...], Any] = {}
        self._in_match: dict[int, bool] = {}
        #: Detectors whose locator is their exact pattern (user RE2 rules, patterns without look-arounds).
        self.exact: list[bool] = [d.engine == "re2" or relax_for_re2(d.pattern) == d.pattern for d in detectors]
        #: Per detector: its pattern's width (0: not worked out yet, None: unbounded).
        self._width: list[int | None] = [0] * len(self._detectors)
        #: Per detector: N when its pattern opens with ``[\w.-]{0,N}?`` (most gitleaks rules), which its
        #: locator leaves out (a DFA that tracks N possible starts is several times slower); ``locate``
        #: puts the run of word characters before each hit back.
        self.word_prefix = [0] * len(self._detectors)
        try:
            from re2 import _re2
        except ImportError:  # pragma: no cover - re2 is a pinned dependency; keep working without it
            self._always = [i for i, d in enumerate(self._detectors) if not d.keywords]
            return
        self._unanchored = _re2.RE2.Anchor.UNANCHORED
        self._new_re2 = _re2.RE2
        options, self._locator_options = re2_options(_DFA_MEMORY), re2_options(_LOCATOR_MEMORY)
        keyword_set, pattern_set = _re2.Set(self._unanchored, options), _re2.Set(self._unanchored, options)
        keyword_members: list[int] = []
        pattern_members: list[int] = []
        for index, detector in enumerate(self._detectors):
            by_keywords = bool(detector.keywords) and not detector.trigger
            rset, members = (keyword_set, keyword_members) if by_keywords else (pattern_set, pattern_members)
            try:
                rset.Add(_latin1_pattern(trigger_of(detector)))
            except Exception:
                self._always.append(index)  # cannot prefilter: always run its exact pattern
                continue
            members.append(index)
            source = _locator_source(detector)
            if detector.engine == "re2":
                source, self.word_prefix[index] = split_word_prefix(source)
            self._locator_sources[index] = source  # compiled when the gate first lets the detector run
        for rset, members in ((keyword_set, keyword_members), (pattern_set, pattern_members)):
            if members:
                rset.Compile()
                self._sets.append((rset, members))

    def width(self, index: int) -> int | None:
        """``pattern_width`` of detector ``index``, worked out when first needed (parsing a pattern
        costs more than compiling it: a process that never needs one does not pay for 222 rules)."""
        width = self._width[index]
        if width == 0:
            width = self._width[index] = pattern_width(self._detectors[index])
        return width

    def reach(self, index: int) -> int:
        """How far after a locator hit detector ``index``'s window goes: its pattern's width
        (UNBOUNDED_REACH when it has no bound)."""
        width = self.width(index)
        return UNBOUNDED_REACH if width is None else width

    def max_width(self) -> int | None:
        """The longest match any detector can make; None when one has no bound."""
        widest = 0
        for index in range(len(self._detectors)):
            width = self.width(index)
            if width is None:
                return None
            widest = max(widest, width)
        return widest

    def keyword_rules_in(self, text: str, *, unless_in_match: bool = False) -> frozenset[int]:
        """Indexes of the keyword-gated rules (gitleaks') that ``text`` holds a keyword of (``_has_keyword``
        on the whole text): one RE2 pass over it, not one search per keyword. ``unless_in_match``: leave
        out the rules every match of which holds a keyword (``keyword_in_every_match``)."""
        gated = [i for i, d in enumerate(self._detectors) if d.keyword_gated]
        if unless_in_match:
            gated = [i for i in gated if not self.keyword_in_every_match(i)]
        if text.isascii():  # its lowercase is ASCII too: keywords in other scripts cannot be in it
            gated = [i for i in gated if any(k.isascii() for k in self._detectors[i].keywords)]
        if not gated:
            return frozenset()
        lowered = text.lower()
        rules = self._keyword_rules.get(tuple(gated))
        if rules is None:
            rules = self._keyword_rules[tuple(gated)] = _literal_set([self._detectors[i].keywords for i in gated])
        if rules is False:
            return frozenset(i for i in gated if any(k in lowered for k in self._detectors[i].keywords))
        data = lowered.encode("utf-8", errors="surrogatepass")
        return frozenset(gated[hit] for hit in rules.Match(data) or ())

    def keyword_in_every_match(self, index: int) -> bool:
        """Whether every match of detector ``index``'s pattern holds one of its keywords (lowercased):
        then a text with no keyword has no match (most gitleaks rules name their keyword literally)."""
        known = self._in_match.get(index)
        if known is None:
            detector = self._detectors[index]
            known = self._in_match[index] = bool(detector.keywords) and _keyword_in_every_match(detector)
        return known

    @property
    def uses_re2(self) -> bool:
        return bool(self._sets)

    def candidates(self, data: bytes) -> list[int]:
        """Indexes of the detectors that may match somewhere in ``data``, in catalog order."""
        if not self._sets:
            lowered = data.decode("latin-1").lower()
            keyword_hits = [
                i for i, d in enumerate(self._detectors) if d.keywords and any(k in lowered for k in d.keywords)
            ]
            return sorted({*keyword_hits, *self._always})
        found = {members[h] for rset, members in self._sets for h in rset.Match(data) or ()}
        return sorted(found.union(self._always))

    def locator(self, index: int) -> Any:
        """Detector ``index``'s RE2 locator, or None (no RE2 form: its exact pattern runs instead)."""
        if index in self._locators:
            return self._locators[index]
        source = self._locator_sources.get(index)  # kept: two threads may both compile it, harmlessly
        locator = None
        if source is not None:
            try:
                locator = self._new_re2(_latin1_pattern(source), self._locator_options)
            except ValueError:
                locator = None
            if locator is not None and not locator.ok():
                locator = None
        self._locators[index] = locator
        return locator

    def locate(
        self, locator: Any, data: bytes, starts: list[int], ends: list[int], word_prefix: int = 0
    ) -> Iterator[tuple[int, list[Any]]]:
        r"""Matches of ``locator`` in ``data`` (texts joined by newlines), each within one text.

        Yields (text index, spans of the match and its groups). A match that runs into the next
        text is searched again within its own text (its newline included), and the search goes on
        from there, so one text never hides the next one's matches. ``word_prefix``: the pattern's
        leading ``[\w.-]{0,N}?`` the locator left out; each match starts where the run of up to N
        such characters before it (and after the previous match) starts, as the whole pattern's
        leftmost match would.
        """
        match, unanchored = locator.Match, self._unanchored
        pos, size = 0, len(data)
        while pos <= size:
            spans = match(unanchored, data, pos, size)
            first, last = spans[0]
            if first < 0:
                return
            index = bisect_right(starts, first) - 1
            if last > ends[index] + 1:
                spans = match(unanchored, data, first, ends[index] + 1)
                first, last = spans[0]
                if first < 0:
                    pos = ends[index] + 1
                    continue
            if word_prefix and first > pos:
                before = data[max(pos, first - word_prefix) : first]
                run = len(before) - len(before.rstrip(_WORD_BYTES))
                if run:
                    spans = [(first - run, last), *spans[1:]]
            yield index, spans
            pos = last if last > first else last + 1


def _keyword_in_every_match(detector: Detector) -> bool:
    """A conservative proof from the parsed pattern: some part every match must go through is a run
    of literal characters holding a keyword, or alternatives each of which is. False when unsure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = re._parser.parse(detector.pattern, detector.flags)  # type: ignore[attr-defined]
    except Exception:
        return False
    return _sequence_holds(list(parsed), tuple(k.lower() for k in detector.keywords))


def _sequence_holds(items: list[Any], keywords: tuple[str, ...]) -> bool:
    """Whether a parsed sequence's mandatory parts always hold one of ``keywords`` (lowercase)."""
    constants = re._constants  # type: ignore[attr-defined]
    run: list[str] = []
    for op, argument in [*items, (None, None)]:
        if op is constants.LITERAL:
            run.append(chr(argument).lower())
            continue
        if run and any(k in "".join(run) for k in keywords):
            return True
        run = []
        if op is constants.SUBPATTERN and _sequence_holds(list(argument[-1]), keywords):
            return True
        if op is constants.BRANCH and all(_sequence_holds(list(b), keywords) for b in argument[1]):
            return True
        repeated = op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and argument[0] >= 1
        if repeated and _sequence_holds(list(argument[2]), keywords):
            return True
    return False


def _literal_set(keyword_lists: Sequence[tuple[str, ...]]) -> Any:
    """An RE2 Set (UTF-8) with pattern i matching any of ``keyword_lists[i]`` literally; False
    without RE2 or when it cannot be built."""
    try:
        from re2 import _re2
    except ImportError:  # pragma: no cover - re2 is a pinned dependency
        return False
    rset = _re2.Set(_re2.RE2.Anchor.UNANCHORED, re2_options_utf8())
    try:
        for keywords in keyword_lists:
            rset.Add("|".join(_literal(k) for k in keywords).encode("utf-8", errors="surrogatepass") or b"(?:)")
        rset.Compile()
    except Exception:
        return False
    return rset


def _literal(word: str) -> str:
    """``word`` as an RE2 pattern matching exactly it (letters and digits as they are, the rest as \\x{..})."""
    return "".join(c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):x}}}" for c in word)


_WORD_PREFIX = re.compile(r"(\(\?[a-zA-Z]+\))?\[\\w\.-\]\{0,(\d+)\}\?")
#: The characters ``[\w.-]`` matches (RE2's ``\w`` is ASCII): the run before a hit is what ``rstrip``
#: of them removes (in C; a regex anchored at the window's end retries from every start).
_WORD_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"


def split_word_prefix(pattern: str) -> tuple[str, int]:
    r"""``(?i)[\w.-]{0,50}?REST`` -> (``(?i)REST``, 50); other patterns are returned as they are, with 0.

    The leftmost match of the whole pattern starts where the run of word characters (at most N)
    before the leftmost match of REST starts, and continues as that match does: the lazy prefix
    takes as few characters as it can, and REST can match nowhere earlier. Not for a REST with a
    top-level ``|`` (the prefix would bind to its first branch only).
    """
    found = _WORD_PREFIX.match(pattern)
    if found is None:
        return pattern, 0
    rest = pattern[found.end() :]
    if not rest or _has_top_level_bar(rest):
        return pattern, 0
    return (found.group(1) or "") + rest, int(found.group(2))


def _has_top_level_bar(pattern: str) -> bool:
    return any(char == "|" and depth == 0 for _, char, depth in _outside_classes(pattern))


def _locator_source(detector: Detector) -> str:
    if detector.engine == "re2":
        return detector.pattern if not detector.flags else trigger_of_flags(detector) + detector.pattern
    return trigger_of_flags(detector) + relax_for_re2(detector.pattern)


def trigger_of_flags(detector: Detector) -> str:
    flags = "".join(f for bit, f in ((re.I, "i"), (re.S, "s"), (re.M, "m")) if detector.flags & bit)
    return f"(?{flags})" if flags else ""


def _latin1_pattern(pattern: str) -> bytes:
    """The pattern for RE2's Latin-1 mode; one with characters beyond Latin-1 cannot have a locator
    (ValueError: its detector then runs its exact pattern on each text)."""
    try:
        return pattern.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("pattern has characters beyond Latin-1") from None
