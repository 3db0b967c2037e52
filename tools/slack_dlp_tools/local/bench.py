"""``slack-dlp bench``: drain a backlog through the real inspector code path, in W OS processes.

Each worker is a separate process, like a concurrent Lambda container: it builds the real
``Inspector`` with the real ``GoogleDlpClient`` and the real ``DynamoDbRateLimiter`` (sharing only
a DynamoDB table, in MiniStack), takes batches of up to 100 messages from a shared queue (the
inspect queue), and puts every failed message back (SQS redelivery). The DLP API is the given
endpoint, or the local emulator (its own process) enforcing the quota for real. The emulator may
be stricter than the pipeline is configured for (``api_requests_per_second``, ``api_max_rows``), as
a real API's quota can be: failed messages then come back after the API's Retry-After, as SQS
redelivers them, and a message that failed ``max_receive_count`` times goes to the dead-letter queue.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing
import os
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
    #: The emulator's own limits, when the API is stricter than the pipeline's settings (default: the same).
    api_requests_per_second: int | None = None
    api_max_rows: int | None = None
    #: Deliveries of a message before SQS moves it to the dead-letter queue (the stack's max_receive_count).
    max_receive_count: int = 10

    @property
    def api_limits(self) -> tuple[int, int]:
        """Requests per second and rows per request the API enforces."""
        return (
            self.api_requests_per_second or self.requests_per_second,
            self.api_max_rows or self.rows_per_request,
        )


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
    # ... and so would the metric lines Powertools prints (FindingsByDetector), which would also make
    # --json output unparseable: a worker has nothing to say on stdout.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process

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
        # As the handler does: a Retry-After keeps the failed messages invisible that long.
        delays = Inspector.retry_delays(inspected, [message_id for message_id, _ in failed])
        done.put(("batch", completed, [(m, b, delays.get(m, 0.0)) for m, b in failed], rejected))
    done.put(("requests", requests, [sent - slot for (sent, _), slot in zip(requests, lateness, strict=False)], 0))


class _InspectQueue:
    """What SQS does with the results of each delivery: a failed message becomes visible again after
    its Retry-After (else at once) and goes to the dead-letter queue after ``max_receive_count``
    failed deliveries."""

    def __init__(self, work: Any, max_receive_count: int) -> None:
        self._work = work
        self._max_receive_count = max_receive_count
        self._invisible: list[tuple[float, str, str]] = []  # (visible again at, message id, body)
        self.completions: Counter[str] = Counter()
        self.failed_deliveries: Counter[str] = Counter()
        self.dead_lettered: set[str] = set()
        self.finish_times: list[float] = []

    def outstanding(self, total: int) -> bool:
        return len(self.completions) + len(self.dead_lettered) < total

    def redeliver_due(self) -> None:
        due = []
        while self._invisible and self._invisible[0][0] <= time.time():
            _, message_id, body = heapq.heappop(self._invisible)
            due.append((message_id, body))
        for first in range(0, len(due), BATCH):
            self._work.put(due[first : first + BATCH])

    def settle(self, completed: list[tuple[str, float]], failed: list[tuple[str, str, float]]) -> None:
        for message_id, at in completed:
            self.completions[message_id] += 1
            self.finish_times.append(at)
        for message_id, body, delay in failed:
            self.failed_deliveries[message_id] += 1
            if self.failed_deliveries[message_id] >= self._max_receive_count:
                self.dead_lettered.add(message_id)  # the next receive would move it to the DLQ
            else:
                heapq.heappush(self._invisible, (time.time() + delay, message_id, body))


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
                    *config.api_limits,
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
        inspect_queue = _InspectQueue(work, config.max_receive_count)
        rejected = 0
        deadline = time.monotonic() + config.timeout
        while inspect_queue.outstanding(len(bodies)) and time.monotonic() < deadline:
            inspect_queue.redeliver_due()
            try:
                _, completed, failed, rejected_now = done.get(timeout=0.05)
            except queue.Empty:
                continue
            inspect_queue.settle(completed, failed)
            rejected += rejected_now
        finished = max(inspect_queue.finish_times, default=time.time())
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
    completions, failed_deliveries = inspect_queue.completions, inspect_queue.failed_deliveries
    pending = len(bodies) - len(completions) - len(inspect_queue.dead_lettered)
    api_rps, api_rows = config.api_limits
    limit = min(config.requests_per_second, api_rps) * min(config.rows_per_request, api_rows)
    return {
        "items": len(bodies),
        "workers": config.workers,
        "quota_requests_per_second": config.requests_per_second,
        "rows_per_request": config.rows_per_request,
        "api_requests_per_second": config.api_limits[0],
        "api_max_rows": config.api_limits[1],
        "api_latency_seconds": config.api_latency,
        "seconds": round(seconds, 2),
        "items_per_second": round(len(completions) / seconds, 1),
        # Of what both sides allow: the pipeline's settings and the API's own limits.
        "limit_items_per_second": limit,
        "quota_utilization": round(len(completions) / seconds / limit, 3),
        "requests": len(requests),
        "mean_rows_per_request": round(sum(r for _, r in requests) / len(requests), 1) if requests else 0,
        "rejected": api_stats.get("rejected", rejected),
        "failed_deliveries": sum(failed_deliveries.values()),
        "most_deliveries_of_one_message": max(failed_deliveries.values(), default=0) + 1,
        "dead_lettered": len(inspect_queue.dead_lettered),
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
