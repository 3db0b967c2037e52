"""Operating the deployed stack (MiniStack): findings on the event bus, status, redrive, the allowlist."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from slack_dlp.model import InspectionItem, MessageRef
from slack_dlp_tools.local.deployment import LocalDeployment
from slack_dlp_tools.local.samples import event_envelope, message_event
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.e2e.conftest import SECRET, post_signed, run_cli, wait_for
from tests.factories import canary_secrets, signed_request

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def siem_queue(deployed: LocalDeployment) -> str:
    """What a SIEM does: a rule on the stack's bus for slack-dlp's events, with an SQS queue as target."""
    sqs, events = deployed.client("sqs"), deployed.client("events")
    url = sqs.create_queue(QueueName="siem-findings")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = deployed.outputs["EventBusName"]
    events.put_rule(Name="siem", EventBusName=bus, EventPattern=json.dumps({"source": ["slack-dlp"]}))
    events.put_targets(Rule="siem", EventBusName=bus, Targets=[{"Id": "siem-queue", "Arn": arn}])
    return url


def _received(deployed: LocalDeployment, url: str, into: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sqs = deployed.client("sqs")
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        into.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return into


def _press(deployed: LocalDeployment, blocks: list[dict[str, Any]], action_id: str, user: str) -> int:
    actions = next(b for b in blocks if b.get("type") == "actions")
    button = next(e for e in actions["elements"] if e["action_id"] == action_id)
    payload = {
        "type": "block_actions",
        "team": {"id": "T0LOCAL"},
        "user": {"id": user},
        "container": {"channel_id": "C0ALERTS", "message_ts": "1700000000.000777"},
        "message": {"blocks": blocks},
        "actions": [{"action_id": action_id, "block_id": actions["block_id"], "value": button["value"]}],
    }
    body, headers = signed_request(
        urlencode({"payload": json.dumps(payload)}), secret=SECRET, content_type="application/x-www-form-urlencoded"
    )
    return deployed.post_event(body, headers, url=deployed.interactions_url)[0]


def _alerted(slack: SlackStandIn, since: int, channel: str) -> list[dict[str, Any]]:
    return [a for a in slack.alerts()[since:] if f"<#{channel}>" in json.dumps(a["args"].get("blocks", []))]


def test_a_finding_and_its_triage_reach_a_rule_on_the_event_bus_masked(
    deployed: LocalDeployment, slack: SlackStandIn, siem_queue: str
) -> None:
    # GIVEN a SIEM's rule on the stack's event bus, and a leaked value
    value = canary_secrets(seed=2024)["github"]
    before = len(slack.alerts())
    # WHEN it is posted and alerted, and someone acknowledges the alert
    assert post_signed(deployed, event_envelope(message_event(f"token {value}", channel="C0E2EBUS")))[0] == 200
    assert wait_for(lambda: bool(_alerted(slack, before, "C0E2EBUS")))
    assert (
        _press(deployed, _alerted(slack, before, "C0E2EBUS")[0]["args"]["blocks"], "dlp_acknowledge", "U0SECOPS") == 200
    )
    # THEN the finding and the triage action arrive on the rule's target queue, masked
    received: list[dict[str, Any]] = []

    def arrived() -> bool:
        kinds = {e["detail-type"] for e in _received(deployed, siem_queue, received)}
        return {"slack-dlp finding", "slack-dlp triage"} <= kinds

    assert wait_for(arrived, timeout=60), received
    [finding] = [
        e["detail"]
        for e in received
        if e["detail-type"] == "slack-dlp finding" and e["detail"]["channel"] == "C0E2EBUS"
    ]
    assert finding["detector"] == "github-pat" and finding["masked"].startswith("ghp_")
    assert finding["workspace"] == "T0LOCAL" and finding["fingerprint"] and finding["permalink"]
    [triage] = [e["detail"] for e in received if e["detail-type"] == "slack-dlp triage"]
    assert triage["action"] == "acknowledged" and triage["actor"] == "U0SECOPS"
    assert all(e["source"] == "slack-dlp" for e in received)
    assert value not in json.dumps(received)


def test_a_message_forced_into_the_inspect_dlq_is_redriven_and_then_alerts(
    deployed: LocalDeployment, slack: SlackStandIn
) -> None:
    # GIVEN a message parked in the inspect DLQ (as after max_receive_count failed deliveries)
    value = canary_secrets(seed=2025)["aws"]
    ref = MessageRef(team_id="T0LOCAL", channel_id="C0E2EDLQ", ts="1700000100.000100", user_id="U0ALICE")
    sqs = deployed.client("sqs")
    sqs.send_message(
        QueueUrl=deployed.outputs["InspectDlqUrl"], MessageBody=InspectionItem(ref, f"k {value}").to_json()
    )
    # WHEN status is asked, it shows every queue and the waiting message (and says unhealthy)
    status = run_cli("status", "--json", "--endpoint", deployed.endpoint, check=False)
    assert status.returncode == 1, status.stderr
    report = json.loads(status.stdout)
    queues = {q["queue"]: q for q in report["queues"]}
    assert {"inspect", "results", "files"} <= set(queues)
    assert queues["inspect"]["dlq_waiting"] == 1
    assert report["last_alert"] and report["last_24h"]["alerts"] >= 1
    before = len(slack.alerts())
    # AND the DLQ is redriven
    redriven = run_cli("redrive", "--queue", "inspect", "--json", "--endpoint", deployed.endpoint)
    result = json.loads(redriven.stdout)
    assert (result["moved"], result["failed"], result["remaining"]) == (1, 0, 0)
    # THEN it is inspected and alerts, and the queues drain
    assert wait_for(lambda: bool(_alerted(slack, before, "C0E2EDLQ"))), "the redriven message did not alert"
    assert wait_for(lambda: sum(deployed.queue_depths().values()) == 0, timeout=30)
    assert value not in json.dumps(slack.alerts()[before:])
    healthy = run_cli("status", "--endpoint", deployed.endpoint, check=False)
    assert "inspect" in healthy.stdout and "Last alert:" in healthy.stdout


def test_allowlist_list_and_remove_round_trip(deployed: LocalDeployment, slack: SlackStandIn) -> None:
    # GIVEN a value marked as a false positive from its alert
    value = canary_secrets(seed=2026)["github"]
    before = len(slack.alerts())
    assert post_signed(deployed, event_envelope(message_event(f"token {value}", channel="C0E2EALLOW")))[0] == 200
    assert wait_for(lambda: bool(_alerted(slack, before, "C0E2EALLOW")))
    blocks = _alerted(slack, before, "C0E2EALLOW")[0]["args"]["blocks"]
    assert _press(deployed, blocks, "dlp_false_positive", "U0SECOPS") == 200
    # WHEN the allowlist is listed
    listing = json.loads(
        run_cli("allowlist", "list", "--workspace", "T0LOCAL", "--json", "--endpoint", deployed.endpoint).stdout
    )["allowlist"]
    [entry] = [e for e in listing if e["alert"] == "C0ALERTS/1700000000.000777" and e["masked"].startswith("ghp_")]
    # THEN it shows the masked value, who and from which alert; and removing it takes it off the list
    assert entry["actor"] == "U0SECOPS" and value not in json.dumps(listing)
    removed = run_cli("allowlist", "remove", entry["fingerprint"], "--endpoint", deployed.endpoint)
    assert "T0LOCAL" in removed.stdout
    after = json.loads(run_cli("allowlist", "list", "--json", "--endpoint", deployed.endpoint).stdout)["allowlist"]
    assert entry["fingerprint"] not in {e["fingerprint"] for e in after}
    again = run_cli("allowlist", "remove", entry["fingerprint"], "--endpoint", deployed.endpoint, check=False)
    assert again.returncode == 2 and "not on the allowlist" in again.stderr
