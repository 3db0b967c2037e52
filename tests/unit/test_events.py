from __future__ import annotations

from typing import Any

import pytest

from slack_dlp.model import InspectionItem, JoinRequest, MessageKind
from slack_dlp.slack.events import (
    MalformedEvent,
    Skip,
    file_refs,
    join_request,
    normalize,
    rate_limited_minute,
    unescape,
)
from tests.factories import canary_secrets, event_envelope, message_event


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
        (message_event("x", user="U0DLPBOT"), "own_bot"),
        (message_event("x", user="U0OTHER", bot_id="B0DLP", app_id="A0DLP"), "own_bot"),
        (message_event("x", user="U0OTHER", bot_id="B0DLP", bot_profile={"app_id": "A0DLP"}), "own_bot"),
        ({"type": "message", "subtype": "message_deleted", "channel": "C1", "ts": "1.0"}, "message_deleted"),
        (message_event("joined", subtype="channel_join"), "subtype:channel_join"),
        (message_event("   "), "no_text"),
        ({"type": "reaction_added", "user": "U1"}, "event_type:reaction_added"),
        (_edit("same", "same"), "text_unchanged"),
        (_edit("by us", "x", app_id="A0DLP"), "own_bot"),
        (_edit("same", "same", attachments=[{"from_url": "https://x.test", "text": "a preview"}]), "text_unchanged"),
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


# -- other apps' messages: Slack's payload shapes --------------------------------------------------

#: A ``bot_message`` as Slack documents it (an integration: no user, a bot id, a username).
BOT_MESSAGE = {"type": "message", "subtype": "bot_message", "ts": "1358877455.000010", "channel": "C0BUILDS",
               "text": "Pushing is the answer", "bot_id": "BB12033", "username": "github", "icons": {}}  # fmt: skip


def _webhook_with_attachments(secret: str) -> dict[str, Any]:
    """An incoming webhook's message: empty text, everything in a legacy attachment."""
    return {
        "type": "message", "subtype": "bot_message", "text": "", "ts": "1700000200.000300", "channel": "C0BUILDS",
        "bot_id": "B0WEBHOOK", "username": "ci", "channel_type": "channel",
        "attachments": [{
            "id": 1, "color": "D00000", "fallback": "Build #42 failed",
            "pretext": "Deploy to staging", "title": "Build #42 failed", "title_link": "https://ci.example/42",
            "text": "step 3/7: export env", "footer": "ci.example", "ts": 1700000200,
            "fields": [{"title": "Environment", "value": f"AWS_ACCESS_KEY_ID={secret}", "short": False}],
        }],
    }  # fmt: skip


def test_another_apps_bot_message_is_inspected_and_names_the_bot() -> None:
    # GIVEN a bot_message of another integration (Slack's documented shape)
    item = normalize(event_envelope(BOT_MESSAGE))
    # THEN it is inspected, attributed to the bot, not to a person
    assert isinstance(item, InspectionItem)
    assert item.text == "Pushing is the answer"
    assert (item.ref.bot_id, item.ref.user_id) == ("BB12033", "")


def test_webhook_attachment_fields_and_text_are_inspected() -> None:
    # GIVEN a CI webhook that puts a key in an attachment field, with no message text at all
    secret = canary_secrets(seed=3)["aws"]
    item = normalize(event_envelope(_webhook_with_attachments(secret)))
    # THEN the attachment's pretext, title, text, fields and footer are the inspected text (once each)
    assert isinstance(item, InspectionItem)
    assert secret in item.text
    for piece in ("Deploy to staging", "Build #42 failed", "step 3/7: export env", "Environment", "ci.example"):
        assert item.text.count(piece) == 1, piece


def test_block_kit_sections_and_context_are_inspected_but_rich_text_is_not_repeated() -> None:
    secret = canary_secrets(seed=4)["github"]
    event = message_event(
        "deploy finished",
        bot_id="B0DEPLOY",
        app_id="A0OTHERAPP",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"token {secret}"},
             "fields": [{"type": "mrkdwn", "text": "*env* prod"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "by pipeline"}, {"type": "image"}]},
            {"type": "rich_text", "elements": [{"type": "rich_text_section",
                                                "elements": [{"type": "text", "text": "deploy finished"}]}]},
        ],
    )  # fmt: skip
    item = normalize(event_envelope(event))
    assert isinstance(item, InspectionItem)
    assert item.text.splitlines() == ["deploy finished", "Deploy", f"token {secret}", "*env* prod", "by pipeline"]


def test_listed_bots_are_skipped_and_unfurls_are_not_inspected() -> None:
    assert normalize(event_envelope(BOT_MESSAGE), skip_bot_ids=frozenset({"BB12033"})) == Skip("skip_bot_id")
    unfurled = message_event("see https://x.test", attachments=[{"from_url": "https://x.test", "text": "preview"}])
    item = normalize(event_envelope(unfurled))
    assert isinstance(item, InspectionItem) and item.text == "see https://x.test"


def test_files_shared_by_other_apps_are_fetched_but_not_our_own() -> None:
    shared = message_event("report", subtype="file_share", bot_id="B0CI", files=[{"id": "F1"}])
    assert [r.file_id for r in file_refs(event_envelope(shared))] == ["F1"]
    ours = message_event("report", subtype="file_share", bot_id="B0DLP", app_id="A0DLP", files=[{"id": "F2"}])
    assert file_refs(event_envelope(ours)) == []


# -- Enterprise Grid ----------------------------------------------------------------------------


