"""Text out of the files people share: plain text and code, CSV/TSV, JSON/YAML/XML, logs, PDF,
DOCX, XLSX, PPTX, OpenDocument and ZIP archives (which may hold any of these, two levels deep).

Every extractor returns segments that remember where they came from (a line, a page, a sheet
and row, an archive member), so an alert can say where in the file the value is. Nothing here
raises on bad input: every zip-based file is opened through the guarded ``Container`` (sizes,
ratios, members, depth, time), and a corrupt, encrypted, oversized, too deep, too slow or
unsupported file becomes a ``Skipped`` with a reason, so one bad file never fails a batch.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from slack_dlp.files import office
from slack_dlp.files.container import Container, Guard, Limits, Refused

__all__ = ["Extracted", "Limits", "Segment", "Skipped", "extract", "kind_of"]

TEXT_SUFFIXES = frozenset(
    ".txt .md .csv .tsv .json .yaml .yml .xml .log .env .ini .cfg .conf .toml .properties .sql .sh .bash .zsh .ps1 "
    ".py .js .ts .tsx .jsx .java .kt .go .rs .rb .php .cs .c .h .cpp .hpp .swift .scala .tf .tfvars .pem .key .crt "
    ".html .htm .css .gradle .dockerfile .bat".split()
)
TEXT_FILETYPES = frozenset(
    "text plain csv tsv json yaml xml html markdown post space snippet python javascript typescript java go rust "
    "ruby php shell bash sql dockerfile config ini toml properties log diff".split()
)
#: Zip-based formats by suffix and by Slack filetype.
_CONTAINER_SUFFIXES = {
    ".docx": "docx", ".docm": "docx", ".dotx": "docx",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xltx": "xlsx",
    ".pptx": "pptx", ".pptm": "pptx", ".ppsx": "pptx",
    ".odt": "odf", ".ods": "odf", ".odp": "odf",
    ".zip": "zip",
}  # fmt: skip
_CONTAINER_FILETYPES = {"docx": "docx", "xlsx": "xlsx", "pptx": "pptx", "odt": "odf", "ods": "odf", "odp": "odf",
                        "zip": "zip"}  # fmt: skip


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
    """One of text, pdf, docx, xlsx, pptx, odf, zip, or "" for what we cannot read."""
    suffix = PurePosixPath(name.lower()).suffix
    filetype = filetype.lower()
    if suffix == ".pdf" or filetype == "pdf" or mimetype == "application/pdf":
        return "pdf"
    if suffix in _CONTAINER_SUFFIXES:
        return _CONTAINER_SUFFIXES[suffix]
    if filetype in _CONTAINER_FILETYPES:
        return _CONTAINER_FILETYPES[filetype]
    if mimetype in ("application/zip", "application/x-zip-compressed"):
        return "zip"
    if suffix in TEXT_SUFFIXES or filetype in TEXT_FILETYPES or mimetype.startswith("text/"):
        return "text"
    base = PurePosixPath(name.lower()).name
    if base in ("dockerfile", "makefile", "procfile", "jenkinsfile") or base.startswith((".env", ".npmrc", ".netrc")):
        return "text"
    return ""


def extract(
    name: str,
    data: bytes,
    *,
    filetype: str = "",
    mimetype: str = "",
    limits: Limits | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Extracted | Skipped:
    limits = limits or Limits()
    if len(data) > limits.max_file_bytes:
        return Skipped("too_large", f"{len(data)} bytes")
    kind = kind_of(name, filetype, mimetype)
    if not kind:
        return Skipped("unsupported_type", filetype or PurePosixPath(name).suffix or "unknown")
    guard = Guard(limits, clock)
    budget = _Budget(limits.max_text_chars)
    try:
        with guard.alarm():
            _EXTRACTORS[kind](data, budget, guard, "")
    except Refused as refused:
        return Skipped(refused.reason, refused.detail)
    except RecursionError:
        return Skipped("corrupt", "structure nested too deeply")
    return Extracted(tuple(budget.segments), truncated=budget.truncated)


def _text(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    if b"\x00" in data[:4096]:
        raise Refused("binary", "not text")
    text = data[: budget.chars_left * 4 + 4].decode("utf-8", errors="replace")
    budget.add(text, f"{prefix}line 1" if prefix else "line 1")


def _pdf(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    from pypdf import PdfReader, apply_configuration

    limits = guard.limits
    cap = limits.max_pdf_stream_bytes
    caps = {
        "zlib_maximum_output_length": cap,
        "lzw_maximum_output_length": cap,
        "run_length_maximum_output_length": cap,
        "brotli_maximum_output_length": cap,
        "jbig2_maximum_output_length": cap,
        "image_maximum_buffer_size": cap,
        "maximum_declared_stream_length": cap,
        "array_based_stream_maximum_output_length": cap,
        "stream_decoding_work_maximum_length": 4 * cap,
    }
    try:
        with apply_configuration(None, **caps):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise Refused("encrypted", "password-protected PDF")
            objects = _int_or_zero(reader.trailer.get("/Size"))
            if objects > limits.max_pdf_objects:
                raise Refused("too_large", f"{objects} PDF objects")
            pages = len(reader.pages)
            if pages > limits.max_pdf_pages:
                raise Refused("too_large", f"{pages} pages")
            for number in range(pages):
                guard.check_time()
                text = reader.pages[number].extract_text() or ""
                if not budget.add(text, f"{prefix}page {number + 1}"):
                    break
    except Refused:
        raise
    except Exception as error:  # pypdf raises many kinds on broken or hostile files
        if type(error).__name__ == "LimitReachedError":
            raise Refused("too_large", "a PDF stream exceeds the caps") from None
        raise Refused("corrupt", f"PDF: {type(error).__name__}") from None


def _int_or_zero(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _office(read: Callable[[Container, office.Sink, str], None]) -> Callable[[bytes, _Budget, Guard, str], None]:
    def extract_document(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
        if _encrypted_office(data):
            raise Refused("encrypted", "password-protected document")
        with guard.nested():
            read(Container(data, guard), budget, prefix)

    return extract_document


def _zip(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    with guard.nested():
        archive = Container(data, guard)
        for member in archive.names():
            guard.check_time()
            kind = kind_of(member)
            if not kind or archive.encrypted(member):
                continue
            where = f"{prefix}{member}, "
            content = archive.read(member, budget.chars_left * 4 + 4) if kind == "text" else archive.read(member)
            try:
                _EXTRACTORS[kind](content, budget, guard, where)
            except Refused as refused:
                if refused.reason in ("corrupt", "binary", "encrypted", "unsupported_type"):
                    continue  # one unreadable member does not hide the others
                raise
            if budget.truncated:
                return


def _encrypted_office(data: bytes) -> bool:
    """Password-protected Office files are OLE containers, not ZIP packages."""
    return data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


_EXTRACTORS: dict[str, Callable[[bytes, _Budget, Guard, str], None]] = {
    "text": _text,
    "pdf": _pdf,
    "docx": _office(office.docx),
    "xlsx": _office(office.xlsx),
    "pptx": _office(office.pptx),
    "odf": _office(office.odf),
    "zip": _zip,
}
