"""Publishing to the pipeline's queues."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class PublishError(Exception):
    """A message could not be enqueued. Carries the AWS error code, never the message body."""


class Publisher(Protocol):
    def publish(self, body: str) -> str:
        """Enqueue one message; return its message id. Raises PublishError."""
        ...


class SqsPublisher:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def publish(self, body: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            raise PublishError(f"SQS SendMessage failed: {code}") from None
        except BotoCoreError as error:
            raise PublishError(f"SQS SendMessage failed: {type(error).__name__}") from None
        return str(response["MessageId"])

    def publish_many(self, bodies: Sequence[str]) -> None:
        """Enqueue every body, ten (and at most 200 KB) per SendMessageBatch; raise if any failed."""
        from botocore.exceptions import BotoCoreError, ClientError

        for batch in _batches(bodies):
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "Unknown")
                raise PublishError(f"SQS SendMessageBatch failed: {code}") from None
            except BotoCoreError as error:
                raise PublishError(f"SQS SendMessageBatch failed: {type(error).__name__}") from None
            failed = response.get("Failed") or []
            if failed:
                raise PublishError(f"SQS SendMessageBatch failed for {len(failed)}: {failed[0].get('Code')}")


def _batches(bodies: Sequence[str], *, count: int = 10, max_bytes: int = 200_000) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if batch and (len(batch) == count or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch


class RedeliveryDelayer:
    """Honours a Retry-After hint by keeping a failed SQS message invisible that long."""

    def __init__(self, client: Any, max_seconds: int = 900) -> None:
        self._client = client
        self._max_seconds = max_seconds
        self._urls: dict[str, str] = {}

    def delay(self, event_source_arn: str, receipt_handle: str, seconds: float) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        wait = math.ceil(seconds) if math.isfinite(seconds) else self._max_seconds
        try:
            self._client.change_message_visibility(
                QueueUrl=self._queue_url(event_source_arn),
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(1, min(self._max_seconds, wait)),
            )
        except (ClientError, BotoCoreError):
            return False  # the message still comes back, after the queue's visibility timeout
        return True

    def honour_retry_after(self, record: SQSRecord, error: BaseException) -> None:
        """The error says when to come back (Slack's Retry-After on a ``NotifyError``, the end of
        another invocation's claim on an alert): SQS redelivers then, no sooner and no later."""
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > 0:
            self.delay(record.event_source_arn, record.receipt_handle, retry_after)

    def _queue_url(self, arn: str) -> str:
        if arn not in self._urls:
            _, _, _, _, account, name = arn.split(":", 5)
            self._urls[arn] = self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        return self._urls[arn]


@dataclass(frozen=True)
class QueuedMessage:
    message_id: str
    body: str
    receipt_handle: str


class QueueTopUp:
    """Takes more messages from a queue than the event source handed over, to fill a digest.

    The event source may deliver a burst one message at a time (it does not always wait for its
    batching window); a consumer that coalesces tops its batch up here, then deletes what it
    handled and releases the rest for SQS to deliver again.
    """

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def take(self, count: int, wait_seconds: int = 1) -> list[QueuedMessage]:
        from botocore.exceptions import BotoCoreError, ClientError

        if count <= 0 or not self._queue_url:
            return []
        try:
            response = self._client.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=min(10, count), WaitTimeSeconds=wait_seconds
            )
        except (ClientError, BotoCoreError):
            return []  # topping up is an optimisation; the batch goes ahead as it is
        return [QueuedMessage(m["MessageId"], m["Body"], m["ReceiptHandle"]) for m in response.get("Messages", [])]

    def done(self, messages: list[QueuedMessage]) -> int:
        """Delete what was handled; returns how many deletes SQS refused. A refused delete (the
        receipt handle expired: the message came back to another consumer) only means SQS delivers
        it again, and the alert's idempotency key keeps that delivery from posting twice."""
        return self._each_ten(messages, self._client.delete_message_batch, {})

    def release(self, messages: list[QueuedMessage]) -> int:
        """Make what was not handled visible again now; returns how many SQS refused (those come
        back after the visibility timeout instead)."""
        return self._each_ten(messages, self._client.change_message_visibility_batch, {"VisibilityTimeout": 0})

    def _each_ten(self, messages: list[QueuedMessage], call: Any, extra: dict[str, Any]) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        refused = 0
        for first in range(0, len(messages), 10):
            batch = messages[first : first + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt_handle, **extra} for i, m in enumerate(batch)]
            try:
                refused += len(call(QueueUrl=self._queue_url, Entries=entries).get("Failed") or [])
            except (ClientError, BotoCoreError):
                refused += len(batch)
        return refused
