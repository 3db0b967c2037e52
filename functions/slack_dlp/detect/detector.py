"""A detector is data: what it finds, how to spot candidates cheaply, how to confirm them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from slack_dlp.detect.validators import Validator
from slack_dlp.model import Category, Confidence


class DetectorError(ValueError):
    """A detector definition is unusable (bad regex, unknown category); raised at load time."""


@dataclass(frozen=True)
class Detector:
    """One kind of sensitive data.

    ``pattern`` finds candidates; a named group ``secret`` (if present) is the sensitive value,
    otherwise the whole match is. ``keywords`` are lowercase literals of which at least one must
    occur in the text for the pattern to run at all (the cheap prefilter); an empty tuple means
    always run. ``validator`` confirms a candidate (checksum, structure, entropy).
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
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.id):
            raise DetectorError(f"detector id {self.id!r} must be lowercase letters, digits, '-', '_'")
        try:
            compiled = re.compile(self.pattern, self.flags)
        except re.error as error:
            raise DetectorError(f"detector {self.id!r}: pattern does not compile: {error}") from None
        if compiled.match(""):
            raise DetectorError(f"detector {self.id!r}: pattern matches the empty string")
        if any(k != k.lower() or not k for k in self.keywords):
            raise DetectorError(f"detector {self.id!r}: keywords must be non-empty and lowercase")
        object.__setattr__(self, "compiled", compiled)

    def value_span(self, match: re.Match[str]) -> tuple[int, int]:
        if "secret" in self.compiled.groupindex and match.group("secret") is not None:
            return match.span("secret")
        return match.span()
