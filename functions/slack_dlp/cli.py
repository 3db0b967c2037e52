"""The ``slack-dlp`` command.

slack-dlp scan [FILE|-] [--json] [--jsonl FILE] [--exit-zero]   inspect text locally
slack-dlp local                                                 the stack in MiniStack (make run)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from slack_dlp.config import Settings
from slack_dlp.model import Finding

#: Local scans need stable fingerprints but no secrecy: deployed stacks use a generated key.
LOCAL_FINGERPRINT_KEY = b"slack-dlp-local-fingerprint-key"

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad input to a command; printed without a traceback, exit code 2."""


def _finding_row(finding: Finding) -> dict[str, Any]:
    return {
        "type": finding.detector,
        "category": finding.category.value,
        "start": finding.start,
        "end": finding.end,
        "confidence": finding.confidence.value,
        "masked": finding.masked,
    }


def _engine(args: argparse.Namespace) -> Any:
    from slack_dlp.detect.rules import RulesError
    from slack_dlp.wiring import build_engine

    key = os.environ.get("SLACK_DLP_FINGERPRINT_KEY", "").encode() or LOCAL_FINGERPRINT_KEY
    try:
        return build_engine(Settings.from_env(), key, extra_rules=args.rules or (), rules_base=Path.cwd())
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
        out.write(json.dumps({"id": record.get("id"), "findings": [_finding_row(f) for f in findings]}) + "\n")
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


def cmd_scan(args: argparse.Namespace) -> int:
    engine = _engine(args)
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
        json.dump({"findings": [_finding_row(f) for f in findings]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(findings, text, sys.stdout)
    return EXIT_FOUND if findings and not args.exit_zero else EXIT_CLEAN


def cmd_bench(args: argparse.Namespace) -> int:
    from slack_dlp.local.bench import BenchConfig, plot, print_report, run

    report = run(
        BenchConfig(
            items=args.items,
            workers=args.workers,
            requests_per_second=args.requests_per_second,
            rows_per_request=args.rows_per_request,
            api_latency=args.api_latency,
            margin_ms=args.margin_ms,
            dlp_endpoint=args.dlp_endpoint,
        )
    )
    if args.plot:
        plot(report, args.plot)
    print_report(report, args.json)
    return EXIT_CLEAN if report["lost"] == 0 else EXIT_FOUND


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip().lower())
    if not match:
        raise UsageError(f"--since takes a duration such as 30m, 12h or 7d, not {text!r}")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return int(match.group(1)) * unit


def cmd_findings(args: argparse.Namespace) -> int:
    import boto3

    from slack_dlp.triage import DynamoDbTriageStore, render_events

    seconds = parse_duration(args.since)
    session_args: dict[str, Any] = {"region_name": args.region} if args.region else {}
    if args.endpoint:
        session_args |= {"endpoint_url": args.endpoint}
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            session_args |= {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        session_args.setdefault("region_name", "us-east-1")
    cloudformation = boto3.client("cloudformation", **session_args)
    try:
        stack = cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0]
    except Exception as error:  # botocore errors: no stack, no credentials, no endpoint
        raise UsageError(f"cannot read stack {args.stack!r}: {type(error).__name__}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    table = outputs.get("TriageTableName")
    if not table:
        raise UsageError(f"stack {args.stack!r} has no TriageTableName output (deploy this version first)")
    store = DynamoDbTriageStore(boto3.client("dynamodb", **session_args), table, retention_days=0)
    events = store.since(seconds)
    if args.json:
        json.dump({"events": events}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_events(events) if events else f"No alerts or actions in the last {args.since}.")
    return EXIT_CLEAN


def cmd_local(args: argparse.Namespace) -> int:
    from slack_dlp.local.run import main as run_local

    return run_local([])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slack-dlp", description="Data loss prevention for Slack.")
    commands = parser.add_subparsers(dest="command", required=True)

    scan = commands.add_parser("scan", help="inspect a file or stdin with the built-in engine")
    scan.add_argument("file", nargs="?", help="file to scan; '-' or nothing reads stdin")
    scan.add_argument("--json", action="store_true", help="print findings as JSON")
    scan.add_argument("--jsonl", metavar="FILE", help='read lines {"id", "text"}; write one result line each')
    scan.add_argument("--exit-zero", action="store_true", help="exit 0 even when something is found")
    scan.add_argument(
        "--rules", action="append", metavar="FILE", help="add detectors from a slack-dlp or gitleaks TOML file"
    )
    scan.set_defaults(func=cmd_scan)

    bench = commands.add_parser("bench", help="drain a backlog through the inspector in W processes against a DLP API")
    bench.add_argument("--items", type=int, default=10_000)
    bench.add_argument("--workers", type=int, default=10, help="concurrent inspectors (OS processes)")
    bench.add_argument("--dlp-endpoint", help="a DLP v2 endpoint; default: a local emulator enforcing the quota")
    bench.add_argument("--requests-per-second", type=int, default=10, help="the quota (and the emulator's limit)")
    bench.add_argument("--rows-per-request", type=int, default=100)
    bench.add_argument("--api-latency", type=float, default=0.0, help="seconds the emulator takes per request")
    bench.add_argument("--margin-ms", type=int, default=40, help="the rate limiter's jitter margin")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--plot", metavar="FILE.png", help="requests/s and items/s over time against the quota")
    bench.set_defaults(func=cmd_bench)

    findings = commands.add_parser("findings", help="the audit trail: alerts and actions taken on them (masked)")
    findings.add_argument("--since", default="7d", help="how far back: 30m, 12h, 7d (default 7d)")
    findings.add_argument("--json", action="store_true")
    findings.add_argument("--stack", default="SlackDlp", help="CloudFormation stack name")
    findings.add_argument("--region")
    findings.add_argument("--endpoint", help="AWS endpoint, e.g. http://127.0.0.1:4566 for the make run stack")
    findings.set_defaults(func=cmd_findings)

    local = commands.add_parser("local", help="deploy the stack into MiniStack with a Slack stand-in (make run)")
    local.set_defaults(func=cmd_local)
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    args = build_parser().parse_args(None if argv is None else list(argv))
    try:
        return int(args.func(args))
    except (OSError, UsageError) as error:
        print(f"slack-dlp {args.command}: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
