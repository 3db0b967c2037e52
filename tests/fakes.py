"""In-memory fakes of the core's interfaces, with assertion helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from slack_dlp.dlp.base import DlpError, ItemOutcome
from slack_dlp.ingest import DedupOutcome
from slack_dlp.model import InspectionResult
from slack_dlp.queues import PublishError
from slack_dlp.slack.actions import NotifyError


class InMemoryPublisher:
    def __init__(self, fail_with: str | None = None) -> None:
        self.bodies: list[str] = []
        self.fail_with = fail_with

    def publish(self, body: str) -> str:
        if self.fail_with:
            raise PublishError(self.fail_with)
        self.bodies.append(body)
        return f"msg-{len(self.bodies)}"

    def publish_many(self, bodies: Sequence[str]) -> None:
        for body in bodies:
            self.publish(body)


class InMemoryDeduplicator:
    def __init__(self) -> None:
        self.done: set[str] = set()
        self.in_progress: set[str] = set()
        self.values: dict[str, str] = {}

    def run_once(self, key: str, action: Callable[[], None]) -> DedupOutcome:
        return self.run_once_value(key, lambda: str(action() or ""))[0]

    def run_once_value(self, key: str, action: Callable[[], str]) -> tuple[DedupOutcome, str]:
        if key in self.in_progress:
            return DedupOutcome.IN_PROGRESS, ""
        if key in self.done:
            return DedupOutcome.DUPLICATE, self.values.get(key, "")
        self.in_progress.add(key)
        try:
            value = action()
        finally:
            self.in_progress.discard(key)
        self.done.add(key)
        self.values[key] = value
        return DedupOutcome.DONE, value


class InMemoryMarkers:
    """Ingest's dedup markers (``DeliveryMarkers``): a set, the conditional writes counted, and a
    failure to raise on every call (the store down)."""

    def __init__(self) -> None:
        self.markers: set[str] = set()
        #: Markers that last the TTL (the others are leases of a claim whose action has not finished).
        self.confirmed: set[str] = set()
        self.writes = 0
        self.deletes = 0
        self.fail_with: Exception | None = None

    def claim(self, key: str, *, done: bool = False) -> bool:
        if self.fail_with is not None:
            raise self.fail_with
        self.writes += 1
        if key in self.markers:
            return False
        self.markers.add(key)
        if done:
            self.confirmed.add(key)
        return True

    def confirm(self, key: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.writes += 1
        self.confirmed.add(key)

    def release(self, key: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.deletes += 1
        self.markers.discard(key)
        self.confirmed.discard(key)


class FakeDlpClient:
    """Wraps a real client; can fail whole requests or single items, and counts requests."""

    name = "fake"

    def __init__(self, inner: object | None = None, max_items: int = 100) -> None:
        self._inner = inner
        self.max_items = max_items
        self.requests: list[int] = []
        self.fail_request: DlpError | None = None
        self.fail_texts: set[str] = set()

    def inspect(self, texts: Sequence[str], paths: Sequence[str] | None = None) -> list[ItemOutcome]:
        self.requests.append(len(texts))
        if self.fail_request is not None:
            raise self.fail_request
        outcomes: list[ItemOutcome] = (
            self._inner.inspect(texts, paths) if self._inner is not None else [[] for _ in texts]  # type: ignore[attr-defined]
        )
        return [DlpError("item failed") if t in self.fail_texts else o for t, o in zip(texts, outcomes, strict=True)]


class RecordingNotifier:
    def __init__(self) -> None:
        self.results: list[InspectionResult] = []
        self.notices: list[tuple[InspectionResult, str]] = []
        self.deleted: list[tuple[str, str]] = []
        self.fail: NotifyError | None = None

    def notify_author(self, result: InspectionResult, text: str) -> None:
        self.notices.append((result, text))

    def delete_message(self, channel: str, ts: str) -> None:
        self.deleted.append((channel, ts))

    def post_digest(self, results: list[InspectionResult], notes: object = None) -> str:
        if self.fail is not None:
            raise self.fail
        self.results.extend(results)
        return f"1700000000.{len(self.results):06d}"

    def post_alert(self, result: InspectionResult, note: str = "") -> str:
        if self.fail is not None:
            raise self.fail
        self.results.append(result)
        return f"1700000000.{len(self.results):06d}"


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class InMemoryEventPublisher:
    """Collects bus events; can fail the next ``fail_times`` puts."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.fail_times = 0

    def put(self, events: Sequence[Any]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise PublishError("EventBridge PutEvents failed: ThrottlingException")
        self.events.extend(events)

    def details(self, detail_type: str) -> list[dict[str, Any]]:
        return [dict(e.detail) for e in self.events if e.detail_type == detail_type]


class InMemoryRunStore:
    """Backfill run state in memory: the same bookkeeping as the DynamoDB store."""

    def __init__(self) -> None:
        from slack_dlp.backfill import ChannelState, RunStatus

        self.runs: dict[str, RunStatus] = {}
        self.channels: dict[tuple[str, str], ChannelState] = {}
        self.recorded: set[tuple[str, str]] = set()
        self._channel_state = ChannelState

    def create(self, status: Any) -> bool:
        if status.run_id in self.runs:
            return False
        self.runs[status.run_id] = status
        return True

    def task_done(self, task: Any) -> bool:
        return (task.run_id, task.task_id) in self.recorded

    def complete(self, task: Any, counts: Any, next_cursor: str) -> bool:
        if (task.run_id, task.task_id) in self.recorded:
            return False
        self.recorded.add((task.run_id, task.task_id))
        key = (task.run_id, task.channel_id)
        state = self.channels.get(key) or self._channel_state(task.channel_id)
        self.channels[key] = replace(
            state,
            pending=state.pending + counts.new_tasks - 1,
            pages=state.pages + 1,
            messages=state.messages + counts.messages,
            enqueued=state.enqueued + counts.enqueued,
            files=state.files + counts.files,
            threads=state.threads + counts.threads,
            cursor=state.cursor if task.thread_ts else next_cursor,
            error=counts.error or state.error,
        )
        return True

    def status(self, run_id: str) -> Any:
        run = self.runs.get(run_id)
        if run is None:
            return None
        return replace(run, channels=tuple(self.channels.get((run_id, c.channel_id), c) for c in run.channels))


class InMemoryAuditLog:
    """The audit trail as a list of (kind, fields); ``fail_with`` makes ``record`` raise it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, object]]] = []
        self.fail_with: Exception | None = None

    def record(self, kind: str, **fields: object) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.records.append((kind, fields))

    def since(self, seconds: float) -> list[dict[str, object]]:
        return [{"kind": kind, **fields} for kind, fields in self.records]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.records]
