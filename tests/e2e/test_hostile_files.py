"""Hostile input against the deployed stack: office-file bombs and nested archives refused by the
fetcher with their reasons, the largest message Slack can send inspected, odd headers answered 4xx."""

from __future__ import annotations

import json
import random
import time

import pytest

from slack_dlp_tools import hostile
from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.samples import event_envelope, fake_github_pat, message_event
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.e2e.conftest import post_signed, run_cli, wait_for
from tests.factories import signed_request

pytestmark = pytest.mark.e2e

RNG = random.Random(1010)


def test_bombs_and_nested_archives_are_refused_with_their_reasons_and_nothing_fails(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN a DOCX and an XLSX that expand to 350 MB, and a zip in a zip in a zip (small on disk)
    files = {
        "F0HOSTDOCX": ("bomb.docx", hostile.docx_bomb(), "zip_bomb"),
        "F0HOSTXLSX": ("bomb.xlsx", hostile.xlsx_bomb(), "zip_bomb"),
        "F0HOSTNEST": ("nested.zip", hostile.nested_zip(3), "too_deep"),
        "F0HOSTXML": ("entities.docx", hostile.entity_bomb_docx(), "unsafe_xml"),
    }
    for file_id, (name, content, _) in files.items():
        slack.add_file(file_id, name, content)
    # WHEN each is shared
    started = time.monotonic()
    for file_id in files:
        envelope = event_envelope({"type": "file_shared", "file_id": file_id, "user_id": "U0ALICE",
                                   "channel_id": "C0E2EHOSTILE"})  # fmt: skip
        assert post_signed(deployed, envelope)[0] == 200

    # THEN each is recorded as not inspected, with why, and every queue drains with nothing in a DLQ
    def reasons() -> dict[str, str]:
        listing = run_cli("findings", "--since", "1h", "--json", "--endpoint", deployed.endpoint)
        return {e.get("file_id"): e.get("reason") for e in json.loads(listing.stdout)["events"]
                if e["kind"] == "file_skipped" and e.get("file_id") in files}  # fmt: skip

    assert wait_for(lambda: len(reasons()) == len(files), timeout=120), reasons()
    assert reasons() == {file_id: reason for file_id, (_, _, reason) in files.items()}
    assert time.monotonic() - started < 120
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=60), deployed.queue_depths()


def test_the_largest_message_slack_can_send_is_inspected(deployed: LocalDeployment, slack: SlackStandIn) -> None:
    # GIVEN a 40,000-character message of 4-byte characters (and its rich-text blocks) hiding a token
    token = fake_github_pat(RNG)
    text = f"token {token} " + "\U0001f600" * (40_000 - len(token) - 7)
    blocks = [{"type": "rich_text", "elements": [{"type": "rich_text_section",
                                                   "elements": [{"type": "text", "text": text}]}]}]  # fmt: skip
    envelope = event_envelope(message_event(text, channel="C0E2EBIG") | {"blocks": blocks})
    assert len(json.dumps(envelope)) > 900_000
    before = len(slack.alerts())
    # WHEN it is delivered
    assert post_signed(deployed, envelope)[0] == 200
    # THEN it alerts, without the token
    assert wait_for(lambda: any("C0E2EBIG" in json.dumps(a["args"]) for a in slack.alerts()[before:]), timeout=90)
    assert token not in json.dumps(slack.state.calls, ensure_ascii=False)


@pytest.mark.parametrize("signature", ["\x80", "v0=\xe9\xe9"])
def test_a_signature_header_of_non_ascii_bytes_is_401(deployed: LocalDeployment, signature: str) -> None:
    body, headers = signed_request(event_envelope(message_event("hello")))
    status, _ = deployed.post_event(body, {**headers, "X-Slack-Signature": signature})
    assert status == 401
