"""Files end to end in-process: ingest -> files queue -> fetcher (Slack stand-in) -> inspect -> alert."""

from __future__ import annotations

import json
import random
from typing import Any

import boto3
import pytest

from slack_dlp.model import FileRef, InspectionItem, MessageKind
from slack_dlp.triage import DynamoDbTriageStore
from slack_dlp_tools.local import samples
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests import filefactory
from tests.factories import FakeLambdaContext, event_envelope, http_api_event, message_event, signed_request, sqs_event
from tests.integration.conftest import FakeStack

RNG = random.Random(71)
TOKEN = samples.fake_github_pat(RNG)
CARD = samples.fake_card_number(RNG)


def _file_shared(file_id: str) -> dict[str, Any]:
    return event_envelope({"type": "file_shared", "file_id": file_id, "user_id": "U0ALICE", "channel_id": "C0FILES"})


def _ingest(load_handler: Any, envelope: dict[str, Any]) -> None:
    body, headers = signed_request(envelope)
    assert load_handler("ingest").handler(http_api_event(body, headers), FakeLambdaContext())["statusCode"] == 200


def test_a_shared_file_is_queued_once_even_when_announced_twice(load_handler: Any, stack: FakeStack) -> None:
    _ingest(load_handler, _file_shared("F0CSV"))
    share = message_event("quarterly export", channel="C0FILES", subtype="file_share", files=[{"id": "F0CSV"}])
    _ingest(load_handler, event_envelope(share))
    refs = [FileRef.from_json(m["Body"]) for m in stack.drain(stack.files_queue_url)]
    assert [r.file_id for r in refs] == ["F0CSV"]
    # the file_share message's own text is still inspected as a message
    assert [InspectionItem.from_json(m["Body"]).text for m in stack.drain(stack.inspect_queue_url)] == [
        "quarterly export"
    ]


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("customers.csv", f"name,card,note\nAda,{CARD},vip\n".encode(), "line 2"),
        ("statement.pdf", filefactory.pdf(["Statement", f"card {CARD}"]), "page 1"),
        ("handover.docx", filefactory.docx(["Handover", f"token {TOKEN}"]), "paragraph 2"),
        ("credentials", f"[default]\ntoken = {TOKEN}\n".encode(), "line 2"),  # no suffix: its bytes are text
        ("support-bundle.tar.gz", filefactory.tar_of({"logs/app.log": f"ok\nT={TOKEN}".encode()}, gzipped=True),
         "logs/app.log, line 2"),
    ],
)  # fmt: skip
def test_shared_files_alert_naming_the_file_and_where(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, name: str, content: bytes, where: str
) -> None:
    # GIVEN a file with a planted value, shared in a channel
    slack.add_file("F0DOC", name, content)
    _ingest(load_handler, _file_shared("F0DOC"))
    # WHEN the fetcher, the inspector and the reporter run
    fetcher = load_handler("fetcher")
    refs = [m["Body"] for m in stack.drain(stack.files_queue_url)]
    assert fetcher.handler(sqs_event(refs), FakeLambdaContext()) == {"batchItemFailures": []}
    items = [m["Body"] for m in stack.drain(stack.inspect_queue_url)]
    assert all(InspectionItem.from_json(b).ref.kind is MessageKind.FILE for b in items)
    load_handler("inspector").handler(sqs_event(items), FakeLambdaContext())
    results = [m["Body"] for m in stack.drain(stack.results_queue_url)]
    assert load_handler("reporter").handler(sqs_event(results), FakeLambdaContext()) == {"batchItemFailures": []}
    # THEN one alert names the file and where in it, links to the file, and never shows the value
    [alert] = slack.alerts()
    posted = json.dumps(alert["args"]["blocks"], ensure_ascii=False)
    assert f"`{name}` ({where})" in posted
    assert "https://local.slack.test/files/U0/F0DOC/" in posted
    assert CARD not in posted and TOKEN not in posted and CARD.replace(" ", "") not in posted
    # AND the download used the bot token
    assert [c["auth"] for c in slack.state.calls if c["method"] == "files.download"] == ["bot"]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: s.add_file("F1", "huge.csv", b"a,b\n", size=200 * 1024 * 1024), "too_large"),
        (lambda s: s.add_file("F1", "doc.gdoc", b"", mode="external"), "external_link"),
        (lambda s: None, "deleted"),
        (lambda s: s.add_file("F1", "gone.csv", b"a,b\n", deleted_before_download=True), "deleted"),
        (lambda s: s.add_file("F1", "bomb.zip", filefactory.zip_of({"z.txt": b"0" * 3_000_000})), "zip_bomb"),
        (lambda s: s.add_file("F1", "broken.pdf", b"%PDF-1.4 garbage"), "corrupt"),
        (lambda s: s.add_file("F1", "photo.heic", b"\x00\x01"), "unsupported_type"),
        (lambda s: s.add_file("F1", "firmware", bytes(range(256)) * 8), "unsupported_type"),  # downloaded: not text
    ],
)
def test_files_that_cannot_be_inspected_are_recorded_with_a_reason_and_nothing_fails(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, setup: Any, reason: str
) -> None:
    setup(slack)
    fetcher = load_handler("fetcher")
    ref = FileRef(team_id="T0LOCAL", file_id="F1", channel_id="C0FILES", user_id="U0ALICE")
    assert fetcher.handler(sqs_event([ref.to_json()]), FakeLambdaContext()) == {"batchItemFailures": []}
    assert stack.drain(stack.inspect_queue_url) == []
    events = DynamoDbTriageStore(boto3.client("dynamodb"), stack.triage_table, 365).since(3600)
    assert [(e["kind"], e["reason"]) for e in events] == [("file_skipped", reason)]


