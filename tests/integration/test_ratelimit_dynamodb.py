"""The DynamoDB limiter: in-process against moto, and across OS processes against MiniStack."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from slack_dlp.dlp.ratelimit import DynamoDbRateLimiter, Quota
from slack_dlp_tools.local.dlp_emulator import DlpEmulator, max_in_window
from slack_dlp_tools.local.ministack import MiniStack, aws_client, create_rate_limit_table
from tests.fakes import FakeClock


def test_concurrent_containers_never_get_the_same_room(aws: None) -> None:
    # GIVEN two limiters (two Lambda containers) on one table, one clock
    dynamodb = boto3.client("dynamodb")
    create_rate_limit_table(dynamodb, "limits")
    clock = FakeClock(5_000.0)
    a, b = (DynamoDbRateLimiter(dynamodb, "limits", Quota(5), clock=clock, sleep=clock.sleep) for _ in range(2))
    # WHEN they take turns acquiring under a backlog
    sends = []
    for limiter in [a, b] * 30:
        limiter.acquire()
        sends.append(clock.now)
    # THEN no window of one second ever holds more than five
    assert max_in_window(sends, 1.0) == 5


def test_a_lost_race_rereads_and_retries(aws: None) -> None:
    dynamodb = boto3.client("dynamodb")
    create_rate_limit_table(dynamodb, "limits")
    clock = FakeClock(5_000.0)
    winner = DynamoDbRateLimiter(dynamodb, "limits", Quota(2), clock=clock, sleep=clock.sleep)
    loser = DynamoDbRateLimiter(dynamodb, "limits", Quota(2), clock=clock, sleep=clock.sleep)
    stale = loser._read()  # the loser reads, then the winner sends twice
    first = clock.now
    winner.acquire()
    winner.acquire()
    real_read = loser._read
    loser._read = lambda: stale  # type: ignore[method-assign]
    try:
        loser.acquire()  # its write conflicts; it must learn of both sends from the failed condition
    finally:
        loser._read = real_read  # type: ignore[method-assign]
    assert clock.now >= first + 1.0 + Quota(2).margin_seconds


def test_a_refusal_one_container_sees_slows_every_container(aws: None) -> None:
    # GIVEN two containers limited to 10 requests/s on one table, and the API refusing a request of each
    dynamodb = boto3.client("dynamodb")
    create_rate_limit_table(dynamodb, "limits")
    clock = FakeClock(5_000.0)
    a, b = (DynamoDbRateLimiter(dynamodb, "limits", Quota(10), clock=clock, sleep=clock.sleep) for _ in range(2))
    a.acquire()
    b.acquire()
    a.throttled()  # alone, jitter
    b.throttled()  # a second within a window: the API allows less
    a.throttled()  # a's request predates the cut: no second cut
    # WHEN both send a backlog for ten seconds
    sends = []
    for limiter in [a, b] * 40:
        limiter.acquire()
        sends.append(clock.now)
    # THEN together they keep to the cut rate, 7 in any second, and a later write kept the cut
    assert max_in_window(sends, 1.0) == 7
    assert b._read().pace.rate == 7


def _worker(endpoint: str, dlp_endpoint: str, quota: int, count: int, results: Any) -> None:
    from slack_dlp.detect.engine import Fingerprinter
    from slack_dlp.dlp.google import GoogleDlpClient, GoogleDlpConfig

    # A wide margin: this machine also runs MiniStack, the emulator and six processes on two cores, and
    # a process descheduled between reserving its slot and sending must not land in the next second.
    limiter = DynamoDbRateLimiter(aws_client("dynamodb", endpoint), "limits", Quota(quota, margin_seconds=0.4))
    client = GoogleDlpClient(
        GoogleDlpConfig(project="acme", endpoint=dlp_endpoint),
        fingerprinter=Fingerprinter(b"process-test-fingerprint-key-000"),
        limiter=limiter,
    )
    client.warm_up()
    from slack_dlp.dlp.base import DlpError

    failed, slots = 0, []
    for i in range(count):
        failed += isinstance(client.inspect([f"message {i}"])[0], DlpError)
        slots.append(limiter.last_slot)
    results.put((failed, slots))


@pytest.fixture(scope="module")
def ministack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniStack]:
    with MiniStack(tmp_path_factory.mktemp("ministack")) as stack:
        yield stack


def test_independent_processes_sharing_the_limiter_never_exceed_the_quota(ministack: MiniStack) -> None:
    # GIVEN a strict API (5 requests in any second) and 6 OS processes sharing the DynamoDB limiter
    create_rate_limit_table(ministack.client("dynamodb"), "limits")
    quota, workers, each = 5, 6, 6
    with DlpEmulator(requests_per_second=quota) as api:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        processes = [
            context.Process(target=_worker, args=(ministack.endpoint, api.endpoint, quota, each, results))
            for _ in range(workers)
        ]
        started = time.monotonic()
        for process in processes:
            process.start()
        reports = [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        elapsed = time.monotonic() - started
        stats = api.state.stats()
    # THEN the slots the processes reserved never put more than the quota in any second (exact),
    slots = [slot for _, process_slots in reports for slot in process_slots]
    assert len(slots) == workers * each
    assert max_in_window(slots, 1.0) <= quota
    # AND the API accepted every request without a 429 and saw no second over the quota
    assert [failed for failed, _ in reports] == [0] * workers
    assert stats["rejected"] == 0
    assert stats["accepted"] == workers * each
    assert stats["max_in_any_second"] <= quota
    assert elapsed < workers * each / quota * 3 + 20
