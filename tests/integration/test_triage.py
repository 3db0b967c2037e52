"""The alert's buttons: signed interaction payloads in, the alert updated, the allowlist honoured."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from slack_dlp.slack.actions import ACKNOWLEDGE, FALSE_POSITIVE
from slack_dlp.triage import DynamoDbTriageStore
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.factories import (
    FakeLambdaContext,
    canary_secrets,
    http_api_event,
    inspection_item,
    signed_request,
    sqs_event,
)
from tests.integration.conftest import FakeStack

CANARIES = canary_secrets(seed=31)


def _alert_blocks(slack: SlackStandIn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    [alert] = slack.alerts()
    blocks = alert["args"]["blocks"]
    buttons = next(b for b in blocks if b.get("block_id") == "dlp_triage")["elements"]
    return blocks, {b["action_id"]: b["value"] for b in buttons}


def interaction(action_id: str, value: str, blocks: list[dict[str, Any]], *, team: str = "T0TEAM") -> dict[str, Any]:
    payload = {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": "U0SECOPS"},
        "container": {"type": "message", "channel_id": "C0ALERTS", "message_ts": "1700000001.000100"},
        "message": {"blocks": blocks},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }
    body, headers = signed_request(urlencode({"payload": json.dumps(payload)}),
                                   content_type="application/x-www-form-urlencoded")  # fmt: skip
    # An HTTP API hands a form-encoded body over base64-encoded.
    return http_api_event(body, headers, path="/slack/interactions", base64_body=True)


def _alert_for(load_handler: Any, stack: FakeStack, text: str) -> None:
    inspector, reporter = load_handler("inspector"), load_handler("reporter")
    assert (
        inspector.handler(sqs_event([inspection_item(text).to_json()]), FakeLambdaContext())["batchItemFailures"] == []
    )
    bodies = [m["Body"] for m in stack.drain(stack.results_queue_url)]
    if bodies:
        assert reporter.handler(sqs_event(bodies), FakeLambdaContext()) == {"batchItemFailures": []}


def test_acknowledge_updates_the_alert_with_who_and_when(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    _alert_for(load_handler, stack, f"key {CANARIES['github']}")
    blocks, values = _alert_blocks(slack)
    interactions = load_handler("interactions")
    response = interactions.handler(interaction(ACKNOWLEDGE, values[ACKNOWLEDGE], blocks), FakeLambdaContext())
    assert response["statusCode"] == 200
    [update] = [c for c in slack.state.calls if c["method"] == "chat.update"]
    updated = json.dumps(update["args"]["blocks"])
    assert "Acknowledged* by <@U0SECOPS>" in updated
    assert "dlp_triage" not in updated  # the buttons are gone
    assert CANARIES["github"] not in json.dumps(slack.state.calls)


def test_false_positive_allowlists_the_value_for_the_workspace_and_it_never_alerts_again(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN an alert for a leaked value, marked as a false positive
    text = f"key {CANARIES['github']}"
    _alert_for(load_handler, stack, text)
    blocks, values = _alert_blocks(slack)
    interactions = load_handler("interactions")
    interactions.handler(interaction(FALSE_POSITIVE, values[FALSE_POSITIVE], blocks), FakeLambdaContext())
    # WHEN the same value is posted again
    _alert_for(load_handler, stack, f"again: {CANARIES['github']}")
    # THEN no second alert, and the audit trail holds the alert and the action, masked
    assert len(slack.alerts()) == 1
    import boto3

    events = DynamoDbTriageStore(boto3.client("dynamodb"), stack.triage_table, 365).since(3600)
    assert [e["kind"] for e in events] == ["alert", "false_positive"]
    assert CANARIES["github"] not in json.dumps(events)
    assert events[1]["actor"] == "U0SECOPS"


def test_unsigned_interactions_are_rejected(load_handler: Any, stack: FakeStack) -> None:
    interactions = load_handler("interactions")
    event = interaction(ACKNOWLEDGE, '{"t":"T0TEAM","i":"x","f":[]}', [])
    event["headers"]["x-slack-signature"] = "v0=" + "0" * 64
    assert interactions.handler(event, FakeLambdaContext())["statusCode"] == 401


def test_a_button_from_another_workspace_is_refused(load_handler: Any, stack: FakeStack) -> None:
    interactions = load_handler("interactions")
    event = interaction(FALSE_POSITIVE, '{"t":"T0OTHER","i":"x","f":["ab"]}', [], team="T0TEAM")
    assert interactions.handler(event, FakeLambdaContext())["statusCode"] == 403


def test_malformed_payload_is_400(load_handler: Any, stack: FakeStack) -> None:
    interactions = load_handler("interactions")
    body, headers = signed_request(b"payload=not-json", content_type="application/x-www-form-urlencoded")
    event = http_api_event(body, headers, path="/slack/interactions")
    assert interactions.handler(event, FakeLambdaContext())["statusCode"] == 400


def test_a_digest_button_updates_only_its_own_result(load_handler: Any, stack: FakeStack, slack: SlackStandIn) -> None:
    # GIVEN a digest of two results
    inspector, reporter = load_handler("inspector"), load_handler("reporter")
    items = [inspection_item(f"k {CANARIES['github']}", channel="C0ONE"),
             inspection_item(f"k {CANARIES['aws']}", channel="C0TWO", ts="1700000000.000200")]  # fmt: skip
    inspector.handler(sqs_event([i.to_json() for i in items]), FakeLambdaContext())
    reporter.handler(sqs_event([m["Body"] for m in stack.drain(stack.results_queue_url)]), FakeLambdaContext())
    [digest] = slack.alerts()
    blocks = digest["args"]["blocks"]
    actions = [b for b in blocks if b.get("type") == "actions"]
    assert len(actions) == 2
    first = actions[0]
    ack = next(e for e in first["elements"] if e["action_id"] == ACKNOWLEDGE)
    # WHEN the first result is acknowledged
    event = interaction_for_block(ACKNOWLEDGE, ack["value"], blocks, first["block_id"])
    load_handler("interactions").handler(event, FakeLambdaContext())
    # THEN its buttons became the note, the other result keeps its buttons
    [update] = [c for c in slack.state.calls if c["method"] == "chat.update"]
    updated = update["args"]["blocks"]
    assert [b.get("block_id") for b in updated if b.get("type") == "actions"] == [actions[1]["block_id"]]
    assert "Acknowledged* by <@U0SECOPS>" in json.dumps(updated)


def interaction_for_block(action_id: str, value: str, blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0SECOPS"},
        "container": {"type": "message", "channel_id": "C0ALERTS", "message_ts": "1700000001.000100"},
        "message": {"blocks": blocks},
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button"}],
    }
    body, headers = signed_request(urlencode({"payload": json.dumps(payload)}),
                                   content_type="application/x-www-form-urlencoded")  # fmt: skip
    return http_api_event(body, headers, path="/slack/interactions", base64_body=True)
