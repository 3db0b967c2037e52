from __future__ import annotations

from typing import Any

import pytest

from slack_dlp.model import InspectionItem, MessageKind
from slack_dlp.slack.events import MalformedEvent, Skip, normalize
from tests.factories import event_envelope, message_event


def _edit(new_text: str, old_text: str, **message: Any) -> dict[str, Any]:
    return {
        "type": "message", "subtype": "message_changed", "channel": "C1", "ts": "1700000100.000000",
        "message": {"type": "message", "user": "U1", "ts": "1700000000.000100", "text": new_text, **message},
        "previous_message": {"type": "message", "user": "U1", "ts": "1700000000.000100", "text": old_text},
    }  # fmt: skip


def test_plain_message_becomes_a_normalized_item() -> None:
    # GIVEN a message in a thread
    envelope = event_envelope(message_event("hi", channel="C1", user="U1", ts="1.000100", thread_ts="0.5"))
    # WHEN
    item = normalize(envelope)
    # THEN only the fields the pipeline needs survive
    assert isinstance(item, InspectionItem)
    assert (item.ref.team_id, item.ref.channel_id, item.ref.user_id, item.ref.ts) == (
        "T0LOCAL",
        "C1",
        "U1",
        "1.000100",
    )
    assert item.ref.thread_ts == "0.5"
    assert item.ref.event_id == envelope["event_id"]
    assert item.text == "hi"


def test_edit_inspects_the_new_text_as_an_edit() -> None:
    item = normalize(event_envelope(_edit("new secret text", "old text")))
    assert isinstance(item, InspectionItem)
    assert item.text == "new secret text"
    assert item.ref.kind is MessageKind.EDIT
    assert item.ref.ts == "1700000000.000100"


def test_file_share_and_app_mention_are_inspected() -> None:
    shared = normalize(event_envelope(message_event("see file", subtype="file_share", files=[{"id": "F1"}])))
    mention = normalize(event_envelope({**message_event("<@U0DLPBOT> hello"), "type": "app_mention"}))
    assert isinstance(shared, InspectionItem) and shared.ref.kind is MessageKind.FILE_SHARE
    assert isinstance(mention, InspectionItem) and mention.ref.kind is MessageKind.MENTION


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (message_event("x", bot_id="B1"), "bot_message"),
        (message_event("x", subtype="bot_message"), "bot_message"),
        (message_event("x", user="U0DLPBOT"), "own_bot"),
        ({"type": "message", "subtype": "message_deleted", "channel": "C1", "ts": "1.0"}, "message_deleted"),
        (message_event("joined", subtype="channel_join"), "subtype:channel_join"),
        (message_event("   "), "no_text"),
        ({"type": "reaction_added", "user": "U1"}, "event_type:reaction_added"),
        (_edit("same", "same"), "text_unchanged"),
        (_edit("by bot", "x", bot_id="B1"), "bot_message"),
    ],
)
def test_events_that_are_not_inspected_are_skipped_with_a_reason(event: dict[str, Any], reason: str) -> None:
    assert normalize(event_envelope(event)) == Skip(reason)


@pytest.mark.parametrize(
    "envelope",
    [
        {"type": "event_callback", "team_id": "T1"},
        {"type": "event_callback", "team_id": "T1", "event": "text"},
        {"type": "event_callback", "event": message_event("x")},
        {"type": "event_callback", "team_id": "T1", "event": {"type": "message", "text": "no channel"}},
        {
            "type": "event_callback",
            "team_id": "T1",
            "event": {"type": "message", "subtype": "message_changed"},
        },
    ],
)
def test_envelopes_missing_required_fields_are_malformed(envelope: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        normalize(envelope)
