"""Deleting the leaking message: the Delete button, and automatic deletion by policy (admin token)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from slack_dlp.slack.actions import DELETE
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.factories import FakeLambdaContext, canary_secrets, inspection_item, sqs_event
from tests.integration.conftest import ADMIN_TOKEN, FakeStack
from tests.integration.test_triage import interaction_for_block

CANARIES = canary_secrets(seed=47)


@pytest.fixture
def admin(stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="admin", SecretString=ADMIN_TOKEN)["ARN"]
    monkeypatch.setenv("SLACK_ADMIN_TOKEN_SECRET_ARN", arn)
    monkeypatch.setenv("SLACK_DLP_ADMIN_USER_TOKEN", "true")


def _alert(load_handler: Any, stack: FakeStack, text: str) -> None:
    item = inspection_item(text, channel="C0LEAK", ts="1700000000.000777")
    load_handler("inspector").handler(sqs_event([item.to_json()]), FakeLambdaContext())
    bodies = [m["Body"] for m in stack.drain(stack.results_queue_url)]
    assert load_handler("reporter").handler(sqs_event(bodies), FakeLambdaContext()) == {"batchItemFailures": []}


def test_delete_button_deletes_the_message_with_the_admin_token(
    admin: None, load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    _alert(load_handler, stack, f"key {CANARIES['github']}")
    [alert] = slack.alerts()
    actions = next(b for b in alert["args"]["blocks"] if b.get("type") == "actions")
    delete = next(e for e in actions["elements"] if e["action_id"] == DELETE)
    event = interaction_for_block(DELETE, delete["value"], alert["args"]["blocks"], actions["block_id"])
    assert load_handler("interactions").handler(event, FakeLambdaContext())["statusCode"] == 200
    [deleted] = [c for c in slack.state.calls if c["method"] == "chat.delete"]
    assert deleted["auth"] == "other"  # the admin's token, not the bot's
    assert (deleted["args"]["channel"], deleted["args"]["ts"]) == ("C0LEAK", "1700000000.000777")
    [update] = [c for c in slack.state.calls if c["method"] == "chat.update"]
    assert "Deleted* by <@U0SECOPS>" in json.dumps(update["args"]["blocks"])


def test_policy_deletes_secrets_automatically_and_says_so_in_the_alert(
    admin: None, load_handler: Any, stack: FakeStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_DLP_AUTO_DELETE_CATEGORIES", "secret")
    _alert(load_handler, stack, f"key {CANARIES['github']}")
    assert [c["args"]["channel"] for c in slack.state.calls if c["method"] == "chat.delete"] == ["C0LEAK"]
    [alert] = slack.alerts()
    assert "message deleted automatically" in json.dumps(alert["args"]["blocks"])


def test_policy_spares_other_categories(
    admin: None, load_handler: Any, stack: FakeStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_DLP_AUTO_DELETE_CATEGORIES", "secret")
    _alert(load_handler, stack, f"card {CANARIES['card']}")
    assert not [c for c in slack.state.calls if c["method"] == "chat.delete"]
    assert len(slack.alerts()) == 1


def test_without_an_admin_token_there_is_no_delete_button(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    _alert(load_handler, stack, f"key {CANARIES['github']}")
    [alert] = slack.alerts()
    assert DELETE not in json.dumps(alert["args"]["blocks"])
