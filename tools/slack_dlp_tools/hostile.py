"""Hostile files, generated small: office-file bombs, nested archives, lying headers, XML entity bombs.

Each is built by streaming into a zip (a few hundred KB on disk for hundreds of MB expanded), so tests,
benchmarks and ``make chaos`` make them on the fly and nothing big is ever committed.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterable

MB = 1024 * 1024

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)


def _repeat(piece: bytes, total: int) -> Iterable[bytes]:
    block = piece * max(1, MB // len(piece))
    written = 0
    while written < total:
        out = block[: total - written]
        written += len(out)
        yield out


def _zip(parts: dict[str, bytes | Callable[[], Iterable[bytes]]], level: int = 9) -> bytes:
    """Level 1 makes a 350 MB bomb in about 2 s (1.6 MB on disk, still over 200x); 9 in 5 s (350 KB)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, content in parts.items():
            if isinstance(content, bytes):
                archive.writestr(name, content)
                continue
            with archive.open(name, "w") as member:
                for piece in content():
                    member.write(piece)
    return out.getvalue()


def docx(paragraphs: Iterable[str]) -> bytes:
    """A minimal valid DOCX (what Word needs to find the text), paragraphs as given."""
    body = "".join(f"<w:p><w:r><w:t>{_escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    xml = f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W}><w:body>{body}</w:body></w:document>'
    return _zip({"[Content_Types].xml": _CONTENT_TYPES.encode(), "word/document.xml": xml.encode()})


def docx_bomb(expanded_bytes: int = 350 * MB) -> bytes:
    """A DOCX whose document.xml expands to ``expanded_bytes`` (one long paragraph of repeated text)."""
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W}><w:body><w:p><w:r><w:t>'.encode()
    tail = b"</w:t></w:r></w:p></w:body></w:document>"

    def document() -> Iterable[bytes]:
        yield head
        yield from _repeat(b"A", expanded_bytes - len(head) - len(tail))
        yield tail

    return _zip({"[Content_Types].xml": _CONTENT_TYPES.encode(), "word/document.xml": document}, level=1)


def xlsx_bomb(expanded_bytes: int = 350 * MB) -> bytes:
    """An XLSX whose one sheet expands to ``expanded_bytes`` of identical rows."""
    workbook = f'<workbook {_S} {_R}><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
    rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    )
    head = f"<worksheet {_S}><sheetData>".encode()
    tail = b"</sheetData></worksheet>"

    def sheet() -> Iterable[bytes]:
        yield head
        yield from _repeat(b'<row><c t="n"><v>1</v></c></row>', expanded_bytes - len(head) - len(tail))
        yield tail

    return _zip(
        {
            "[Content_Types].xml": _CONTENT_TYPES.encode(),
            "xl/workbook.xml": workbook.encode(),
            "xl/_rels/workbook.xml.rels": rels.encode(),
            "xl/worksheets/sheet1.xml": sheet,
        },
        level=1,
    )


def nested_zip(depth: int = 3, payload: bytes = b"nothing to see\n") -> bytes:
    """zip-in-zip-...: ``depth`` archives around one text file."""
    data = payload
    name = "payload.txt"
    for level in range(depth):
        data = _zip({name: data})
        name = f"level{depth - level}.zip"
    return data


def entity_bomb_docx(levels: int = 9) -> bytes:
    """A DOCX whose document.xml declares a billion-laughs entity chain."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)
    )
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]>'
        f"<w:document {_W}><w:body><w:p><w:r><w:t>&lol{levels};</w:t></w:r></w:p></w:body></w:document>"
    )
    return _zip({"[Content_Types].xml": _CONTENT_TYPES.encode(), "word/document.xml": xml.encode()})


def lying_zip(real_bytes: int = 50 * MB, declared_bytes: int = 1000) -> bytes:
    """A ZIP whose headers declare ``declared_bytes`` for a member that really expands to ``real_bytes``."""
    data = bytearray(_zip({"notes.txt": lambda: _repeat(b"x", real_bytes)}))
    for at, offset in ((data.find(b"PK\x03\x04"), 22), (data.rfind(b"PK\x01\x02"), 24)):
        struct.pack_into("<I", data, at + offset, declared_bytes)
    return bytes(data)


def many_members(count: int = 5000) -> bytes:
    return _zip({f"f{i}.txt": b"x" for i in range(count)}, level=1)


def one_page_pdf(content: str) -> bytes:
    """A minimal one-page PDF (Helvetica) whose page draws the content stream ``content``: hand-written,
    so tests and benchmarks need no PDF library."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: The worst cases the fetcher and ``slack-dlp scan`` must refuse, by file name and expected reason.
WORST_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "bomb-350mb.docx": (docx_bomb, "zip_bomb"),
    "bomb-350mb.xlsx": (xlsx_bomb, "zip_bomb"),
    "nested-3.zip": (nested_zip, "too_deep"),
    "entities.docx": (entity_bomb_docx, "unsafe_xml"),
    "lying-header.zip": (lying_zip, "corrupt"),
    "5000-members.zip": (many_members, "too_many_members"),
}
