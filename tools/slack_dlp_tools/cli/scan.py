"""``slack-dlp scan``: inspect files or stdin locally with the built-in engine."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from slack_dlp.config import Settings
from slack_dlp.model import Finding
from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_FOUND, UsageError, finding_row

#: Local scans need stable fingerprints but no secrecy: deployed stacks use a generated key.
LOCAL_FINGERPRINT_KEY = b"slack-dlp-local-fingerprint-key"


def register(commands: Any) -> None:
    scan = commands.add_parser("scan", help="inspect a file or stdin with the built-in engine")
    scan.add_argument("file", nargs="?", help="file to scan; '-' or nothing reads stdin")
    scan.add_argument("--json", action="store_true", help="print findings as JSON")
    scan.add_argument("--jsonl", metavar="FILE", help='read lines {"id", "text"}; write one result line each')
    scan.add_argument("--exit-zero", action="store_true", help="exit 0 even when something is found")
    scan.add_argument(
        "--rules", action="append", metavar="FILE", help="add detectors from a slack-dlp or gitleaks TOML file"
    )
    scan.set_defaults(func=run)


def build_local_engine(rules: Sequence[str] | None) -> Any:
    from slack_dlp.detect.rules import RulesError
    from slack_dlp.wiring.inspector import build_engine

    key = os.environ.get("SLACK_DLP_FINGERPRINT_KEY", "").encode() or LOCAL_FINGERPRINT_KEY
    try:
        return build_engine(Settings.from_env(), key, extra_rules=rules or (), rules_base=Path.cwd())
    except (RulesError, ValueError) as error:
        raise UsageError(str(error)) from None


def _scan_jsonl(engine: Any, source: TextIO, out: TextIO) -> tuple[int, int]:
    """One output line per input line ``{"id", "text"}``; returns (items, items with findings)."""
    items = found = 0
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text = record["text"]
            if not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"line {number} is not a JSON object with a string 'text'") from None
        findings = engine.scan(text)
        items += 1
        found += bool(findings)
        out.write(json.dumps({"id": record.get("id"), "findings": [finding_row(f) for f in findings]}) + "\n")
    return items, found


def _print_table(findings: Sequence[Finding], text: str, out: TextIO) -> None:
    if not findings:
        out.write("No sensitive data found.\n")
        return
    rows = [("LINE:COL", "TYPE", "CATEGORY", "CONFIDENCE", "MASKED")]
    for f in findings:
        line = text.count("\n", 0, f.start) + 1
        column = f.start - (text.rfind("\n", 0, f.start) + 1) + 1
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
    if args.file in (None, "-"):
        text = sys.stdin.read()
    else:
        with open(args.file, encoding="utf-8", errors="replace") as source:
            text = source.read()
    findings = engine.scan(text)
    if args.json:
        json.dump({"findings": [finding_row(f) for f in findings]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(findings, text, sys.stdout)
    return EXIT_FOUND if findings and not args.exit_zero else EXIT_CLEAN
