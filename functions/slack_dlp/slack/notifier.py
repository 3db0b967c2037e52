"""Posting alerts with slack_sdk's WebClient."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from slack_dlp.model import InspectionResult
from slack_dlp.observability import logger
from slack_dlp.slack.actions import NotifyError
from slack_dlp.slack.alerts import Alert, build_alert, build_digest, fallback_permalink

#: Errors no retry will fix: the alert channel or the token must be corrected first.
FATAL_SLACK_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
    }
)


class ShortRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Waits out a 429 in-process only when Slack asks for a few seconds; a longer Retry-After fails
    the record instead, and SQS redelivers it after that delay (no Lambda time spent sleeping)."""

    def __init__(self, max_wait_seconds: int = 5, max_retry_count: int = 1) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._max_wait = max_wait_seconds

    def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        for name, values in response.headers.items():
            if name.lower() == "retry-after":
                try:
                    return int(values[0]) <= self._max_wait
                except (TypeError, ValueError, IndexError):
                    return False
        return True


class Notifier(Protocol):
    def post_alert(self, result: InspectionResult, note: str = "") -> str:
        """Post the alert for ``result``; return the alert message's ts. Raises NotifyError."""
        ...

    def notify_author(self, result: InspectionResult, text: str) -> None:
        """Tell the author, in an ephemeral message in the same conversation. Raises NotifyError."""
        ...

    def post_digest(self, results: list[InspectionResult], notes: Mapping[str, str] | None = None) -> str:
        """One message for several results; return its ts. Raises NotifyError."""
        ...

    def delete_message(self, channel: str, ts: str) -> None:
        """Delete a message with the admin user token. Raises NotifyError."""
        ...


class SlackNotifier:
    def __init__(
        self,
        token: Callable[[], str],
        alert_channel: str,
        base_url: str,
        admin_token: Callable[[], str] | None = None,
    ) -> None:
        self._token = token
        self._admin_token = admin_token
        self._alert_channel = alert_channel
        self._base_url = base_url
        self._client: WebClient | None = None
        self._client_token = ""

    def post_notice(self, text: str) -> None:
        """A plain message to the alert channel (no finding, no value)."""
        try:
            self._web().chat_postMessage(channel=self._alert_channel, text=text, unfurl_links=False)
        except SlackApiError as error:
            raise notify_error(error) from None

    def web_client(self) -> WebClient:
        """The bot's WebClient (created once, re-created when the token secret changes)."""
        return self._web()

    @property
    def can_delete(self) -> bool:
        return self._admin_token is not None

    def delete_message(self, channel: str, ts: str) -> None:
        if self._admin_token is None:
            raise NotifyError("no_admin_token", fatal=True)
        client = WebClient(token=self._admin_token(), base_url=self._base_url, timeout=10)
        try:
            client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None

    def _web(self) -> WebClient:
        token = self._token()
        if self._client is None or token != self._client_token:
            client = WebClient(token=token, base_url=self._base_url, timeout=10)
            # Short Retry-After waits are absorbed here; longer ones fail the record for SQS to retry.
            client.retry_handlers.append(ShortRateLimitRetryHandler())
            self._client, self._client_token = client, token
        return self._client

    def post_alert(self, result: InspectionResult, note: str = "") -> str:
        client = self._web()
        alert = build_alert(result, self._permalink(client, result), can_delete=self.can_delete, response_note=note)
        return self._post(client, alert)

    def post_digest(self, results: list[InspectionResult], notes: Mapping[str, str] | None = None) -> str:
        client = self._web()
        pairs = [(r, self._permalink(client, r)) for r in results]
        return self._post(client, build_digest(pairs, can_delete=self.can_delete, notes=notes or {}))

    def _post(self, client: WebClient, alert: Alert) -> str:
        try:
            response = client.chat_postMessage(
                channel=self._alert_channel,
                text=alert.text,
                blocks=alert.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None
        return str(response.get("ts", ""))

    def notify_author(self, result: InspectionResult, text: str) -> None:
        if not result.ref.user_id or result.ref.bot_id:
            return  # an app reads no ephemeral notice; the alert is for its owners
        client = self._web()
        try:
            client.chat_postEphemeral(
                channel=result.ref.channel_id,
                user=result.ref.user_id,
                text=text,
                thread_ts=result.ref.thread_ts or None,
            )
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        try:
            self._web().chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None

    def usergroup_members(self, usergroup: str) -> set[str]:
        """``usergroups.users.list`` (scope ``usergroups:read``): the user ids in a user group."""
        try:
            response = self._web().usergroups_users_list(usergroup=usergroup)
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None
        return {str(user) for user in response.get("users") or []}

    def update_alert(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        try:
            self._web().chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None

    def _permalink(self, client: WebClient, result: InspectionResult) -> str:
        if result.ref.file_link or not result.ref.ts:
            return fallback_permalink(result)
        try:
            response = client.chat_getPermalink(channel=result.ref.channel_id, message_ts=result.ref.ts)
            permalink = response.get("permalink")
            if isinstance(permalink, str) and permalink.startswith("http"):
                return permalink
        except SlackApiError as error:
            logger.info("permalink unavailable", extra={"slack_error": error.response.get("error", "")})
        except SlackClientError:
            logger.info("permalink unavailable", extra={"slack_error": "client_error"})
        return fallback_permalink(result)


def notify_error(error: SlackApiError) -> NotifyError:
    code = str(error.response.get("error", "unknown_error"))
    retry_after: float | None = None
    if error.response.status_code == 429:
        header = error.response.headers.get("Retry-After") or error.response.headers.get("retry-after")
        try:
            retry_after = float(header) if header is not None else None
        except (TypeError, ValueError):
            retry_after = None
    return NotifyError(code, fatal=code in FATAL_SLACK_ERRORS, retry_after=retry_after)
