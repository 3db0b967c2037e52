"""``slack-dlp scan``: inspect files or stdin locally with the built-in engine."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, islice, repeat
from pathlib import Path
from typing import Any, TextIO, cast

from slack_dlp.config import Settings
from slack_dlp.model import Finding
from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_ERROR, EXIT_FOUND, UsageError, finding_row

#: Local scans need stable fingerprints but no secrecy: deployed stacks use a generated key.
LOCAL_FINGERPRINT_KEY = b"slack-dlp-local-fingerprint-key"


def register(commands: Any) -> None:
    scan = commands.add_parser("scan", help="inspect a file or stdin with the built-in engine")
    scan.add_argument(
        "file",
        nargs="*",
        help="files or directories to scan (text, PDF, DOCX, XLSX, PPTX, ODF, ZIP, tar, gzip: read as the fetcher "
        "reads them); '-' or nothing reads stdin",
    )
    scan.add_argument("--json", action="store_true", help="print findings as JSON")
    scan.add_argument("--jsonl", metavar="FILE", help='read lines {"id", "text"}; write one result line each')
    add_engine_arguments(scan)
    scan.set_defaults(func=run)


def add_engine_arguments(parser: Any) -> None:
    """``--exit-zero`` and ``--rules``: what every local scan accepts."""
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when something is found")
    parser.add_argument(
        "--rules", action="append", metavar="FILE", help="add detectors from a slack-dlp or gitleaks TOML file"
    )


def build_local_engine(rules: Sequence[str] | None) -> Any:
    from slack_dlp.detect.rules import RulesError
    from slack_dlp.detection import build_engine

    key = os.environ.get("SLACK_DLP_FINGERPRINT_KEY", "").encode() or LOCAL_FINGERPRINT_KEY
    try:
        detectors = _load_rules_saying_what_they_skip(rules or ())
        return build_engine(Settings.from_env(), key, extra_detectors=detectors, rules_base=Path.cwd())
    except (RulesError, ValueError) as error:
        raise UsageError(str(error)) from None


def _load_rules_saying_what_they_skip(rules: Sequence[str]) -> list[Any]:
    """Each rules file loaded once; rules skipped and warnings (e.g. gitleaks' [extend] useDefault)
    go to stderr."""
    from slack_dlp.detect.rules import load_rules_report

    detectors: list[Any] = []
    for name in rules:
        loaded, report = load_rules_report(name)
        for rule, reason in report.skipped:
            print(f"slack-dlp scan: {name}: skipped {rule}: {reason}", file=sys.stderr)
        for warning in report.warnings:
            print(f"slack-dlp scan: {name}: warning: {warning}", file=sys.stderr)
        detectors.extend(loaded)
    return detectors


#: Lines scanned together: one prefilter pass and one locator pass per detector for the whole batch.
JSONL_BATCH_LINES = 200


def _scan_jsonl(engine: Any, source: TextIO, out: TextIO, batch_lines: int = JSONL_BATCH_LINES) -> tuple[int, int]:
    """One output line per input line ``{"id", "text"}``; returns (items, items with findings).

    Lines are parsed and scanned in batches (the whole batch is one JSON parse and one
    ``scan_many``); output stays in input order, one line per record.
    """
    items = found = read = 0
    while lines := list(islice(source, batch_lines)):
        first, read = read + 1, read + len(lines)
        kept = [line for line in lines if not line.isspace()]  # a file's lines are never "" (EOF)
        if kept:
            records, texts = _parse_records(kept, lines, first)
            results = engine.scan_many(texts)
            out.write(_result_lines(records, results))
            items += len(records)
            found += len(results) - results.count([])
    return items, found


def _parse_records(kept: list[str], lines: list[str], first: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a batch's non-blank lines and their texts, in one JSON parse; on any problem,
    the first bad line (``lines`` is the batch as read, its first line numbered ``first``) is named."""
    try:
        records = json.loads("[" + ",".join(kept) + "]")
        if len(records) == len(kept) and set(map(type, records)) == {dict}:  # json.loads makes plain dicts
            texts: list[Any] = list(map(dict.get, records, repeat("text")))
            if set(map(type, texts)) == {str}:
                return records, texts
    except ValueError:
        pass
    for number, line in enumerate(lines, start=first):
        if line.isspace():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record["text"], str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"line {number} is not a JSON object with a string 'text'") from None
    raise UsageError("the input is not one JSON object per line")  # e.g. a line holding two objects


_NO_FINDINGS = '{"id": %s, "findings": []}'


