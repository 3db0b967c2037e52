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

        self._pending[key] = tracked
        try:
            response = self._deliver(delivery={"key": key})
        except IdempotencyAlreadyInProgressError:
            return DedupOutcome.IN_PROGRESS, ""
        finally:
            self._pending.pop(key, None)
        value = response.get("value") if isinstance(response, dict) else None
        return DedupOutcome.DONE if ran else DedupOutcome.DUPLICATE, value if isinstance(value, str) else ""
