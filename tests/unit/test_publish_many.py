"""SqsPublisher.publish_many: ten per SendMessageBatch, under the batch size limit, failures raised."""

from __future__ import annotations

from typing import Any

import pytest

from slack_dlp.queues import PublishError, SqsPublisher


class FakeSqs:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append([e["MessageBody"] for e in Entries])
        return {"Failed": [{"Id": "0", "Code": "InternalError"}]} if self.fail else {"Successful": Entries}


def test_bodies_go_ten_at_a_time_and_large_ones_in_smaller_batches() -> None:
    sqs = FakeSqs()
    SqsPublisher(sqs, "q").publish_many([f"m{i}" for i in range(23)] + ["x" * 150_000, "y" * 150_000])
    assert [len(b) for b in sqs.batches] == [10, 10, 4, 1]
    assert [body for batch in sqs.batches for body in batch] == [f"m{i}" for i in range(23)] + [
        "x" * 150_000,
        "y" * 150_000,
    ]


def test_a_failed_entry_fails_the_publish() -> None:
    with pytest.raises(PublishError, match="InternalError"):
        SqsPublisher(FakeSqs(fail=True), "q").publish_many(["a"])
    SqsPublisher(FakeSqs(fail=True), "q").publish_many([])  # nothing to send, nothing sent
