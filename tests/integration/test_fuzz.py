"""Hypothesis fuzzing of both HTTP handlers in-process (moto behind them), bounded in examples.

Properties: no 5xx and no uncaught exception for bad input, nothing unsigned accepted, and a valid
event enqueued exactly once however Slack retries it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slack_dlp.model import InspectionItem
from tests.factories import (
    SIGNING_SECRET,
    FakeLambdaContext,
    event_envelope,
    http_api_event,
    message_event,
    signed_request,
)
from tests.integration.conftest import FakeStack
from tests.strategies import FUZZ, header_values, mutated_envelopes, mutated_interactions

EXAMPLES = itertools.count()
HEADERS = ["X-Slack-Signature", "X-Slack-Request-Timestamp", "Content-Type", "X-Slack-Retry-Num"]


@pytest.fixture
def ingest(load_handler: Any) -> Any:
    return load_handler("ingest")


@pytest.fixture
def interactions(load_handler: Any) -> Any:
    return load_handler("interactions")


def _call(handler: Any, body: bytes, headers: dict[str, str], path: str, base64_body: bool) -> int:
    event = http_api_event(body, headers, path=path, base64_body=base64_body)
    return int(handler.handler(event, FakeLambdaContext())["statusCode"])


def _sign(body: bytes, content_type: str = "application/json") -> dict[str, str]:
    """Signed over the raw bytes, whatever they are (the helper in factories signs text only)."""
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Signature": "v0=" + digest.hexdigest(), "X-Slack-Request-Timestamp": timestamp,
            "Content-Type": content_type}  # fmt: skip


@FUZZ
@given(
    body=mutated_envelopes() | st.binary(max_size=300),
    signed=st.booleans(),
    broken=st.dictionaries(st.sampled_from(HEADERS), header_values, max_size=2),
    base64_body=st.booleans(),
)
def test_ingest_answers_bad_input_with_4xx_and_accepts_nothing_unsigned(
    ingest: Any, stack: FakeStack, body: bytes, signed: bool, broken: dict[str, str], base64_body: bool
) -> None:
    headers = _sign(body) if signed else {"Content-Type": "application/json"}
    headers = {**headers, **broken}
    status = _call(ingest, body, headers, "/slack/events", base64_body)
    assert status < 500
    if not signed or "X-Slack-Signature" in broken or "X-Slack-Request-Timestamp" in broken:
        assert status in (401, 413), status
    queued = stack.drain(stack.inspect_queue_url)
    if not signed:
        assert queued == []
    for message in queued:  # whatever was accepted is a well-formed item
        InspectionItem.from_json(message["Body"])


@FUZZ
@given(
    body=mutated_interactions() | st.binary(max_size=300),
    signed=st.booleans(),
    broken=st.dictionaries(st.sampled_from(HEADERS[:3]), header_values, max_size=2),
)
def test_interactions_answer_bad_input_with_4xx_and_accept_nothing_unsigned(
    interactions: Any, body: bytes, signed: bool, broken: dict[str, str]
) -> None:
    headers = _sign(body, "application/x-www-form-urlencoded") if signed else {}
    status = _call(interactions, body, {**headers, **broken}, "/slack/interactions", True)
    assert status < 500
    if not signed:
        assert status == 401


@FUZZ
@given(
    deliveries=st.lists(
        st.tuples(st.sampled_from(["signed", "bad_signature", "stale"]), st.sampled_from(["", "1", "2", "3", "x"])),
        min_size=1,
        max_size=5,
    ),
    ts=st.integers(0, 999_999),
)
def test_slacks_retries_of_a_valid_event_are_enqueued_once_whatever_the_order(
    ingest: Any, stack: FakeStack, deliveries: list[tuple[str, str]], ts: int
) -> None:
    # One stack serves every example: a fresh channel per example keeps the messages apart.
    channel = f"C0FUZZ{next(EXAMPLES)}"
    envelope = event_envelope(message_event("fuzzed hello", channel=channel, ts=f"1700000001.{ts:06d}"))
    first_deliveries, retried = 0, False
    for kind, retry in deliveries:
        extra = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        if kind == "signed":
            body, headers = signed_request(envelope, extra_headers=extra)
        elif kind == "stale":
            body, headers = signed_request(envelope, timestamp=1_000_000_000, extra_headers=extra)
        else:
            body, headers = signed_request(envelope, secret="not-the-secret", extra_headers=extra)
        status = _call(ingest, body, headers, "/slack/events", False)
        assert status == (200 if kind == "signed" else 401)
        first_deliveries += kind == "signed" and not retry
        retried |= kind == "signed" and bool(retry)
    # A first delivery answered fast is enqueued without a dedup write (Slack does not send it twice;
    # the reporter's alert key absorbs it if it does); of Slack's retries, only one gets through.
    queued = [InspectionItem.from_json(m["Body"]) for m in stack.drain(stack.inspect_queue_url)]
    mine = [item for item in queued if item.ref.channel_id == channel]
    assert len(mine) == first_deliveries + retried
