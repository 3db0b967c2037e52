"""Backfill: what was posted before the install, while Slack rate-limited events, or while the stack
was down, read back from Slack's history and sent through the same inspect and files queues.

A run is a set of channels and a window of time. Each channel starts as one task on the backfill
queue: "read one page of ``conversations.history`` from this cursor". Consuming a task reads that
page (paced by the shared DynamoDB limiter under the workspace's quota for the method), enqueues
its messages and file references, enqueues a task per thread (``conversations.replies``) and one
for the next page, and records the page in the run's state with one transaction: the page's
marker (so a redelivered task is skipped) and the channel's counters: pages recorded, and tasks
opened. A channel is done when every task opened for it is recorded (1 + opened - pages = 0).

History lists a thread only by its parent, so a reply posted in the window to an older thread would
be missed: with a window start, each channel's first page also opens a *thread scan* of the days
before the window (``thread_lookback_seconds``), which enqueues nothing to inspect, only a replies
task (limited to the window) for each parent whose ``latest_reply`` falls in it.

A backfilled message keeps the identity a live event gives it (workspace, channel, ts), so the
alert for it is the one the live path would post: a second run, or a run over messages already
seen live, posts nothing new.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from slack_dlp.batches import batch_get
from slack_dlp.dlp.ratelimit import RateLimiter
from slack_dlp.model import SCHEMA_VERSION, FileRef, InspectionItem, MalformedMessage, _load, _str
from slack_dlp.observability import logger, metrics
from slack_dlp.slack.actions import NotifyError
from slack_dlp.slack.events import Skip, normalize

HISTORY = "conversations.history"
REPLIES = "conversations.replies"
#: Slack recommends pages of at most 200 messages; it accepts up to 999.
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 999
#: Errors that end a channel's backfill (recorded on the channel), rather than fail the task.
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "thread_not_found",
                            "missing_scope", "access_denied"})  # fmt: skip


class BackfillError(ValueError):
    """A run cannot start as asked (no channels, a bad window); the message says why."""


_RUN_ID = re.compile(r"[A-Za-z0-9_.-]{1,80}")
#: Slack reports the minute in which it dropped events; the window read back starts a little before.
LOST_WINDOW_MARGIN_SECONDS = 60


def lost_window_command(team_id: str, minute_rate_limited: int) -> str:
    """The backfill-queue message that reads back the minute Slack dropped events for (the
    ``app_rate_limited`` envelope's ``minute_rate_limited``), in every channel the bot is in.
    Its run id is derived from the minute, so a repeated envelope starts no second run."""
    oldest = minute_rate_limited - LOST_WINDOW_MARGIN_SECONDS
    latest = minute_rate_limited + 60 + LOST_WINDOW_MARGIN_SECONDS
    return json.dumps({"action": "start", "team_id": team_id, "run_id": f"lost-{team_id}-{minute_rate_limited}",
                       "oldest": str(oldest), "latest": str(latest)})  # fmt: skip


@dataclass(frozen=True)
class PageTask:
    """One page to read: of a channel's history, or of one thread's replies when ``thread_ts`` is set.
    A thread scan (``scan_from`` set) reads history from ``scan_from`` up to ``oldest`` for parents
    of threads with replies in the window, and nothing else."""

    run_id: str
    team_id: str
    channel_id: str
    oldest: str = ""
    latest: str = ""
    cursor: str = ""
    thread_ts: str = ""
    page_size: int = DEFAULT_PAGE_SIZE
    scan_from: str = ""

    @property
    def method(self) -> str:
        return REPLIES if self.thread_ts else HISTORY

    @property
    def task_id(self) -> str:
        raw = f"{self.channel_id}|{self.thread_ts}|{self.cursor}"
        if self.scan_from:
            raw += f"|scan:{self.scan_from}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    def bounds(self) -> dict[str, str]:
        """``oldest``/``latest`` of the Slack call: the window, or for a thread scan the days before it."""
        bounds = {"oldest": self.scan_from, "latest": self.oldest} if self.scan_from else {
            "oldest": self.oldest, "latest": self.latest}  # fmt: skip
        return {k: v for k, v in bounds.items() if v}

    def to_json(self) -> str:
        return json.dumps({"v": SCHEMA_VERSION, **asdict(self)})

    @classmethod
    def from_json(cls, body: str) -> PageTask:
        data = _load(body)
        try:
            page_size = int(data.get("page_size") or DEFAULT_PAGE_SIZE)
        except (TypeError, ValueError):
            raise MalformedMessage("page_size must be a number") from None
        return cls(
            run_id=_str(data, "run_id", required=True),
            team_id=_str(data, "team_id", required=True),
            channel_id=_str(data, "channel_id", required=True),
            oldest=_str(data, "oldest"),
            latest=_str(data, "latest"),
            cursor=_str(data, "cursor"),
            thread_ts=_str(data, "thread_ts"),
            page_size=max(1, min(MAX_PAGE_SIZE, page_size)),
            scan_from=_str(data, "scan_from"),
        )


@dataclass(frozen=True)
class Page:
    messages: Sequence[Mapping[str, Any]]
    next_cursor: str = ""


class History(Protocol):
    """Slack's conversation history, one page per call. Raises NotifyError (with Retry-After on 429)."""

    def page(self, task: PageTask) -> Page: ...

    def team_id(self) -> str: ...

    def member_channels(self) -> list[str]:
        """The channels (public and private) the bot is a member of: the only ones whose history it may
        read. DMs between people never admit a bot: a workspace export covers them."""
        ...


@dataclass(frozen=True)
class PageCounts:
    """What one page contributed to its channel's totals."""

    messages: int = 0
    enqueued: int = 0
    files: int = 0
    threads: int = 0
    new_tasks: int = 0
    error: str = ""


@dataclass(frozen=True)
class ChannelState:
    channel_id: str
    pending: int = 1
    pages: int = 0
    messages: int = 0
    enqueued: int = 0
    files: int = 0
    threads: int = 0
    cursor: str = ""
    error: str = ""

    @property
    def done(self) -> bool:
        return self.pending <= 0


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    team_id: str
    oldest: str
    latest: str
    started: float
    channels: tuple[ChannelState, ...] = field(default_factory=tuple)
    requests_per_minute: int = 50

    @property
    def done(self) -> bool:
        return all(c.done for c in self.channels)

    def total(self, name: str) -> int:
        return sum(int(getattr(c, name)) for c in self.channels)

    def eta_seconds(self) -> float:
        """An estimate: one call per pending page, at the quota of one method."""
        return self.total("pending") * 60.0 / max(1, self.requests_per_minute)

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "team_id": self.team_id,
            "oldest": self.oldest,
            "latest": self.latest,
            "done": self.done,
            "channels": len(self.channels),
            "channels_done": sum(c.done for c in self.channels),
            "pages": self.total("pages"),
            "messages": self.total("messages"),
            "enqueued": self.total("enqueued"),
            "files": self.total("files"),
            "threads": self.total("threads"),
            "pending_pages": self.total("pending"),
            "eta_seconds": round(self.eta_seconds(), 1),
            "errors": {c.channel_id: c.error for c in self.channels if c.error},
        }


