"""Small real files with planted values: text, CSV, PDF, DOCX, XLSX, ZIP (and broken ones)."""

from __future__ import annotations

import io
import tarfile
import zipfile

from slack_dlp_tools.hostile import one_page_pdf


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (hand-written, so no PDF library is needed)."""
    escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    content = "BT /F1 11 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in escaped) + " ET"
    return one_page_pdf(content)


def encrypted_pdf(lines: list[str]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(lines))))
    writer.encrypt("secret-password")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_of(members: dict[str, bytes], *, gzipped: bool = False) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gzipped else "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def pptx(slides: list[list[str]]) -> bytes:
    """A minimal PPTX: one slide part per entry, one paragraph per string."""
    a = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    parts = {}
    for number, paragraphs in enumerate(slides, start=1):
        body = "".join(f"<a:p><a:r><a:t>{p}</a:t></a:r></a:p>" for p in paragraphs)
        parts[f"ppt/slides/slide{number}.xml"] = (
            f"<p:sld {a} xmlns:p='urn:p'><p:txBody>{body}</p:txBody></p:sld>".encode()
        )
    return zip_of(parts)


def odt(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    text = 'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    tbl = 'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    body = "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    if table:
        rows = "".join(
            "<table:table-row>"
            + "".join(f"<table:table-cell><text:p>{c}</text:p></table:table-cell>" for c in row)
            + "</table:table-row>"
            for row in table
        )
        body += f"<table:table>{rows}</table:table>"
    content = f"<office:document-content xmlns:office='urn:o' {text} {tbl}><office:body>{body}</office:body></office:document-content>"
    return zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": content.encode()})
