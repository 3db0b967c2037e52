"""Slack request signatures (v0 HMAC-SHA256, 5-minute window, constant-time compare)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from slack_sdk.signature import Clock, SignatureVerifier


class RequestVerifier(Protocol):
    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool: ...


class SlackRequestVerifier:
    """slack_sdk's verifier, with the secret read per request (cached by its source) so a
    rotated signing secret takes effect without a redeploy, and with malformed headers or
    bodies treated as invalid rather than raising.

    ``fallback_secrets`` are tried only when the (cached) current secret rejects a request: the
    current value read afresh, so a rotated secret is used at once rather than when the cache
    expires, and during a grace period after a rotation the previous secret, so requests signed
    before the switch still verify.
    """

    def __init__(
        self,
        signing_secret: Callable[[], str],
        clock: Clock | None = None,
        fallback_secrets: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self._signing_secret = signing_secret
        self._fallback_secrets = fallback_secrets
        self._clock = clock or Clock()

    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        current = self._signing_secret()
        if self._signed_with(current, body, headers):
            return True
        if self._fallback_secrets is None:
            return False
        return any(other != current and self._signed_with(other, body, headers) for other in self._fallback_secrets())

    def _signed_with(self, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        if not secret.strip():
            return False
        verifier = SignatureVerifier(secret, clock=self._clock)
        try:
            return bool(verifier.is_valid_request(body, dict(headers)))
        except (ValueError, UnicodeDecodeError, TypeError):
            # Non-numeric timestamp, a body that is not UTF-8, or a signature header of non-ASCII
            # characters (hmac.compare_digest raises TypeError): not a request Slack signed.
            return False
