"""Engine benchmark: realistic chatter with sparse planted secrets, scanned the way the inspector does.

    python -m slack_dlp_tools.bench_engine [--messages 50000] [--baseline-messages 3000] [--json]

Prints throughput (MB/s on one core), the time to inspect a batch of 100 messages (p50, p99),
recall on the planted values, and the same figures for detect-secrets on the same text when it is
installed. detect-secrets scans the same messages as one file with its default plugins and filters (its
per-batch time is the mean). The first 20% of batches warm the engine up (as a warm Lambda container is), and the
comparison is a ratio measured in one run, so a noisy machine skews both sides alike.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp_tools.chatter import chatter
from slack_dlp_tools.local import samples

BATCH = 100
PLANT_EVERY = 200

_PLANTS: tuple[tuple[str, Callable[[random.Random], str]], ...] = (
    ("aws-access-key-id", samples.fake_aws_access_key_id),
    ("github-pat", samples.fake_github_pat),
    ("slack-bot-token", samples.fake_slack_bot_token),
    ("private-key", samples.fake_private_key),
)


def corpus(messages: int, seed: int = 7) -> tuple[list[str], dict[int, str]]:
    """Chatter with a planted secret every PLANT_EVERY messages; returns texts and index -> value."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data
    texts = chatter(messages, seed=seed)
    planted: dict[int, str] = {}
    for index in range(PLANT_EVERY // 2, messages, PLANT_EVERY):
        _, make = _PLANTS[(index // PLANT_EVERY) % len(_PLANTS)]
        value = make(rng)
        texts[index] = f"{texts[index]} here you go: {value}"
        planted[index] = value
    return texts, planted


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_engine(texts: list[str], planted: dict[int, str]) -> dict[str, Any]:
    engine = DetectionEngine(fingerprinter=Fingerprinter(b"benchmark-fingerprint-key-000000"))
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    warm = max(1, len(batches) // 5)
    for batch in batches[:warm]:
        engine.scan_many(batch)
    timings: list[float] = []
    found: dict[int, int] = {}
    started = time.perf_counter()
    for number, batch in enumerate(batches[warm:], start=warm):
        t0 = time.perf_counter()
        results = engine.scan_many(batch)
        timings.append(time.perf_counter() - t0)
        for offset, findings in enumerate(results):
            if findings:
                found[number * BATCH + offset] = len(findings)
    elapsed = time.perf_counter() - started
    measured = range(warm * BATCH, len(texts))
    size = sum(len(texts[i].encode()) for i in measured)
    targets = [i for i in planted if i in measured]
    return {
        "messages": len(measured),
        "mean_message_bytes": round(size / len(measured), 1),
        "megabytes": round(size / 1e6, 3),
        "messages_per_second": round(len(measured) / elapsed),
        "seconds": round(elapsed, 3),
        "mb_per_second": round(size / 1e6 / elapsed, 2),
        "batch_ms_p50": round(statistics.median(timings) * 1000, 3),
        "batch_ms_p99": round(_percentile(timings, 0.99) * 1000, 3),
        "recall": round(sum(i in found for i in targets) / len(targets), 3) if targets else None,
        "messages_with_findings": len(found),
        "planted": len(targets),
    }


def bench_detect_secrets(texts: list[str], planted: dict[int, str]) -> dict[str, Any] | None:
    """detect-secrets' own file scan (its filters and entropy limits on) over the same messages."""
    try:
        from detect_secrets.core.secrets_collection import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    line_owner: list[int] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "messages.txt"
        with path.open("w", encoding="utf-8") as out:
            for index, text in enumerate(texts):
                lines = text.splitlines() or [""]
                out.write("\n".join(lines) + "\n")
                line_owner.extend([index] * len(lines))
        with default_settings():
            collection = SecretsCollection(root=folder)
            started = time.perf_counter()
            collection.scan_file(str(path))
            elapsed = time.perf_counter() - started
    found = {line_owner[secret.line_number - 1] for _, secret in collection}
    size = sum(len(t.encode()) for t in texts)
    targets = [i for i in planted if i < len(texts)]
    batch_ms = elapsed / max(1, len(texts) / BATCH) * 1000
    return {
        "messages": len(texts),
        "mean_message_bytes": round(size / len(texts), 1),
        "megabytes": round(size / 1e6, 3),
        "messages_per_second": round(len(texts) / elapsed),
        "seconds": round(elapsed, 3),
        "mb_per_second": round(size / 1e6 / elapsed, 3),
        "batch_ms_p50": round(batch_ms, 3),
        "batch_ms_p99": None,
        "recall": round(sum(i in found for i in targets) / len(targets), 3) if targets else None,
        "messages_with_findings": len(found),
        "planted": len(targets),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--baseline-messages", type=int, default=5_000, help="detect-secrets is slow; 0 skips it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    texts, planted = corpus(args.messages)
    ours = bench_engine(texts, planted)
    baseline = bench_detect_secrets(texts[: args.baseline_messages], planted) if args.baseline_messages else None
    report: dict[str, Any] = {"slack_dlp": ours, "detect_secrets": baseline}
    if baseline:
        report["speedup"] = round(ours["mb_per_second"] / baseline["mb_per_second"], 1)
    if args.json:
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(f"corpus: {ours['messages']} messages of {ours['mean_message_bytes']} bytes on average, "
          f"a planted secret in 1 of {PLANT_EVERY}")  # fmt: skip
    print(f"{'':16}{'MB/s':>8}{'msgs/s':>10}{'100-msg p50 ms':>16}{'p99 ms':>9}{'recall':>8}{'msgs flagged':>16}")
    for name, row in (("slack-dlp", ours), ("detect-secrets", baseline)):
        if row is None:
            print(f"{name:16}  (not installed)")
            continue
        cells = (row["mb_per_second"], row["messages_per_second"], row["batch_ms_p50"], row["batch_ms_p99"] or "-")
        flagged = f"{row['messages_with_findings']} of {row['messages']}"
        print(f"{name:16}{cells[0]:>8}{cells[1]:>10}{cells[2]:>16}{cells[3]!s:>9}{row['recall']!s:>8}{flagged:>16}")
    if baseline:
        print(f"speed-up: {report['speedup']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
