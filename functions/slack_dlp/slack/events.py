"""Slack Events API envelopes -> the items the pipeline inspects.

Only the fields the pipeline needs survive normalization; the raw envelope is never enqueued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_dlp.model import FileRef, InspectionItem, MessageKind, MessageRef

#: Message subtypes whose text a person wrote and we inspect.
_INSPECTED_SUBTYPES = {None, "", "thread_broadcast", "file_share", "me_message"}


@dataclass(frozen=True)
class Skip:
    """Why an event is acknowledged without being inspected (logged as a reason code)."""

    reason: str


class MalformedEvent(ValueError):
    """The envelope lacks a field the Events API always sends."""


def normalize(envelope: Mapping[str, Any], *, bot_user_ids: frozenset[str] = frozenset()) -> InspectionItem | Skip:
    """The inspection item for an ``event_callback`` envelope, or the reason to skip it."""
    event = envelope.get("event")
    if not isinstance(event, Mapping):
        raise MalformedEvent("event_callback without an event object")
    team_id = _team_id(envelope, event)
    event_type = event.get("type")
    own_bots = bot_user_ids | _bot_authorizations(envelope)

    if not isinstance(event_type, str):
        raise MalformedEvent("event type must be a string")
    if event_type == "message":
        subtype = event.get("subtype")
        if subtype is not None and not isinstance(subtype, str):
            raise MalformedEvent("subtype must be a string")
        if subtype == "message_changed":
            return _edited(envelope, event, team_id, own_bots)
        if subtype == "message_deleted":
            return Skip("message_deleted")
        if subtype == "bot_message" or event.get("bot_id"):
            return Skip("bot_message")
        if subtype not in _INSPECTED_SUBTYPES:
            return Skip(f"subtype:{subtype}")
        kind = MessageKind.FILE_SHARE if subtype == "file_share" else MessageKind.MESSAGE
        return _item(envelope, event, event, team_id, kind, own_bots)

    if event_type == "app_mention":
        if event.get("bot_id"):
            return Skip("bot_message")
        return _item(envelope, event, event, team_id, MessageKind.MENTION, own_bots)

    return Skip(f"event_type:{event_type[:40]}")


def _edited(
    envelope: Mapping[str, Any], event: Mapping[str, Any], team_id: str, own_bots: frozenset[str]
) -> InspectionItem | Skip:
    message = event.get("message")
    if not isinstance(message, Mapping):
        raise MalformedEvent("message_changed without a message object")
    if not isinstance(message.get("subtype", ""), str | None):
        raise MalformedEvent("subtype must be a string")
    if message.get("bot_id") or message.get("subtype") == "bot_message":
        return Skip("bot_message")
    previous = event.get("previous_message")
    if isinstance(previous, Mapping) and previous.get("text") == message.get("text"):
        # Unfurls, reactions and thread replies re-send the message unchanged.
        return Skip("text_unchanged")
    return _item(envelope, event, message, team_id, MessageKind.EDIT, own_bots)


def _item(
    envelope: Mapping[str, Any],
    event: Mapping[str, Any],
    message: Mapping[str, Any],
    team_id: str,
    kind: MessageKind,
    own_bots: frozenset[str],
) -> InspectionItem | Skip:
    user = _opt_str(message.get("user"))
    if user and user in own_bots:
        return Skip("own_bot")
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return Skip("no_text")
    channel = _opt_str(event.get("channel")) or _opt_str(message.get("channel"))
    ts = _opt_str(message.get("ts")) or _opt_str(event.get("ts"))
    if not channel or not ts:
        raise MalformedEvent("message without channel or ts")
    ref = MessageRef(
        team_id=team_id,
        channel_id=channel,
        ts=ts,
        user_id=user,
        thread_ts=_opt_str(message.get("thread_ts")),
        event_id=_opt_str(envelope.get("event_id")),
        event_time=_int(envelope.get("event_time")),
        kind=kind,
        channel_type=_opt_str(event.get("channel_type")),
    )
    return InspectionItem(ref=ref, text=text)


def _team_id(envelope: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    team = _opt_str(envelope.get("team_id")) or _opt_str(event.get("team"))
    if not team:
        raise MalformedEvent("event_callback without team_id")
    return team


def _bot_authorizations(envelope: Mapping[str, Any]) -> frozenset[str]:
    authorizations = envelope.get("authorizations")
    if not isinstance(authorizations, list):
        return frozenset()
    return frozenset(
        str(a["user_id"]) for a in authorizations if isinstance(a, Mapping) and a.get("is_bot") and a.get("user_id")
    )


def _opt_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def file_refs(envelope: Mapping[str, Any], *, bot_user_ids: frozenset[str] = frozenset()) -> list[FileRef]:
    """Files to fetch: those of a ``file_share`` message, or the one of a ``file_shared`` event."""
    event = envelope.get("event")
    if not isinstance(event, Mapping):
        return []
    team_id = _opt_str(envelope.get("team_id")) or _opt_str(event.get("team"))
    event_id = _opt_str(envelope.get("event_id"))
    own_bots = bot_user_ids | _bot_authorizations(envelope)
    if event.get("bot_id") or _opt_str(event.get("user") or event.get("user_id")) in own_bots:
        return []
    if event.get("type") == "file_shared":
        file = event.get("file")
        file_id = _opt_str(event.get("file_id")) or (_opt_str(file.get("id")) if isinstance(file, Mapping) else "")
        if not (team_id and file_id):
            return []
        return [FileRef(team_id=team_id, file_id=file_id, channel_id=_opt_str(event.get("channel_id")),
                        user_id=_opt_str(event.get("user_id")), event_id=event_id)]  # fmt: skip
    if event.get("type") == "message" and event.get("subtype") == "file_share":
        files = event.get("files")
        return [
            FileRef(team_id=team_id, file_id=str(f["id"]), channel_id=_opt_str(event.get("channel")),
                    user_id=_opt_str(event.get("user")), ts=_opt_str(event.get("ts")), event_id=event_id)
            for f in files if isinstance(f, Mapping) and isinstance(f.get("id"), str)
        ] if isinstance(files, list) and team_id else []  # fmt: skip
    return []
