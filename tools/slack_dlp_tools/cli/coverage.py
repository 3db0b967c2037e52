"""``slack-dlp coverage``: which public channels slack-dlp does not see, and joining them.

An app sees a channel's messages only as a member. ``auth.test`` says who the token is (on Enterprise
Grid, an org-wide install: ``auth.teams.list`` names its workspaces); ``conversations.list`` lists each
workspace's public channels with ``is_member``; ``--join`` calls ``conversations.join`` for the rest,
at most ``--per-minute`` a minute (Tier 3: about 50) and waiting out any ``Retry-After``. Private
channels and DMs cannot be joined by an app and are not listed: someone must invite it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, EXIT_FOUND, StackTarget, UsageError, add_stack_arguments

#: conversations.join is Tier 3: about 50 calls a minute per workspace.
DEFAULT_JOINS_PER_MINUTE = 50
PRIVATE_NOTE = (
    "Private channels and DMs: an app cannot join them. Invite @slack-dlp to private channels; "
    "see the README's Coverage section for what covers the rest."
)


def register(commands: Any) -> None:
    coverage = commands.add_parser("coverage", help="public channels slack-dlp is not in; --join joins them")
    coverage.add_argument("--join", action="store_true", help="join every public channel the app is not in")
    coverage.add_argument("--json", action="store_true", help="print the result as JSON")
    coverage.add_argument(
        "--per-minute",
        type=int,
        default=DEFAULT_JOINS_PER_MINUTE,
        help=f"joins per minute at most (default {DEFAULT_JOINS_PER_MINUTE}, Slack's Tier 3)",
    )
    coverage.add_argument("--token", help="bot token (default: SLACK_BOT_TOKEN, else the stack's BotToken secret)")
    coverage.add_argument("--slack-api-url", help="Slack Web API base URL (default: the stack's SlackApiUrl)")
    add_stack_arguments(coverage)
    coverage.set_defaults(func=run)


@dataclass
class Channel:
    id: str
    name: str
    error: str = ""


@dataclass
class Workspace:
    team_id: str
    public_channels: int = 0
    member_of: int = 0
    not_joined: list[Channel] = field(default_factory=list)
    joined_now: list[Channel] = field(default_factory=list)
    failed: list[Channel] = field(default_factory=list)


@dataclass
class Coverage:
    team_id: str
    enterprise_id: str = ""
    workspaces: list[Workspace] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(len(w.not_joined) for w in self.workspaces)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "not_joined_total": self.missing, "private_channels_and_dms": PRIVATE_NOTE}


class CoverageScan:
    """Lists and joins with a slack_sdk WebClient; ``sleep`` and ``clock`` are injected for tests."""

    def __init__(
        self,
        client: Any,
        *,
        per_minute: int = DEFAULT_JOINS_PER_MINUTE,
        progress: Callable[[str], None] = lambda _: None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise UsageError("--per-minute must be at least 1")
        self._client = client
        self._interval = 60.0 / per_minute
        self._progress = progress
        self._sleep = sleep
        self._clock = clock
        self._last_join: float | None = None

    def run(self, *, join: bool) -> Coverage:
        who = self._call("auth_test")
        coverage = Coverage(team_id=str(who.get("team_id") or ""), enterprise_id=str(who.get("enterprise_id") or ""))
        for team in self._team_ids(who):
            workspace = self._scan(team)
            coverage.workspaces.append(workspace)
            self._progress(f"[{team}] {workspace.public_channels} public channels, not in {len(workspace.not_joined)}")
            if join:
                self._join_all(workspace)
        return coverage

    def _team_ids(self, who: dict[str, Any]) -> list[str]:
        if not who.get("is_enterprise_install"):
            return [str(who.get("team_id") or "")]
        teams: list[str] = []
        for page in self._pages("auth_teams_list", limit=100):
            teams += [str(t["id"]) for t in page.get("teams", []) if isinstance(t, dict) and t.get("id")]
        return teams

    def _scan(self, team_id: str) -> Workspace:
        workspace = Workspace(team_id=team_id)
        # team_id is required of an org-wide token and ignored for a workspace token.
        for page in self._pages(
            "conversations_list", types="public_channel", exclude_archived=True, limit=200, team_id=team_id or None
        ):
            for channel in page.get("channels", []):
                workspace.public_channels += 1
                if channel.get("is_member"):
                    workspace.member_of += 1
                else:
                    workspace.not_joined.append(Channel(id=str(channel["id"]), name=str(channel.get("name", ""))))
        return workspace

    def _join_all(self, workspace: Workspace) -> None:
        total = len(workspace.not_joined)
        for position, channel in enumerate(list(workspace.not_joined), start=1):
            self._pace()
            try:
                self._call("conversations_join", channel=channel.id)
            except UsageError as error:
                channel.error = str(error)
                workspace.failed.append(channel)
                self._progress(f"[{workspace.team_id}] {position}/{total} #{channel.name} ({channel.id}): {error}")
                continue
            workspace.not_joined.remove(channel)
            workspace.joined_now.append(channel)
            self._progress(f"[{workspace.team_id}] {position}/{total} joined #{channel.name} ({channel.id})")

    def _pace(self) -> None:
        now = self._clock()
        if self._last_join is not None:
            wait = self._last_join + self._interval - now
            if wait > 0:
                self._sleep(wait)
                now += wait
        self._last_join = now

    def _pages(self, method: str, **arguments: Any) -> Iterator[dict[str, Any]]:
        cursor = ""
        while True:
            page = self._call(method, **arguments, **({"cursor": cursor} if cursor else {}))
            yield page
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return

    def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            response = getattr(self._client, method)(**{k: v for k, v in arguments.items() if v is not None})
        except SlackApiError as error:
            raise UsageError(f"Slack {method.replace('_', '.')}: {error.response.get('error', 'error')}") from None
        except SlackClientError as error:
            raise UsageError(f"Slack {method.replace('_', '.')}: {type(error).__name__}") from None
        return dict(response.data) if isinstance(response.data, dict) else {}


def web_client(token: str, base_url: str) -> Any:
    """A WebClient that waits out 429s (Retry-After) a few times before giving up."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    client = WebClient(token=token, base_url=base_url, timeout=30)
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=5), ConnectionErrorRetryHandler()])
    return client


