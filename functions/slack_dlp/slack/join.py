"""Joining public channels, so that their messages reach slack-dlp without anyone inviting it.

Ingest queues a ``JoinRequest`` for each ``channel_created`` and ``channel_unarchive`` event; the
joiner function calls ``conversations.join`` (scope ``channels:join``) off the request path. Joining
twice is harmless (Slack answers ``ok`` with ``already_in_channel``), so SQS redeliveries are too.
Private channels and DMs cannot be joined by an app: someone must invite it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from slack_dlp.model import JoinRequest
from slack_dlp.observability import logger, metrics
from slack_dlp.slack.actions import NotifyError
from slack_dlp.triage import AuditLog

#: Answers no retry changes: the channel is gone, archived again, or not a public channel.
UNJOINABLE = frozenset(
    {"channel_not_found", "is_archived", "method_not_supported_for_channel_type", "is_private", "not_allowed"}
)


class JoinApi(Protocol):
    def join(self, channel_id: str) -> None:
        """Join a public channel. Raises NotifyError (with ``retry_after`` when rate-limited)."""
        ...


class SlackJoinApi:
    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client

    def join(self, channel_id: str) -> None:
        from slack_sdk.errors import SlackApiError, SlackClientError

        from slack_dlp.slack.notifier import notify_error

        try:
            self._client().conversations_join(channel=channel_id)
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None


class ChannelJoiner:
    def __init__(self, api: JoinApi, audit: AuditLog | None = None) -> None:
        self._api = api
        self._audit = audit

    def process(self, request: JoinRequest) -> str:
        """``joined``, or Slack's reason the channel cannot be joined. Raises NotifyError to retry."""
        where = {"team_id": request.team_id, "channel": request.channel_id, "reason": request.reason}
        try:
            self._api.join(request.channel_id)
        except NotifyError as error:
            if error.code not in UNJOINABLE:
                metrics.add_metric(name="JoinFailures", unit="Count", value=1)
                logger.warning("channel join failed; will retry", extra={**where, "slack_error": error.code})
                raise
            metrics.add_metric(name="JoinsSkipped", unit="Count", value=1)
            logger.info("channel cannot be joined", extra={**where, "slack_error": error.code})
            self._record("join_skipped", request, error=error.code)
            return error.code
        metrics.add_metric(name="ChannelsJoined", unit="Count", value=1)
        logger.info("channel joined", extra=where)
        self._record("channel_joined", request)
        return "joined"

    def _record(self, kind: str, request: JoinRequest, **extra: str) -> None:
        if self._audit is not None:
            self._audit.record(
                kind,
                team_id=request.team_id,
                enterprise_id=request.enterprise_id,
                channel=request.channel_id,
                reason=request.reason,
                **extra,
            )