def _result_lines(records: list[dict[str, Any]], results: list[list[Finding]]) -> str:
    """One line ``{"id", "findings"}`` per record, each as ``json.dumps`` writes it, and a final newline.
    Most records have no finding: their lines are made in C calls, not one Python step each."""
    ids = list(map(dict.get, records, repeat("id")))
    encoded = list(map(_encoder(set(map(type, ids))), ids))
    lines = list(map(_NO_FINDINGS.__mod__, encoded))
    for index in compress(range(len(results)), results):
        rows = ", ".join(map(_finding_json, results[index]))
        lines[index] = f'{{"id": {encoded[index]}, "findings": [{rows}]}}'
    return "\n".join(lines) + "\n"


# -- JSON out: the bytes ``json.dumps`` writes, without its per-call cost --------------------------
# ``json.dumps`` builds an encoder per call (a few µs: a quarter of ``scan --jsonl``'s time went to
# it), and with ``indent`` it is pure Python and writes piece by piece (a 20 MB file's 33,000
# findings: 940,000 writes). Findings are flat objects of strings and integers: each string is
# encoded by the C function ``json.dumps`` itself uses, anything else by ``json.dumps``.

_json_string = json.encoder.encode_basestring_ascii


def _json_value(value: Any) -> str:
    """``json.dumps(value)``."""
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if kind is int:
        return int.__repr__(value)
    return json.dumps(value)


def _encoder(kinds: set[type]) -> Callable[[Any], str]:
    """``json.dumps`` for a column of values of ``kinds``: one C function when they are all of one kind."""
    return _json_string if kinds == {str} else int.__repr__ if kinds == {int} else _json_value


def _json_object(row: dict[str, Any]) -> str:
    """``json.dumps(row)`` for a flat object."""
    return "{" + ", ".join(f"{_json_string(key)}: {_json_value(value)}" for key, value in row.items()) + "}"


def _finding_json(finding: Finding) -> str:
    return _json_object(finding_row(finding))


def _json_document(sections: dict[str, list[dict[str, Any]]]) -> str:
    """``json.dumps(sections, indent=2)`` for lists of flat objects of strings and integers (anything
    else goes to ``json.dumps`` itself), as one string: one write."""
    parts = []
    for key, rows in sections.items():
        objects = _indented_objects(rows)
        if objects is None:
            return json.dumps(sections, indent=2)
        parts.append(f"  {_json_string(key)}: [\n{objects}\n  ]" if rows else f"  {_json_string(key)}: []")
    return "{\n" + ",\n".join(parts) + "\n}" if parts else "{}"


def _indented_objects(rows: list[dict[str, Any]]) -> str | None:
    """Flat objects of strings and integers as ``json.dumps(indent=2)`` writes them two levels deep;
    None for anything else. Objects with the same keys (a scan's findings) are encoded a column at a
    time, in C calls: a 20 MB file's 33,000 findings took a fifth of a second one value at a time."""
    if not rows:
        return ""
    keys = list(rows[0])
    if any(list(row) != keys for row in rows):  # keys differ: one object at a time
        objects = [_indented_objects([row]) for row in rows]
        return None if None in objects else ",\n".join(cast(list[str], objects))
    if not keys:
        return ",\n".join("    {}" for _ in rows)
    columns = []
    for key in keys:
        column = [row[key] for row in rows]
        kinds = set(map(type, column))
        if not kinds <= {str, int}:
            return None
        columns.append(map(_encoder(kinds), column))
    template = "    {\n" + ",\n".join(f"      {_json_string(k).replace('%', '%%')}: %s" for k in keys) + "\n    }"
    return ",\n".join(map(template.__mod__, zip(*columns, strict=True)))


def _print_table(findings: Sequence[Finding], text: str, out: TextIO) -> None:
    if not findings:
        out.write("No sensitive data found.\n")
        return
    from slack_dlp.files.where import LineCounter

    lines = LineCounter(text)  # findings come in order: one pass over the text for all of them
    rows = [("LINE:COL", "TYPE", "CATEGORY", "CONFIDENCE", "MASKED")]
    for f in findings:
        line, column = lines.newlines_before(f.start) + 1, lines.column(f.start)
        rows.append((f"{line}:{column}", f.detector, f.category.value, f.confidence.value, f.masked))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"{len(findings)} finding(s).\n")


def run(args: argparse.Namespace) -> int:
    engine = build_local_engine(args.rules)
    if args.jsonl:
        with sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8") as source:
            _, found = _scan_jsonl(engine, source, sys.stdout)
        return EXIT_FOUND if found and not args.exit_zero else EXIT_CLEAN
    if args.file and args.file != ["-"]:
        return _scan_files(engine, args.file, as_json=args.json, exit_zero=args.exit_zero)
    text = sys.stdin.read()
    findings = engine.scan_large(text)
    if args.json:
        sys.stdout.write(_json_document({"findings": [finding_row(f) for f in findings]}) + "\n")
    else:
        _print_table(findings, text, sys.stdout)
    return EXIT_FOUND if findings and not args.exit_zero else EXIT_CLEAN


