"""Cutting extracted text into chunks the inspector takes one per queue message.

Chunks overlap by more than the longest value a detector can find (a PEM private key is the
longest, about 3.3 KB for RSA-4096), so a value across a boundary is whole in one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slack_dlp.files.extract import Segment
from slack_dlp.files.where import LineCounter, at_line

DEFAULT_CHUNK_CHARS = 16_000
DEFAULT_OVERLAP_CHARS = 4_096


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    where: str
    first_line: int
    member: str = ""


def chunk_segments(
    segments: Iterable[Segment], size: int = DEFAULT_CHUNK_CHARS, overlap: int = DEFAULT_OVERLAP_CHARS
) -> list[Chunk]:
    if overlap >= size:
        raise ValueError("the overlap must be smaller than the chunk")
    chunks: list[Chunk] = []
    for segment in segments:
        text, start = segment.text, 0
        lines = LineCounter(text)  # counted on from the previous chunk, not from the start each time
        while True:
            end = min(len(text), start + size)
            if end < len(text):
                # End at a line break when one is near, so chunks read naturally.
                newline = text.rfind("\n", start + size - overlap, end)
                end = newline + 1 if newline > start else end
            line = segment.first_line + lines.newlines_before(start)
            chunks.append(Chunk(len(chunks), text[start:end], at_line(segment.where, line), line, segment.member))
            if end >= len(text):
                break
            start = max(end - overlap, start + 1)
    return chunks
