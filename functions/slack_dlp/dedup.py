"""Deduplication of Slack deliveries with Powertools idempotency on DynamoDB (conditional put + TTL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from slack_dlp.ingest import DedupOutcome


class IdempotencyDeduplicator:
    """``run_once`` via Powertools: the first delivery writes an IN_PROGRESS record with a
    conditional put; a concurrent retry fails that condition (IN_PROGRESS), a later one finds
    the COMPLETED record; an exception deletes the record so Slack's next retry runs again."""

    def __init__(self, table_name: str, ttl_seconds: int, boto3_client: Any = None) -> None:
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=boto3_client)
        self._persistence = persistence
        self._pending: dict[str, Callable[[], None]] = {}

        def deliver(delivery: dict[str, str]) -> dict[str, str]:
            self._pending[delivery["key"]]()
            return {"status": "enqueued"}

        # The records are keyed by the decorated function's name: reading one needs the same name.
        self._function_name = f"{deliver.__module__}.{deliver.__qualname__}"
        self._deliver: Callable[..., Any] = idempotent_function(
            deliver, data_keyword_argument="delivery", persistence_store=persistence, config=self._config
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Lets Powertools expire an IN_PROGRESS record when this invocation times out."""
        self._config.register_lambda_context(context)

    def seen(self, key: str) -> bool:
        """Whether an action ran to completion under ``key`` (and its record has not expired)."""
        self._persistence.configure(self._config, self._function_name)
        try:
            record = self._persistence.get_record({"key": key})
        except IdempotencyItemNotFoundError:
            return False
        return record is not None and record.status == "COMPLETED"

    def run_once(self, key: str, action: Callable[[], None]) -> DedupOutcome:
        ran = False

        def tracked() -> None:
            nonlocal ran
            ran = True
            action()

        self._pending[key] = tracked
        try:
            self._deliver(delivery={"key": key})
        except IdempotencyAlreadyInProgressError:
            return DedupOutcome.IN_PROGRESS
        finally:
            self._pending.pop(key, None)
        return DedupOutcome.DONE if ran else DedupOutcome.DUPLICATE
