"""Transport-neutral HTTP request/response, so the core never sees an API Gateway event, and the
translation from and to API Gateway's HTTP API (payload format 2.0) that the handlers use.

The handlers translate by hand rather than with Powertools' event handler: each serves one route,
and the resolver's import (its data classes, OpenAPI and asyncio) cost ingest about a fifth of its
cold import."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    #: When the request reached us (epoch seconds): API Gateway's receipt time when it gives one.
    received_at: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", {k.lower(): v for k, v in self.headers.items()})

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def media_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: Mapping[str, Any] | str = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, **body: Any) -> HttpResponse:
        return cls(status=status, body=body)

    @classmethod
    def error(cls, status: int, message: str) -> HttpResponse:
        return cls(status=status, body={"error": message})

    def encoded_body(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)

    @property
    def content_type(self) -> str:
        return "text/plain" if isinstance(self.body, str) else "application/json"


def from_http_api(event: Mapping[str, Any], route: str, received_at: float) -> HttpRequest | HttpResponse:
    """The request in an HTTP API event for ``route`` (``"POST /slack/events"``), or the response
    to give at once: 404 for another route, 400 for a body that is not valid base64.
    ``received_at`` is used when the event carries no ``requestContext.timeEpoch``."""
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    http = context.get("http")
    method, path = (http.get("method"), http.get("path")) if isinstance(http, Mapping) else (None, None)
    if f"{method} {path}" != route and event.get("routeKey") != route:
        return HttpResponse.error(404, "not found")
    epoch_ms = context.get("timeEpoch")
    if isinstance(epoch_ms, int | float) and not isinstance(epoch_ms, bool) and epoch_ms > 0:
        received_at = epoch_ms / 1000
    body = event.get("body")
    body = body if isinstance(body, str) else ""
    try:
        # Form-encoded bodies reach an HTTP API base64-encoded; Slack signed the decoded bytes.
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError):
        return HttpResponse.error(400, "body is not valid base64")
    headers = event.get("headers")
    headers = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
    return HttpRequest(body=raw, headers=headers, received_at=received_at)


def to_http_api(response: HttpResponse) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) response."""
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": response.content_type, **response.headers},
        "body": response.encoded_body(),
        "isBase64Encoded": False,
    }
