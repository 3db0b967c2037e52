"""Locations inside a file, as alerts and the CLI print them: "line 12", "sheet Payroll, row 40",
"paragraph 7", "page 3", "config/.env, line 2"."""

from __future__ import annotations

import re

#: A location that counts lines (a line, a sheet's row, a paragraph): text further down is further on.
_COUNTS_LINES = re.compile(r"^(?P<prefix>.*?(?:line|row|paragraph) )(?P<number>\d+)$")


def at_line(where: str, line: int) -> str:
    """``where`` moved to ``line`` when it counts lines; unchanged otherwise (a page, a slide)."""
    match = _COUNTS_LINES.match(where)
    return f"{match.group('prefix')}{line}" if match else where


def locate(where: str, text: str, offset: int) -> str:
    """Where the character at ``offset`` of a chunk is, given where the chunk starts."""
    return Locator(where, text)(offset)


class LineCounter:
    """Newlines before an offset of one text, and where its line starts, counted on from the
    previous answer: offsets asked in order (a text's findings) cost one pass over the text in
    all, where counting from the start for each costs a pass each (minutes for a 20 MB file)."""

    __slots__ = ("_line_start", "_newlines", "_offset", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._offset = 0
        self._newlines = 0  # before _offset
        self._line_start = 0  # of the line _offset is on

    def newlines_before(self, offset: int) -> int:
        """``text.count("\\n", 0, offset)``."""
        self._move_to(offset)
        return self._newlines

    def column(self, offset: int) -> int:
        """1-based column of ``offset`` on its line."""
        self._move_to(offset)
        return self._offset - self._line_start + 1

    def _move_to(self, offset: int) -> None:
        text, here = self._text, self._offset
        offset = max(0, min(offset, len(text)))
        if offset >= here:
            newlines = text.count("\n", here, offset)
            if newlines:
                self._newlines += newlines
                self._line_start = text.rfind("\n", here, offset) + 1
        else:
            self._newlines -= text.count("\n", offset, here)
            self._line_start = text.rfind("\n", 0, offset) + 1
        self._offset = offset


class Locator:
    """``locate`` for many offsets of one text (a file's findings, in order), counting lines once."""

    __slots__ = ("_first", "_lines", "_prefix", "_where")

    def __init__(self, where: str, text: str) -> None:
        match = _COUNTS_LINES.match(where)
        self._where = where
        self._prefix = match.group("prefix") if match else None
        self._first = int(match.group("number")) if match else 0
        self._lines = LineCounter(text)

    @property
    def lines(self) -> LineCounter:
        return self._lines

    def __call__(self, offset: int) -> str:
        if self._prefix is None:
            return self._where
        return f"{self._prefix}{self._first + self._lines.newlines_before(offset)}"
