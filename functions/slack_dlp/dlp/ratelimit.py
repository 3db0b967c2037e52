"""A global rate limit: at most N requests in ANY window of one second, across every inspector.

Concurrency is not a rate, and a per-calendar-second counter lets 2N through around a second
boundary. Instead the limiter keeps, in one DynamoDB item, the send times of the last N requests
(a sliding-window log). A caller may send at ``max(now, oldest + window + margin)``, where
``oldest`` is the N-th most recent send: then no window of one second ever holds N+1 sends, as
long as the spread of delays between a reservation and its arrival at the API (sleep overshoot,
network, clock skew between containers) stays below ``margin``. Sends are also spaced 1/N s
apart, so a backlog reaches the API as a steady stream rather than in bursts. The reservation is one
conditional write (optimistic concurrency on a version number), so concurrent Lambda containers
never hand out the same room twice. When the previous send is more than 1/N s old it returns at
once: no backlog, no waiting.

N is what the settings say the API allows; the API may allow less (a lower quota than configured,
a quota shared with another client). When it refuses a request (429), the caller reports it with
``throttled()``: every container then sends at ``backoff`` times the rate that was refused (never
below one request per window), and the rate creeps back by one request per window every
``recovery_seconds`` without a refusal (additive increase, multiplicative decrease). Only a refusal
of a request reserved after the last cut cuts again, so the burst of refusals one too-high rate
causes cuts once, and a lone refusal (arrival jitter) cuts nothing. An API that honours N never
refuses, and the limiter stays at N.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol


class RateLimiter(Protocol):
    def acquire(self) -> float:
        """Block until this caller may send one request; return the seconds it waited."""
        ...

    def throttled(self) -> None:
        """The API refused the request of the last ``acquire`` as over its quota: slow down."""
        ...


class RateLimitUnavailable(Exception):
    """The shared limiter could not be reached; the caller must not send (fail and retry later)."""


@dataclass(frozen=True)
class Quota:
    requests: int
    window_seconds: float = 1.0
    #: Safety margin for arrival-time jitter; the sustained rate is requests / (window + margin).
    margin_seconds: float = 0.04
    #: After a refusal (429) the rate drops to this share of the refused rate ...
    backoff: float = 0.7
    #: ... and grows back by one request per window every this many seconds without one.
    recovery_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window_seconds <= 0 or self.margin_seconds < 0:
            raise ValueError("quota needs requests >= 1, a positive window and a non-negative margin")
        if not 0 < self.backoff < 1 or self.recovery_seconds <= 0:
            raise ValueError("quota needs a backoff between 0 and 1 and a positive recovery time")

    def next_slot(self, recent: list[float], now: float, requests: int | None = None) -> float:
        """When the next request may go, given the sorted send times of the most recent requests
        and the requests per window allowed now (default: the quota's).

        Two rules: the sliding-window log (no N+1 sends within window + margin), and an even
        spacing of window/N between sends, so that a backlog flows as a steady stream instead of
        bursts of N that queue up at the API and widen the spread of arrival delays.
        """
        allowed = self.requests if requests is None else requests
        slot = now
        if recent:
            slot = max(slot, recent[-1] + self.window_seconds / allowed)
        if len(recent) >= allowed:
            slot = max(slot, recent[-allowed] + self.window_seconds + self.margin_seconds)
        return slot


@dataclass(frozen=True)
class Pace:
    """What the API has shown it accepts: the rate after the last cut and when that was, and the time
    of a refusal that has not cut (yet)."""

    rate: int = 0
    cut_at: float = 0.0
    refused_at: float = 0.0

    def allowed(self, quota: Quota, now: float) -> int:
        """Requests per window allowed now: the quota, or the cut rate plus what it has recovered."""
        if not self.cut_at:
            return quota.requests
        recovered = math.floor(max(0.0, now - self.cut_at) / quota.recovery_seconds)
        return min(quota.requests, self.rate + recovered)

    def refused(self, quota: Quota, reserved_at: float, slot: float, now: float) -> Pace:
        """A request reserved at ``reserved_at`` for ``slot`` was refused at ``now``.

        It counts only if it was reserved after the last cut and the whole window before its slot
        was paced at the cut rate: the other refusals of a burst, and those of the window in which
        sends at the old rate still count, were sent at a rate the last cut already corrected. And
        it cuts only if another counted refusal came within two windows: a lone one is arrival
        jitter beyond the margin (a container descheduled between its slot and its send), which a
        lower rate would not cure, while an API that allows less refuses again within a window."""
        if reserved_at <= self.cut_at or slot < self.cut_at + quota.window_seconds + quota.margin_seconds:
            return self
        if now - self.refused_at > 2 * quota.window_seconds:
            return replace(self, refused_at=now)
        return Pace(rate=max(1, math.floor(self.allowed(quota, now) * quota.backoff)), cut_at=now)


class NoRateLimit:
    """For providers without a quota (the built-in engine)."""

    def acquire(self) -> float:
        return 0.0

    def throttled(self) -> None:
        return None


class InProcessRateLimiter:
    """The same algorithm for one process (tests, local tools)."""

    def __init__(
        self,
        quota: Quota,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._quota = quota
        self._clock = clock
        self._sleep = sleep
        self._recent: list[float] = []
        self._pace = Pace()
        self._reservation = (0.0, 0.0)  # (reserved at, slot) of the last acquire

    def acquire(self) -> float:
        now = self._clock()
        slot = self._quota.next_slot(self._recent, now, self._pace.allowed(self._quota, now))
        self._recent = [*self._recent, slot][-self._quota.requests :]
        self._reservation = (now, slot)
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def throttled(self) -> None:
        self._pace = self._pace.refused(self._quota, *self._reservation, self._clock())


@dataclass(frozen=True)
class _Shared:
    """The limiter's item: the sorted send times of the last N requests, the pace, the version."""

    sends: list[float]
    pace: Pace
    version: int


class DynamoDbRateLimiter:
    """The sliding-window log in one DynamoDB item, shared by every inspector container.

    Item: ``{"id": <name>, "sends": [N most recent send times, epoch seconds], "version": n}``, and
    after a refusal ``"rate"`` and ``"cut_at"`` (see :class:`Pace`). Every change is one conditional
    write on the version, so concurrent containers never lose each other's sends or cuts.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        quota: Quota,
        *,
        name: str = "dlp-api",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 50,
    ) -> None:
        self._client = client
        self._table = table_name
        self._quota = quota
        self._key = {"id": {"S": f"ratelimit#{name}"}}
        self._clock = clock
        self._sleep = sleep
        self._max_attempts = max_attempts
        #: The send time reserved by the last acquire (for tests and benchmarks).
        self.last_slot = 0.0
        self._reserved_at = 0.0

    def acquire(self) -> float:
        reserved: list[float] = []

        def reserve(state: _Shared, now: float) -> _Shared:
            slot = self._quota.next_slot(state.sends, now, state.pace.allowed(self._quota, now))
            reserved[:] = [slot, now]
            return replace(state, sends=[*state.sends, slot][-self._quota.requests :])

        self._update(reserve)
        slot, now = reserved
        self.last_slot, self._reserved_at = slot, now
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def throttled(self) -> None:
        """Cut the shared pace (see :class:`Pace`); if the limiter cannot be reached, the refused items
        are retried all the same, and the next refusal cuts."""
        reserved_at, slot = self._reserved_at, self.last_slot

        def cut(state: _Shared, now: float) -> _Shared:
            return replace(state, pace=state.pace.refused(self._quota, reserved_at, slot, now))

        with contextlib.suppress(RateLimitUnavailable):
            self._update(cut)

    def _update(self, change: Callable[[_Shared, float], _Shared]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        state = self._read()
        for attempt in range(self._max_attempts):
            new = change(state, self._clock())
            if new == state:
                return
            pace = {
                "rate": {"N": str(new.pace.rate)},
                "cut_at": {"N": repr(round(new.pace.cut_at, 6))},
                "refused_at": {"N": repr(round(new.pace.refused_at, 6))},
            }
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **self._key,
                        "sends": {"L": [{"N": repr(round(s, 6))} for s in new.sends]},
                        "version": {"N": str(state.version + 1)},
                        **(pace if new.pace != Pace() else {}),
                    },
                    ConditionExpression="attribute_not_exists(id) OR version = :v",
                    ExpressionAttributeValues={":v": {"N": str(state.version)}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise RateLimitUnavailable(f"rate limiter: {error.response['Error'].get('Code')}") from None
                old = error.response.get("Item")
                state = self._parse(old) if old else self._read()
                # Another container won the race: back off a little so the contenders spread out.
                self._sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311 - jitter, not crypto
            except BotoCoreError as error:
                raise RateLimitUnavailable(f"rate limiter: {type(error).__name__}") from None
        raise RateLimitUnavailable("rate limiter: too much contention")

    def _read(self) -> _Shared:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise RateLimitUnavailable(f"rate limiter: {type(error).__name__}") from None
        item = response.get("Item")
        return self._parse(item) if item else _Shared([], Pace(), 0)

    @staticmethod
    def _parse(item: dict[str, Any]) -> _Shared:
        sends = sorted(float(v["N"]) for v in item.get("sends", {}).get("L", []))

        def number(name: str) -> float:
            return float(item.get(name, {}).get("N", "0"))

        pace = Pace(int(number("rate")), number("cut_at"), number("refused_at"))
        return _Shared(sends, pace, int(item.get("version", {}).get("N", "0")))
