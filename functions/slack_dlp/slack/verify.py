"""Slack request signatures (v0 HMAC-SHA256, 5-minute window, constant-time compare).

Written out rather than taken from ``slack_sdk.signature``: importing any part of ``slack_sdk``
runs its package ``__init__``, which imports the whole ``WebClient``, and the ingest function
(which never calls the Web API) would pay for that on every cold start.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

#: Slack's replay window: a request whose timestamp is further away than this is rejected.
MAX_CLOCK_SKEW_SECONDS = 60 * 5


class RequestVerifier(Protocol):
    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool: ...


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:<timestamp>:<body>`` under the signing secret."""
    base = b"v0:" + timestamp.encode("utf-8") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


class SlackRequestVerifier:
    """Verifies Slack's signature with the secret read per request (cached by its source) so a
    rotated signing secret takes effect without a redeploy; malformed headers or bodies are
    invalid rather than raising.

    ``fallback_secrets`` are tried only when the (cached) current secret rejects a request: the
    current value read afresh, so a rotated secret is used at once rather than when the cache
    expires, and during a grace period after a rotation the previous secret, so requests signed
    before the switch still verify.
    """

    def __init__(
        self,
        signing_secret: Callable[[], str],
        clock: Callable[[], float] = time.time,
        fallback_secrets: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self._signing_secret = signing_secret
        self._fallback_secrets = fallback_secrets
        self._clock = clock

    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        timestamp = _header(headers, "x-slack-request-timestamp")
        received = _header(headers, "x-slack-signature")
        try:
            fresh = abs(self._clock() - int(timestamp)) <= MAX_CLOCK_SKEW_SECONDS
        except (ValueError, OverflowError):
            return False  # missing, non-numeric or absurd timestamp: not a request Slack signed
        if not fresh or not received:
            return False
        current = self._signing_secret()
        if self._signed_with(current, timestamp, body, received):
            return True
        if self._fallback_secrets is None:
            return False
        return any(
            other != current and self._signed_with(other, timestamp, body, received)
            for other in self._fallback_secrets()
        )

    @staticmethod
    def _signed_with(secret: str, timestamp: str, body: bytes, received: str) -> bool:
        if not secret.strip():
            return False
        return hmac.compare_digest(signature(secret, timestamp, body).encode(), received.encode("utf-8", "replace"))
