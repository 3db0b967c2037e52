from __future__ import annotations

import pytest

from slack_dlp.dlp.ratelimit import InProcessRateLimiter, Quota
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
