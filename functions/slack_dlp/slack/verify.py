"""Slack request signatures (v0 HMAC-SHA256, 5-minute window, constant-time compare)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from slack_sdk.signature import Clock, SignatureVerifier


class RequestVerifier(Protocol):
    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool: ...


class SlackRequestVerifier:
    """slack_sdk's verifier, with the secret read per request (cached by its source) so a
    rotated signing secret takes effect without a redeploy, and with malformed headers or
    bodies treated as invalid rather than raising.

    ``previous_secret`` is the secret before the last rotation while its grace period lasts
    (empty after it): requests signed with it still verify, so a rotation drops no event.
    It is read only when the current secret does not verify a request.
    """

    def __init__(
        self,
        signing_secret: Callable[[], str],
        clock: Clock | None = None,
        previous_secret: Callable[[], str] | None = None,
    ) -> None:
        self._signing_secret = signing_secret
        self._previous_secret = previous_secret
        self._clock = clock or Clock()

    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        current = self._signing_secret()
        if self._signed_with(current, body, headers):
            return True
        if self._previous_secret is None:
            return False
        previous = self._previous_secret()
        return previous != current and self._signed_with(previous, body, headers)

    def _signed_with(self, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        if not secret.strip():
            return False
        verifier = SignatureVerifier(secret, clock=self._clock)
        try:
            return bool(verifier.is_valid_request(body, dict(headers)))
        except (ValueError, UnicodeDecodeError):
            # Non-numeric timestamp or a body that is not UTF-8: not a request Slack signed.
            return False
