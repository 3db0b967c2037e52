"""Transport-neutral HTTP request/response, so the core never sees an API Gateway event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

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
