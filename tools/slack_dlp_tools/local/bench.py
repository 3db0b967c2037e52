"""``slack-dlp bench``: drain a backlog through the real inspector code path, in W OS processes.

Each worker is a separate process, like a concurrent Lambda container: it builds the real
``Inspector`` with the real ``GoogleDlpClient`` and the real ``DynamoDbRateLimiter`` (sharing only
a DynamoDB table, in MiniStack), takes batches of up to 100 messages from a shared queue (the
inspect queue), and puts every failed message back (SQS redelivery). The DLP API is the given
endpoint, or the local emulator (its own process) enforcing the quota for real.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_dlp.model import InspectionItem, MessageRef
from slack_dlp_tools.chatter import chatter
from slack_dlp_tools.local import samples
from slack_dlp_tools.local.ministack import MiniStack, aws_client, create_rate_limit_table

TABLE = "bench-rate-limit"
BATCH = 100


@dataclass(frozen=True)
class BenchConfig:
    items: int = 10_000
    workers: int = 10
    requests_per_second: int = 10
    rows_per_request: int = 100
    api_latency: float = 0.0
    margin_ms: int = 40
    dlp_endpoint: str | None = None
    timeout: float = 600.0


def _messages(count: int) -> list[str]:
    rng = random.Random(17)  # noqa: S311 - benchmark data
    texts = chatter(count, seed=17)
    for index in range(0, count, 50):
        texts[index] += f" {samples.fake_github_pat(rng)}"
    bodies = []
    for index, text in enumerate(texts):
        ref = MessageRef(team_id="T0BENCH", channel_id="C0BENCH", ts=f"1700000000.{index:06d}", user_id="U0BENCH")
        bodies.append(InspectionItem(ref=ref, text=text).to_json())
    return bodies


def _emulator_process(rps: int, rows: int, latency: float, ready: Any, stop: Any, stats: Any) -> None:
    from slack_dlp_tools.local.dlp_emulator import DlpEmulator

    with DlpEmulator(requests_per_second=rps, max_rows=rows, latency=latency) as emulator:
        ready.put(emulator.endpoint)
        stop.wait()
        stats.put(emulator.state.stats())


def _worker(config: BenchConfig, aws_endpoint: str, dlp_endpoint: str, work: Any, done: Any) -> None:
    from slack_dlp.detect.engine import Fingerprinter
    from slack_dlp.dlp.google import GoogleDlpClient, GoogleDlpConfig
    from slack_dlp.dlp.ratelimit import DynamoDbRateLimiter, Quota
    from slack_dlp.inspect import Inspector
    from slack_dlp.observability import logger

    logger.setLevel("WARNING")  # a finding per 50 messages would drown the report

    class CountingPublisher:
        published = 0

        def publish(self, body: str) -> str:
            CountingPublisher.published += 1
            return str(CountingPublisher.published)

    requests: list[tuple[float, int]] = []
    lateness: list[float] = []
    limiter = DynamoDbRateLimiter(
        aws_client("dynamodb", aws_endpoint),
        TABLE,
        Quota(config.requests_per_second, margin_seconds=config.margin_ms / 1000),
    )
    client = GoogleDlpClient(
        GoogleDlpConfig(project="bench", endpoint=dlp_endpoint, max_items=config.rows_per_request),
        fingerprinter=Fingerprinter(b"bench-fingerprint-key-0000000000"),
        limiter=limiter,
        on_request=lambda rows, _: requests.append((time.time(), rows)),
    )
    acquire = limiter.acquire

    def timed_acquire() -> float:
        # How late the request leaves compared with its slot: the jitter the margin must absorb.
        waited = acquire()
        slot = time.time()
        lateness.append(slot)
        return waited

    limiter.acquire = timed_acquire  # type: ignore[method-assign]
    inspector = Inspector(client, CountingPublisher())
    limiter._read()  # connect to DynamoDB and the API now, as a warm container would have
    client.warm_up()
    done.put(("ready", [], 0, 0))
    while True:
        batch = work.get()
        if batch is None:
            break
        inspected = inspector.inspect(batch)
        completed, failed, rejected = [], [], 0
        for message_id, body in batch:
            try:
                inspector.complete(inspected, message_id)
                completed.append((message_id, time.time()))
            except Exception as error:  # any failure means SQS redelivers it
                failed.append((message_id, body))
                rejected += "429" in str(error)
        if failed:
            work.put(failed)  # redelivery
        done.put(("batch", completed, len(failed), rejected))
    done.put(("requests", requests, [sent - slot for (sent, _), slot in zip(requests, lateness, strict=False)], 0))


def run(config: BenchConfig) -> dict[str, Any]:
    bodies = _messages(config.items)
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder, MiniStack(Path(folder)) as ministack:
        create_rate_limit_table(ministack.client("dynamodb"), TABLE)
        emulator, stop, stats_queue = None, context.Event(), context.Queue()
        endpoint = config.dlp_endpoint
        if endpoint is None:
            ready = context.Queue()
            emulator = context.Process(
                target=_emulator_process,
                args=(
                    config.requests_per_second,
                    config.rows_per_request,
                    config.api_latency,
                    ready,
                    stop,
                    stats_queue,
                ),
            )
            emulator.start()
            endpoint = ready.get(timeout=60)
        work, done = context.Queue(), context.Queue()
        workers = [
            context.Process(target=_worker, args=(config, ministack.endpoint, endpoint, work, done))
            for _ in range(config.workers)
        ]
        for process in workers:
            process.start()
        for _ in workers:  # every worker imported and connected, as warm containers would be
            done.get(timeout=120)
        started = time.time()
        for first in range(0, len(bodies), BATCH):
            work.put([(str(first + i), body) for i, body in enumerate(bodies[first : first + BATCH])])
        completions: Counter[str] = Counter()
        finish_times: list[float] = []
        failures = rejected = 0
        deadline = time.monotonic() + config.timeout
        while len(completions) < len(bodies) and time.monotonic() < deadline:
            try:
                kind, completed, failed, rejected_now = done.get(timeout=5)
            except queue.Empty:
                continue
            for message_id, at in completed:
                completions[message_id] += 1
                finish_times.append(at)
            failures += failed
            rejected += rejected_now
        finished = max(finish_times) if finish_times else time.time()
        for _ in workers:
            work.put(None)
        requests: list[tuple[float, int]] = []
        late: list[float] = []
        remaining = len(workers)
        while remaining:
            kind, payload, delays, _ = done.get(timeout=60)
            if kind == "requests":
                requests.extend(payload)
                late.extend(delays)
                remaining -= 1
        for process in workers:
            process.join(timeout=30)
        api_stats: dict[str, Any] = {}
        if emulator is not None:
            stop.set()
            api_stats = stats_queue.get(timeout=30)
            emulator.join(timeout=30)
    seconds = max(finished - started, 1e-9)
    pending = len(bodies) - len(completions)
    return {
        "items": len(bodies),
        "workers": config.workers,
        "quota_requests_per_second": config.requests_per_second,
        "rows_per_request": config.rows_per_request,
        "api_latency_seconds": config.api_latency,
        "seconds": round(seconds, 2),
        "items_per_second": round(len(completions) / seconds, 1),
        "quota_utilization": round(
            len(completions) / seconds / (config.requests_per_second * config.rows_per_request), 3
        ),
        "requests": len(requests),
        "mean_rows_per_request": round(sum(r for _, r in requests) / len(requests), 1) if requests else 0,
        "rejected": api_stats.get("rejected", rejected),
        "failed_deliveries": failures,
        "lost": pending,
        "duplicates": sum(count - 1 for count in completions.values() if count > 1),
        "max_requests_in_any_second": api_stats.get("max_in_any_second"),
        "send_lateness_ms_max": round(max(late) * 1000, 1) if late else None,
        "timeline": sorted(requests),
        "rejected_after_seconds": [round(t - started, 3) for t in api_stats.get("rejections", [])],
        "api_arrivals": api_stats.get("arrivals", []),
        "started": started,
    }


def plot(report: dict[str, Any], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: .venv/bin/pip install matplotlib") from None
    started, timeline = report["started"], report["timeline"]
    seconds = int(report["seconds"]) + 1
    per_second = [0] * seconds
    rows = [0] * seconds
    for at, count in timeline:
        bucket = int(at - started)
        if 0 <= bucket < seconds:
            per_second[bucket] += 1
            rows[bucket] += count
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    top.step(range(seconds), per_second, where="post", label="requests/s")
    top.axhline(report["quota_requests_per_second"], color="red", linestyle="--", label="quota")
    top.set_ylabel("requests / s")
    top.legend()
    bottom.step(range(seconds), rows, where="post", label="items/s")
    bottom.axhline(report["quota_requests_per_second"] * report["rows_per_request"], color="red", linestyle="--")
    bottom.set_ylabel("items / s")
    bottom.set_xlabel("seconds")
    figure.suptitle(
        f"{report['items']} items, {report['workers']} workers: {report['items_per_second']} items/s, "
        f"{report['rejected']} rejected, {report['lost']} lost"
    )
    figure.savefig(path, dpi=100)


def print_report(report: dict[str, Any], as_json: bool) -> None:
    public = {k: v for k, v in report.items() if k not in ("timeline", "started", "api_arrivals")}
    if as_json:
        json.dump(public, sys.stdout)
        sys.stdout.write("\n")
        return
    for key, value in public.items():
        print(f"{key:28} {value}")
