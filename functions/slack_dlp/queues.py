"""Publishing to the pipeline's queues."""

from __future__ import annotations

import math
from typing import Any, Protocol


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


class RedeliveryDelayer:
    """Honours a Retry-After hint by keeping a failed SQS message invisible that long."""

    def __init__(self, client: Any, max_seconds: int = 900) -> None:
        self._client = client
        self._max_seconds = max_seconds
        self._urls: dict[str, str] = {}

    def delay(self, event_source_arn: str, receipt_handle: str, seconds: float) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.change_message_visibility(
                QueueUrl=self._queue_url(event_source_arn),
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(1, min(self._max_seconds, math.ceil(seconds))),
            )
        except (ClientError, BotoCoreError):
            return False  # the message still comes back, after the queue's visibility timeout
        return True

    def _queue_url(self, arn: str) -> str:
        if arn not in self._urls:
            _, _, _, _, account, name = arn.split(":", 5)
            self._urls[arn] = self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        return self._urls[arn]