class RunStore(Protocol):
    def create(self, status: RunStatus) -> bool:
        """Record a new run; False when a run with this id exists already."""
        ...

    def task_done(self, task: PageTask) -> bool: ...

    def complete(self, task: PageTask, counts: PageCounts, next_cursor: str) -> bool:
        """Record the page once; False when another delivery of the task already recorded it."""
        ...

    def status(self, run_id: str) -> RunStatus | None: ...


class BatchPublisher(Protocol):
    def publish_many(self, bodies: Sequence[str]) -> None:
        """Enqueue every body or raise PublishError."""
        ...


@dataclass(frozen=True)
class RunRequest:
    """What ``start`` is asked for: a window of time (epoch seconds as Slack ts strings) and channels."""

    oldest: str = ""
    latest: str = ""
    channels: tuple[str, ...] = ()
    page_size: int = DEFAULT_PAGE_SIZE

    @classmethod
    def from_command(cls, command: Mapping[str, Any], now: float) -> RunRequest:
        try:
            since = float(command.get("since_seconds") or 0)
            oldest = str(command.get("oldest") or (f"{now - since:.6f}" if since else ""))
            latest = str(command.get("latest") or "")
            if oldest:
                float(oldest)
            if latest:
                float(latest)
            channels = command.get("channels") or []
            if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
                raise BackfillError("channels must be a list of channel ids")
            page_size = int(command.get("page_size") or DEFAULT_PAGE_SIZE)
        except (TypeError, ValueError) as error:
            if isinstance(error, BackfillError):
                raise
            raise BackfillError("oldest, latest, since_seconds and page_size must be numbers") from None
        if oldest and latest and float(oldest) >= float(latest):
            raise BackfillError("oldest must be before latest")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise BackfillError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return cls(oldest=oldest, latest=latest, channels=tuple(dict.fromkeys(channels)), page_size=page_size)


