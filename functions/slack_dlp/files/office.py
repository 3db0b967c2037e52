"""Text out of Office Open XML (DOCX, XLSX, PPTX) and OpenDocument (ODT, ODS, ODP) files.

These formats are zip containers of XML parts. Each part is read through the guarded
``Container`` (so every size, ratio and time limit holds while streaming) and parsed by
defusedxml's expat parser fed chunk by chunk, with DTDs, entity declarations and external
references refused (``unsafe_xml``): no billion laughs, no tree of the whole document in memory.
Only the text survives, line by line, with where it was (paragraph, sheet and row, slide).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from slack_dlp.files.container import STREAM_CHUNK, Container, Refused

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
A = "http://schemas.openxmlformats.org/drawingml/2006/main}"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PR = "http://schemas.openxmlformats.org/package/2006/relationships}"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0}"

#: Rows of a sheet further apart than this start a new segment instead of blank filler lines.
MAX_ROW_GAP = 20


class Sink(Protocol):
    """Where extracted text goes; ``add`` returns False once the file's text budget is spent."""

    chars_left: int

    def add(self, text: str, where: str, first_line: int = 1) -> bool: ...


class _Enough(Exception):
    """The text budget is spent: stop parsing this part."""


class _Lines:
    """Collects lines up to a character budget."""

    def __init__(self, chars: int) -> None:
        self.lines: list[str] = []
        self._left = chars

    def emit(self, line: str) -> None:
        self.lines.append(line)
        self._left -= len(line) + 1
        if self._left <= 0:
            raise _Enough


