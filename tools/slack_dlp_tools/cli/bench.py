"""``slack-dlp bench``: drain a backlog through the real inspector in W processes against a DLP API."""

from __future__ import annotations

import argparse
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_FOUND


def register(commands: Any) -> None:
    bench = commands.add_parser("bench", help="drain a backlog through the inspector in W processes against a DLP API")
    bench.add_argument("--items", type=int, default=10_000)
    bench.add_argument("--workers", type=int, default=10, help="concurrent inspectors (OS processes)")
    bench.add_argument("--dlp-endpoint", help="a DLP v2 endpoint; default: a local emulator enforcing the quota")
    bench.add_argument("--requests-per-second", type=int, default=10, help="the quota (and the emulator's limit)")
    bench.add_argument("--rows-per-request", type=int, default=100)
    bench.add_argument("--api-latency", type=float, default=0.0, help="seconds the emulator takes per request")
    bench.add_argument("--margin-ms", type=int, default=40, help="the rate limiter's jitter margin")
    bench.add_argument(
        "--api-requests-per-second",
        type=int,
        help="the emulator's limit when the API is stricter than the pipeline's quota (default: the quota)",
    )
    bench.add_argument("--api-max-rows", type=int, help="the emulator's rows per request (default: --rows-per-request)")
    bench.add_argument(
        "--max-receive-count", type=int, default=10, help="failed deliveries before a message goes to the DLQ"
    )
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--plot", metavar="FILE.png", help="requests/s and items/s over time against the quota")
    bench.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slack_dlp_tools.local.bench import BenchConfig, plot, print_report
    from slack_dlp_tools.local.bench import run as run_bench

    report = run_bench(
        BenchConfig(
            items=args.items,
            workers=args.workers,
            requests_per_second=args.requests_per_second,
            rows_per_request=args.rows_per_request,
            api_latency=args.api_latency,
            margin_ms=args.margin_ms,
            dlp_endpoint=args.dlp_endpoint,
            api_requests_per_second=args.api_requests_per_second,
            api_max_rows=args.api_max_rows,
            max_receive_count=args.max_receive_count,
        )
    )
    if args.plot:
        plot(report, args.plot)
    print_report(report, args.json)
    return EXIT_CLEAN if report["lost"] == 0 and report["dead_lettered"] == 0 else EXIT_FOUND
