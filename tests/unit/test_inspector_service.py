from __future__ import annotations

import json

import pytest

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.dlp.base import DlpError
from slack_dlp.dlp.builtin import BuiltinDlpClient
from slack_dlp.inspect import Inspector
from slack_dlp.model import InspectionResult, MalformedMessage
from tests.factories import canary_secrets, inspection_item
from tests.fakes import FakeDlpClient, InMemoryPublisher

CANARIES = canary_secrets()


def _dlp(max_items: int = 100) -> FakeDlpClient:
    engine = DetectionEngine(fingerprinter=Fingerprinter(b"k" * 32))
    return FakeDlpClient(BuiltinDlpClient(engine), max_items=max_items)


def _records(texts: list[str]) -> list[tuple[str, str]]:
    return [(f"m{i}", inspection_item(t, ts=f"1700000000.{i:06d}").to_json()) for i, t in enumerate(texts)]


def test_one_dlp_request_per_batch_and_only_findings_are_published() -> None:
    # GIVEN a batch of 100 messages, two of which leak something
    texts = [f"chatter {i}" for i in range(98)] + [f"key {CANARIES['aws']}", f"card {CANARIES['card']}"]
    dlp, results = _dlp(), InMemoryPublisher()
    inspector = Inspector(dlp, results)
    # WHEN the batch is inspected and each record completed
    records = _records(texts)
    batch = inspector.inspect(records)
    for message_id, _ in records:
        inspector.complete(batch, message_id)
    # THEN one request carried all 100, and two masked results were published
    assert dlp.requests == [100]
    published = [InspectionResult.from_json(b) for b in results.bodies]
    assert sorted(f.detector for r in published for f in r.findings) == ["aws-access-key-id", "payment-card"]
    for body in results.bodies:
        for canary in CANARIES.values():
            assert canary not in body and canary.replace(" ", "") not in body


def test_batches_larger_than_the_provider_limit_are_split() -> None:
    dlp = _dlp(max_items=30)
    Inspector(dlp, InMemoryPublisher()).inspect(_records([f"m{i}" for i in range(100)]))
    assert dlp.requests == [30, 30, 30, 10]


def test_a_failed_dlp_request_fails_every_record_of_that_request() -> None:
    dlp = _dlp()
    dlp.fail_request = DlpError("HTTP 429 RESOURCE_EXHAUSTED", retry_after=1.0)
    inspector = Inspector(dlp, InMemoryPublisher())
    records = _records(["a", "b"])
    batch = inspector.inspect(records)
    for message_id, _ in records:
        with pytest.raises(DlpError):
            inspector.complete(batch, message_id)


def test_item_level_failures_fail_only_their_record() -> None:
    dlp = _dlp()
    dlp.fail_texts = {"bad"}
    results = InMemoryPublisher()
    inspector = Inspector(dlp, results)
    records = _records(["bad", f"leak {CANARIES['github']}"])
    batch = inspector.inspect(records)
    with pytest.raises(DlpError):
        inspector.complete(batch, "m0")
    assert inspector.complete(batch, "m1") is not None
    assert len(results.bodies) == 1


def test_poison_records_fail_alone_and_do_not_block_the_batch() -> None:
    results = InMemoryPublisher()
    inspector = Inspector(_dlp(), results)
    records = [("poison", "{not json"), ("ok", inspection_item(f"x {CANARIES['github']}").to_json())]
    batch = inspector.inspect(records)
    with pytest.raises(MalformedMessage):
        inspector.complete(batch, "poison")
    inspector.complete(batch, "ok")
    assert len(results.bodies) == 1


def test_publish_failure_fails_the_record() -> None:
    inspector = Inspector(_dlp(), InMemoryPublisher(fail_with="SQS SendMessage failed: KMS.DisabledException"))
    records = _records([f"x {CANARIES['github']}"])
    batch = inspector.inspect(records)
    with pytest.raises(Exception, match=r"KMS\.DisabledException"):
        inspector.complete(batch, "m0")


def test_results_reference_the_message_not_its_text() -> None:
    results = InMemoryPublisher()
    inspector = Inspector(_dlp(), results)
    records = _records([f"the secret is {CANARIES['github']} ok"])
    inspector.complete(inspector.inspect(records), "m0")
    data = json.loads(results.bodies[0])
    assert "text" not in data
    assert "the secret is" not in results.bodies[0]


def test_allowlisted_channels_and_users_spend_no_dlp_quota_and_never_alert() -> None:
    from slack_dlp.inspect import ItemAllowlist

    dlp, results = _dlp(), InMemoryPublisher()
    inspector = Inspector(dlp, results, skip=ItemAllowlist(channels=frozenset({"C0SEC"}), users=frozenset({"U0BOT"})))
    leak = f"gh {CANARIES['github']}"
    records = [
        ("a", inspection_item(leak, channel="C0SEC").to_json()),
        ("b", inspection_item(leak, user="U0BOT", ts="1.000002").to_json()),
        ("c", inspection_item(leak, ts="1.000003").to_json()),
    ]
    batch = inspector.inspect(records)
    for message_id, _ in records:
        inspector.complete(batch, message_id)
    assert dlp.requests == [1]
    assert len(results.bodies) == 1
