"""Operations against moto and the Slack stand-in: who may triage, the allowlist's life, redrive."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from slack_dlp.triage import ACKNOWLEDGE, FALSE_POSITIVE, DynamoDbTriageStore
from slack_dlp_tools.cli.redrive import redrive
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.factories import (
    FakeLambdaContext,
    canary_secrets,
    http_api_event,
    inspection_item,
    signed_request,
    sqs_event,
)
from tests.fakes import FakeClock
from tests.integration.conftest import FakeStack

CANARIES = canary_secrets(seed=4242)


def _press(action_id: str, value: str, blocks: list[dict[str, Any]], user: str) -> dict[str, Any]:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "container": {"type": "message", "channel_id": "C0ALERTS", "message_ts": "1700000001.000100"},
        "message": {"blocks": blocks},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }
    body, headers = signed_request(urlencode({"payload": json.dumps(payload)}),
                                   content_type="application/x-www-form-urlencoded")  # fmt: skip
    return http_api_event(body, headers, path="/slack/interactions", base64_body=True)


def _alert(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, text: str, ts: str = "1700000000.000100"
) -> tuple[list[Any], dict[str, str]]:
    inspector, reporter = load_handler("inspector"), load_handler("reporter")
    inspector.handler(sqs_event([inspection_item(text, ts=ts).to_json()]), FakeLambdaContext())
    bodies = [m["Body"] for m in stack.drain(stack.results_queue_url)]
    assert reporter.handler(sqs_event(bodies), FakeLambdaContext()) == {"batchItemFailures": []}
    blocks = slack.alerts()[-1]["args"]["blocks"]
    buttons = next(b for b in blocks if b.get("block_id") == "dlp_triage")["elements"]
    return blocks, {b["action_id"]: b["value"] for b in buttons}


def test_only_listed_users_and_group_members_may_triage_and_a_refusal_is_told_and_audited(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN triage limited to one user and one user group
    monkeypatch.setenv("SLACK_DLP_TRIAGE_USERS", "U0LEAD")
    monkeypatch.setenv("SLACK_DLP_TRIAGE_USERGROUP", "S0SECOPS")
    slack.state.usergroups["S0SECOPS"] = ["U0ONCALL"]
    blocks, values = _alert(load_handler, stack, slack, f"key {CANARIES['github']}")
    interactions = load_handler("interactions")
    # WHEN someone else presses False positive
    response = interactions.handler(_press(FALSE_POSITIVE, values[FALSE_POSITIVE], blocks, "U0INTERN"),
                                    FakeLambdaContext())  # fmt: skip
    # THEN nothing changes, they are told in an ephemeral message, and the attempt is in the audit trail
    assert response["statusCode"] == 200
    assert not [c for c in slack.state.calls if c["method"] == "chat.update"]
    [notice] = [c for c in slack.state.calls if c["method"] == "chat.postEphemeral" and c["args"]["user"] == "U0INTERN"]
    assert "not allowed" in notice["args"]["text"]
    store = DynamoDbTriageStore(boto3.client("dynamodb"), stack.triage_table, 30)
    [refused] = [e for e in store.since(3600) if e["kind"] == "triage_refused"]
    assert refused["actor"] == "U0INTERN" and refused["action"] == "false_positive"
    assert store.allowlist() == []
    # AND a member of the group may (its membership read from usergroups.users.list)
    interactions.handler(_press(ACKNOWLEDGE, values[ACKNOWLEDGE], blocks, "U0ONCALL"), FakeLambdaContext())
    assert [c for c in slack.state.calls if c["method"] == "chat.update"]
    assert any(c["method"] == "usergroups.users.list" for c in slack.state.calls)


def test_false_positive_lists_with_its_masked_value_and_alert_and_removal_makes_it_alert_again(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN a value marked as a false positive
    text = f"key {CANARIES['github']}"
    blocks, values = _alert(load_handler, stack, slack, text)
    load_handler("interactions").handler(_press(FALSE_POSITIVE, values[FALSE_POSITIVE], blocks, "U0LEAD"),
                                         FakeLambdaContext())  # fmt: skip
    store = DynamoDbTriageStore(boto3.client("dynamodb"), stack.triage_table, 30)
    # WHEN the allowlist is listed
    [entry] = store.allowlist(["T0TEAM"])
    # THEN it shows the masked value, who, when and from which alert, never the value
    assert entry["masked"].startswith("ghp_") and "•" in entry["masked"]
    assert entry["actor"] == "U0LEAD" and entry["alert"] == "C0ALERTS/1700000001.000100" and entry["expires"] is None
    assert CANARIES["github"] not in json.dumps(entry)
    # AND once removed, the value alerts again
    assert store.remove("T0TEAM", entry["fingerprint"])
    assert not store.remove("T0TEAM", entry["fingerprint"])
    alerts = len(slack.alerts())
    _alert(load_handler, stack, slack, text, ts="1700000009.000100")
    assert len(slack.alerts()) == alerts + 1


def test_allowlist_entries_expire_after_allowlist_ttl_days(stack: FakeStack) -> None:
    clock = FakeClock(start=1_700_000_000)
    store = DynamoDbTriageStore(boto3.client("dynamodb"), stack.triage_table, 30, clock, allowlist_ttl_days=7)
    store.add("T1", ["f" * 32], actor="U1", item_id="i", masked={"f" * 32: "AKIA••"})
    assert store.allowed("T1", ["f" * 32]) == {"f" * 32}
    assert store.allowlist()[0]["expires"].startswith("2023-11-21")
    clock.sleep(7 * 86400 + 1)
    # DynamoDB's TTL deletes late: the entry is ignored from the moment it expires
    assert store.allowed("T1", ["f" * 32]) == set()
    assert store.allowlist() == []


def _queues(names: tuple[str, str] = ("source", "source-dlq")) -> tuple[Any, str, str]:
    sqs = boto3.client("sqs")
    return sqs, sqs.create_queue(QueueName=names[0])["QueueUrl"], sqs.create_queue(QueueName=names[1])["QueueUrl"]


def _bodies(sqs: Any, url: str) -> list[str]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def test_redrive_moves_every_message_back_in_batches_where_sqs_has_no_move_tasks(aws: None) -> None:
    # GIVEN 25 messages in a DLQ (moto, like MiniStack, has no StartMessageMoveTask)
    sqs, source, dlq = _queues()
    sent = [json.dumps({"n": i}) for i in range(25)]
    for body in sent:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    # WHEN a dry run, then 7, then the rest are redriven
    dry = redrive(sqs, "inspect", dlq, source, dry_run=True)
    assert (dry.moved, dry.remaining, dry.dry_run) == (25, 25, True)
    first = redrive(sqs, "inspect", dlq, source, limit=7)
    assert (first.moved, first.failed, first.remaining, first.method) == (7, 0, 18, "receive/send/delete")
    progress: list[int] = []
    rest = redrive(sqs, "inspect", dlq, source, progress=progress.append)
    # THEN every message is back on its queue exactly once, and the DLQ is empty
    assert (rest.moved, rest.remaining) == (18, 0) and progress[-1] == 18
    assert sorted(_bodies(sqs, source)) == sorted(sent)


class _RefusingSqs:
    """SQS whose source queue refuses some sends."""

    def __init__(self, inner: Any, refuse: int) -> None:
        self._inner = inner
        self._refuse = refuse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        refused, accepted = Entries[: self._refuse], Entries[self._refuse :]
        response = self._inner.send_message_batch(QueueUrl=QueueUrl, Entries=accepted) if accepted else {}
        failed = [{"Id": e["Id"], "Code": "KMS.ThrottlingException", "SenderFault": False} for e in refused]
        return {"Successful": response.get("Successful", []), "Failed": failed}


def test_a_message_the_source_queue_refuses_stays_in_the_dlq(aws: None) -> None:
    sqs, source, dlq = _queues(("src2", "src2-dlq"))
    for i in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"m{i}")
    result = redrive(_RefusingSqs(sqs, refuse=3), "inspect", dlq, source)
    assert (result.moved, result.failed, result.remaining) == (0, 3, 3)
    assert _bodies(sqs, source) == []
