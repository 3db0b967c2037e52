"""Slack's v0 signature, checked against requests signed by slack_sdk's own signer."""

from __future__ import annotations

import pytest

from slack_dlp.slack.verify import SlackRequestVerifier, signature
from slack_dlp_tools.local.signing import signed_headers

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000
BODY = b'{"type":"event_callback","event":{"text":"hi"}}'


def verifier(secret: str = SECRET) -> SlackRequestVerifier:
    return SlackRequestVerifier(lambda: secret, clock=lambda: float(NOW))


def test_a_request_signed_by_slack_sdk_verifies_whatever_the_header_case() -> None:
    headers = signed_headers(SECRET, BODY, timestamp=NOW)
    assert verifier().is_valid(BODY, headers)
    assert verifier().is_valid(BODY, {k.lower(): v for k, v in headers.items()})


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (BODY + b" ", signed_headers(SECRET, BODY, timestamp=NOW)),  # body changed after signing
        (BODY, signed_headers("another-secret", BODY, timestamp=NOW)),
        (BODY, signed_headers(SECRET, BODY, timestamp=NOW - 301)),  # replayed after the window
        (BODY, signed_headers(SECRET, BODY, timestamp=NOW + 301)),
        (BODY, {"X-Slack-Signature": "v0=00"}),
        (BODY, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}),
        (BODY, {"X-Slack-Request-Timestamp": str(NOW)}),
        (b"\xff\xfe", {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=\u00e9"}),
        # a timestamp too large for a float (it raised OverflowError: a 500 for an unsigned request)
        (BODY, {"X-Slack-Request-Timestamp": "1" + "0" * 400, "X-Slack-Signature": "v0=00"}),
    ],
)
def test_anything_else_is_rejected_without_raising(body: bytes, headers: dict[str, str]) -> None:
    assert not verifier().is_valid(body, headers)


def test_an_empty_secret_verifies_nothing() -> None:
    headers = {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": signature("", str(NOW), BODY)}
    assert not verifier("").is_valid(BODY, headers)


def test_the_fallback_secrets_are_read_only_when_the_current_one_fails() -> None:
    reads: list[str] = []

    def fallbacks() -> list[str]:
        reads.append("read")
        return ["rotated"]

    check = SlackRequestVerifier(lambda: SECRET, clock=lambda: float(NOW), fallback_secrets=fallbacks)
    assert check.is_valid(BODY, signed_headers(SECRET, BODY, timestamp=NOW))
    assert reads == []
    assert check.is_valid(BODY, signed_headers("rotated", BODY, timestamp=NOW))
    assert reads == ["read"]
