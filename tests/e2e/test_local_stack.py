"""The stack deployed with the real CDK app into MiniStack; events in over HTTP, alerts out at the stand-in."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.samples import event_envelope, message_event
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.e2e.conftest import SECRET, post_signed, run_cli, wait_for
from tests.factories import canary_secrets, signed_request

pytestmark = pytest.mark.e2e

CANARIES = canary_secrets(seed=99)


def test_url_verification_through_the_http_api(deployed: LocalDeployment) -> None:
    status, body = post_signed(deployed, {"type": "url_verification", "challenge": "e2e-challenge"})
    assert status == 200
    assert json.loads(body) == {"challenge": "e2e-challenge"}


def test_unsigned_request_is_rejected(deployed: LocalDeployment) -> None:
    body = json.dumps(event_envelope(message_event(f"x {CANARIES['github']}"))).encode()
    status, _ = deployed.post_event(body, {"Content-Type": "application/json"})
    assert status == 401


def test_planted_secrets_alert_once_clean_text_does_not_and_nothing_leaks(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN messages leaking canaries, clean chatter, and Slack retrying one of the deliveries twice
    leaks = [
        event_envelope(message_event(f"aws creds {CANARIES['aws']}", channel="C0E2EAWS")),
        event_envelope(message_event(f"here: {CANARIES['github']}", channel="C0E2EGH")),
    ]
    clean = [event_envelope(message_event(f"clean message {i}", channel="C0E2ECLEAN")) for i in range(3)]
    before = len(slack.alerts())
    # WHEN they are posted to the Request URL
    for envelope in [*leaks, *clean]:
        assert post_signed(deployed, envelope)[0] == 200
    for retry in ("1", "2"):
        assert post_signed(deployed, leaks[0], extra_headers={"X-Slack-Retry-Num": retry})[0] == 200
    # THEN the retried message has one dedup marker (written by its first retry, or by its first
    # delivery if that was slow): the other retry was dropped
    dynamodb = deployed.client("dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if "DedupTable" in name)
    markers = [item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]]
    assert len([m for m in markers if ":C0E2EAWS:" in m]) == 1

    # AND each leak is alerted once (alone, or in one digest when they reach the reporter together;
    # the retried message's copy shares its alert key), the queues drain, the DLQs stay empty
    def posted() -> str:
        return json.dumps([a["args"]["blocks"] for a in slack.alerts()[before:]])

    assert wait_for(lambda: "C0E2EAWS" in posted() and "C0E2EGH" in posted()), "alerts did not arrive"
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=30)
    time.sleep(2)  # a duplicate or a clean-message alert would arrive now
    channels_alerted = posted()
    assert channels_alerted.count('"block_id": "dlp_triage') == 2  # one set of buttons per alerted message
    assert "C0E2ECLEAN" not in channels_alerted
    # AND no canary reached Slack or any function's log
    logs = (deployed.state_dir / "ministack.log").read_text(errors="replace")
    slack_calls = json.dumps(slack.state.calls, ensure_ascii=False)
    for value in CANARIES.values():
        assert value not in slack_calls
        assert value not in logs
    assert "findings published" in logs  # the functions' logs really are in this file


def test_lambda_asset_was_built_without_docker(deployed: LocalDeployment) -> None:
    assembly = Path(deployed.cdk_out or "")
    assets = [p for p in assembly.glob("asset.*") if p.is_dir()]
    assert assets, "no bundled asset"
    assert (assets[0] / "slack_dlp" / "ingest.py").exists()
    assert (assets[0] / "aws_lambda_powertools").is_dir()
    assert not (assets[0] / "slack_dlp" / "local").exists()


def test_false_positive_button_updates_the_alert_and_silences_the_value(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    from urllib.parse import urlencode

    # GIVEN an alert for a leaked value
    value = canary_secrets(seed=123)["github"]
    before = len(slack.alerts())
    assert post_signed(deployed, event_envelope(message_event(f"token {value}", channel="C0E2EFP")))[0] == 200
    assert wait_for(lambda: len(slack.alerts()) > before)
    alert = slack.alerts()[-1]
    blocks = alert["args"]["blocks"]
    fp_value = next(
        e["value"] for b in blocks if b.get("block_id") == "dlp_triage" for e in b["elements"]
        if e["action_id"] == "dlp_false_positive"
    )  # fmt: skip
    # WHEN someone presses "False positive" (a signed interaction through the HTTP API)
    payload = {
        "type": "block_actions",
        "team": {"id": "T0LOCAL"},
        "user": {"id": "U0SECOPS"},
        "container": {"channel_id": "C0ALERTS", "message_ts": "1700000000.000001"},
        "message": {"blocks": blocks},
        "actions": [{"action_id": "dlp_false_positive", "value": fp_value}],
    }
    body, headers = signed_request(
        urlencode({"payload": json.dumps(payload)}), secret=SECRET, content_type="application/x-www-form-urlencoded"
    )
    assert deployed.post_event(body, headers, url=deployed.interactions_url)[0] == 200
    # THEN the alert is updated in place, and the same value posted again does not alert
    assert any(c["method"] == "chat.update" for c in slack.state.calls)
    alerts_now = len(slack.alerts())
    assert post_signed(deployed, event_envelope(message_event(f"again {value}", channel="C0E2EFP")))[0] == 200
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=30)
    time.sleep(2)
    assert len(slack.alerts()) == alerts_now
    # AND the audit trail shows the alert and the action, masked
    listing = run_cli("findings", "--since", "1h", "--json", "--endpoint", deployed.endpoint)
    kinds = [e["kind"] for e in json.loads(listing.stdout)["events"]]
    assert "alert" in kinds and "false_positive" in kinds
    assert value not in listing.stdout


def test_acknowledge_button_through_the_http_api(deployed: LocalDeployment, slack: SlackStandIn) -> None:
    from urllib.parse import urlencode

    value = canary_secrets(seed=321)["aws"]
    before = len(slack.alerts())
    assert post_signed(deployed, event_envelope(message_event(f"creds {value}", channel="C0E2EACK")))[0] == 200
    assert wait_for(lambda: len(slack.alerts()) > before)
    blocks = slack.alerts()[-1]["args"]["blocks"]
    actions = next(b for b in blocks if b.get("type") == "actions")
    ack = next(e for e in actions["elements"] if e["action_id"] == "dlp_acknowledge")
    payload = {
        "type": "block_actions",
        "team": {"id": "T0LOCAL"},
        "user": {"id": "U0SECOPS"},
        "container": {"channel_id": "C0ALERTS", "message_ts": "1700000000.000002"},
        "message": {"blocks": blocks},
        "actions": [{"action_id": "dlp_acknowledge", "block_id": actions["block_id"], "value": ack["value"]}],
    }
    body, headers = signed_request(
        urlencode({"payload": json.dumps(payload)}), secret=SECRET, content_type="application/x-www-form-urlencoded"
    )
    updates_before = sum(c["method"] == "chat.update" for c in slack.state.calls)
    assert deployed.post_event(body, headers, url=deployed.interactions_url)[0] == 200
    updates = [c for c in slack.state.calls if c["method"] == "chat.update"]
    assert len(updates) == updates_before + 1
    assert "Acknowledged* by <@U0SECOPS>" in json.dumps(updates[-1]["args"]["blocks"])


def test_a_burst_of_200_findings_becomes_digests_and_none_is_dropped(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN 200 leaking messages posted within about ten seconds
    import random

    from slack_dlp_tools.local.samples import fake_github_pat

    rng = random.Random(77)
    posts_before = len(slack.alerts())
    started = time.monotonic()
    for i in range(200):
        envelope = event_envelope(message_event(f"burst {fake_github_pat(rng)}", channel=f"C0B{i:04d}"))
        assert post_signed(deployed, envelope)[0] == 200
    posting = time.monotonic() - started

    def alerted_channels() -> set[str]:
        posted = json.dumps([a["args"]["blocks"] for a in slack.alerts()[posts_before:]])
        return {f"C0B{i:04d}" for i in range(200) if f"<#C0B{i:04d}>" in posted}

    # THEN every one of them is alerted, in far fewer messages than 200, and nothing waits in a DLQ
    assert wait_for(lambda: len(alerted_channels()) == 200, timeout=180), f"{len(alerted_channels())} of 200"
    posts = len(slack.alerts()) - posts_before
    assert posts < 100
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=60)
    print(f"\n200 findings posted in {posting:.1f} s -> {posts} alert messages")


def test_shared_files_alert_by_name_and_location_and_bad_files_are_skipped_with_reasons(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    import random

    from slack_dlp_tools.local.samples import fake_card_number, fake_github_pat
    from tests import filefactory

    rng = random.Random(5)
    card, token = fake_card_number(rng), fake_github_pat(rng)
    files = {
        "F0E2ECSV": ("customers.csv", f"name,card\nAda,{card}\n".encode()),
        "F0E2EPDF": ("statement.pdf", filefactory.pdf(["Statement", f"card {card}"])),
        "F0E2EDOC": ("handover.docx", filefactory.docx(["Handover", f"token {token}"])),
        "F0E2EBOMB": ("bomb.zip", filefactory.zip_of({"z.txt": b"0" * 3_000_000})),
        "F0E2EBAD": ("broken.pdf", b"%PDF-1.4 not really"),
    }
    for file_id, (name, content) in files.items():
        slack.add_file(file_id, name, content)
    slack.add_file("F0E2EHUGE", "dump.csv", b"a,b\n", size=200 * 1024 * 1024)
    before = len(slack.alerts())
    # WHEN each is shared
    for file_id in [*files, "F0E2EHUGE"]:
        envelope = event_envelope({"type": "file_shared", "file_id": file_id, "user_id": "U0ALICE",
                                   "channel_id": "C0E2EFILES"})  # fmt: skip
        assert post_signed(deployed, envelope)[0] == 200

    def posted() -> str:
        return json.dumps([a["args"]["blocks"] for a in slack.alerts()[before:]], ensure_ascii=False)

    # THEN the three files with planted values alert, naming the file and where in it
    expected = ["`customers.csv` (line 2)", "`statement.pdf` (page 1)", "`handover.docx` (paragraph 2)"]
    assert wait_for(lambda: all(e in posted() for e in expected), timeout=120), posted()[:500]
    assert card not in posted() and token not in posted()
    # AND the others are recorded as not inspected, with their reasons, and no queue holds a failure
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=60)
    listing = run_cli("findings", "--since", "1h", "--json", "--endpoint", deployed.endpoint)
    reasons = {e.get("file_id"): e.get("reason") for e in json.loads(listing.stdout)["events"]
               if e["kind"] == "file_skipped" and e.get("file_id", "").startswith("F0E2E")}  # fmt: skip
    assert reasons == {"F0E2EBOMB": "zip_bomb", "F0E2EBAD": "corrupt", "F0E2EHUGE": "too_large"}
