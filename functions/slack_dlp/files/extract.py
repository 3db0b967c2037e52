"""Text out of the files people share: plain text and code, CSV/TSV, JSON/YAML/XML, logs, PDF,
DOCX, XLSX, PPTX, OpenDocument, ZIP and tar archives (which may hold any of these, two levels
deep), and gzip files (``app.log.gz``, ``logs.tar.gz``: a tar in a gzip is one archive).
A file whose name and type say nothing (``credentials``, ``id_rsa``) is read when its bytes are
text; UTF-16 and UTF-32 are read when a byte-order mark says so.

Every extractor returns segments that remember where they came from (a line, a page, a sheet
and row, an archive member), so an alert can say where in the file the value is. Nothing here
raises on bad input: every zip-based file is opened through the guarded ``Container`` (sizes,
ratios, members, depth, time), and a corrupt, encrypted, oversized, too deep, too slow or
unsupported file becomes a ``Skipped`` with a reason, so one bad file never fails a batch.
"""

from __future__ import annotations

import codecs
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from slack_dlp.files import office
from slack_dlp.files.container import Container, Guard, Limits, Refused, TarArchive, gunzip

__all__ = ["Extracted", "Limits", "Segment", "Skipped", "extract", "kind_of"]

TEXT_SUFFIXES = frozenset(
    ".txt .md .csv .tsv .json .jsonl .ndjson .yaml .yml .xml .log .env .ini .cfg .conf .cnf .toml .properties .sql "
    ".sh .bash .zsh .ps1 .psm1 .py .ipynb .js .ts .tsx .jsx .vue .svelte .java .kt .kts .go .rs .rb .php .cs .c .h "
    ".cpp .hpp .swift .scala .groovy .lua .pl .pm .r .dart .ex .exs .erl .hs .clj .tf .tfvars .tfstate .hcl .pem .key "
    ".crt .cer .csr .pub .asc .ovpn .har .eml .vcf .ics .rtf .svg .html .htm .css .gradle .dockerfile .bat .cmd "
    ".diff .patch".split()
)
#: Slack's ``filetype`` for text it recognised (code snippets are named by language).
TEXT_FILETYPES = frozenset(
    "text plain csv tsv json yaml xml html markdown post space snippet python javascript typescript java go rust "
    "ruby php shell bash sql dockerfile config ini toml properties log diff c cpp csharp css clojure coffeescript "
    "dart erlang fsharp fortran groovy handlebars haskell kotlin latex lisp lua matlab objc ocaml pascal perl "
    "powershell puppet r scala scheme smalltalk swift vb vbscript velocity verilog email vcard rtf svg".split()
)
#: Media, executables and formats we cannot read: skipped without a download. Anything else that
#: is not recognised (``credentials``, ``id_rsa``, ``app.config.bak``) is read if its bytes are text.
BINARY_SUFFIXES = (
    frozenset(
        ".png .jpg .jpeg .gif .bmp .tif .tiff .webp .heic .heif .ico .psd .ai .eps .sketch .fig .mp3 .m4a .wav .ogg "
        ".flac .aac .mp4 .m4v .mov .avi .mkv .webm .wmv .flv .mpg .mpeg .exe .dll .so .dylib .bin .dmg .iso .img .apk "
        ".ipa .jar .class .pyc .o .a .wasm .ttf .otf .woff .woff2 .doc .xls .ppt .xlsb .key .numbers .pages .bz2 "
        ".xz .zst .7z .rar .p12 .pfx .jks .der .sqlite .db".split()
    )
    - TEXT_SUFFIXES
)  # a .key is a PEM key far more often than a Keynote deck
BINARY_FILETYPES = frozenset(
    "binary png jpg jpeg gif bmp tiff psd ai eps sketch fla swf indd qtz mp3 m4a wav ogg mp4 mkv mov flv wmv mpg "
    "ogv webm apk doc xls ppt xlsb keynote numbers pages gdoc gsheet gpres gdraw nzb".split()
)
#: ``kind_of`` for a name and type that say nothing: the bytes decide (text, or not inspected).
UNKNOWN = "unknown"
#: How much of an unknown file is looked at to decide whether it is text.
SNIFF_BYTES = 8192
#: Control characters (other than tab, newlines, form feed and escape) tolerated in text, per byte sniffed.
MAX_CONTROL_RATIO = 0.01

#: Zip-based formats by suffix and by Slack filetype.
_CONTAINER_SUFFIXES = {
    ".docx": "docx", ".docm": "docx", ".dotx": "docx",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xltx": "xlsx",
    ".pptx": "pptx", ".pptm": "pptx", ".ppsx": "pptx",
    ".odt": "odf", ".ods": "odf", ".odp": "odf",
    ".zip": "zip", ".tar": "tar", ".gz": "gzip", ".tgz": "gzip",
}  # fmt: skip
_CONTAINER_FILETYPES = {"docx": "docx", "xlsx": "xlsx", "pptx": "pptx", "odt": "odf", "ods": "odf", "odp": "odf",
                        "zip": "zip", "tar": "tar", "gzip": "gzip"}  # fmt: skip
_CONTAINER_MIMETYPES = {"application/zip": "zip", "application/x-zip-compressed": "zip", "application/x-tar": "tar",
                        "application/gzip": "gzip", "application/x-gzip": "gzip"}  # fmt: skip


