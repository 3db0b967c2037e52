"""Slack Events API envelopes -> the items the pipeline inspects.

Only the fields the pipeline needs survive normalization; the raw envelope is never enqueued.

What is inspected: people's messages and edits, and other apps' messages too (bots, incoming
webhooks, CI and deploy notifications), with the text of their ``attachments`` (pretext, title,
text, fields, footer) and of their Block Kit sections. Only slack-dlp's own messages are skipped
(its app id is the envelope's ``api_app_id``; its bot user is in ``authorizations``), and those of
bots listed in ``skip_bot_ids``. Link previews (unfurls) are not the author's content and are left out.

Text is inspected as its author typed it: Slack sends ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;``
and ``&gt;`` (its formatting reference, "Escaping text"), so without decoding them a password
holding ``&``, or a pasted XML config (``<password>…</password>``), would not be found. Offsets
of findings are offsets in that decoded text.

Enterprise Grid: an org-wide install receives every workspace's events. Each item carries the
workspace (``context_team_id``/``team_id``) and the organization (``enterprise_id``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_dlp.model import FileRef, InspectionItem, JoinRequest, MessageKind, MessageRef

#: Message subtypes whose text a person or an app wrote and we inspect.
_INSPECTED_SUBTYPES = {None, "", "thread_broadcast", "file_share", "me_message", "bot_message"}
#: Events that make a public channel appear (or reappear) for the app to join.
JOIN_EVENTS = frozenset({"channel_created", "channel_unarchive"})
#: Slack ids (T0123…, C0123…) are short; anything longer is not one.
_MAX_ID = 64
#: The audit-trail kind of a minute in which Slack dropped a workspace's events (see RateLimitedMinute).
RATE_LIMITED_AUDIT_KIND = "events_rate_limited"


@dataclass(frozen=True)
class Skip:
    """Why an event is acknowledged without being inspected (logged as a reason code)."""

    reason: str


class MalformedEvent(ValueError):
    """The envelope lacks a field the Events API always sends."""


@dataclass(frozen=True)
class Source:
    """Where an envelope comes from, and who "we" are in it."""

    team_id: str
    enterprise_id: str = ""
    #: slack-dlp's app id (``api_app_id``): messages carrying it are our own.
    app_id: str = ""
    #: slack-dlp's bot user ids (``authorizations`` with ``is_bot``, and any configured).
    own_users: frozenset[str] = frozenset()
    #: Other apps' bot ids whose messages are not inspected (the ``skip_bot_ids`` setting).
    skip_bot_ids: frozenset[str] = frozenset()

    def why_skip(self, message: Mapping[str, Any]) -> str:
        """``own_bot`` for our own messages, ``skip_bot_id`` for bots the operator listed, else ''."""
        app = _opt_str(message.get("app_id"))
        profile = message.get("bot_profile")
        if isinstance(profile, Mapping):
            app = app or _opt_str(profile.get("app_id"))
        user = _opt_str(message.get("user")) or _opt_str(message.get("user_id"))
        if (self.app_id and app == self.app_id) or (user and user in self.own_users):
            return "own_bot"
        if _opt_str(message.get("bot_id")) in self.skip_bot_ids:
            return "skip_bot_id"
        return ""


def source_of(
    envelope: Mapping[str, Any],
    *,
    bot_user_ids: frozenset[str] = frozenset(),
    skip_bot_ids: frozenset[str] = frozenset(),
) -> Source:
    """The workspace, organization and own identity of an ``event_callback`` envelope."""
    event = envelope.get("event")
    event = event if isinstance(event, Mapping) else {}
    authorizations = _mappings(envelope.get("authorizations"))
    first = authorizations[0] if authorizations else {}
    team = (
        _opt_str(envelope.get("context_team_id"))
        or _opt_str(envelope.get("team_id"))
        or _opt_str(event.get("team"))
        or _opt_str(first.get("team_id"))
    )
    enterprise = (
        _opt_str(envelope.get("enterprise_id"))
        or _opt_str(envelope.get("context_enterprise_id"))
        or _opt_str(first.get("enterprise_id"))
    )
    own = frozenset(str(a["user_id"]) for a in authorizations if a.get("is_bot") and a.get("user_id"))
    return Source(
        team_id=team,
        enterprise_id=enterprise,
        app_id=_opt_str(envelope.get("api_app_id")),
        own_users=own | bot_user_ids,
        skip_bot_ids=skip_bot_ids,
    )


def normalize(
    envelope: Mapping[str, Any],
    *,
    bot_user_ids: frozenset[str] = frozenset(),
    skip_bot_ids: frozenset[str] = frozenset(),
) -> InspectionItem | Skip:
    """The inspection item for an ``event_callback`` envelope, or the reason to skip it."""
    event = envelope.get("event")
    if not isinstance(event, Mapping):
        raise MalformedEvent("event_callback without an event object")
    source = source_of(envelope, bot_user_ids=bot_user_ids, skip_bot_ids=skip_bot_ids)
    if not source.team_id:
        raise MalformedEvent("event_callback without team_id")
    event_type = event.get("type")

    if not isinstance(event_type, str):
        raise MalformedEvent("event type must be a string")
    if event_type == "message":
        subtype = event.get("subtype")
        if subtype is not None and not isinstance(subtype, str):
            raise MalformedEvent("subtype must be a string")
        if subtype == "message_changed":
            return _edited(envelope, event, source)
        if subtype == "message_deleted":
            return Skip("message_deleted")
        if subtype not in _INSPECTED_SUBTYPES:
            return Skip(f"subtype:{subtype}")
        kind = MessageKind.FILE_SHARE if subtype == "file_share" else MessageKind.MESSAGE
        return _item(envelope, event, event, source, kind)

    if event_type == "app_mention":
        return _item(envelope, event, event, source, MessageKind.MENTION)

    return Skip(f"event_type:{event_type[:40]}")


def _edited(envelope: Mapping[str, Any], event: Mapping[str, Any], source: Source) -> InspectionItem | Skip:
    message = event.get("message")
    if not isinstance(message, Mapping):
        raise MalformedEvent("message_changed without a message object")
    if not isinstance(message.get("subtype", ""), str | None):
        raise MalformedEvent("subtype must be a string")
    previous = event.get("previous_message")
    if isinstance(previous, Mapping) and message_text(previous) == message_text(message):
        # Unfurls, reactions and thread replies re-send the message unchanged.
        return Skip("text_unchanged")
    return _item(envelope, event, message, source, MessageKind.EDIT)


def _item(
    envelope: Mapping[str, Any],
    event: Mapping[str, Any],
    message: Mapping[str, Any],
    source: Source,
    kind: MessageKind,
) -> InspectionItem | Skip:
    reason = source.why_skip(message)
    if reason:
        return Skip(reason)
    text = message_text(message)
    if not text.strip():
        return Skip("no_text")
    channel = _opt_str(event.get("channel")) or _opt_str(message.get("channel"))
    ts = _opt_str(message.get("ts")) or _opt_str(event.get("ts"))
    if not channel or not ts:
        raise MalformedEvent("message without channel or ts")
    ref = MessageRef(
        team_id=source.team_id,
        channel_id=channel,
        ts=ts,
        user_id=_opt_str(message.get("user")),
        thread_ts=_opt_str(message.get("thread_ts")),
        event_id=_opt_str(envelope.get("event_id")),
        event_time=_int(envelope.get("event_time")),
        kind=kind,
        channel_type=_opt_str(event.get("channel_type")),
        enterprise_id=source.enterprise_id,
        # Apps and webhooks: the bot id says which one (webhooks post without a user).
        bot_id=_opt_str(message.get("bot_id")),
    )
    return InspectionItem(ref=ref, text=text)


def message_text(message: Mapping[str, Any]) -> str:
    """Everything a message shows, as typed: its text, its attachments' text and fields, its blocks'
    text, with Slack's escapes decoded (:func:`unescape`).

    Each distinct piece once, in order; rich-text blocks are left out (Slack mirrors them in ``text``),
    and so are link previews (attachments with ``from_url``), which the author did not write.
    """
    pieces: list[str] = []
    for piece in _pieces(message):
        if piece.strip() and piece not in pieces:
            pieces.append(piece)
    return unescape("\n".join(pieces))


def unescape(text: str) -> str:
    """``text`` from Slack's Web and Events APIs (or an export) as its author typed it: Slack escapes
    exactly three characters, ``&`` ``<`` ``>``; its own ``<…>`` (links, mentions) stay as they are.
    ``&amp;`` is decoded last, so that a typed ``&lt;`` (sent as ``&amp;lt;``) stays ``&lt;``."""
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _pieces(message: Mapping[str, Any]) -> Iterator[str]:
    yield _opt_str(message.get("text"))
    for attachment in _mappings(message.get("attachments")):
        if attachment.get("from_url") or attachment.get("original_url"):
            continue  # an unfurl: a preview of a linked page
        before = ""
        for key in ("pretext", "author_name", "title", "text"):
            before += _opt_str(attachment.get(key))
            yield _opt_str(attachment.get(key))
        for item in _mappings(attachment.get("fields")):
            before += _opt_str(item.get("title")) + _opt_str(item.get("value"))
            yield _opt_str(item.get("title"))
            yield _opt_str(item.get("value"))
        yield from _block_texts(attachment.get("blocks"))
        yield _opt_str(attachment.get("footer"))
        if not before.strip():
            yield _opt_str(attachment.get("fallback"))  # a summary; only when nothing else says it
    yield from _block_texts(message.get("blocks"))


def _block_texts(blocks: Any) -> Iterator[str]:
    for block in _mappings(blocks):
        kind = block.get("type")
        if kind in ("section", "header"):
            yield _text_object(block.get("text"))
            for item in _mappings(block.get("fields")):
                yield _text_object(item)
        elif kind == "context":
            for item in _mappings(block.get("elements")):
                if item.get("type") in ("mrkdwn", "plain_text"):
                    yield _text_object(item)


def _text_object(value: Any) -> str:
    return _opt_str(value.get("text")) if isinstance(value, Mapping) else ""


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _opt_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def file_refs(
    envelope: Mapping[str, Any],
    *,
    bot_user_ids: frozenset[str] = frozenset(),
    skip_bot_ids: frozenset[str] = frozenset(),
) -> list[FileRef]:
    """Files to fetch: those of a ``file_share`` message, or the one of a ``file_shared`` event."""
    event = envelope.get("event")
    if not isinstance(event, Mapping):
        return []
    source = source_of(envelope, bot_user_ids=bot_user_ids, skip_bot_ids=skip_bot_ids)
    team_id, enterprise_id = source.team_id, source.enterprise_id
    event_id = _opt_str(envelope.get("event_id"))
    if source.why_skip(event):
        return []
    if event.get("type") == "file_shared":
        file = event.get("file")
        file_id = _opt_str(event.get("file_id")) or (_opt_str(file.get("id")) if isinstance(file, Mapping) else "")
        if not (team_id and file_id):
            return []
        return [FileRef(team_id=team_id, file_id=file_id, channel_id=_opt_str(event.get("channel_id")),
                        user_id=_opt_str(event.get("user_id")), event_id=event_id,
                        enterprise_id=enterprise_id)]  # fmt: skip
    if event.get("type") == "message" and event.get("subtype") == "file_share":
        files = event.get("files")
        return [
            FileRef(team_id=team_id, file_id=str(f["id"]), channel_id=_opt_str(event.get("channel")),
                    user_id=_opt_str(event.get("user")),
                    ts=_opt_str(event.get("ts")), event_id=event_id, enterprise_id=enterprise_id)
            for f in files if isinstance(f, Mapping) and isinstance(f.get("id"), str)
        ] if isinstance(files, list) and team_id else []  # fmt: skip
    return []


def is_join_event(event: Mapping[str, Any]) -> bool:
    kind = event.get("type")
    return isinstance(kind, str) and kind in JOIN_EVENTS


def join_request(envelope: Mapping[str, Any]) -> JoinRequest | Skip:
    """The channel to join for a ``channel_created`` or ``channel_unarchive`` event.

    ``channel_created`` carries a channel object, ``channel_unarchive`` only its id; both are
    public channels (private ones send ``group_*`` events, and an app cannot join them anyway).
    """
    event = envelope.get("event")
    if not isinstance(event, Mapping) or not is_join_event(event):
        return Skip("not_a_channel_event")
    channel = event.get("channel")
    details: Mapping[str, Any] = channel if isinstance(channel, Mapping) else {}
    channel_id = _opt_str(details.get("id")) if details else _opt_str(channel)
    if not channel_id or len(channel_id) > _MAX_ID:
        raise MalformedEvent(f"{event.get('type')} without a channel id")
    if details.get("is_private") or details.get("is_im") or details.get("is_mpim"):
        return Skip("private_channel")
    source = source_of(envelope)
    team = _opt_str(details.get("context_team_id")) or source.team_id
    if not team:
        raise MalformedEvent("event_callback without team_id")
    return JoinRequest(
        team_id=team,
        channel_id=channel_id,
        reason=str(event["type"]),
        event_id=_opt_str(envelope.get("event_id")),
        enterprise_id=source.enterprise_id,
    )


@dataclass(frozen=True)
class RateLimitedMinute:
    """A minute in which Slack dropped a workspace's events (``app_rate_limited``): a gap to backfill.

    Recorded once per workspace and minute in the audit trail, kind ``events_rate_limited``, as::

        {"team_id": "T0123", "enterprise_id": "E0123" or "", "api_app_id": "A0123",
         "minute": 1518467820, "window_start": "2018-02-12T20:37:00+00:00",
         "window_end": "2018-02-12T20:38:00+00:00"}

    Events of that workspace from ``window_start`` (inclusive) to ``window_end`` (exclusive) may be
    missing; Slack sends one envelope per limited minute, so consecutive records make one window.
    """

    team_id: str
    minute: int
    api_app_id: str = ""
    enterprise_id: str = ""

    @property
    def dedup_key(self) -> str:
        return f"ratelimited:{self.team_id}:{self.minute}"

    def audit_fields(self) -> dict[str, Any]:
        start = datetime.fromtimestamp(self.minute, UTC)
        end = datetime.fromtimestamp(self.minute + 60, UTC)
        return {
            "team_id": self.team_id,
            "enterprise_id": self.enterprise_id,
            "api_app_id": self.api_app_id,
            "minute": self.minute,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        }


#: Year 9999: a larger "minute" is no time at all (and would overflow datetime).
_LAST_MINUTE = 253_402_300_740


def rate_limited_minute(envelope: Mapping[str, Any]) -> RateLimitedMinute:
    """The workspace and minute of an ``app_rate_limited`` envelope (it has no inner event)."""
    team = _opt_str(envelope.get("team_id"))
    minute = envelope.get("minute_rate_limited")
    if not 0 < len(team) <= _MAX_ID or isinstance(minute, bool) or not isinstance(minute, int):
        raise MalformedEvent("app_rate_limited without team_id or minute_rate_limited")
    if not 0 < minute < _LAST_MINUTE:
        raise MalformedEvent("app_rate_limited without team_id or minute_rate_limited")
    return RateLimitedMinute(
        team_id=team,
        minute=minute - minute % 60,
        api_app_id=_opt_str(envelope.get("api_app_id"))[:_MAX_ID],
        enterprise_id=_opt_str(envelope.get("enterprise_id"))[:_MAX_ID],
    )
