"""What the Slack app must be granted, derived from what the code calls: one table.

``METHODS`` maps every Slack Web API method the functions call to the scopes it needs;
``EVENTS`` maps every Events API subscription to its scope; ``FEATURES`` says which methods
(with which token) and events each feature uses, and which settings switch it on. The app
manifest (``slack-dlp manifest``) requests exactly the scopes of the enabled features, so a
security reviewer reading the scope list reads what the code does. A test scans the code for
Web API calls and fails on a method missing here, and on a requested scope nothing uses.

To call a new method: add its row to ``METHODS`` (scopes from its page on api.slack.com) and
name it in the feature that calls it (or a new ``Feature``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from slack_dlp.config import Settings

Token = Literal["bot", "user"]

#: Web API method -> scopes it needs (empty: none, e.g. chat.getPermalink).
METHODS: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),
    "files.info": ("files:read",),
    "conversations.join": ("channels:join",),
    # Called only by ``slack-dlp coverage`` (tools), with the same bot token: listed so the table is
    # complete; channels:read also comes with the channel_created/channel_unarchive events.
    "auth.test": (),
    "auth.teams.list": (),
    "conversations.list": ("channels:read",),
    "usergroups.users.list": ("usergroups:read",),
}

#: Events API subscription -> the scope it needs.
EVENTS: dict[str, str] = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "app_mention": "app_mentions:read",
    "file_shared": "files:read",
    "channel_created": "channels:read",
    "channel_unarchive": "channels:read",
}


@dataclass(frozen=True)
class Feature:
    """One thing slack-dlp does in Slack, what it calls, and whether the settings switch it on."""

    name: str
    bot_methods: tuple[str, ...] = ()
    #: Methods called with a user's token (an admin's ``xoxp-``), which needs user scopes.
    user_methods: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    interactivity: bool = False
    enabled: Callable[[Settings], bool] = field(default=lambda _settings: True)


FEATURES: tuple[Feature, ...] = (
    Feature(
        "inspect messages",
        events=("message.channels", "message.groups", "message.im", "message.mpim", "app_mention"),
    ),
    Feature("alerts", bot_methods=("chat.postMessage", "chat.getPermalink")),
    Feature("triage buttons", bot_methods=("chat.update",), interactivity=True),
    Feature("author notice", bot_methods=("chat.postEphemeral",), enabled=lambda s: s.notify_author),
    Feature("inspect files", bot_methods=("files.info",), events=("file_shared",), enabled=lambda s: s.inspect_files),
    Feature("delete messages", user_methods=("chat.delete",), enabled=lambda s: s.admin_user_token),
    Feature(
        "join public channels",
        bot_methods=("conversations.join",),
        events=("channel_created", "channel_unarchive"),
        enabled=lambda s: s.auto_join_public_channels,
    ),
    Feature(
        "who may triage",
        bot_methods=("chat.postEphemeral",),
        enabled=lambda s: bool(s.triage_users or s.triage_usergroup),
    ),
    Feature("triage by user group", bot_methods=("usergroups.users.list",), enabled=lambda s: bool(s.triage_usergroup)),
)


@dataclass(frozen=True)
class AppRequirements:
    """What the app manifest asks Slack for."""

    bot_scopes: tuple[str, ...]
    user_scopes: tuple[str, ...]
    bot_events: tuple[str, ...]
    interactivity: bool


def _scopes(methods: Iterable[str]) -> set[str]:
    return {scope for method in methods for scope in METHODS[method]}


def requirements(settings: Settings, features: Iterable[Feature] = FEATURES) -> AppRequirements:
    """The scopes, events and interactivity of the features ``settings`` switch on."""
    enabled = [f for f in features if f.enabled(settings)]
    events = sorted({event for f in enabled for event in f.events})
    bot = _scopes(m for f in enabled for m in f.bot_methods) | {EVENTS[e] for e in events}
    return AppRequirements(
        bot_scopes=tuple(sorted(bot)),
        user_scopes=tuple(sorted(_scopes(m for f in enabled for m in f.user_methods))),
        bot_events=tuple(events),
        interactivity=any(f.interactivity for f in enabled),
    )
