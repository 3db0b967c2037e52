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
    match = _COUNTS_LINES.match(where)
    if not match:
        return where
    return at_line(where, int(match.group("number")) + text.count("\n", 0, max(0, offset)))
