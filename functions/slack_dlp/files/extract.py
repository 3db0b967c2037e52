"""Text out of the files people share: plain text and code, CSV/TSV, JSON/YAML/XML, logs, PDF,
DOCX, XLSX and ZIP archives one level deep.

Every extractor returns segments that remember where they came from (a line, a page, a sheet
and row, an archive member), so an alert can say where in the file the value is. Nothing here
raises on bad input: a corrupt, encrypted, oversized or unsupported file becomes a ``Skipped``
with a reason, so one bad file never fails a batch.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

TEXT_SUFFIXES = frozenset(
    ".txt .md .csv .tsv .json .yaml .yml .xml .log .env .ini .cfg .conf .toml .properties .sql .sh .bash .zsh .ps1 "
    ".py .js .ts .tsx .jsx .java .kt .go .rs .rb .php .cs .c .h .cpp .hpp .swift .scala .tf .tfvars .pem .key .crt "
    ".html .htm .css .gradle .dockerfile .bat".split()
)
TEXT_FILETYPES = frozenset(
    "text plain csv tsv json yaml xml html markdown post space snippet python javascript typescript java go rust "
    "ruby php shell bash sql dockerfile config ini toml properties log diff".split()
)


@dataclass(frozen=True)
class Limits:
    #: Largest file downloaded and opened.
    max_file_bytes: int = 20 * 1024 * 1024
    #: Largest total of text taken out of one file (archives included).
    max_text_chars: int = 5_000_000
    #: Total uncompressed bytes an archive may expand to, and the ratio that marks a zip bomb.
    max_archive_bytes: int = 50 * 1024 * 1024
    max_compression_ratio: int = 100
    max_archive_members: int = 1_000


@dataclass(frozen=True)
class Segment:
    """A piece of text and where it is in the file: ``where`` reads like "line 12", "page 3",
    "sheet Salaries, row 40" or "config/.env, line 2"."""

    text: str
    where: str
    first_line: int = 1


@dataclass(frozen=True)
class Extracted:
    segments: tuple[Segment, ...]
    truncated: bool = False


@dataclass(frozen=True)
class Skipped:
    reason: str
    detail: str = ""


@dataclass
class _Budget:
    chars_left: int
    truncated: bool = False
    segments: list[Segment] = field(default_factory=list)

    def add(self, text: str, where: str, first_line: int = 1) -> bool:
        if self.chars_left <= 0:
            self.truncated = True
            return False
        if len(text) > self.chars_left:
            text, self.truncated = text[: self.chars_left], True
        self.chars_left -= len(text)
        if text.strip():
            self.segments.append(Segment(text, where, first_line))
        return not self.truncated


def kind_of(name: str, filetype: str = "", mimetype: str = "") -> str:
    """One of text, pdf, docx, xlsx, zip, or "" for what we cannot read."""
    suffix = PurePosixPath(name.lower()).suffix
    filetype = filetype.lower()
    if suffix == ".pdf" or filetype == "pdf" or mimetype == "application/pdf":
        return "pdf"
    if suffix == ".docx" or filetype == "docx":
        return "docx"
    if suffix in (".xlsx", ".xlsm") or filetype == "xlsx":
        return "xlsx"
    if suffix == ".zip" or filetype == "zip" or mimetype in ("application/zip", "application/x-zip-compressed"):
        return "zip"
    if suffix in TEXT_SUFFIXES or filetype in TEXT_FILETYPES or mimetype.startswith("text/"):
        return "text"
    base = PurePosixPath(name.lower()).name
    if base in ("dockerfile", "makefile", "procfile", "jenkinsfile") or base.startswith((".env", ".npmrc", ".netrc")):
        return "text"
    return ""


def extract(
    name: str, data: bytes, *, filetype: str = "", mimetype: str = "", limits: Limits | None = None
) -> Extracted | Skipped:
    limits = limits or Limits()
    if len(data) > limits.max_file_bytes:
        return Skipped("too_large", f"{len(data)} bytes")
    kind = kind_of(name, filetype, mimetype)
    if not kind:
        return Skipped("unsupported_type", filetype or PurePosixPath(name).suffix or "unknown")
    budget = _Budget(limits.max_text_chars)
    problem = _EXTRACTORS[kind](data, budget, limits, "")
    if problem is not None:
        return problem
    return Extracted(tuple(budget.segments), truncated=budget.truncated)


def _text(data: bytes, budget: _Budget, limits: Limits, prefix: str) -> Skipped | None:
    if b"\x00" in data[:4096]:
        return Skipped("binary", "not text")
    text = data.decode("utf-8", errors="replace")
    budget.add(text, f"{prefix}line 1" if prefix else "line 1")
    return None


def _pdf(data: bytes, budget: _Budget, limits: Limits, prefix: str) -> Skipped | None:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:  # pragma: no cover - a pinned dependency
        return Skipped("unsupported_type", "pdf reader unavailable")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            return Skipped("encrypted", "password-protected PDF")
        for number, page in enumerate(reader.pages, start=1):
            if not budget.add(page.extract_text() or "", f"{prefix}page {number}"):
                break
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as error:
        return Skipped("corrupt", f"PDF: {type(error).__name__}")
    return None


def _docx(data: bytes, budget: _Budget, limits: Limits, prefix: str) -> Skipped | None:
    try:
        import docx
    except ImportError:  # pragma: no cover
        return Skipped("unsupported_type", "docx reader unavailable")
    if _encrypted_office(data):
        return Skipped("encrypted", "password-protected document")
    try:
        document = docx.Document(io.BytesIO(data))
        lines = [p.text for p in document.paragraphs]
        for table in document.tables:
            lines.extend(" | ".join(cell.text for cell in row.cells) for row in table.rows)
    except (ValueError, KeyError, zipfile.BadZipFile, OSError) as error:
        return Skipped("corrupt", f"DOCX: {type(error).__name__}")
    except Exception as error:  # python-docx raises its own PackageNotFoundError and lxml errors
        return Skipped("corrupt", f"DOCX: {type(error).__name__}")
    budget.add("\n".join(lines), f"{prefix}paragraph 1")
    return None


def _xlsx(data: bytes, budget: _Budget, limits: Limits, prefix: str) -> Skipped | None:
    try:
        from openpyxl import load_workbook
    except ImportError:  # pragma: no cover
        return Skipped("unsupported_type", "xlsx reader unavailable")
    if _encrypted_office(data):
        return Skipped("encrypted", "password-protected workbook")
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        for sheet in workbook.worksheets:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                line = " | ".join("" if v is None else str(v) for v in row)
                if line.strip(" |") and not budget.add(line, f"{prefix}sheet {sheet.title}, row {number}", number):
                    return None
    except Exception as error:  # openpyxl raises many kinds on broken files
        return Skipped("corrupt", f"XLSX: {type(error).__name__}")
    return None


def _zip(data: bytes, budget: _Budget, limits: Limits, prefix: str) -> Skipped | None:
    if prefix:
        return None  # one level deep: an archive inside an archive is not opened
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return Skipped("corrupt", f"ZIP: {type(error).__name__}")
    if len(members) > limits.max_archive_members:
        return Skipped("archive_too_large", f"{len(members)} members")
    declared = sum(m.file_size for m in members)
    compressed = max(1, sum(m.compress_size for m in members))
    if declared > limits.max_archive_bytes or declared / compressed > limits.max_compression_ratio:
        return Skipped("zip_bomb", f"{declared} bytes from {compressed}")
    for member in members:
        if member.flag_bits & 0x1:
            continue  # encrypted member
        kind = kind_of(member.filename)
        if not kind or kind == "zip":
            continue
        try:
            with archive.open(member) as handle:
                content = handle.read(limits.max_archive_bytes + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
            continue
        if len(content) > limits.max_archive_bytes:  # the header lied about the size
            return Skipped("zip_bomb", "member larger than declared")
        _EXTRACTORS[kind](content, budget, limits, f"{member.filename}, ")
        if budget.truncated:
            break
    return None


def _encrypted_office(data: bytes) -> bool:
    """Password-protected Office files are OLE containers, not ZIP packages."""
    return data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


_EXTRACTORS: dict[str, Callable[[bytes, _Budget, Limits, str], Skipped | None]] = {
    "text": _text,
    "pdf": _pdf,
    "docx": _docx,
    "xlsx": _xlsx,
    "zip": _zip,
}
