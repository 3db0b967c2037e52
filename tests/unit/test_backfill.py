"""Backfill: cursor paging, threads, the run's state machine, pacing and Retry-After, message identity."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from slack_dlp.backfill import (
    BackfillError,
    BackfillService,
    Page,
    PageTask,
    RunRequest,
    SlackHistory,
    lost_window_command,
)
from slack_dlp.dlp.ratelimit import InProcessRateLimiter, Quota
from slack_dlp.model import FileRef, InspectionItem, MalformedMessage
from slack_dlp.slack.actions import NotifyError
from slack_dlp.slack.events import normalize
from slack_dlp_tools.local.samples import event_envelope, message_event
from slack_dlp_tools.local.slack_standin import SeededHistory
from tests.fakes import FakeClock, InMemoryPublisher, InMemoryRunStore

TEAM = "T0TEAM"


class SeededSlack:
    """The stand-in's history, without HTTP: pages with cursors, errors as NotifyError."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.seeded = SeededHistory()
        self.seeded.seed(spec)
        self.calls: list[PageTask] = []
        self.fail_next: NotifyError | None = None

    def page(self, task: PageTask) -> Page:
        self.calls.append(task)
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        args = {"channel": task.channel_id, "limit": task.page_size, "cursor": task.cursor, "ts": task.thread_ts,
                **task.bounds()}  # fmt: skip
        answer = self.seeded.thread(args) if task.thread_ts else self.seeded.history(args)
        if not answer["ok"]:
            raise NotifyError(answer["error"])
        return Page(answer["messages"], answer["response_metadata"]["next_cursor"])

    def team_id(self) -> str:
        return TEAM

    def member_channels(self) -> list[str]:
        return [c["id"] for c in self.seeded.member_conversations({})["channels"]]


