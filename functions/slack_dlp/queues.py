"""Publishing to the pipeline's queues."""

from __future__ import annotations

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
