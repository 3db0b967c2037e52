"""The HTTP API (payload format 2.0) translation the API functions use instead of an event resolver."""

from __future__ import annotations

from typing import Any

import pytest

from slack_dlp.http import HttpRequest, HttpResponse, from_http_api, to_http_api
from tests.factories import http_api_event

ROUTE = "POST /slack/events"


def test_the_request_carries_the_raw_body_lowercased_headers_and_api_gateways_receipt_time() -> None:
    event = http_api_event(b'{"a": 1}', {"X-Slack-Signature": "v0=1"}, received_ms=1_700_000_000_250)
    request = from_http_api(event, ROUTE, received_at=5.0)
    assert isinstance(request, HttpRequest)
    assert (request.body, request.header("x-slack-signature"), request.received_at) == (
        b'{"a": 1}',
        "v0=1",
        1_700_000_000.25,
    )


@pytest.mark.parametrize("epoch", [None, "1700000000000", True, 0, -5])
def test_without_a_usable_receipt_time_the_handlers_clock_is_used(epoch: Any) -> None:
    event = http_api_event(b"{}", {})
    event["requestContext"]["timeEpoch"] = epoch
    request = from_http_api(event, ROUTE, received_at=42.0)
    assert isinstance(request, HttpRequest) and request.received_at == 42.0


def test_a_base64_body_is_decoded_and_an_invalid_one_is_400() -> None:
    event = http_api_event(b"payload=%7B%7D", {}, base64_body=True)
    request = from_http_api(event, ROUTE, received_at=0.0)
    assert isinstance(request, HttpRequest) and request.body == b"payload=%7B%7D"
    event["body"] = "not base64!"
    response = from_http_api(event, ROUTE, received_at=0.0)
    assert isinstance(response, HttpResponse) and response.status == 400


@pytest.mark.parametrize("event", [
    http_api_event(b"{}", {}, path="/slack/interactions"),
    {"requestContext": None, "body": None, "headers": "x"},
    {},
])  # fmt: skip
def test_another_route_or_a_shapeless_event_is_404(event: dict[str, Any]) -> None:
    response = from_http_api(event, ROUTE, received_at=0.0)
    assert isinstance(response, HttpResponse) and response.status == 404


def test_the_response_is_payload_format_2() -> None:
    assert to_http_api(HttpResponse.json(200, ok=True)) == {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": '{"ok": true}',
        "isBase64Encoded": False,
    }