def _grid_envelope(event: dict[str, Any], workspace: str, event_id: str) -> dict[str, Any]:
    """An org-wide install's envelope: the workspace, the org, and an enterprise authorization."""
    return {
        "token": "XXYYZZ", "team_id": workspace, "context_team_id": workspace, "enterprise_id": "E0ORG",
        "context_enterprise_id": "E0ORG", "api_app_id": "A0DLP", "event": event, "type": "event_callback",
        "event_id": event_id, "event_time": 1700000000, "is_ext_shared_channel": False,
        "authorizations": [{"enterprise_id": "E0ORG", "team_id": workspace, "user_id": "W0DLPBOT",
                            "is_bot": True, "is_enterprise_install": True}],
    }  # fmt: skip


def test_grid_events_carry_the_workspace_and_the_org_and_one_message_is_one_item() -> None:
    # GIVEN one message in a channel two workspaces of the org share, delivered through each of them
    event = message_event("hello", channel="C0SHARED", ts="1700000000.000100")
    first = normalize(_grid_envelope(event, "T0EAST", "Ev1"))
    second = normalize(_grid_envelope(event, "T0WEST", "Ev2"))
    # THEN each item names its workspace and the org, and both have the same id (deduplicated)
    assert isinstance(first, InspectionItem) and isinstance(second, InspectionItem)
    assert (first.ref.team_id, first.ref.enterprise_id) == ("T0EAST", "E0ORG")
    assert second.ref.team_id == "T0WEST"
    assert first.id == second.id == "E0ORG:C0SHARED:1700000000.000100"
    # AND the org-level bot user (W...) is recognised as our own
    assert normalize(_grid_envelope(message_event("x", user="W0DLPBOT"), "T0EAST", "Ev3")) == Skip("own_bot")


# -- channels to join, rate-limited minutes -------------------------------------------------------


def test_channel_created_and_unarchived_become_join_requests() -> None:
    # GIVEN Slack's channel_created (a channel object) and channel_unarchive (a channel id) events
    created = {"type": "channel_created", "channel": {"id": "C024BE91L", "name": "fun", "created": 1360782804,
                                                      "creator": "U024BE7LH"}}  # fmt: skip
    unarchived = {"type": "channel_unarchive", "channel": "C024BE92M", "user": "U024BE7LH"}
    # WHEN
    first = join_request(event_envelope(created, event_id="EvC"))
    second = join_request(_grid_envelope(unarchived, "T0WEST", "EvU"))
    # THEN
    assert first == JoinRequest(team_id="T0LOCAL", channel_id="C024BE91L", reason="channel_created", event_id="EvC")
    assert second == JoinRequest(team_id="T0WEST", channel_id="C024BE92M", reason="channel_unarchive",
                                 event_id="EvU", enterprise_id="E0ORG")  # fmt: skip
    assert JoinRequest.from_json(second.to_json()) == second
    private = {"type": "channel_created", "channel": {"id": "G1", "is_private": True}}
    assert join_request(event_envelope(private)) == Skip("private_channel")
    with pytest.raises(MalformedEvent):
        join_request(event_envelope({"type": "channel_created", "channel": {}}))


def test_app_rate_limited_names_the_workspace_and_the_minute_to_backfill() -> None:
    # GIVEN Slack's app_rate_limited envelope (no inner event)
    envelope = {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "app_rate_limited", "team_id": "T123456",
                "minute_rate_limited": 1518467820, "api_app_id": "A123456"}  # fmt: skip
    minute = rate_limited_minute(envelope)
    # THEN the audit record says which workspace lost which minute
    assert minute.audit_fields() == {
        "team_id": "T123456", "enterprise_id": "", "api_app_id": "A123456", "minute": 1518467820,
        "window_start": "2018-02-12T20:37:00+00:00", "window_end": "2018-02-12T20:38:00+00:00",
    }  # fmt: skip
    malformed = ({**envelope, "minute_rate_limited": "soon"}, {**envelope, "team_id": None},
                 {**envelope, "minute_rate_limited": 10**30}, {**envelope, "team_id": "T" * 65})  # fmt: skip
    for bad in malformed:
        with pytest.raises(MalformedEvent):
            rate_limited_minute(bad)


def test_slack_escapes_are_decoded_so_text_is_inspected_as_typed() -> None:
    # GIVEN a message as Slack sends it: the author typed `DB_PASSWORD=Xk9&mP2q!` and an XML line,
    # and Slack escaped & < > (its own <@U…> mention and <https://…|label> link stay as they are)
    event = message_event(
        "<@U024BE7LH> DB_PASSWORD=Xk9&amp;mP2q! &lt;password&gt;hunter2&lt;/password&gt; see <https://x.example|docs>",
        attachments=[{"text": "deploy &amp;&amp; restart", "fields": [{"title": "cmd", "value": "a &gt; b"}]}],
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x &lt; y"}}],
    )
    # WHEN
    item = normalize(event_envelope(event))
    # THEN the inspected text is what the author typed
    assert isinstance(item, InspectionItem)
    assert item.text.splitlines() == [
        "<@U024BE7LH> DB_PASSWORD=Xk9&mP2q! <password>hunter2</password> see <https://x.example|docs>",
        "deploy && restart",
        "cmd",
        "a > b",
        "x < y",
    ]


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("&amp;lt;", "&lt;"),  # the author typed the entity itself
        ("&amp;amp;", "&amp;"),
        ("a&b &c; &amp", "a&b &c; &amp"),  # not escapes: left alone
        ("&lt;&gt;&amp;", "<>&"),
    ],
)
def test_unescape_decodes_exactly_slacks_three_escapes(sent: str, typed: str) -> None:
    assert unescape(sent) == typed
