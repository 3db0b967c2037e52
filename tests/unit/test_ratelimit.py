from __future__ import annotations

import pytest

from slack_dlp.dlp.ratelimit import InProcessRateLimiter, Pace, Quota
from slack_dlp_tools.local.dlp_emulator import max_in_window
from tests.fakes import FakeClock


def test_no_backlog_means_no_waiting() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(Quota(10), clock=clock, sleep=clock.sleep)
    waits = []
    for _ in range(10):
        waits.append(limiter.acquire())
        clock.now += 0.2  # two requests a second: far under the quota
    assert waits == [0.0] * 10


@pytest.mark.parametrize(("requests", "margin"), [(10, 0.04), (20, 0.04), (3, 0.0), (10, 0.1)])
def test_under_backlog_no_window_holds_more_than_n_and_the_quota_is_used(requests: int, margin: float) -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(Quota(requests, margin_seconds=margin), clock=clock, sleep=clock.sleep)
    sends = []
    for _ in range(requests * 20):
        limiter.acquire()
        sends.append(clock.now)
    assert max_in_window(sends, 1.0) == requests
    rate = (len(sends) - 1) / (sends[-1] - sends[0])
    assert rate >= requests / (1 + margin) * 0.95


def test_a_calendar_second_counter_would_have_let_2n_through() -> None:
    # The property the sliding window protects: N at the end of one second and N at the start
    # of the next are 2N within one second.
    assert max_in_window([0.95] * 10 + [1.01] * 10, 1.0) == 20


def test_quota_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="requests"):
        Quota(0)


def _drain(limiter: InProcessRateLimiter, clock: FakeClock, seconds: float, api_limit: int) -> tuple[list[float], int]:
    """Send under backlog for ``seconds`` to an API that allows ``api_limit`` per second; report each 429."""
    sends: list[float] = []
    refused = 0
    end = clock.now + seconds
    while clock.now < end:
        limiter.acquire()
        if max_in_window([*sends, clock.now], 1.0) > api_limit:
            refused += 1
            limiter.throttled()
        else:
            sends.append(clock.now)
    return sends, refused


def test_an_api_stricter_than_the_quota_slows_the_limiter_down_to_its_rate() -> None:
    # GIVEN a limiter configured for 10 requests/s, and an API that allows only 2
    clock = FakeClock()
    limiter = InProcessRateLimiter(Quota(10), clock=clock, sleep=clock.sleep)
    # WHEN a backlog is sent for two minutes, each refusal reported
    sends, refused = _drain(limiter, clock, 120, api_limit=2)
    # THEN after the first seconds the API refuses rarely (two refusals end each probe upwards, every 30 s)
    # and what it accepts is most of what it allows
    assert refused <= 8 + 2 * (120 // 30)
    assert len(sends) >= 0.9 * 2 * 120


def test_after_refusals_stop_the_rate_recovers_to_the_quota() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(Quota(10), clock=clock, sleep=clock.sleep)
    _drain(limiter, clock, 20, api_limit=2)
    # WHEN the API allows the full quota again for five minutes
    _drain(limiter, clock, 300, api_limit=10)
    sends, refused = _drain(limiter, clock, 10, api_limit=10)
    # THEN the limiter sends at the quota again, without refusals
    assert refused == 0
    assert len(sends) >= 0.9 * 10 * 10


def test_a_lone_refusal_is_jitter_and_cuts_nothing() -> None:
    quota = Quota(10)
    pace = Pace().refused(quota, reserved_at=1_000.0, slot=1_000.2, now=1_000.5)
    assert pace.allowed(quota, 1_000.5) == 10
    # another, two windows later, is still alone
    pace = pace.refused(quota, reserved_at=1_002.4, slot=1_002.5, now=1_002.6)
    assert pace.allowed(quota, 1_002.6) == 10


def test_refusals_of_requests_sent_before_a_cut_or_within_its_window_cut_once() -> None:
    # GIVEN a quota of 10 and two refusals within a window (an API that allows less)
    quota = Quota(10)
    pace = Pace().refused(quota, reserved_at=1_000.0, slot=1_000.2, now=1_000.5)
    pace = pace.refused(quota, reserved_at=1_000.1, slot=1_000.3, now=1_000.6)
    assert (pace.allowed(quota, 1_000.6), pace.cut_at) == (7, 1_000.6)
    # the other requests of the same burst, reserved before the cut, change nothing
    assert pace.refused(quota, reserved_at=1_000.4, slot=1_001.8, now=1_001.9) == pace
    # nor do those sent within a window of the cut, which still holds sends at the old rate
    assert pace.refused(quota, reserved_at=1_000.7, slot=1_001.3, now=1_001.4) == pace
    # requests reserved after it and sent a window later cut again, never below one request per window
    for _ in range(10):
        pace = pace.refused(quota, reserved_at=pace.cut_at + 0.1, slot=pace.cut_at + 1.1, now=pace.cut_at + 1.2)
        pace = pace.refused(quota, reserved_at=pace.cut_at + 0.1, slot=pace.cut_at + 1.2, now=pace.cut_at + 1.3)
    assert pace.rate == 1
    # and without refusals it grows back by one request per window every 30 s, up to the quota
    assert pace.allowed(quota, pace.cut_at + 95) == 4
    assert pace.allowed(quota, pace.cut_at + 3_600) == 10
