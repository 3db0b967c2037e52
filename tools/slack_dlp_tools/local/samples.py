"""Generated look-alike secrets (valid structure, never real) and sample Slack events.

Values are generated, not committed, so the repository holds no secret-shaped strings.
"""

from __future__ import annotations

import random
import string
import time
import uuid
from dataclasses import dataclass
from typing import Any

from slack_dlp.detect.validators import luhn

_ALNUM = string.ascii_letters + string.digits
_BASE32 = string.ascii_uppercase + "234567"


def fake_aws_access_key_id(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choices(_BASE32, k=16))


def fake_github_pat(rng: random.Random) -> str:
    return "ghp_" + "".join(rng.choices(_ALNUM, k=36))


def fake_slack_bot_token(rng: random.Random) -> str:
    digits = string.digits
    return "xoxb-{}-{}-{}".format(
        "".join(rng.choices(digits, k=12)),
        "".join(rng.choices(digits, k=13)),
        "".join(rng.choices(_ALNUM, k=24)),
    )


def fake_card_number(rng: random.Random, prefix: str = "4") -> str:
    """A Luhn-valid 16-digit number in an issuer's range, formatted in groups of four."""
    while True:
        body = prefix + "".join(rng.choices(string.digits, k=15 - len(prefix)))
        for check in string.digits:
            if luhn(body + check):
                number = body + check
                break
        if len(set(number)) > 3:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def fake_private_key(rng: random.Random) -> str:
    body = "".join(rng.choices(string.ascii_letters + string.digits + "+/", k=64 * 6))
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----"


@dataclass(frozen=True)
class Sample:
    description: str
    envelope: dict[str, Any]
    expect_alert: bool
    retry_num: int = 0


def event_envelope(
    event: dict[str, Any],
    *,
    team_id: str = "T0LOCAL",
    event_id: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    return {
        "token": "unused-verification-token",
        "team_id": team_id,
        "api_app_id": "A0DLP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:12].upper(),
        "event_time": event_time or int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": "U0DLPBOT", "is_bot": True}],
    }


def message_event(text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE", ts: str | None = None,
                  **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"type": "message", "channel": channel, "user": user, "text": text,
            "ts": ts or f"{time.time():.6f}", "channel_type": "channel", **extra}  # fmt: skip


def sample_events(seed: int | None = None) -> list[Sample]:
    """What ``make run`` replays: leaks that must alert and chatter that must not."""
    rng = random.Random(seed)  # noqa: S311 - look-alike test data, not cryptography
    base = time.time()
    edited_ts = f"{base - 30:.6f}"
    leak = event_envelope(message_event(f"deploy keys for staging: {fake_aws_access_key_id(rng)} (rotate later)"))
    # An incoming webhook (CI): no text, no user, the value in an attachment field.
    field = {"title": "env", "value": f"GITHUB_TOKEN={fake_github_pat(rng)}"}
    webhook = {"type": "message", "subtype": "bot_message", "text": "", "ts": f"{base:.6f}", "channel": "C0ENG",
               "channel_type": "channel", "bot_id": "B0CIWEBHOOK", "username": "ci",
               "attachments": [{"fallback": "Build failed", "title": "Build #42", "fields": [field]}]}  # fmt: skip
    return [
        Sample("AWS access key pasted in #general", leak, expect_alert=True),
        Sample("Slack retried the same event (X-Slack-Retry-Num: 1)", leak, expect_alert=False, retry_num=1),
        Sample(
            "GitHub token in a thread reply",
            event_envelope(
                message_event(
                    f"try with mine: {fake_github_pat(rng)}",
                    channel="C0ENG",
                    user="U0BOB",
                    thread_ts=f"{base - 60:.6f}",
                )
            ),
            expect_alert=True,
        ),
        Sample(
            "card number in a DM",
            event_envelope(
                message_event(
                    f"my card is {fake_card_number(rng)} exp 04/29",
                    channel="D0DM",
                    user="U0CAROL",
                    channel_type="im",
                )
            ),
            expect_alert=True,
        ),
        Sample(
            "an edit that adds a Slack bot token",
            event_envelope(
                {
                    "type": "message",
                    "subtype": "message_changed",
                    "channel": "C0OPS",
                    "ts": f"{base:.6f}",
                    "message": {
                        "type": "message",
                        "user": "U0DAVE",
                        "ts": edited_ts,
                        "text": f"use {fake_slack_bot_token(rng)} for the bot",
                    },
                    "previous_message": {
                        "type": "message",
                        "user": "U0DAVE",
                        "ts": edited_ts,
                        "text": "use the bot token",
                    },
                }
            ),
            expect_alert=True,
        ),
        Sample(
            "a CI webhook's message with a key in an attachment field",
            event_envelope(webhook),
            expect_alert=True,
        ),
        Sample("ordinary chatter", event_envelope(message_event("lunch at 12:30? the usual place")), False),
        Sample(
            "documentation example key (allowlisted)",
            event_envelope(message_event("the docs use AKIAIOSFODNN7EXAMPLE as the example key")),
            expect_alert=False,
        ),
        Sample(
            "a bot's own message (skipped)",
            event_envelope(
                message_event(f"bot says {fake_github_pat(rng)}", user="U0DLPBOT", bot_id="B0DLPBOT", app_id="A0DLP")
            ),
            expect_alert=False,
        ),
    ]
