"""Deduplication on the dedup table (DynamoDB, ``id`` key, ``expiration`` TTL attribute).

- :class:`DynamoDbMarkers`: ingest's markers of delivered messages, one conditional write each,
  written only where Slack may deliver again (a retry, a slow answer).
- :class:`IdempotencyDeduplicator`: the reporter's ``run_once`` with Powertools idempotency (a
  record per alert that also keeps the alert's ts). Imported lazily: ingest does not load it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_dlp.ingest import DedupOutcome

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


#: How long a marker claimed before its enqueue holds the message: longer than an ingest invocation
#: may run (its timeout), shorter than Slack's second retry (a minute after the first), so that an
#: invocation killed between claim and enqueue (a timeout: nothing of it runs to release the marker)
#: does not make Slack's later retries be dropped for the whole TTL.
MARKER_LEASE_SECONDS = 30


class DynamoDbMarkers:
    """``claim``: a conditional PutItem of ``{id, expiration}`` (an item of about 100 bytes: one
    write capacity unit) that fails when an unexpired marker exists (TTL deletes expired items up
    to days late, so the condition also lets an expired one be overwritten). A marker claimed
    before the enqueue expires after ``lease_seconds``; ``confirm`` (a plain PutItem) extends it to
    the TTL once the enqueue succeeded. ``release``: DeleteItem."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        lease_seconds: int = MARKER_LEASE_SECONDS,
    ) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds
        self._lease = min(lease_seconds, ttl_seconds)
        self._clock = clock

    def claim(self, key: str, *, done: bool = False) -> bool:
        now = int(self._clock())
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(key, now + (self._ttl if done else self._lease)),
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except Exception as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def confirm(self, key: str) -> None:
        self._client.put_item(TableName=self._table, Item=self._item(key, int(self._clock()) + self._ttl))

    def release(self, key: str) -> None:
        self._client.delete_item(TableName=self._table, Key={"id": {"S": key}})

    @staticmethod
    def _item(key: str, expiration: int) -> dict[str, Any]:
        return {"id": {"S": key}, "expiration": {"N": str(expiration)}}


def _error_code(error: Exception) -> str:
    """A botocore ``ClientError``'s code, without importing botocore for the ``except`` clause."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code if isinstance(code, str) else ""


class IdempotencyDeduplicator:
    """``run_once`` via Powertools: the first delivery writes an IN_PROGRESS record with a
    conditional put; a concurrent retry fails that condition (IN_PROGRESS), a later one finds
    the COMPLETED record; an exception deletes the record so Slack's next retry runs again."""

    def __init__(self, table_name: str, ttl_seconds: int, boto3_client: Any = None) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=boto3_client)
        self._pending: dict[str, Callable[[], str]] = {}

        def deliver(delivery: dict[str, str]) -> dict[str, str]:
            # Powertools stores this response and hands it back to a duplicate.
            return {"status": "enqueued", "value": self._pending[delivery["key"]]()}

        self._deliver: Callable[..., Any] = idempotent_function(
            deliver, data_keyword_argument="delivery", persistence_store=persistence, config=self._config
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Lets Powertools expire an IN_PROGRESS record when this invocation times out."""
        self._config.register_lambda_context(context)

    def run_once(self, key: str, action: Callable[[], None]) -> DedupOutcome:
        def unit() -> str:
            action()
            return ""

        return self.run_once_value(key, unit)[0]

    def run_once_value(self, key: str, action: Callable[[], str]) -> tuple[DedupOutcome, str]:
        ran = False

        def tracked() -> str:
            nonlocal ran
            ran = True
            return action()

        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        self._pending[key] = tracked
        try:
            response = self._deliver(delivery={"key": key})
        except IdempotencyAlreadyInProgressError:
            return DedupOutcome.IN_PROGRESS, ""
        finally:
            self._pending.pop(key, None)
        value = response.get("value") if isinstance(response, dict) else None
        return DedupOutcome.DONE if ran else DedupOutcome.DUPLICATE, value if isinstance(value, str) else ""