def msg(ts: int, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": "U0ALICE", "ts": f"{ts}.000100", "text": text, **extra}


def history_spec() -> dict[str, Any]:
    parent = msg(1_700_000_050, "thread about the deploy", thread_ts="1700000050.000100", reply_count=2)
    return {
        "channels": [
            {"id": "C1", "name": "general"},
            {"id": "C2", "name": "ops", "is_private": True},
            {"id": "C3", "name": "lurk", "is_member": False},
        ],
        "messages": {
            "C1": [msg(1_700_000_000 + i, f"message {i}") for i in range(7)] + [parent],
            "C2": [
                msg(1_700_000_100, "a file", files=[{"id": "F1", "name": "x.csv"}]),
                {"type": "message", "subtype": "bot_message", "bot_id": "B1", "ts": "1700000101.0", "text": "ci"},
                {
                    "type": "message",
                    "subtype": "channel_join",
                    "user": "U0BOB",
                    "ts": "1700000102.0",
                    "text": "<@U0BOB> has joined",
                },
            ],
        },
        "replies": {
            "C1": {
                "1700000050.000100": [
                    parent,
                    msg(1_700_000_051, "reply one", thread_ts=parent["ts"]),
                    msg(1_700_000_052, "reply two", thread_ts=parent["ts"]),
                ]
            }
        },
    }


class Harness:
    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.slack = SeededSlack(spec or history_spec())
        self.store = InMemoryRunStore()
        self.tasks = InMemoryPublisher()
        self.inspect = InMemoryPublisher()
        self.files = InMemoryPublisher()
        self.service = BackfillService(
            self.slack, self.store, tasks=self.tasks, inspect=self.inspect, files=self.files, clock=FakeClock()
        )

    def drain(self) -> int:
        """Process every queued task, FIFO, like the backfill function consuming its queue."""
        done = 0
        while self.tasks.bodies:
            self.service.process(PageTask.from_json(self.tasks.bodies.pop(0)))
            done += 1
        return done

    def texts(self) -> list[str]:
        return [InspectionItem.from_json(b).text for b in self.inspect.bodies]


def test_history_is_read_page_by_page_with_cursors_and_threads_and_the_run_completes() -> None:
    # GIVEN a channel with 8 top-level messages (one a thread of 2 replies), read 3 per page
    h = Harness()
    run = h.service.start(RunRequest(channels=("C1",), page_size=3))
    assert h.store.status(run.run_id).done is False
    # WHEN the queue of page tasks is drained
    pages = h.drain()
    # THEN 3 history pages and 1 replies page were read, each message enqueued once
    assert pages == 4
    assert sorted(h.texts()) == sorted([f"message {i}" for i in range(7)] + ["thread about the deploy",
                                                                            "reply one", "reply two"])  # fmt: skip
    status = h.store.status(run.run_id)
    assert status.done
    summary = status.summary()
    assert (summary["pages"], summary["messages"], summary["enqueued"], summary["threads"]) == (4, 11, 10, 1)
    assert summary["channels_done"] == 1 and summary["eta_seconds"] == 0
    # AND the cursor pages followed each other (first page has none)
    cursors = [t.cursor for t in h.slack.calls if not t.thread_ts]
    assert cursors[0] == "" and len(set(cursors)) == 3


def test_a_redelivered_task_is_recorded_once_and_does_not_count_twice() -> None:
    h = Harness()
    run = h.service.start(RunRequest(channels=("C1",), page_size=3))
    first = h.tasks.bodies.pop(0)
    assert h.service.process(PageTask.from_json(first)) is not None
    # WHEN SQS delivers the same task again
    assert h.service.process(PageTask.from_json(first)) is None
    h.drain()
    # THEN the counters are those of one delivery, and the channel still completes
    status = h.store.status(run.run_id)
    assert status.done and status.summary()["pages"] == 4


def test_a_page_recorded_by_a_concurrent_delivery_is_not_counted() -> None:
    # GIVEN two deliveries of one task that both read the page before either recorded it
    h = Harness()
    run = h.service.start(RunRequest(channels=("C1",), page_size=100))
    task = PageTask.from_json(h.tasks.bodies.pop(0))
    h.store.task_done = lambda _task: False  # type: ignore[method-assign]
    assert h.service.process(task) is not None
    # WHEN the second one tries to record it
    assert h.service.process(task) is None
    # THEN only one recording counted (its enqueued duplicates are dropped by alert idempotency)
    assert h.store.status(run.run_id).channels[0].pages == 1


def test_files_are_queued_and_bots_joins_and_own_messages_follow_the_live_rules() -> None:
    h = Harness()
    h.service.start(RunRequest(channels=("C2",)))
    h.drain()
    # another app's CI post is inspected like a live bot_message; a join message is not a person's text
    assert h.texts() == ["ci", "a file"]
    assert [FileRef.from_json(b).file_id for b in h.files.bodies] == ["F1"]


def test_a_channel_the_bot_cannot_read_ends_with_its_error_and_the_run_still_completes() -> None:
    h = Harness()
    run = h.service.start(RunRequest(channels=("C1", "C3", "C404")))
    h.drain()
    status = h.store.status(run.run_id)
    assert status.done
    assert status.summary()["errors"] == {"C3": "not_in_channel", "C404": "channel_not_found"}


def test_without_channels_the_run_covers_every_conversation_the_bot_is_in() -> None:
    h = Harness()
    run = h.service.start(RunRequest())
    assert [c.channel_id for c in run.channels] == ["C1", "C2"]
    assert run.team_id == TEAM


def test_slack_rate_limit_fails_the_task_and_records_nothing() -> None:
    h = Harness()
    run = h.service.start(RunRequest(channels=("C1",)))
    task = PageTask.from_json(h.tasks.bodies.pop(0))
    h.slack.fail_next = NotifyError("ratelimited", retry_after=30)
    with pytest.raises(NotifyError) as raised:
        h.service.process(task)
    assert raised.value.retry_after == 30
    assert h.inspect.bodies == [] and h.store.status(run.run_id).channels[0].pages == 0
    # AND the redelivered task then succeeds
    h.service.process(task)
    h.drain()
    assert h.store.status(run.run_id).done


def test_a_backfilled_message_has_the_identity_of_the_live_message() -> None:
    # GIVEN the live event of a message and the same message read back from history
    live = normalize(event_envelope(message_event("hello", channel="C1", ts="1700000001.000100"), team_id=TEAM))
    h = Harness({"channels": [{"id": "C1"}], "messages": {"C1": [msg(1_700_000_001, "hello")]}})
    h.service.start(RunRequest(channels=("C1",)))
    h.drain()
    backfilled = InspectionItem.from_json(h.inspect.bodies[0])
    # THEN both are one inspected item: one alert key, one alert
    assert isinstance(live, InspectionItem)
    assert backfilled.id == live.id == f"{TEAM}:C1:1700000001.000100"


def test_the_window_is_passed_to_slack_and_bounds_what_is_read() -> None:
    h = Harness()
    h.service.start(RunRequest(oldest="1700000002.5", latest="1700000005.5", channels=("C1",)))
    h.drain()
    assert sorted(h.texts()) == ["message 3", "message 4", "message 5"]


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ({"oldest": "20", "latest": "10"}, "oldest must be before latest"),
        ({"oldest": "yesterday"}, "must be numbers"),
        ({"channels": "C1"}, "channels must be a list"),
        ({"page_size": 5000}, "page_size must be between"),
    ],
)
def test_a_bad_start_command_is_refused_with_a_reason(command: dict[str, Any], error: str) -> None:
    h = Harness()
    answer = h.service.command({"action": "start", **command})
    assert answer["ok"] is False and error in answer["error"]
    assert h.tasks.bodies == []


