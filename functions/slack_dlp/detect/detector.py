"""A detector is data: what it finds, how to spot candidates cheaply, how to confirm them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_dlp.detect.allowlist import RuleAllowlist
from slack_dlp.detect.validators import Validator
from slack_dlp.model import Category, Confidence

#: ``secret_group`` value meaning "the first capturing group that matched" (gitleaks' default).
FIRST_GROUP = "first"
#: Characters either side of a match (on its line) in which context words are looked for.
CONTEXT_WINDOW = 48


class DetectorError(ValueError):
    """A detector definition is unusable (bad regex, unknown category); raised at load time."""


@dataclass(frozen=True)
class Detector:
    """One kind of sensitive data.

    ``pattern`` finds candidates; the group ``secret_group`` (a name or a number; by default a
    group named ``secret`` if the pattern has one) is the sensitive value, else the whole match.
    ``keywords`` are lowercase literals: the prefilter's trigger, and for user rules (gitleaks'
    semantics) a text must hold one for the rule to run on it.
    ``validator`` confirms a candidate (checksum, structure); ``min_entropy`` is a floor in bits
    per character. ``context_up``/``context_down`` words near a match raise or lower its
    confidence by one level. Built-in patterns use Python's ``re`` (ASCII semantics, so RE2 can
    prefilter them); user rules use RE2 (``engine="re2"``), which runs in linear time.

    ``allowlists`` follow gitleaks (regexes on the secret, the match or the line; stopwords;
    file paths; OR/AND). ``path`` (a regex on file names) makes a rule apply only to files whose
    name matches, never to chat messages. ``entropy_exclusive`` is gitleaks' floor (the value's
    entropy must exceed it; ours must reach it).
    """

    id: str
    category: Category
    description: str
    pattern: str
    keywords: tuple[str, ...] = ()
    validator: Validator | None = None
    confidence: Confidence = Confidence.HIGH
    flags: int = 0
    enabled_by_default: bool = True
    context_up: tuple[str, ...] = ()
    context_down: tuple[str, ...] = ()
    min_entropy: float | None = None
    secret_group: int | str = "secret"  # noqa: S105 - a regex group name
    allow_patterns: tuple[str, ...] = ()
    engine: Literal["re", "re2"] = "re"
    #: RE2 pattern a text must contain for ``pattern`` to be worth running (keywords otherwise).
    trigger: str | None = None
    source: str = "builtin"
    allowlists: tuple[RuleAllowlist, ...] = ()
    path: str | None = None
    entropy_exclusive: bool = False
    #: Generic rules lose a span to every specific one, built-in or user rule.
    generic: bool = False
    compiled: Any = field(init=False, repr=False, compare=False)
    compiled_allow: tuple[Any, ...] = field(init=False, repr=False, compare=False)
    compiled_path: Any = field(init=False, repr=False, compare=False)
    group_index: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.id):
            raise DetectorError(f"detector id {self.id!r} must be lowercase letters, digits, '-', '_', '.'")
        compile_ = _compile_re2 if self.engine == "re2" else _compile_re
        try:
            compiled = compile_(self.pattern, self.flags)
            allow = tuple(compile_(p, 0) for p in self.allow_patterns)
            path = _compile_re2(self.path, 0) if self.path else None
        except Exception as error:  # re.error, re2.error: both mean "does not compile"
            raise DetectorError(f"detector {self.id!r}: pattern does not compile: {error}") from None
        if compiled.search("") is not None:
            raise DetectorError(f"detector {self.id!r}: pattern matches the empty string")
        if any(k != k.lower() or not k for k in self.keywords):
            raise DetectorError(f"detector {self.id!r}: keywords must be non-empty and lowercase")
        object.__setattr__(self, "compiled", compiled)
        object.__setattr__(self, "compiled_allow", allow)
        object.__setattr__(self, "compiled_path", path)
        object.__setattr__(self, "group_index", self._resolve_group(compiled))

    def _resolve_group(self, compiled: Any) -> int:
        if self.secret_group == FIRST_GROUP:
            return -1
        if isinstance(self.secret_group, int):
            if not 0 <= self.secret_group <= compiled.groups:
                raise DetectorError(f"detector {self.id!r}: secret group {self.secret_group} does not exist")
            return self.secret_group
        return int(compiled.groupindex.get(self.secret_group, 0))

    def value_span(self, match: Any) -> tuple[int, int]:
        if self.group_index > 0:
            start, end = match.span(self.group_index)
            if start >= 0 and end > start:
                return int(start), int(end)
            return int(match.start()), int(match.end())
        if self.group_index == 0:
            return int(match.start()), int(match.end())
        return self.value_span_of([match.span(g) for g in range(match.re.groups + 1)])

    def value_span_of(self, spans: list[tuple[int, int]]) -> tuple[int, int]:
        """The value's span given the spans of the whole match (0) and of every group."""
        if self.group_index < 0:  # gitleaks' default: the first group that matched something
            for start, end in spans[1:]:
                if start >= 0 and end > start:
                    return int(start), int(end)
        elif self.group_index:
            start, end = spans[self.group_index]
            if start >= 0 and end > start:
                return int(start), int(end)
        start, end = spans[0]
        return int(start), int(end)

    @property
    def plain(self) -> bool:
        """No entropy floor and no allowlists: a value is checked by its validator and the benign checks."""
        return self.min_entropy is None and not self.allowlists and not self.compiled_allow

    @property
    def keyword_gated(self) -> bool:
        """User rules run only on texts holding one of their keywords (gitleaks' semantics); built-in
        keywords are prefilter hints only."""
        return self.engine == "re2" and bool(self.keywords)

    def applies_to(self, path: str) -> bool:
        """Rules with a ``path`` inspect only files whose name matches; messages have no path."""
        return self.compiled_path is None or (bool(path) and self.compiled_path.search(path) is not None)

    def adjusted_confidence(self, text: str, start: int, end: int) -> Confidence:
        """Confidence after context words around ``text[start:end]`` have had their say."""
        if not (self.context_up or self.context_down):
            return self.confidence
        # Context is the value's own line: in a file, the next line is another record.
        line_start = text.rfind("\n", max(0, start - CONTEXT_WINDOW), start) + 1
        line_end = text.find("\n", end, end + CONTEXT_WINDOW)
        window = text[max(line_start, start - CONTEXT_WINDOW) : end + CONTEXT_WINDOW if line_end < 0 else line_end]
        window = window.lower()
        rank = _LEVELS.index(self.confidence)
        if any(word in window for word in self.context_down):
            rank -= 1
        elif any(word in window for word in self.context_up):
            rank += 1
        return _LEVELS[max(0, min(rank, len(_LEVELS) - 1))]


_LEVELS = tuple(Confidence)


def _compile_re(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.ASCII)


def _compile_re2(pattern: str, flags: int) -> Any:
    import re2

    prefix = "".join(flag for bit, flag in ((re.I, "i"), (re.S, "s"), (re.M, "m")) if flags & bit)
    return re2.compile(f"(?{prefix}){pattern}" if prefix else pattern)
