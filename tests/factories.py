"""Factories for Slack requests (signed for real), API Gateway and SQS events, and canaries."""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from typing import Any

from slack_dlp.model import InspectionItem, MessageRef
from slack_dlp_tools.local.samples import (
    event_envelope,
    fake_aws_access_key_id,
    fake_card_number,
    fake_github_pat,
    message_event,
)
from slack_dlp_tools.local.signing import signed_headers

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
__all__ = ["event_envelope", "message_event"]


def canary_secrets(seed: int = 7) -> dict[str, str]:
    """Generated look-alike secrets to plant; tests assert they appear nowhere they should not."""
    rng = random.Random(seed)
    return {
        "aws": fake_aws_access_key_id(rng),
        "github": fake_github_pat(rng),
        "card": fake_card_number(rng),
    }


def signed_request(
    envelope: dict[str, Any] | str | bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
    extra_headers: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    if isinstance(envelope, bytes):
        body = envelope
    elif isinstance(envelope, str):
        body = envelope.encode()
    else:
        body = json.dumps(envelope).encode()
    headers = signed_headers(secret, body, timestamp=timestamp, content_type=content_type)
    return body, {**headers, **(extra_headers or {})}


def http_api_event(body: bytes, headers: dict[str, str], *, path: str = "/slack/events",
                   base64_body: bool = False, received_ms: int | None = None) -> dict[str, Any]:  # fmt: skip
    """An API Gateway HTTP API (payload format 2.0) event, as Lambda receives it: received now,
    unless ``received_ms`` (epoch milliseconds) says when."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1",
            "domainName": "api1.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1",
                     "userAgent": "Slackbot 1.0"},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"POST {path}",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000) if received_ms is None else received_ms,
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode("utf-8", errors="replace"),
        "isBase64Encoded": base64_body,
    }  # fmt: skip


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"handle-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inspect",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def inspection_item(text: str, *, channel: str = "C0GENERAL", ts: str = "1700000000.000100",
                    user: str = "U0ALICE") -> InspectionItem:  # fmt: skip
    ref = MessageRef(team_id="T0TEAM", channel_id=channel, ts=ts, user_id=user, event_id="Ev1",
                     event_time=1700000000)  # fmt: skip
    return InspectionItem(ref=ref, text=text)


class FakeLambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "request-1"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
