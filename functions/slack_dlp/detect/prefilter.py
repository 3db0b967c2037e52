"""One pass over a whole batch to learn which detectors can match at all.

Nearly all chat text contains nothing sensitive, so the engine's cost is deciding that quickly.
An RE2 ``Set`` of every detector's pattern (with Python-only look-arounds relaxed away, so each
entry matches a superset of what the real pattern matches) runs as one DFA over the batch; only
the detectors it reports run their exact Python patterns and validators. Without RE2 the
prefilter falls back to each detector's keywords.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_dlp.detect.detector import Detector

_DFA_MEMORY = 128 << 20
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
    depth, j = 0, start
    while j < len(pattern):
        char = pattern[j]
        if char == "\\":
            j += 2
            continue
        if char == "[":
            j = _class_end(pattern, j)
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return j


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


class Prefilter:
    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._detectors = tuple(detectors)
        self._set: Any = None
        self._set_members: list[int] = []
        self._always: list[int] = []
        self._locators: dict[int, Any] = {}
        try:
            import re2
        except ImportError:  # pragma: no cover - re2 is a pinned dependency; keep working without it
            self._always = [i for i, d in enumerate(self._detectors) if not d.keywords]
            return
        options = re2.Options()
        options.max_mem = _DFA_MEMORY
        rset = re2.Set.SearchSet(options)
        for index, detector in enumerate(self._detectors):
            trigger = trigger_of(detector)
            try:
                rset.Add(trigger)
                self._locators[index] = re2.compile(trigger, options)
            except re2.error:
                self._always.append(index)  # cannot prefilter: always run its exact pattern
                continue
            self._set_members.append(index)
        rset.Compile()
        self._set = rset

    @property
    def uses_re2(self) -> bool:
        return self._set is not None

    def candidates(self, text: str) -> list[int]:
        """Indexes of the detectors that may match somewhere in ``text``, in catalog order."""
        if self._set is None:
            lowered = text.lower()
            keyword_hits = [
                i for i, d in enumerate(self._detectors) if d.keywords and any(k in lowered for k in d.keywords)
            ]
            return sorted({*keyword_hits, *self._always})
        hits = self._set.Match(text) or ()
        return sorted({*(self._set_members[h] for h in hits), *self._always})

    def locate(self, index: int, text: str) -> list[tuple[int, int]] | None:
        """Spans in ``text`` where detector ``index``'s trigger matches, or None if unknown (scan all)."""
        locator = self._locators.get(index)
        if locator is None:
            return None
        return [match.span() for match in locator.finditer(text)]
