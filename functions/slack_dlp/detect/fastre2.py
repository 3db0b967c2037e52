"""RE2 without the per-call cost of the ``re2`` wrapper (which encodes and decodes on every call).

Locators match texts as Latin-1 bytes (one byte per character, characters beyond Latin-1 become
NUL), so RE2's offsets are Python str offsets; yes/no checks match UTF-8. Either way a short value
costs one C call, not tens of µs.
"""

from __future__ import annotations

import codecs
from functools import lru_cache
from typing import Any


def _nul_for_wide(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):  # pragma: no cover - registered for encoding only
        raise error
    return "\x00" * (error.end - error.start), error.end


codecs.register_error("slack-dlp-nul", _nul_for_wide)


def as_latin1(text: str) -> bytes:
    """One byte per character, so RE2 offsets are str offsets: characters beyond Latin-1 become NUL."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("latin-1", errors="slack-dlp-nul")


def options(max_mem: int = 64 << 20) -> Any:
    """RE2 options for the Latin-1 stand-in (see ``as_latin1``)."""
    import re2

    opts = utf8_options(max_mem)
    opts.encoding = re2.Options.Encoding.LATIN1
    return opts


def utf8_options(max_mem: int = 64 << 20) -> Any:
    import re2

    opts = re2.Options()
    opts.max_mem = max_mem
    return opts


class Re2Pattern:
    """A compiled RE2 pattern with a cheap ``search`` (a bool) for short strings. It answers yes or
    no only, so it matches UTF-8 (every character as it is), not the Latin-1 stand-in."""

    __slots__ = ("_match", "_unanchored", "pattern")

    def __init__(self, pattern: str, max_mem: int = 64 << 20) -> None:
        from re2 import _re2

        self.pattern = pattern
        self._match = _compiled(pattern, max_mem).Match
        self._unanchored = _re2.RE2.Anchor.UNANCHORED

    def search(self, text: str) -> bool:
        data = text.encode("utf-8", errors="surrogatepass")
        return bool(self._match(self._unanchored, data, 0, len(data))[0][0] >= 0)


@lru_cache(maxsize=1024)
def _compiled(pattern: str, max_mem: int) -> Any:
    """One compiled program per pattern (RE2 programs are immutable and thread-safe): gitleaks'
    global allowlist is part of each of its 222 rules, and its three programs took a third of a
    second to compile 222 times over. A pattern that does not compile raises (and is not kept)."""
    import re2
    from re2 import _re2

    compiled = _re2.RE2(pattern.encode("utf-8"), utf8_options(max_mem))
    if not compiled.ok():
        raise re2.error(compiled.error())
    return compiled
