"""Signing requests the way Slack does, for the local replay, the end-to-end test and the bench."""

from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier


def signed_headers(signing_secret: str, body: bytes | str, *, timestamp: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:  # fmt: skip
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = body if isinstance(body, str) else body.decode("utf-8")
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=raw)
    assert signature is not None
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
