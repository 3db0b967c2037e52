from __future__ import annotations

from typing import Any

from slack_dlp.model import InspectionResult
from tests.factories import FakeLambdaContext, canary_secrets, inspection_item, sqs_event
from tests.integration.conftest import FakeStack

CANARIES = canary_secrets()


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
