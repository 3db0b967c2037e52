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
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class RateLimiter(Protocol):
    def acquire(self) -> float:
        """Block until this caller may send one request; return the seconds it waited."""
        ...


class RateLimitUnavailable(Exception):
    """The shared limiter could not be reached; the caller must not send (fail and retry later)."""


@dataclass(frozen=True)
class Quota:
    requests: int
    window_seconds: float = 1.0
    #: Safety margin for arrival-time jitter; the sustained rate is requests / (window + margin).
    margin_seconds: float = 0.04

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window_seconds <= 0 or self.margin_seconds < 0:
            raise ValueError("quota needs requests >= 1, a positive window and a non-negative margin")

    @property
    def spacing(self) -> float:
        return self.window_seconds / self.requests

    def next_slot(self, recent: list[float], now: float) -> float:
        """When the next request may go, given the sorted send times of the most recent requests.

        Two rules: the sliding-window log (no N+1 sends within window + margin), and an even
        spacing of window/N between sends, so that a backlog flows as a steady stream instead of
        bursts of N that queue up at the API and widen the spread of arrival delays.
        """
        slot = now
        if recent:
            slot = max(slot, recent[-1] + self.spacing)
        if len(recent) >= self.requests:
            slot = max(slot, recent[-self.requests] + self.window_seconds + self.margin_seconds)
        return slot


class NoRateLimit:
    """For providers without a quota (the built-in engine)."""

    def acquire(self) -> float:
        return 0.0


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

    def acquire(self) -> float:
        now = self._clock()
        slot = self._quota.next_slot(self._recent, now)
        self._recent = [*self._recent, slot][-self._quota.requests :]
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)


class DynamoDbRateLimiter:
    """The sliding-window log in one DynamoDB item, shared by every inspector container.

    Item: ``{"id": <name>, "sends": [N most recent send times, epoch seconds], "version": n}``.
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

    def acquire(self) -> float:
        slot, now = self._reserve()
        self.last_slot = slot
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def _reserve(self) -> tuple[float, float]:
        from botocore.exceptions import BotoCoreError, ClientError

        state = self._read()
        for attempt in range(self._max_attempts):
            recent, version = state
            now = self._clock()
            slot = self._quota.next_slot(recent, now)
            sends = [*recent, slot][-self._quota.requests :]
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **self._key,
                        "sends": {"L": [{"N": repr(round(s, 6))} for s in sends]},
                        "version": {"N": str(version + 1)},
                    },
                    ConditionExpression="attribute_not_exists(id) OR version = :v",
                    ExpressionAttributeValues={":v": {"N": str(version)}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return slot, now
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

    def _read(self) -> tuple[list[float], int]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise RateLimitUnavailable(f"rate limiter: {type(error).__name__}") from None
        item = response.get("Item")
        return self._parse(item) if item else ([], 0)

    @staticmethod
    def _parse(item: dict[str, Any]) -> tuple[list[float], int]:
        sends = sorted(float(v["N"]) for v in item.get("sends", {}).get("L", []))
        return sends, int(item.get("version", {}).get("N", "0"))
