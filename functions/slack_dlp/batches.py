"""DynamoDB batch calls to completion: what a call leaves unprocessed (throttling) is sent again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any


class BatchIncomplete(Exception):
    """DynamoDB still left part of a batch unprocessed after every attempt (sustained throttling)."""


def batch_get(client: Any, request: dict[str, Any], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Each ``BatchGetItem`` response until every key was read."""
    return _until_processed(client.batch_get_item, request, "UnprocessedKeys", **kwargs)


def batch_write(client: Any, request: dict[str, Any], **kwargs: Any) -> None:
    """``BatchWriteItem`` until every item was written."""
    for _ in _until_processed(client.batch_write_item, request, "UnprocessedItems", **kwargs):
        pass


def _until_processed(
    call: Callable[..., dict[str, Any]],
    request: dict[str, Any],
    unprocessed: str,
    *,
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    # AWS's advice for unprocessed items: retry with exponential backoff, not at once.
    for attempt in range(attempts):
        response = call(RequestItems=request)
        yield response
        request = response.get(unprocessed) or {}
        if not request:
            return
        if attempt + 1 < attempts:
            sleep(min(1.0, 0.05 * 2**attempt))
    raise BatchIncomplete(f"DynamoDB left part of a batch unprocessed after {attempts} attempts")
