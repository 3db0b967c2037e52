"""DynamoDB batch calls: unprocessed keys and items are sent again with backoff, never forever."""

from __future__ import annotations

from typing import Any

import pytest

from slack_dlp.batches import BatchIncomplete, batch_get, batch_write


class ThrottledDynamoDb:
    """Leaves everything unprocessed ``throttled`` times, then processes the request."""

    def __init__(self, throttled: int) -> None:
        self.throttled = throttled
        self.calls: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(RequestItems)
        if len(self.calls) <= self.throttled:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return {"Responses": {"t": [{"id": {"S": "a"}}]}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(RequestItems)
        return {"UnprocessedItems": RequestItems} if len(self.calls) <= self.throttled else {}


def test_unprocessed_keys_are_read_again_after_a_growing_pause() -> None:
    # GIVEN DynamoDB throttling a batch read twice
    dynamodb, pauses = ThrottledDynamoDb(throttled=2), []
    # WHEN the batch is read
    responses = list(batch_get(dynamodb, {"t": {"Keys": [{"id": {"S": "a"}}]}}, sleep=pauses.append))
    # THEN it is sent three times, with longer pauses each time, and every response is seen
    assert len(dynamodb.calls) == 3 and pauses == [0.05, 0.1]
    assert responses[-1]["Responses"]["t"] == [{"id": {"S": "a"}}]


def test_sustained_throttling_ends_with_an_error_instead_of_spinning() -> None:
    dynamodb, pauses = ThrottledDynamoDb(throttled=100), []
    with pytest.raises(BatchIncomplete):
        batch_write(dynamodb, {"t": [{"PutRequest": {"Item": {"id": {"S": "a"}}}}]}, attempts=4, sleep=pauses.append)
    assert len(dynamodb.calls) == 4 and len(pauses) == 3
