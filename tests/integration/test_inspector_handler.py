from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from slack_dlp.model import InspectionItem, InspectionResult, MessageKind
from tests.factories import FakeLambdaContext, canary_secrets, inspection_item, sqs_event
from tests.integration.conftest import FakeStack

CANARIES = canary_secrets()
TF_RULE = "gitleaks.hashicorp-tf-password"


def test_batch_of_100_publishes_masked_results_and_reports_no_failures(load_handler: Any, stack: FakeStack) -> None:
    # GIVEN a full SQS batch with three leaks among chatter
    inspector = load_handler("inspector")
    texts = [f"standup note {i}" for i in range(97)]
    texts += [f"aws {CANARIES['aws']}", f"gh {CANARIES['github']}", f"card {CANARIES['card']}"]
    event = sqs_event([inspection_item(t, ts=f"1700000000.{i:06d}").to_json() for i, t in enumerate(texts)])
    # WHEN
    response = inspector.handler(event, FakeLambdaContext())
    # THEN no record failed and three masked results are on the results queue
    assert response == {"batchItemFailures": []}
    results = [InspectionResult.from_json(m["Body"]) for m in stack.drain(stack.results_queue_url)]
    assert sorted(f.detector for r in results for f in r.findings) == [
        "aws-access-key-id",
        "github-pat",
        "payment-card",
    ]
    bodies = " ".join(r.to_json() for r in results)
    for canary in CANARIES.values():
        assert canary not in bodies
        assert canary.replace(" ", "") not in bodies


def test_poison_record_fails_alone(load_handler: Any, stack: FakeStack) -> None:
    inspector = load_handler("inspector")
    event = sqs_event(["{broken", inspection_item(f"gh {CANARIES['github']}").to_json()])
    response = inspector.handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert len(stack.drain(stack.results_queue_url)) == 1


def test_results_queue_failure_fails_only_records_with_findings(load_handler: Any, stack: FakeStack) -> None:
    inspector = load_handler("inspector")
    inspector.inspector._results._queue_url = stack.results_queue_url + "-gone"
    event = sqs_event([inspection_item("clean").to_json(), inspection_item(f"gh {CANARIES['github']}").to_json()])
    response = inspector.handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


def test_rules_with_a_path_fire_on_file_chunks_of_matching_files_only(
    load_handler: Any, stack: FakeStack, monkeypatch: Any
) -> None:
    # GIVEN the upstream gitleaks rules deployed, and the same Terraform text as a chunk of a file
    # named main.tf, a chunk of notes.txt, chunks of a zip's main.tf and notes.txt, and a chat message
    rules = Path(__file__).resolve().parents[1] / "data" / "gitleaks.toml"
    monkeypatch.setenv("SLACK_DLP_CUSTOM_RULES", json.dumps([str(rules)]))
    inspector = load_handler("inspector")
    terraform = 'resource "azurerm_sql_server" "db" {\n  administrator_login_password = "Tq7Zk2Lp9Wm4xv"\n}\n'
    message = inspection_item(terraform, ts="1700000000.000001")
    chunks = [
        InspectionItem(
            ref=replace(message.ref, kind=MessageKind.FILE, file_id=f"F0{i}", file_name=name, file_member=member),
            text=terraform,
        )
        for i, (name, member) in enumerate(
            (("infra/main.tf", ""), ("notes.txt", ""), ("bundle.zip", "infra/main.tf"), ("bundle.zip", "notes.txt"))
        )
    ]
    event = sqs_event([chunk.to_json() for chunk in chunks] + [message.to_json()])
    # WHEN the inspector handles the batch
    response = inspector.handler(event, FakeLambdaContext())
    # THEN only the main.tf chunks fire the Terraform rule, the zip's named as gitleaks names members
    assert response == {"batchItemFailures": []}
    results = [InspectionResult.from_json(m["Body"]) for m in stack.drain(stack.results_queue_url)]
    fired = {r.ref.file_path or "message" for r in results for f in r.findings if f.detector == TF_RULE}
    assert fired == {"infra/main.tf", "bundle.zip!infra/main.tf"}
    assert all("Tq7Zk2Lp9Wm4xv" not in r.to_json() for r in results)