def test_could_not_inspect_notice_for_an_encrypted_file_when_asked(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_DLP_ALERT_UNINSPECTED_FILES", "true")
    slack.add_file("F2", "locked.pdf", filefactory.encrypted_pdf(["secret stuff"]))
    ref = FileRef(team_id="T0LOCAL", file_id="F2", channel_id="C0FILES", user_id="U0ALICE")
    assert load_handler("fetcher").handler(sqs_event([ref.to_json()]), FakeLambdaContext()) == {"batchItemFailures": []}
    [notice] = slack.alerts()
    assert "could not inspect `locked.pdf`" in notice["args"]["text"]
    assert "encrypted" in notice["args"]["text"]


def test_findings_in_several_chunks_of_one_file_make_one_alert(
    load_handler: Any, stack: FakeStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a log file large enough for several chunks, with a leak in each
    monkeypatch.setenv("SLACK_DLP_FILE_CHUNK_CHARS", "2000")
    monkeypatch.setenv("SLACK_DLP_FILE_CHUNK_OVERLAP", "500")
    lines = [f"{i:05d} request ok" for i in range(600)]
    for i in (10, 300, 590):
        lines[i] = f"{i:05d} token={samples.fake_github_pat(RNG)}"
    slack.add_file("F3", "app.log", "\n".join(lines).encode())
    ref = FileRef(team_id="T0LOCAL", file_id="F3", channel_id="C0FILES", user_id="U0ALICE")
    load_handler("fetcher").handler(sqs_event([ref.to_json()]), FakeLambdaContext())
    items = [m["Body"] for m in stack.drain(stack.inspect_queue_url)]
    assert len(items) > 3
    load_handler("inspector").handler(sqs_event(items), FakeLambdaContext())
    results = [m["Body"] for m in stack.drain(stack.results_queue_url)]
    assert len(results) >= 3
    # WHEN the reporter runs THEN the file gets one alert listing every finding
    load_handler("reporter").handler(sqs_event(results), FakeLambdaContext())
    [alert] = slack.alerts()
    posted = json.dumps(alert["args"]["blocks"], ensure_ascii=False)
    assert "`app.log`" in posted
    assert posted.count("ghp_") >= 3
