"""Which results have been alerted, and in which Slack message, whatever group they were posted in.

The reporter posts a lone result as an alert and several as a digest, under an idempotency key of
the group. SQS may deliver the same results again in other groups (a redelivery after a failed
author notice, a second backfill), so the group's key alone cannot keep them from being posted
twice: each result is remembered by its own alert key, with the ``ts`` of the post that carried it,
as soon as the post succeeds, and marked followed-up once the audit record, the author notice and
the event-bus publication are done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_dlp.batches import batch_get, batch_write


@dataclass(frozen=True)
class AlertRecord:
    alert_ts: str
    followed_up: bool


class AlertLog(Protocol):
    def lookup(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        """The records of the keys among ``keys`` that were posted."""
        ...

    def mark(self, keys: Sequence[str], alert_ts: str, *, followed_up: bool) -> None: ...


class DynamoDbAlertLog:
    """Items ``reported#<alert key>`` in the dedup table, expiring with its TTL attribute: one
    BatchGetItem per group to look up, one BatchWriteItem per mark. An item written before the
    ``ts`` was recorded counts as followed up (it was only written once everything was done)."""

    def __init__(self, client: Any, table_name: str, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds
        self._clock = clock

    def lookup(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        found: dict[str, AlertRecord] = {}
        unique = sorted(set(keys))
        for first in range(0, len(unique), 100):
            keys_attr = [{"id": {"S": f"reported#{k}"}} for k in unique[first : first + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys_attr, "ConsistentRead": True}}
            for response in batch_get(self._client, request):
                now = self._clock()
                for item in response.get("Responses", {}).get(self._table, []):
                    if float(item.get("expiration", {}).get("N", "inf")) <= now:  # TTL deletes late
                        continue
                    followed_up = item.get("followed_up", {}).get("BOOL", "alert_ts" not in item)
                    record = AlertRecord(item.get("alert_ts", {}).get("S", ""), bool(followed_up))
                    found[item["id"]["S"].removeprefix("reported#")] = record
        return found

    def mark(self, keys: Sequence[str], alert_ts: str, *, followed_up: bool) -> None:
        fields = {
            "expiration": {"N": str(int(self._clock()) + self._ttl)},
            "alert_ts": {"S": alert_ts},
            "followed_up": {"BOOL": followed_up},
        }
        unique = sorted(set(keys))
        for first in range(0, len(unique), 25):
            items = [{"id": {"S": f"reported#{k}"}, **fields} for k in unique[first : first + 25]]
            request: dict[str, Any] = {self._table: [{"PutRequest": {"Item": item}} for item in items]}
            batch_write(self._client, request)