def _token_and_url(args: argparse.Namespace) -> tuple[str, str]:
    token = args.token or os.environ.get("SLACK_BOT_TOKEN", "")
    url = args.slack_api_url or ""
    if token and url:
        return token, url
    stack = StackTarget.from_args(args)
    if not url:
        url = stack.outputs.get("SlackApiUrl") or "https://slack.com/api/"
    if not token:
        arn = stack.output("BotTokenSecretArn")
        try:
            token = stack.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        except Exception as error:  # botocore errors: no permission, no value yet
            raise UsageError(f"cannot read the bot token secret: {type(error).__name__}") from None
    if not token.startswith("xox"):
        raise UsageError("the bot token secret holds no Slack token yet (xoxb-…): put it there first")
    return token, url


def run(args: argparse.Namespace) -> int:
    token, url = _token_and_url(args)
    scan = CoverageScan(
        web_client(token, url),
        per_minute=args.per_minute,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    coverage = scan.run(join=args.join)
    if args.json:
        json.dump(coverage.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(coverage))
    return EXIT_FOUND if coverage.missing else EXIT_CLEAN


def render(coverage: Coverage) -> str:
    org = f" (Enterprise Grid org {coverage.enterprise_id})" if coverage.enterprise_id else ""
    lines = [f"slack-dlp coverage{org}"]
    for w in coverage.workspaces:
        lines.append(
            f"Workspace {w.team_id}: {w.public_channels} public channels, in {w.member_of + len(w.joined_now)}, "
            f"not in {len(w.not_joined)}" + (f", joined now {len(w.joined_now)}" if w.joined_now else "")
        )
        lines += [f"  not in  #{c.name:<30} {c.id}" + (f"  ({c.error})" if c.error else "") for c in w.not_joined]
    if coverage.missing:
        lines.append("Run with --join to join them (or set auto_join_public_channels for new ones).")
    lines.append(PRIVATE_NOTE)
    return "\n".join(lines)