class BackfillService:
    def __init__(
        self,
        history: History,
        store: RunStore,
        *,
        tasks: BatchPublisher,
        inspect: BatchPublisher,
        files: BatchPublisher | None = None,
        bot_user_ids: frozenset[str] = frozenset(),
        requests_per_minute: int = 50,
        thread_lookback_seconds: float = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._history = history
        self._store = store
        self._tasks = tasks
        self._inspect = inspect
        self._files = files
        self._bot_user_ids = bot_user_ids
        self._rpm = requests_per_minute
        self._thread_lookback = thread_lookback_seconds
        self._clock = clock

    # -- commands (a direct invocation: the CLI, an app_rate_limited record) -------------------------

    def start(self, request: RunRequest, *, team_id: str = "", run_id: str = "") -> RunStatus:
        """Start a run (or return the run already started under ``run_id``): page tasks first, then
        the run's record, so a start that fails between the two and is retried loses nothing."""
        if run_id and (existing := self._store.status(run_id)) is not None:
            return existing
        channels = request.channels or tuple(self._history.member_channels())
        if not channels:
            raise BackfillError("no channels to backfill: the bot is a member of none (invite it, or pass channels)")
        team = team_id or self._history.team_id()
        run = RunStatus(
            run_id=run_id or f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(self._clock()))}-{uuid.uuid4().hex[:8]}",
            team_id=team,
            oldest=request.oldest,
            latest=request.latest,
            started=self._clock(),
            channels=tuple(ChannelState(channel_id=c) for c in channels),
            requests_per_minute=self._rpm,
        )
        self._tasks.publish_many(
            [
                PageTask(run.run_id, team, c, request.oldest, request.latest, page_size=request.page_size).to_json()
                for c in channels
            ]
        )
        if self._store.create(run):
            metrics.add_metric(name="BackfillRunsStarted", unit="Count", value=1)
            logger.info("backfill started", extra={"run_id": run.run_id, "channels": len(channels)})
        return run

    def command(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """``{"action": "start", ...}`` or ``{"action": "status", "run_id"}``: a JSON-able answer."""
        action = command.get("action")
        try:
            if action == "start":
                request = RunRequest.from_command(command, self._clock())
                run_id = str(command.get("run_id") or "")
                if run_id and not _RUN_ID.fullmatch(run_id):
                    raise BackfillError("run_id may hold letters, digits, '-', '_' and '.' (at most 80)")
                run = self.start(request, team_id=str(command.get("team_id") or ""), run_id=run_id)
                return {"ok": True, **run.summary()}
            if action == "status":
                status = self._store.status(str(command.get("run_id") or ""))
                if status is None:
                    return {"ok": False, "error": "run_not_found"}
                return {"ok": True, **status.summary()}
        except BackfillError as error:
            return {"ok": False, "error": str(error)}
        except NotifyError as error:
            return {"ok": False, "error": f"Slack: {error.code}"}
        return {"ok": False, "error": "action must be start or status"}

    def handle(self, body: str) -> None:
        """A message of the backfill queue: a page task, or a start command queued by another function
        (ingest, after Slack dropped events: see :func:`lost_window_command`)."""
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            raise MalformedMessage("body is not JSON") from None
        if isinstance(data, dict) and data.get("action") == "start":
            answer = self.command(data)
            if not answer["ok"]:
                logger.warning("queued backfill start refused", extra={"error": answer["error"]})
                if str(answer["error"]).startswith("Slack: "):
                    raise BackfillError(answer["error"])  # Slack unreachable: fail the record, retry later
            return
        self.process(PageTask.from_json(body))

    # -- one task -----------------------------------------------------------------------------------

    def process(self, task: PageTask) -> PageCounts | None:
        """Read one page and enqueue what it holds; None when this task was already done."""
        if self._store.task_done(task):
            return None
        log = {"run_id": task.run_id, "channel": task.channel_id, "method": task.method}
        try:
            page = self._history.page(task)
        except NotifyError as error:
            if error.code not in CHANNEL_ERRORS:
                raise  # Slack or the network: the task fails and comes back (after Retry-After)
            logger.warning("backfill of a channel stopped", extra={**log, "slack_error": error.code})
            self._store.complete(task, PageCounts(error=error.code), "")
            return PageCounts(error=error.code)
        if task.scan_from:
            items: list[InspectionItem] = []
            file_refs: list[FileRef] = []
            threads = _threads_replied_since(page.messages, task.oldest)
        else:
            items, file_refs, threads = self._split(task, page.messages)
        next_tasks = [replace(task, cursor="", thread_ts=ts, scan_from="") for ts in threads]
        if page.next_cursor:
            next_tasks.append(replace(task, cursor=page.next_cursor))
        if self._opens_thread_scan(task):
            scan_from = f"{max(0.0, float(task.oldest) - self._thread_lookback):.6f}"
            next_tasks.append(replace(task, scan_from=scan_from, page_size=MAX_PAGE_SIZE))
        self._inspect.publish_many([item.to_json() for item in items])
        if self._files is not None and file_refs:
            self._files.publish_many([ref.to_json() for ref in file_refs])
        self._tasks.publish_many([t.to_json() for t in next_tasks])
        counts = PageCounts(
            messages=len(page.messages),
            enqueued=len(items),
            files=len(file_refs) if self._files is not None else 0,
            threads=len(threads),
            new_tasks=len(next_tasks),
        )
        if not self._store.complete(task, counts, page.next_cursor):
            logger.info("backfill page already recorded", extra=log)
            return None
        metrics.add_metric(name="BackfillPages", unit="Count", value=1)
        metrics.add_metric(name="BackfillMessagesEnqueued", unit="Count", value=len(items))
        logger.info("backfill page read", extra={**log, "messages": counts.messages, "enqueued": counts.enqueued})
        return counts

    def _opens_thread_scan(self, task: PageTask) -> bool:
        """A channel's first history page of a window with a start opens the scan for older threads."""
        first_page = not (task.cursor or task.thread_ts or task.scan_from)
        return first_page and bool(task.oldest) and self._thread_lookback > 0

    def _split(
        self, task: PageTask, messages: Iterable[Mapping[str, Any]]
    ) -> tuple[list[InspectionItem], list[FileRef], list[str]]:
        items: list[InspectionItem] = []
        refs: list[FileRef] = []
        threads: list[str] = []
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            ts = message.get("ts")
            if task.thread_ts and (ts == task.thread_ts or message.get("subtype") == "thread_broadcast"):
                continue  # the parent, and replies also sent to the channel: their history page has them
            outcome = self._item(task, message)
            if isinstance(outcome, InspectionItem):
                items.append(outcome)
                refs.extend(self._file_refs(task, message))
            if not task.thread_ts and _is_thread_parent(message):
                threads.append(str(ts))
        return items, refs, threads

    def _item(self, task: PageTask, message: Mapping[str, Any]) -> InspectionItem | Skip:
        # The same normalization as a live event, so the item (and its alert) has the same identity.
        envelope = {"type": "event_callback", "team_id": task.team_id,
                    "event": {**message, "type": "message", "channel": task.channel_id}}  # fmt: skip
        try:
            return normalize(envelope, bot_user_ids=self._bot_user_ids)
        except ValueError:
            return Skip("malformed")

    def _file_refs(self, task: PageTask, message: Mapping[str, Any]) -> list[FileRef]:
        files = message.get("files")
        if not isinstance(files, list):
            return []
        return [
            FileRef(team_id=task.team_id, file_id=f["id"], channel_id=task.channel_id,
                    user_id=str(message.get("user") or ""), ts=str(message.get("ts") or ""))
            for f in files if isinstance(f, Mapping) and isinstance(f.get("id"), str) and f["id"]
        ]  # fmt: skip


def _member_page(client: Any, *, cursor: str) -> Any:
    return client.users_conversations(
        types="public_channel,private_channel", exclude_archived=True, limit=200, cursor=cursor or None
    )


def _threads_replied_since(messages: Iterable[Mapping[str, Any]], oldest: str) -> list[str]:
    """Parents (older than the window) whose latest reply is in it: their replies are read."""
    threads = []
    for message in messages:
        if isinstance(message, Mapping) and _is_thread_parent(message):
            try:
                replied_in_window = float(message.get("latest_reply") or 0) >= float(oldest)
            except (TypeError, ValueError):
                replied_in_window = True  # unreadable: reading the thread costs a call, missing it a leak
            if replied_in_window:
                threads.append(str(message["ts"]))
    return threads


def _is_thread_parent(message: Mapping[str, Any]) -> bool:
    # A parent carries thread_ts == ts; reply_count 0 means every reply was deleted.
    ts = message.get("ts")
    return bool(ts) and message.get("thread_ts") == ts and message.get("reply_count") != 0


# -- adapters ---------------------------------------------------------------------------------------


class SlackHistory:
    """``conversations.history`` / ``conversations.replies`` with the bot's WebClient, each call paced
    by the workspace's limiter for that method."""

    def __init__(self, client: Callable[[], Any], limiter: Callable[[str, str], RateLimiter]) -> None:
        self._client = client
        self._limiter = limiter

    def page(self, task: PageTask) -> Page:
        arguments: dict[str, Any] = {"channel": task.channel_id, "limit": task.page_size, **task.bounds()}
        if task.cursor:
            arguments["cursor"] = task.cursor
        if task.thread_ts:
            response = self._call(task.team_id, REPLIES, lambda c: c.conversations_replies(ts=task.thread_ts,
                                                                                            **arguments))  # fmt: skip
        else:
            response = self._call(task.team_id, HISTORY, lambda c: c.conversations_history(**arguments))
        metadata = response.get("response_metadata") or {}
        messages = response.get("messages") or []
        return Page(messages=list(messages), next_cursor=str(metadata.get("next_cursor") or ""))

    def team_id(self) -> str:
        return str(self._call("", "auth.test", lambda c: c.auth_test()).get("team_id") or "")

    def member_channels(self) -> list[str]:
        channels: list[str] = []
        cursor = ""
        while True:
            response = self._call("", "users.conversations", functools.partial(_member_page, cursor=cursor))
            channels += [c["id"] for c in response.get("channels") or [] if isinstance(c, Mapping) and c.get("id")]
            cursor = str((response.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return channels

    def _call(self, team_id: str, method: str, call: Callable[[Any], Any]) -> Any:
        from slack_sdk.errors import SlackApiError, SlackClientError

        from slack_dlp.slack.notifier import notify_error

        if team_id:
            self._limiter(team_id, method).acquire()
        try:
            return call(self._client())
        except SlackApiError as error:
            raise notify_error(error) from None
        except SlackClientError as error:
            raise NotifyError(type(error).__name__) from None


class DynamoDbRunStore:
    """Run state in one table keyed ``id``: ``run#<id>`` (the run), ``run#<id>#c#<channel>`` (a
    channel's counters and cursor, from its first page on), ``run#<id>#t#<task>`` (a page already
    recorded). Items expire."""

    def __init__(self, client: Any, table_name: str, *, ttl_days: int = 30, clock: Callable[[], float] = time.time):
        self._client = client
        self._table = table_name
        self._ttl = ttl_days * 86400
        self._clock = clock

    def create(self, status: RunStatus) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.put_item(TableName=self._table, Item={
                "id": {"S": f"run#{status.run_id}"}, "team_id": {"S": status.team_id},
                "oldest": {"S": status.oldest}, "latest": {"S": status.latest},
                "started": {"N": repr(status.started)}, "rpm": {"N": str(status.requests_per_minute)},
                "expires": {"N": str(int(self._clock()) + self._ttl)},
                "channels": {"L": [{"S": c.channel_id} for c in status.channels]},
            }, ConditionExpression="attribute_not_exists(id)")  # fmt: skip
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def task_done(self, task: PageTask) -> bool:
        item = self._client.get_item(
            TableName=self._table, Key={"id": {"S": self._task_key(task)}}, ConsistentRead=True
        ).get("Item")
        return item is not None

    def complete(self, task: PageTask, counts: PageCounts, next_cursor: str) -> bool:
        from botocore.exceptions import ClientError

        expires = {"N": str(int(self._clock()) + self._ttl)}
        # A channel's item appears with its first page: pending = 1 + opened - pages.
        update = ("ADD opened :opened, pages :one, messages :messages, enqueued :enqueued, files :files, "
                  "threads :threads SET updated = :now, expires = :expires")  # fmt: skip
        values: dict[str, Any] = {
            ":opened": {"N": str(counts.new_tasks)}, ":expires": expires, ":one": {"N": "1"},
            ":messages": {"N": str(counts.messages)},
            ":enqueued": {"N": str(counts.enqueued)}, ":files": {"N": str(counts.files)},
            ":threads": {"N": str(counts.threads)}, ":now": {"N": str(int(self._clock()))},
        }  # fmt: skip
        if not task.thread_ts:
            update += ", #cursor = :cursor"
            values[":cursor"] = {"S": next_cursor}
        if counts.error:
            update += ", #error = :error"
            values[":error"] = {"S": counts.error}
        try:
            self._client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": {"id": {"S": self._task_key(task)}, "expires": expires},
                         "ConditionExpression": "attribute_not_exists(id)"}},
                {"Update": {"TableName": self._table, "Key": {"id": {"S": self._channel_key(task.run_id,
                                                                                             task.channel_id)}},
                            "UpdateExpression": update, "ExpressionAttributeValues": values,
                            **_names(update)}},
            ])  # fmt: skip
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                return False
            raise
        return True

    def status(self, run_id: str) -> RunStatus | None:
        key = {"id": {"S": f"run#{run_id}"}}
        run = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if run is None:
            return None
        ids = [c["S"] for c in run.get("channels", {}).get("L", [])]
        found: dict[str, dict[str, Any]] = {}
        for first in range(0, len(ids), 100):
            keys = [{"id": {"S": self._channel_key(run_id, c)}} for c in ids[first : first + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for response in batch_get(self._client, request):
                for item in response.get("Responses", {}).get(self._table, []):
                    found[item["id"]["S"]] = item
        channels = tuple(_channel_state(c, found.get(self._channel_key(run_id, c), {})) for c in ids)
        return RunStatus(
            run_id=run_id, team_id=run["team_id"]["S"], oldest=run["oldest"]["S"], latest=run["latest"]["S"],
            started=float(run["started"]["N"]), channels=channels, requests_per_minute=int(run["rpm"]["N"]),
        )  # fmt: skip

    def run_ids(self) -> list[str]:
        """Every run the table still holds (runs expire ``ttl_days`` after their last page), oldest first.
        A scan: only run items carry ``started``, but channel and page items are read too (the
        table is small; for ``slack-dlp status``, not for a function's hot path)."""
        runs: list[tuple[float, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "attribute_exists(started)",
            "ProjectionExpression": "id, started",
        }
        for page in self._client.get_paginator("scan").paginate(**kwargs):
            runs += [(float(i["started"]["N"]), i["id"]["S"].removeprefix("run#")) for i in page.get("Items", [])]
        return [run_id for _, run_id in sorted(runs)]

    @staticmethod
    def _channel_key(run_id: str, channel_id: str) -> str:
        return f"run#{run_id}#c#{channel_id}"

    @staticmethod
    def _task_key(task: PageTask) -> str:
        return f"run#{task.run_id}#t#{task.task_id}"


def _names(update: str) -> dict[str, Any]:
    names = {f"#{name}": name for name in ("cursor", "error") if f"#{name}" in update}
    return {"ExpressionAttributeNames": names} if names else {}


def _channel_state(channel_id: str, item: Mapping[str, Any]) -> ChannelState:
    def number(name: str, default: int = 0) -> int:
        return int(item[name]["N"]) if name in item else default

    return ChannelState(
        channel_id=channel_id, pending=1 + number("opened") - number("pages"), pages=number("pages"),
        messages=number("messages"),
        enqueued=number("enqueued"), files=number("files"), threads=number("threads"),
        cursor=item.get("cursor", {}).get("S", ""), error=item.get("error", {}).get("S", ""),
    )  # fmt: skip
