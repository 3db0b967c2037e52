"""``slack-dlp scan-export``: a Slack workspace export (ZIP) scanned offline, streaming, masked."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from slack_dlp.model import Finding
from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_FOUND, UsageError, finding_row
from slack_dlp_tools.cli.scan import add_engine_arguments, build_local_engine


def register(commands: Any) -> None:
    scan = commands.add_parser(
        "scan-export", help="scan a Slack workspace export ZIP offline (private channels and DMs included)"
    )
    scan.add_argument("export", help="the export ZIP (Slack admin: Settings → Import/Export Data)")
    scan.add_argument("--jsonl", metavar="OUT", help="write one line per text with findings ('-' for stdout)")
    scan.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_engine_arguments(scan)
    scan.set_defaults(func=run)


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    out.write(
        f"Scanned {summary['messages']:,} messages ({summary['texts']:,} texts, "
        f"{summary['text_bytes'] / 1e6:.1f} MB of text) in {summary['conversations']:,} conversations "
        f"in {summary['seconds']:.1f} s: {summary['megabytes_per_second']:.1f} MB/s.\n"
    )
    if not summary["findings"]:
        out.write("No sensitive data found.\n")
        return
    out.write(f"{summary['findings']:,} finding(s) in {summary['texts_with_findings']:,} text(s).\n")
    out.write("\nBy conversation:\n")
    for name, count in summary["by_conversation"].items():
        private = " (private)" if name in summary["private_conversations_with_findings"] else ""
        out.write(f"  {name}{private}: {count}\n")
    out.write("\nBy detector:\n")
    for detector, count in summary["by_detector"].items():
        out.write(f"  {detector}: {count}  e.g. {', '.join(summary['masked_examples'][detector])}\n")


def run(args: argparse.Namespace) -> int:
    from slack_dlp_tools.export import Export, ExportError, Unit, scan_export

    engine = build_local_engine(args.rules)
    tty = sys.stderr.isatty()
    jsonl: TextIO | None = None
    try:
        with Export(Path(args.export)) as export:
            total = export.compressed_bytes

            def progress(report: Any, read: int) -> None:
                if tty:
                    share = read / total if total else 1.0
                    sys.stderr.write(f"\r{share:6.1%} · {report.messages:,} messages · {report.findings:,} findings"
                                     f" · {report.megabytes_per_second:.1f} MB/s\033[K")  # fmt: skip

            def write(unit: Unit, findings: Sequence[Finding]) -> None:
                if jsonl is not None:
                    jsonl.write(json.dumps({**unit.location(), "findings": [finding_row(f) for f in findings]}) + "\n")

            if args.jsonl:
                jsonl = sys.stdout if args.jsonl == "-" else open(args.jsonl, "w", encoding="utf-8")  # noqa: SIM115
            report = scan_export(export, engine, on_result=write, on_progress=progress)
    except ExportError as error:
        raise UsageError(str(error)) from None
    finally:
        if jsonl is not None and jsonl is not sys.stdout:
            jsonl.close()
    if tty:
        sys.stderr.write("\n")
    summary = report.summary()
    out = sys.stderr if args.jsonl == "-" else sys.stdout
    if args.json:
        json.dump(summary, out, indent=2)
        out.write("\n")
    else:
        _print_summary(summary, out)
    return EXIT_FOUND if report.findings and not args.exit_zero else EXIT_CLEAN