def parse_part(container: Container, name: str, target: Any) -> None:
    """Feed one XML part to ``target`` (start/end/data callbacks; names read "namespace}local"),
    streaming, under the guard, with defusedxml's policy: no DTD, no entity, no external reference."""
    from xml.parsers import expat

    from defusedxml.common import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

    def forbid_dtd(name: str, sysid: str | None, pubid: str | None, internal: bool) -> None:
        raise DTDForbidden(name, sysid, pubid)

    def forbid_entity(name: str, *args: Any) -> None:
        raise EntitiesForbidden(name, None, None, None, None, None)

    def forbid_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
        raise ExternalReferenceForbidden(context, base, sysid, pubid)

    # expat directly (defusedxml's parser wraps the same handlers in a pure-Python layer, 2-3x slower).
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.buffer_size = STREAM_CHUNK
    parser.StartDoctypeDeclHandler = forbid_dtd
    parser.EntityDeclHandler = forbid_entity
    parser.UnparsedEntityDeclHandler = forbid_entity
    parser.ExternalEntityRefHandler = forbid_external
    parser.StartElementHandler = target.start
    parser.EndElementHandler = target.end
    parser.CharacterDataHandler = target.data
    try:
        with container.open(name) as stream:
            while piece := stream.read(STREAM_CHUNK):
                parser.Parse(piece, False)
        parser.Parse(b"", True)
    except _Enough:
        return
    except DefusedXmlException as error:
        raise Refused("unsafe_xml", f"{type(error).__name__} in {name}") from None
    except (expat.ExpatError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise Refused("corrupt", f"{type(error).__name__} in {name}") from None


class _TableLines(_Lines):
    """Lines of a document with tables: text inside a cell goes to that cell, not to a line of its own."""

    def __init__(self, chars: int) -> None:
        super().__init__(chars)
        self._rows: list[list[str]] = []
        self._cells: list[list[str]] = []

    def _line(self, text: str) -> None:
        if self._cells:
            self._cells[-1].append(text)
        else:
            self.emit(text)


class _WordText(_TableLines):
    """Paragraphs in order; a table row becomes one line of cells joined by " | "."""

    def __init__(self, chars: int) -> None:
        super().__init__(chars)
        self._run: list[str] = []
        self._in_text = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag in (W + "t", W + "delText"):  # deleted text of tracked changes leaks too
            self._in_text = True
        elif tag == W + "tab":
            self._run.append("\t")
        elif tag in (W + "br", W + "cr"):
            self._run.append(" ")
        elif tag == W + "tr":
            self._rows.append([])
        elif tag == W + "tc":
            self._cells.append([])

    def end(self, tag: str) -> None:
        if tag in (W + "t", W + "delText"):
            self._in_text = False
        elif tag == W + "p":
            self._line("".join(self._run))
            self._run = []
        elif tag == W + "tc" and self._cells:
            cell = " ".join(self._cells.pop())
            if self._rows:
                self._rows[-1].append(cell)
        elif tag == W + "tr" and self._rows:
            self._line(" | ".join(self._rows.pop()))

    def data(self, text: str) -> None:
        if self._in_text:
            self._run.append(text)


_WORD_PARTS = re.compile(r"^word/(header\d*|footer\d*|footnotes|endnotes|comments)\.xml$")


def docx(container: Container, sink: Sink, prefix: str) -> None:
    parts = ["word/document.xml", *sorted(n for n in container.names() if _WORD_PARTS.match(n))]
    for part in parts:
        if part not in container.members and part != "word/document.xml":
            continue
        target = _WordText(sink.chars_left)
        parse_part(container, part, target)
        label = "" if part == "word/document.xml" else part.rsplit("/", 1)[-1].removesuffix(".xml") + ", "
        if not sink.add("\n".join(target.lines), f"{prefix}{label}paragraph 1"):
            return


class _SharedStrings(_Lines):
    def __init__(self, chars: int) -> None:
        super().__init__(chars)
        self._parts: list[str] = []
        self._in_text = 0
        self._phonetic = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == S + "t":
            self._in_text += 1
        elif tag == S + "rPh":
            self._phonetic += 1

    def end(self, tag: str) -> None:
        if tag == S + "t":
            self._in_text -= 1
        elif tag == S + "rPh":
            self._phonetic -= 1
        elif tag == S + "si":
            self.emit("".join(self._parts))
            self._parts = []

    def data(self, text: str) -> None:
        if self._in_text and not self._phonetic:
            self._parts.append(text)


class _SheetRows:
    """Rows of one worksheet as (row number, cells joined by " | ")."""

    def __init__(self, shared: list[str], on_row: Callable[[int, str], None]) -> None:
        self._shared = shared
        self._on_row = on_row
        self._row = 0
        self._cells: list[str] = []
        self._type = ""
        self._value: list[str] = []
        self._capture = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == S + "row":
            self._row = _positive_int(attrib.get("r"), self._row + 1)
            self._cells = []
        elif tag == S + "c":
            self._type, self._value = attrib.get("t", ""), []
        elif tag in (S + "v", S + "t"):
            self._capture = True

    def end(self, tag: str) -> None:
        if tag in (S + "v", S + "t"):
            self._capture = False
        elif tag == S + "c":
            value = "".join(self._value)
            if self._type == "s":
                index = _positive_int(value, -1)
                value = self._shared[index] if 0 <= index < len(self._shared) else ""
            elif self._type == "b":
                value = "TRUE" if value == "1" else "FALSE"
            self._cells.append(value)
        elif tag == S + "row":
            line = " | ".join(self._cells)
            if line.strip(" |"):
                self._on_row(self._row, line)

    def data(self, text: str) -> None:
        if self._capture:
            self._value.append(text)


class _Relationships:
    def __init__(self) -> None:
        self.targets: dict[str, str] = {}

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == PR + "Relationship" and attrib.get("Id") and attrib.get("Target"):
            self.targets[attrib["Id"]] = attrib["Target"]

    def end(self, tag: str) -> None:
        return None

    def data(self, text: str) -> None:
        return None


class _Sheets:
    def __init__(self) -> None:
        self.sheets: list[tuple[str, str]] = []  # (name, relationship id)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == S + "sheet":
            self.sheets.append((attrib.get("name", "?"), attrib.get(R + "id", "")))

    def end(self, tag: str) -> None:
        return None

    def data(self, text: str) -> None:
        return None


def xlsx(container: Container, sink: Sink, prefix: str) -> None:
    sheets, rels = _Sheets(), _Relationships()
    parse_part(container, "xl/workbook.xml", sheets)
    if "xl/_rels/workbook.xml.rels" in container.members:
        parse_part(container, "xl/_rels/workbook.xml.rels", rels)
    shared = _SharedStrings(sink.chars_left)
    if "xl/sharedStrings.xml" in container.members:
        parse_part(container, "xl/sharedStrings.xml", shared)
    for title, rel_id in sheets.sheets:
        target = rels.targets.get(rel_id, "")
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        if part not in container.members:
            continue
        rows = _RowRuns(sink, f"{prefix}sheet {title}, row ")
        parse_part(container, part, _SheetRows(shared.lines, rows.add))
        if not rows.flush():
            return


class _RowRuns:
    """Consecutive rows become one segment (rows are its lines), so a sheet is a few chunks, not
    one per row; a large gap starts a new segment so row numbers stay exact."""

    def __init__(self, sink: Sink, where: str) -> None:
        self._sink = sink
        self._where = where
        self._first = 0
        self._last = 0
        self._lines: list[str] = []

    def add(self, row: int, line: str) -> None:
        if self._lines and (row <= self._last or row - self._last > MAX_ROW_GAP) and not self.flush():
            raise _Enough
        if not self._lines:
            self._first = self._last = row
        else:
            self._lines.extend([""] * (row - self._last - 1))
        self._lines.append(line)
        self._last = row

    def flush(self) -> bool:
        if not self._lines:
            return True
        lines, self._lines = self._lines, []
        return self._sink.add("\n".join(lines), f"{self._where}{self._first}", self._first)


class _DrawingText(_Lines):
    """PowerPoint text: ``a:t`` runs, one line per ``a:p`` paragraph."""

    def __init__(self, chars: int) -> None:
        super().__init__(chars)
        self._run: list[str] = []
        self._in_text = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == A + "t":
            self._in_text = True
        elif tag == A + "br":
            self._run.append(" ")

    def end(self, tag: str) -> None:
        if tag == A + "t":
            self._in_text = False
        elif tag == A + "p":
            if self._run:
                self.emit("".join(self._run))
            self._run = []

    def data(self, text: str) -> None:
        if self._in_text:
            self._run.append(text)


_SLIDE = re.compile(r"^ppt/(slides/slide|notesSlides/notesSlide)(\d+)\.xml$")


def pptx(container: Container, sink: Sink, prefix: str) -> None:
    parts = sorted(
        (int(m.group(2)), m.group(1).startswith("notes"), name)
        for name in container.names()
        if (m := _SLIDE.match(name))
    )
    for number, notes, part in parts:
        target = _DrawingText(sink.chars_left)
        parse_part(container, part, target)
        where = f"{prefix}slide {number}" + (" notes" if notes else "")
        if not sink.add("\n".join(target.lines), where):
            return


class _OdfText(_TableLines):
    """OpenDocument text: paragraphs and headings; table rows as cells joined by " | "."""

    def __init__(self, chars: int) -> None:
        super().__init__(chars)
        self._run: list[str] = []
        self._depth = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag in (TEXT + "p", TEXT + "h"):
            self._depth += 1
        elif tag == TEXT + "s":
            self._run.append(" ")
        elif tag in (TEXT + "tab", TEXT + "line-break"):
            self._run.append("\t" if tag.endswith("tab") else " ")
        elif tag == TABLE + "table-row":
            self._rows.append([])
        elif tag in (TABLE + "table-cell", TABLE + "covered-table-cell"):
            self._cells.append([])

    def end(self, tag: str) -> None:
        if tag in (TEXT + "p", TEXT + "h"):
            self._depth -= 1
            if self._depth == 0:
                self._line("".join(self._run))
                self._run = []
        elif tag in (TABLE + "table-cell", TABLE + "covered-table-cell") and self._cells:
            cell = " ".join(self._cells.pop())
            if self._rows:
                self._rows[-1].append(cell)
        elif tag == TABLE + "table-row" and self._rows:
            line = " | ".join(self._rows.pop()).rstrip(" |")
            if line:
                self._line(line)

    def data(self, text: str) -> None:
        if self._depth:
            self._run.append(text)


def odf(container: Container, sink: Sink, prefix: str) -> None:
    target = _OdfText(sink.chars_left)
    parse_part(container, "content.xml", target)
    sink.add("\n".join(target.lines), f"{prefix}line 1")


def _positive_int(text: str | None, default: int) -> int:
    if text and text.isdigit() and len(text) < 10:
        return int(text)
    return default