# -- files, read like the fetcher reads them -------------------------------------------------------


@dataclass(frozen=True)
class FileFinding:
    file: str
    where: str
    finding: Finding


#: Folders a directory scan does not enter: version control's own store (its objects are compressed).
SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn"})
#: Refusals that only say a file found by walking a directory is not text: counted, not errors.
NOT_TEXT = ("unsupported_type", "binary")


def _files(paths: Sequence[str]) -> Iterator[tuple[Path, bool]]:
    """Each path, and each file under a directory (sorted, symbolic links not followed), with
    whether it was named on the command line."""
    for name in paths:
        path = Path(name)
        if not path.is_dir():
            yield path, True
            continue
        for root, directories, files in os.walk(path):
            directories[:] = sorted(d for d in directories if d not in SKIPPED_DIRECTORIES)
            for file in sorted(files):
                if not (Path(root) / file).is_symlink():
                    yield Path(root) / file, False


def _scan_files(engine: Any, paths: Sequence[str], *, as_json: bool, exit_zero: bool) -> int:
    """Each file (and each file under a directory) through the fetcher's extractors and caps;
    findings with where they are, refusals with why. Exit 1 when something is found, else 2 when a
    file could not be read, else 0; under a directory, files that are not text are only counted."""
    from slack_dlp.files.extract import Limits

    limits = Limits(max_file_bytes=Settings.from_env().max_file_mb * 1024 * 1024)
    found: list[FileFinding] = []
    refused: list[dict[str, str]] = []
    scanned = not_text = 0
    walked = False  # a directory was named: its files that are not text are counted on stderr
    for path, named in _files(paths):
        scanned += 1
        walked = walked or not named
        outcome = scan_file(engine, path, limits)
        if isinstance(outcome, Refusal):
            if not named and outcome.reason in NOT_TEXT:
                not_text += 1
                continue
            refused.append({"file": str(path), "reason": outcome.reason, "detail": outcome.detail})
            detail = f" ({outcome.detail})" if outcome.detail else ""
            print(f"slack-dlp scan: {path}: not inspected: {outcome.reason}{detail}", file=sys.stderr)
        else:
            found.extend(outcome)
    if walked:
        print(f"slack-dlp scan: {scanned} file(s), {not_text} not text", file=sys.stderr)
    if as_json:
        rows = [{"file": f.file, "where": f.where, **finding_row(f.finding)} for f in found]
        sys.stdout.write(_json_document({"findings": rows, "not_inspected": refused}) + "\n")
    else:
        _print_file_table(found, several=scanned > 1, out=sys.stdout)
    if found and not exit_zero:
        return EXIT_FOUND
    return EXIT_ERROR if refused else EXIT_CLEAN


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str = ""


def scan_file(engine: Any, path: Path, limits: Any) -> list[FileFinding] | Refusal:
    """One file: its findings (each once, with its location), or why it was not inspected."""
    from slack_dlp.files.extract import Skipped, extract
    from slack_dlp.files.where import Locator

    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            return Refusal("too_large", f"{size} bytes")
        data = path.read_bytes()
    except OSError as error:
        return Refusal("unreadable", error.strerror or type(error).__name__)
    extracted = extract(path.name, data, limits=limits)
    if isinstance(extracted, Skipped):
        return Refusal(extracted.reason, extracted.detail)
    if extracted.truncated:  # as the fetcher: the rest of a very long file is not read
        print(
            f"slack-dlp scan: {path}: only the first {limits.max_text_chars:,} characters inspected (the fetcher's "
            "limit)",
            file=sys.stderr,
        )
    found: list[FileFinding] = []
    for segment in extracted.segments:
        # In overlapping pieces for long texts; rules with a `path` (gitleaks' main.tf rules) see the
        # name, and inside an archive the member's after a "!" (bundle.zip!infra/main.tf), as the fetcher.
        file_path = f"{path}!{segment.member}" if segment.member else str(path)
        locate = Locator(segment.where, segment.text)  # findings come in order: lines counted once
        for finding in engine.scan_large(segment.text, path=file_path):
            where = locate(finding.start)
            if where.startswith("line "):  # plain text: line:column, as before
                where = f"{where.removeprefix('line ')}:{locate.lines.column(finding.start)}"
            found.append(FileFinding(str(path), where, finding))
    return found


def _print_file_table(found: Sequence[FileFinding], *, several: bool, out: TextIO) -> None:
    if not found:
        out.write("No sensitive data found.\n")
        return
    header = ("FILE",) if several else ()
    rows = [(*header, "WHERE", "TYPE", "CATEGORY", "CONFIDENCE", "MASKED")]
    for item in found:
        f = item.finding
        rows.append(((item.file,) if several else ()) + (item.where, f.detector, f.category.value,
                                                          f.confidence.value, f.masked))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"{len(found)} finding(s).\n")