@dataclass(frozen=True)
class Segment:
    """A piece of text and where it is in the file: ``where`` reads like "line 12", "page 3",
    "sheet Salaries, row 40" or "config/.env, line 2"."""

    text: str
    where: str
    first_line: int = 1
    #: Inside an archive: the member's path, an archive inside it joined by ``!``; "" for the file itself.
    member: str = ""


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
    #: The archive members being read, outermost first.
    members: list[str] = field(default_factory=list)

    def add(self, text: str, where: str, first_line: int = 1) -> bool:
        if self.chars_left <= 0:
            self.truncated = True
            return False
        if len(text) > self.chars_left:
            text, self.truncated = text[: self.chars_left], True
        self.chars_left -= len(text)
        if text.strip():
            self.segments.append(Segment(text, where, first_line, "!".join(self.members)))
        return not self.truncated


def kind_of(name: str, filetype: str = "", mimetype: str = "") -> str:
    """One of text, pdf, docx, xlsx, pptx, odf, zip; ``UNKNOWN`` when nothing about the name or
    type says what the file is (its bytes decide); "" for what we cannot read (media, binaries)."""
    suffix = PurePosixPath(name.lower()).suffix
    filetype = filetype.lower()
    if suffix == ".pdf" or filetype == "pdf" or mimetype == "application/pdf":
        return "pdf"
    if suffix in _CONTAINER_SUFFIXES:
        return _CONTAINER_SUFFIXES[suffix]
    if filetype in _CONTAINER_FILETYPES:
        return _CONTAINER_FILETYPES[filetype]
    if mimetype in _CONTAINER_MIMETYPES:
        return _CONTAINER_MIMETYPES[mimetype]
    if suffix in TEXT_SUFFIXES or filetype in TEXT_FILETYPES or mimetype.startswith("text/"):
        return "text"
    base = PurePosixPath(name.lower()).name
    if base in ("dockerfile", "makefile", "procfile", "jenkinsfile") or base.startswith((".env", ".npmrc", ".netrc")):
        return "text"
    if suffix in BINARY_SUFFIXES or filetype in BINARY_FILETYPES or mimetype.startswith(("image/", "audio/", "video/")):
        return ""
    return UNKNOWN


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


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip
#: Bytes that never occur in text: C0 controls other than tab, LF, VT, FF, CR and ESC, and DEL.
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 127])


def _encoding(data: bytes) -> str:
    """UTF-16 and UTF-32 only with a byte-order mark (PowerShell's ``>`` writes UTF-16 with one);
    everything else is read as UTF-8, a stray byte replaced rather than refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return "utf-8"


def _text(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    encoding = _encoding(data)
    if encoding == "utf-8" and b"\x00" in data[:4096]:
        raise Refused("binary", "not text")
    text = data[: budget.chars_left * 4 + 4].decode(encoding, errors="replace")
    budget.add(text, f"{prefix}line 1" if prefix else "line 1")


def looks_like_text(data: bytes) -> bool:
    """Whether a file nothing else describes is text: a byte-order mark, or no NUL and hardly any
    other control byte in its first ``SNIFF_BYTES`` (UTF-8, Latin-1 and the like all pass)."""
    head = data[:SNIFF_BYTES]
    if _encoding(head) != "utf-8":
        return True
    if b"\x00" in head:
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls <= len(head) * MAX_CONTROL_RATIO


def _unknown(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    if not looks_like_text(data):
        raise Refused("unsupported_type", "not text")
    _text(data, budget, guard, prefix)


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


class _Archive(Protocol):
    def names(self) -> list[str]: ...
    def encrypted(self, name: str) -> bool: ...
    def read(self, name: str, max_bytes: int | None = None) -> bytes: ...


def _members(archive: _Archive, budget: _Budget, guard: Guard, prefix: str) -> None:
    for member in archive.names():
        guard.check_time()
        kind = kind_of(member)
        if not kind or archive.encrypted(member):
            continue
        where = f"{prefix}{member}, "
        textual = kind in ("text", UNKNOWN)
        content = archive.read(member, budget.chars_left * 4 + 4) if textual else archive.read(member)
        budget.members.append(member)
        try:
            _EXTRACTORS[kind](content, budget, guard, where)
        except Refused as refused:
            if refused.reason in ("corrupt", "binary", "encrypted", "unsupported_type"):
                continue  # one unreadable member does not hide the others
            raise
        finally:
            budget.members.pop()
        if budget.truncated:
            return


def _zip(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    with guard.nested():
        _members(Container(data, guard), budget, guard, prefix)


def _tar(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    with guard.nested():
        _members(TarArchive(data, guard), budget, guard, prefix)


def _content_kind(data: bytes) -> str:
    """What a gzip file holds, by its first bytes (the name inside the gzip header is optional)."""
    if data.startswith(b"\x1f\x8b"):
        return "gzip"
    if data[257:262] == b"ustar":
        return "tar"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return UNKNOWN


def _gzip(data: bytes, budget: _Budget, guard: Guard, prefix: str) -> None:
    """``app.log.gz`` is read as the log (up to the file's budget of bytes, as a long text file is
    read up to its budget of characters), ``logs.tar.gz`` as one archive (one level, as a zip, and
    refused when too large, as a zip); a container inside the gzip counts one level more."""
    content, cut_short = gunzip(data, guard)
    kind = _content_kind(content)
    if kind == UNKNOWN:
        _unknown(content, budget, guard, prefix)
        budget.truncated = budget.truncated or cut_short
        return
    if cut_short:
        raise Refused("too_large", f"expands beyond {guard.limits.max_archive_bytes} bytes")
    if kind == "tar":
        _tar(content, budget, guard, prefix)
        return
    with guard.nested():
        _EXTRACTORS[kind](content, budget, guard, prefix)


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
    "tar": _tar,
    "gzip": _gzip,
    UNKNOWN: _unknown,
}