def test_start_and_status_commands() -> None:
    h = Harness()
    started = h.service.command({"action": "start", "channels": ["C1"], "since_seconds": 86400})
    assert started["ok"] and started["channels"] == 1 and float(started["oldest"]) == pytest.approx(1000 - 86400)
    h.drain()
    status = h.service.command({"action": "status", "run_id": started["run_id"]})
    assert status["ok"] and status["done"]
    assert h.service.command({"action": "status", "run_id": "nope"}) == {"ok": False, "error": "run_not_found"}
    assert h.service.command({"action": "delete"})["ok"] is False


def test_start_without_any_channel_is_refused() -> None:
    h = Harness({"channels": [], "messages": {}})
    with pytest.raises(BackfillError):
        h.service.start(RunRequest())


def test_a_malformed_task_is_rejected() -> None:
    with pytest.raises(MalformedMessage):
        PageTask.from_json(json.dumps({"v": 1, "run_id": "r"}))


class RecordingClient:
    """A WebClient stand-in for SlackHistory: records the calls and their time on a fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, float, dict[str, Any]]] = []

    def conversations_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("history", self.clock(), kwargs))
        return {"ok": True, "messages": [], "response_metadata": {"next_cursor": "abc"}}

    def conversations_replies(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("replies", self.clock(), kwargs))
        return {"ok": True, "messages": []}


def test_calls_are_paced_per_workspace_and_method_at_the_slack_quota() -> None:
    # GIVEN Slack's Tier 3 quota (50 a minute per method per workspace) on a fake clock
    clock = FakeClock()
    limiters: dict[tuple[str, str], InProcessRateLimiter] = {}

    def limiter(team: str, method: str) -> InProcessRateLimiter:
        return limiters.setdefault((team, method), InProcessRateLimiter(Quota(50, 60), clock, clock.sleep))

    client = RecordingClient(clock)
    history = SlackHistory(lambda: client, limiter)
    # WHEN 60 history pages and 5 replies pages of one workspace are read back to back
    for i in range(60):
        page = history.page(PageTask("r", TEAM, "C1", oldest="1", cursor=str(i)))
    for _ in range(5):
        history.page(PageTask("r", TEAM, "C1", thread_ts="1.0"))
    # THEN the history calls are spaced 1.2 s apart: never more than 50 in any minute
    times = [at for kind, at, _ in client.calls if kind == "history"]
    assert all(b - a >= 1.2 - 1e-9 for a, b in itertools.pairwise(times))
    assert all(sum(t <= at < t + 60 for at in times) <= 50 for t in times)
    # AND the window and cursor are passed to Slack; replies ask for the thread
    assert client.calls[1][2] == {"channel": "C1", "limit": 200, "oldest": "1", "cursor": "1"}
    assert client.calls[-1][2]["ts"] == "1.0"
    assert page.next_cursor == "abc"
    # AND replies have their own quota: the first replies call did not wait behind the history calls
    replies = [at for kind, at, _ in client.calls if kind == "replies"]
    assert replies[0] == times[-1]
    assert sorted(limiters) == [(TEAM, "conversations.history"), (TEAM, "conversations.replies")]


def test_a_lost_window_queued_by_another_function_starts_one_run_over_the_bots_channels() -> None:
    # GIVEN Slack dropped events in one minute (an app_rate_limited envelope) and said so twice
    h = Harness()
    command = lost_window_command(TEAM, 1_700_000_040)
    # WHEN the start command arrives on the backfill queue, twice
    h.service.handle(command)
    h.service.handle(command)
    h.drain()
    # THEN one run read the minute (with a margin) in every channel the bot is in
    [run] = h.store.runs.values()
    assert run.run_id == f"lost-{TEAM}-1700000040"
    assert (float(run.oldest), float(run.latest)) == (1_699_999_980, 1_700_000_160)
    assert [c.channel_id for c in run.channels] == ["C1", "C2"]
    assert h.store.status(run.run_id).done
    assert sorted(h.texts()) == ["a file", "ci", "message 0", "message 1", "message 2", "message 3", "message 4",
                                 "message 5", "message 6", "reply one", "reply two", "thread about the deploy"]  # fmt: skip


def test_a_queued_start_that_slack_refuses_fails_its_record_and_a_bad_one_is_dropped() -> None:
    h = Harness()
    h.slack.seeded.channels.clear()
    h.service.handle(lost_window_command(TEAM, 1_700_000_040))  # no channel: logged and dropped
    assert h.tasks.bodies == [] and h.store.runs == {}
    with pytest.raises(MalformedMessage):
        h.service.handle("not json")
    h.slack.member_channels = lambda: (_ for _ in ()).throw(NotifyError("fatal_error"))  # type: ignore[method-assign]
    with pytest.raises(BackfillError):
        h.service.handle(lost_window_command(TEAM, 1_700_000_100))


def test_a_reply_also_sent_to_the_channel_is_enqueued_once() -> None:
    parent = msg(1_700_000_010, "parent", thread_ts="1700000010.000100", reply_count=1)
    broadcast = msg(1_700_000_011, "broadcast reply", thread_ts=parent["ts"], subtype="thread_broadcast")
    h = Harness({"channels": [{"id": "C1"}], "messages": {"C1": [parent, broadcast]},
                 "replies": {"C1": {parent["ts"]: [parent, broadcast]}}})  # fmt: skip
    h.service.start(RunRequest(channels=("C1",)))
    h.drain()
    assert sorted(h.texts()) == ["broadcast reply", "parent"]


def test_an_app_rate_limited_envelope_queues_one_backfill_of_its_minute() -> None:
    from slack_dlp.config import Settings
    from slack_dlp.http import HttpRequest
    from slack_dlp.ingest import IngestService
    from slack_dlp.slack.verify import SlackRequestVerifier
    from tests.factories import SIGNING_SECRET, signed_request
    from tests.fakes import InMemoryAuditLog, InMemoryMarkers

    # GIVEN ingest with the backfill queue, and Slack reporting one dropped minute twice
    backfill = InMemoryPublisher()
    ingest = IngestService(settings=Settings(), verifier=SlackRequestVerifier(lambda: SIGNING_SECRET),
                           dedup=InMemoryMarkers(), publisher=InMemoryPublisher(), audit=InMemoryAuditLog(),
                           backfill=backfill)  # fmt: skip
    envelope = {"type": "app_rate_limited", "team_id": TEAM, "minute_rate_limited": 1_700_000_040}
    for _ in range(2):
        assert ingest.handle_event_request(HttpRequest(*signed_request(envelope))).status == 200
    # THEN one start command for that minute is queued
    assert backfill.bodies == [lost_window_command(TEAM, 1_700_000_040)]
    # AND the backfill function reads the minute back from every channel the bot is in
    h = Harness()
    h.service.handle(backfill.bodies[0])
    h.drain()
    assert h.store.status(f"lost-{TEAM}-1700000040").done and "reply two" in h.texts()


def test_a_reply_in_the_window_to_an_older_thread_is_read_and_nothing_older_is_inspected() -> None:
    # GIVEN a thread started two days before the window, with one reply before it and one in it,
    # and a thread a week old whose replies are all old
    day = 86_400
    window_start = 1_700_000_000
    old_parent = msg(window_start - 2 * day, "how do I reach the staging db?")
    stale_parent = msg(window_start - 7 * day, "ancient thread")
    spec = {
        "channels": [{"id": "C1", "name": "general"}],
        "messages": {"C1": [old_parent, stale_parent, msg(window_start + 10, "in the window")]},
        "replies": {
            "C1": {
                old_parent["ts"]: [old_parent, msg(window_start - day, "earlier reply", thread_ts=old_parent["ts"]),
                                   msg(window_start + 20, "password=Hunter2Staging!", thread_ts=old_parent["ts"])],
                stale_parent["ts"]: [stale_parent, msg(window_start - 6 * day, "old", thread_ts=stale_parent["ts"])],
            }
        },
    }  # fmt: skip
    h = Harness(spec)
    h.service = BackfillService(h.slack, h.store, tasks=h.tasks, inspect=h.inspect, files=h.files,
                                clock=FakeClock(), thread_lookback_seconds=3 * day)  # fmt: skip
    # WHEN the window is backfilled
    run = h.service.start(RunRequest(oldest=str(window_start), latest=str(window_start + 60), channels=("C1",)))
    h.drain()
    # THEN the reply in the window is inspected, and nothing from before the window is
    assert sorted(h.texts()) == ["in the window", "password=Hunter2Staging!"]
    # AND the scan asked Slack only for the days before the window, the stale thread was not opened
    scans = [t for t in h.slack.calls if t.scan_from]
    assert [t.bounds() for t in scans] == [{"oldest": f"{window_start - 3 * day:.6f}", "latest": str(window_start)}]
    assert [t.thread_ts for t in h.slack.calls if t.thread_ts] == [old_parent["ts"]]
    # AND the run completes
    status = h.store.status(run.run_id)
    assert status is not None and status.done


def test_without_a_window_start_or_with_lookback_off_no_thread_scan_is_made() -> None:
    for request, lookback in ((RunRequest(channels=("C1",)), 86_400.0), (RunRequest(oldest="1", channels=("C1",)), 0)):
        h = Harness()
        h.service = BackfillService(h.slack, h.store, tasks=h.tasks, inspect=h.inspect, files=h.files,
                                    clock=FakeClock(), thread_lookback_seconds=lookback)  # fmt: skip
        h.service.start(request)
        h.drain()
        assert not [t for t in h.slack.calls if t.scan_from]
