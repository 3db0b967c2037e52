"""The joiner function: joins public channels as they appear (conversations.join), audited."""

from __future__ import annotations

from slack_dlp.config import Resources, Settings
from slack_dlp.slack.join import ChannelJoiner, SlackJoinApi
from slack_dlp.wiring import prepare, slack_notifier, triage_store


def build_joiner(settings: Settings, resources: Resources) -> ChannelJoiner:
    prepare(settings)
    resources.require("bot_token_secret_arn", "triage_table")
    notifier = slack_notifier(settings, resources)
    return ChannelJoiner(SlackJoinApi(notifier.web_client), audit=triage_store(settings, resources))
