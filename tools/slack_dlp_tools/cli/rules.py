"""``slack-dlp rules check FILE``: what a rules file (slack-dlp or gitleaks) contributes, before deploying it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_ERROR, UsageError


def register(commands: Any) -> None:
    rules = commands.add_parser("rules", help="check custom rules files (slack-dlp or gitleaks TOML/JSON)")
    actions = rules.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="load a rules file and report what loads, what is skipped and why")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--strict", action="store_true", help="exit 2 when a rule is skipped or a warning is given")
    check.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slack_dlp.detect.rules import RulesError, load_rules_report

    reports: list[dict[str, Any]] = []
    for name in args.files:
        try:
            detectors, report = load_rules_report(name)
        except RulesError as error:
            raise UsageError(str(error)) from None
        reports.append(
            {
                "file": report.source,
                "format": report.dialect,
                "loaded": [
                    {
                        "id": d.id,
                        "confidence": d.confidence.value,
                        "files_only": d.path is not None,
                        "allowlists": len(d.allowlists),
                    }
                    for d in detectors
                ],
                "skipped": [{"rule": rule, "reason": reason} for rule, reason in report.skipped],
                "warnings": report.warnings,
            }
        )
    if args.json:
        json.dump({"reports": reports}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for entry in reports:
            _print(entry)
    troubled = any(r["skipped"] or r["warnings"] for r in reports)
    return EXIT_ERROR if args.strict and troubled else EXIT_CLEAN


def _print(report: dict[str, Any]) -> None:
    loaded = report["loaded"]
    files_only = sum(1 for d in loaded if d["files_only"])
    levels = {level: sum(1 for d in loaded if d["confidence"] == level) for level in ("high", "medium", "low")}
    print(f"{report['file']} ({report['format']}): {len(loaded)} rule(s) loaded")
    print("  confidence: " + ", ".join(f"{n} {level}" for level, n in levels.items() if n))
    if files_only:
        print(f"  {files_only} apply only to files whose name matches their path (never to messages)")
    print("  built-in detectors stay on beside these rules")
    for skipped in report["skipped"]:
        print(f"  skipped {skipped['rule']}: {skipped['reason']}")
    for warning in report["warnings"]:
        print(f"  warning: {warning}")
