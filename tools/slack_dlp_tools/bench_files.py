"""``make bench-files``: time and peak memory of reading hostile and heavy files, as the fetcher and
``slack-dlp scan`` read them.

Each case is generated into a temporary directory, then read in a fresh child process (so its peak
resident memory is its own): once the fetcher's way (extract + chunk) and once through
``slack-dlp scan``. Prints one row per case: size on disk, outcome, seconds, peak MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from slack_dlp_tools import hostile

MB = 1024 * 1024
_WORDS = [f"w{n:03d}" + "abcdefgh"[n % 8] * (n % 7) for n in range(1000)]

#: What the fetcher does with the downloaded bytes, in a child process.
_FETCHER_CHILD = """
import json, sys
from slack_dlp.files.chunk import chunk_segments
from slack_dlp.files.extract import Skipped, extract
path = sys.argv[1]
data = open(path, "rb").read()
result = extract(path.rsplit("/", 1)[-1], data)
if isinstance(result, Skipped):
    print(json.dumps({"outcome": "refused: " + result.reason}))
else:
    chunks = chunk_segments(result.segments)
    print(json.dumps({"outcome": f"read: {len(chunks)} chunks" + (", truncated" if result.truncated else "")}))
"""


def _words(size: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - filler text, not secrets
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(_WORDS) for _ in range(12))
        lines.append(line)
        total += len(line) + 40
    return lines


def heavy_docx() -> bytes:
    """A DOCX just under the caps: about 45 MB of XML, ordinary compression (not a bomb)."""
    return hostile.docx(_words(45 * MB))


def heavy_xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Data")
    rng = random.Random(2)  # noqa: S311 - filler data
    for row in range(180_000):
        sheet.append([row, rng.choice(_WORDS), rng.randint(0, 10**9), rng.choice(_WORDS), rng.random()])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def heavy_pdf(pages: int = 1500) -> bytes:
    from pypdf import PdfReader, PdfWriter

    page = PdfReader(io.BytesIO(_one_page_pdf()))
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_page(page.pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _one_page_pdf() -> bytes:
    lines = " ".join(f"({' '.join(_WORDS[i : i + 10])}) '" for i in range(0, 600, 10))
    content = f"BT /F1 9 Tf 40 780 Td 11 TL {lines} ET"
    return hostile.one_page_pdf(content)


def heavy_text() -> bytes:
    return "\n".join(_words(19 * MB)).encode()


CASES: dict[str, Callable[[], bytes]] = {
    **{name: make for name, (make, _) in hostile.WORST_CASES.items()},
    "words-45mb.docx": heavy_docx,
    "rows-180k.xlsx": heavy_xlsx,
    "pages-1500.pdf": heavy_pdf,
    "text-19mb.log": heavy_text,
}


def _run(argv: list[str]) -> tuple[str, float, float]:
    """Run ``argv``: its output's last line, wall seconds and its own peak resident MB (wait4's rusage)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    read, write = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(read)
        os.execve(argv[0], argv, env)  # noqa: S606 - our own interpreter
    os.close(write)
    chunks = []
    while piece := os.read(read, 65536):
        chunks.append(piece)
    os.close(read)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    lines = b"".join(chunks).decode(errors="replace").strip().splitlines()
    return (lines[-1] if lines else f"exit {os.waitstatus_to_exitcode(status)}"), seconds, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.case or CASES:
            path = Path(tmp) / name
            path.write_bytes(CASES[name]())
            fetched, fetch_s, fetch_mb = _run([sys.executable, "-c", _FETCHER_CHILD, str(path)])
            fetched = json.loads(fetched)["outcome"] if fetched.startswith("{") else fetched
            scanned, scan_s, scan_mb = _run([sys.executable, "-m", "slack_dlp_tools.cli", "scan", str(path)])
            rows.append({"file": name, "disk_kb": path.stat().st_size // 1024, "fetcher": fetched,
                         "fetcher_s": round(fetch_s, 2), "fetcher_peak_mb": round(fetch_mb),
                         "scan": scanned[:60], "scan_s": round(scan_s, 2), "scan_peak_mb": round(scan_mb)})  # fmt: skip
            path.unlink()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = ("file", "on disk", "fetcher (extract + chunk)", "s", "peak MB", "scan s", "peak MB")
    print(f"{head[0]:18} {head[1]:>9}  {head[2]:32} {head[3]:>6} {head[4]:>8}  {head[5]:>7} {head[6]:>8}")
    for r in rows:
        print(f"{r['file']:18} {r['disk_kb']:>6} KB  {r['fetcher']:32} {r['fetcher_s']:>6} {r['fetcher_peak_mb']:>8}  "
              f"{r['scan_s']:>7} {r['scan_peak_mb']:>8}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
