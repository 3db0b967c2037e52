"""``make chaos``: the pipeline under faults, and what was lost or duplicated.

Every scenario runs the real services — ingest (signature, dedup, normalization), the fetcher
(files.info, download, guarded extraction), the inspector with the Google DLP client, the reporter
(alert once, audit, author notice) — on simulated SQS queues (visibility timeouts, redelivery,
dead-letter queues after ``max_receive_count``) and a simulated clock. Ingest's dedup markers and the
reporter's idempotency records live in DynamoDB (moto), through a client that can throttle. Slack's
Events API retries (``X-Slack-Retry-Num``) a 5xx, a late answer and a lost one up to three times.
Each scenario injects one kind of fault for a while, then lets the pipeline drain.

Every message and every shared file holds one planted value, so each must give exactly one alert:
*lost* counts those without one, *duplicated* the extra alerts. Poison records must end in their
dead-letter queue (and nothing else may); alerts parked because Slack refused the setup
(``invalid_auth``, ``channel_not_found``) are redriven once the setup is fixed, as an operator would.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import itertools
import json
import os
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from slack_dlp.config import Settings
from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.dlp.google import GoogleDlpClient, GoogleDlpConfig, HttpResult
from slack_dlp.files.fetch import FileInspector
from slack_dlp.http import HttpRequest
from slack_dlp.ingest import IngestService
from slack_dlp.inspect import Inspector
from slack_dlp.model import FileRef, InspectionResult
from slack_dlp.observability import logger
from slack_dlp.report import Reporter
from slack_dlp.slack.actions import NotifyError
from slack_dlp.slack.verify import SlackRequestVerifier
from slack_dlp_tools import hostile
from slack_dlp_tools.local.dlp_emulator import inspect_response
from slack_dlp_tools.local.ministack import create_rate_limit_table as create_id_table
from slack_dlp_tools.local.samples import event_envelope, fake_github_pat, message_event
from slack_dlp_tools.local.signing import signed_headers

SECRET = "chaos-signing-secret-0123456789ab"  # noqa: S105 - a local test value
EPOCH = 1_700_000_000
#: Simulated seconds: faults last this long from the start, the run ends after ``DRAIN`` more.
FAULT_WINDOW = 30.0
DRAIN = 900.0
VISIBILITY = 20.0
MAX_RECEIVES = 10
SLACK_RETRIES = 3
POISON = '{"v": 1, "ref": {"team_id": "T", "channel_id": "C", "ts": "1", "event_time": 1e400}, "text": "x"}'


_TABLES = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- simulated SQS -------------------------------------------------------------------------------------


@dataclass
class _Message:
    id: str
    body: str
    receives: int = 0
    visible_at: float = 0.0


class SimQueue:
    """SQS as consumers see it: at-least-once, redelivered after a failure, dead-lettered after N."""

    _ids = itertools.count()

    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name
        self._clock = clock
        self.messages: dict[str, _Message] = {}
        self.dead: list[str] = []
        self.redeliveries = 0

    def publish(self, body: str) -> str:
        message_id = f"{self.name}-{next(self._ids)}"
        self.messages[message_id] = _Message(message_id, body, visible_at=self._clock())
        return message_id

    def receive(self, count: int) -> list[tuple[str, str]]:
        now = self._clock()
        ready = [m for m in self.messages.values() if m.visible_at <= now][:count]
        for message in ready:
            message.receives += 1
            message.visible_at = now + VISIBILITY
        return [(m.id, m.body) for m in ready]

    def done(self, message_id: str) -> None:
        self.messages.pop(message_id, None)

    def failed(self, message_id: str, delay: float | None = None) -> None:
        self.redeliveries += 1
        message = self.messages[message_id]
        if message.receives >= MAX_RECEIVES:
            self.dead.append(self.messages.pop(message_id).body)
        elif delay:
            message.visible_at = self._clock() + delay

    def redrive(self, keep: str) -> int:
        """Send the dead letters back, except ``keep`` (the poison an operator would discard)."""
        bodies = [body for body in self.dead if body != keep]
        self.dead = [body for body in self.dead if body == keep]
        for body in bodies:
            self.publish(body)
        return len(bodies)

    def __len__(self) -> int:
        return len(self.messages)


# -- faults --------------------------------------------------------------------------------------------

#: A fault for the n-th call at time t: an exception to raise, a value to return, or None.
Fault = Callable[[float, int], Any]


def during(fault: Callable[[int], Any], until: float = FAULT_WINDOW) -> Fault:
    return lambda t, n: fault(n) if t < until else None


def _dlp_error(status: int, retry_after: str | None = None) -> HttpResult:
    body = json.dumps({"error": {"code": status, "status": "UNAVAILABLE", "message": "chaos"}}).encode()
    return HttpResult(status, body, {"retry-after": retry_after} if retry_after else {})


def _raise(error: BaseException) -> Any:
    raise error


@dataclass(frozen=True)
class Scenario:
    name: str
    dlp: Fault | None = None
    slack_post: Fault | None = None
    slack_notice: Fault | None = None
    dynamodb: Fault | None = None
    audit: Fault | None = None
    #: What becomes of ingest's answer: "late" (received 2 s before ingest ran, so Slack retries
    #: while ingest writes its marker) or "lost" (a 200 Slack never saw); None: answered in time.
    answer: Fault | None = None
    poison: bool = False


SCENARIOS = [
    Scenario("no fault"),
    Scenario("DLP 429 (Retry-After 5)", dlp=during(lambda n: _dlp_error(429, "5"))),
    Scenario("DLP 503", dlp=during(lambda n: _dlp_error(503))),
    Scenario("DLP time-out", dlp=during(lambda n: _raise(TimeoutError("timed out")))),
    Scenario("DLP connection reset", dlp=during(lambda n: _raise(ConnectionResetError()) if n % 2 else None)),
    Scenario("DLP gone 60 s and back", dlp=during(lambda n: _raise(ConnectionRefusedError()), until=60)),
    Scenario("DLP answer with 1e400", dlp=during(
        lambda n: HttpResult(200, b'{"result": {"findings": [{"location": {"codepointRange": {"end": 1e400}}}]}}'))),
    Scenario("Slack 429 (Retry-After 10)", slack_post=during(
        lambda n: _raise(NotifyError("ratelimited", retry_after=10)))),
    Scenario("Slack 5xx", slack_post=during(lambda n: _raise(NotifyError("internal_error")))),
    Scenario("Slack connection dropped", slack_post=during(
        lambda n: _raise(ConnectionResetError()) if n % 2 else None)),
    Scenario("Slack invalid_auth", slack_post=during(lambda n: _raise(NotifyError("invalid_auth", fatal=True)))),
    Scenario("Slack channel_not_found", slack_post=during(
        lambda n: _raise(NotifyError("channel_not_found", fatal=True)))),
    Scenario("DynamoDB throttling", dynamodb=during(lambda n: n % 3 == 0)),
    Scenario("ingest answers late (Slack retries)", answer=during(lambda n: "late")),
    Scenario("ingest answers lost (Slack retries)", answer=during(lambda n: "lost" if n % 2 else None)),
    Scenario("audit write fails", audit=during(lambda n: _raise(OSError("DynamoDB unavailable")))),
    Scenario("author notice fails", slack_notice=during(lambda n: _raise(ConnectionResetError()))),
    Scenario("poison record in each queue", poison=True),
]  # fmt: skip


def _apply(fault: Fault | None, clock: Clock, counter: Iterator[int]) -> Any:
    return fault(clock(), next(counter)) if fault is not None else None


# -- stand-ins for Slack, the DLP API and DynamoDB ---------------------------------------------------


class ChaosSlack:
    """The Slack Web API as the reporter and fetcher see it, with faults; counts alerts per item."""

    def __init__(self, scenario: Scenario, clock: Clock, files: dict[str, tuple[str, bytes]]) -> None:
        self._scenario, self._clock = scenario, clock
        self._posts, self._notices = itertools.count(), itertools.count()
        self.alerts: Counter[str] = Counter()
        self.notices: Counter[str] = Counter()
        self._files = files
        self.posts = 0

    def post_alert(self, result: InspectionResult, note: str = "") -> str:
        return self.post_digest([result])

    def post_digest(self, results: list[InspectionResult], notes: object = None) -> str:
        _apply(self._scenario.slack_post, self._clock, self._posts)
        self.posts += 1
        for result in results:
            self.alerts[_alert_id(result)] += 1
        return f"1700000000.{self.posts:06d}"

    def notify_author(self, result: InspectionResult, text: str) -> None:
        _apply(self._scenario.slack_notice, self._clock, self._notices)
        self.notices[_alert_id(result)] += 1

    def delete_message(self, channel: str, ts: str) -> None:
        return None

    def info(self, file_id: str) -> dict[str, Any]:
        name, data = self._files[file_id]
        return {"id": file_id, "name": name, "size": len(data), "url_private_download": f"chaos://{file_id}",
                "channels": ["C0FILES"], "permalink": f"https://slack.test/files/{file_id}"}  # fmt: skip

    def download(self, url: str, max_bytes: int) -> bytes:
        return self._files[url.removeprefix("chaos://")][1]


def _alert_id(result: InspectionResult) -> str:
    return result.ref.file_id or result.ref.ts


class ChaosDlp:
    """Google's content:inspect answered in-process (the emulator's answer), with faults."""

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self._scenario, self._clock = scenario, clock
        self._calls = itertools.count()
        self._engine = DetectionEngine(fingerprinter=Fingerprinter(b"chaos-dlp-fingerprint-key-000000"))
        self.requests = 0

    def __call__(self, url: str, body: bytes, headers: Any, timeout: float) -> HttpResult:
        self.requests += 1
        injected = _apply(self._scenario.dlp, self._clock, self._calls)
        if isinstance(injected, HttpResult):
            return injected
        request = json.loads(body)
        rows = [r["values"][0].get("stringValue", "") for r in request["item"]["table"]["rows"]]
        return HttpResult(200, json.dumps(inspect_response(request, rows, self._engine)).encode())


class ThrottlingDynamoDb:
    """A boto3 DynamoDB client that answers ProvisionedThroughputExceeded when the scenario says so."""

    def __init__(self, client: Any, scenario: Scenario, clock: Clock) -> None:
        self._client, self._scenario, self._clock = client, scenario, clock
        self._calls = itertools.count()
        self.throttled = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in ("put_item", "get_item", "update_item", "delete_item"):
            return method

        def call(**kwargs: Any) -> Any:
            if _apply(self._scenario.dynamodb, self._clock, self._calls):
                from botocore.exceptions import ClientError

                self.throttled += 1
                error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "chaos"}}
                raise ClientError(error, name)
            return method(**kwargs)

        return call


class ChaosAudit:
    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self._scenario, self._clock = scenario, clock
        self._calls = itertools.count()
        self.records: list[dict[str, Any]] = []

    def record(self, kind: str, **fields: Any) -> None:
        _apply(self._scenario.audit, self._clock, self._calls)
        self.records.append({"kind": kind, **fields})

    def since(self, seconds: float) -> list[dict[str, Any]]:
        return self.records


# -- one run --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: str
    planted: int = 0
    alerted: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    poison_dead_lettered: int = 0
    redriven: int = 0
    refused_files: int = 0
    #: Deliveries the faults cost: Slack's retries of a 5xx, failed SQS records delivered again.
    retried: int = 0
    audit_missing: int = 0
    leaked: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@functools.cache
def _bomb() -> bytes:
    return hostile.docx_bomb(100 * hostile.MB)


class Pipeline:
    """The real services on simulated queues, for one scenario."""

    def __init__(self, scenario: Scenario, clock: Clock, files: dict[str, tuple[str, bytes]]) -> None:
        import boto3

        from slack_dlp.alert_log import DynamoDbAlertLog
        from slack_dlp.dedup import DynamoDbMarkers, IdempotencyDeduplicator

        self.scenario, self.clock = scenario, clock
        self.inspect_q, self.results_q, self.files_q = (SimQueue(n, clock) for n in ("inspect", "results", "files"))
        self.slack = ChaosSlack(scenario, clock, files)
        self.audit = ChaosAudit(scenario, clock)
        dynamodb = ThrottlingDynamoDb(boto3.client("dynamodb"), scenario, clock)
        table = f"chaos-{next(_TABLES)}"
        create_id_table(boto3.client("dynamodb"), table)  # the idempotency table's shape: a string "id" key
        self.ingest = IngestService(
            settings=Settings(),
            verifier=SlackRequestVerifier(lambda: SECRET, clock=lambda: EPOCH + clock()),
            dedup=DynamoDbMarkers(dynamodb, table, 3600, clock=lambda: EPOCH + clock()),
            publisher=self.inspect_q,
            files=self.files_q,
            clock=lambda: EPOCH + clock(),
        )
        dlp = GoogleDlpClient(
            GoogleDlpConfig(project="chaos", max_items=100),
            fingerprinter=Fingerprinter(b"chaos-fingerprint-key-0000000000"),
            transport=ChaosDlp(scenario, clock),
        )
        self.inspector = Inspector(dlp, self.results_q)
        self.reporter = Reporter(
            self.slack,
            dedup=IdempotencyDeduplicator(table, 3600, boto3_client=dynamodb),
            # as the reporter's wiring has it: a result whose copy was alerted in another group is not posted again
            alerted=DynamoDbAlertLog(dynamodb, table, 3600, clock=lambda: EPOCH + clock()),
            dead_letters=_DeadLetters(self.results_q),
            author_notice="slack-dlp found {kinds}",
            audit=self.audit,
        )
        self.fetcher = FileInspector(self.slack, self.inspect_q, audit=self.audit)
        self.deliveries: list[tuple[bytes, int]] = []  # (body, attempts so far)
        self.lost_deliveries = 0
        self.slack_retries = 0
        self.redriven = 0
        self._answers = itertools.count()

    def deliver(self) -> None:
        """Slack's Events API: a delivery answered with a 5xx, late or not at all is retried, up to
        three times, with ``X-Slack-Retry-Num``."""
        pending, self.deliveries = self.deliveries, []
        for body, attempts in pending:
            answer = _apply(self.scenario.answer, self.clock, self._answers)
            now = EPOCH + self.clock.now
            headers = signed_headers(SECRET, body, timestamp=int(now))
            if attempts:
                headers |= {"X-Slack-Retry-Num": str(attempts), "X-Slack-Retry-Reason": "http_timeout"}
            received = now - 2.0 if answer == "late" else now
            status = self.ingest.handle_event_request(HttpRequest(body, headers, received_at=received)).status
            if status < 500 and answer is None:
                continue
            self.slack_retries += 1
            if attempts < SLACK_RETRIES:
                self.deliveries.append((body, attempts + 1))
            elif status >= 500:
                self.lost_deliveries += 1

    def step(self) -> bool:
        """One simulated second of every consumer; False once everything is drained."""
        self.deliver()
        _fetch(self.fetcher, self.files_q)
        _inspect(self.inspector, self.inspect_q)
        _report(self.reporter, self.results_q)
        after_faults = self.clock.now >= FAULT_WINDOW
        if after_faults and any(body != POISON for body in self.results_q.dead):
            # The setup is fixed: the operator redrives the parked alerts (and discards poison).
            self.redriven += self.results_q.redrive(keep=POISON)
        busy = self.deliveries or len(self.inspect_q) + len(self.results_q) + len(self.files_q)
        return not after_faults or bool(busy)


def run_scenario(scenario: Scenario, messages: int, seed: int = 11) -> Outcome:
    clock = Clock()
    rng = random.Random(seed)  # noqa: S311 - planted look-alike values, not secrets
    secrets = {f"1700000000.{i:06d}": fake_github_pat(rng) for i in range(messages)}
    files = {
        "F0CHAOS1": ("handover.docx", hostile.docx(["Handover notes", f"token {fake_github_pat(rng)}"])),
        "F0CHAOS2": ("notes.txt", f"staging token {fake_github_pat(rng)}\n".encode()),
        "F0BOMB": ("bomb.docx", _bomb()),
    }
    pipeline = Pipeline(scenario, clock, files)
    for ts, secret in secrets.items():
        event = message_event(f"deploy with {secret} please", channel="C0CHAOS", ts=ts)
        pipeline.deliveries.append((json.dumps(event_envelope(event, event_id=f"Ev{ts}")).encode(), 0))
    for file_id in files:
        event = {"type": "file_shared", "file_id": file_id, "user_id": "U0ALICE", "channel_id": "C0FILES"}
        pipeline.deliveries.append((json.dumps(event_envelope(event, event_id=f"Ev{file_id}")).encode(), 0))
    if scenario.poison:
        for queue in (pipeline.inspect_q, pipeline.results_q, pipeline.files_q):
            queue.publish(POISON)
    while clock.now < FAULT_WINDOW + DRAIN and pipeline.step():
        clock.now += 1.0
    return _outcome(pipeline, set(secrets) | {"F0CHAOS1", "F0CHAOS2"}, list(secrets.values()))


def _outcome(pipeline: Pipeline, expected: set[str], values: list[str]) -> Outcome:
    slack, audit = pipeline.slack, pipeline.audit
    outcome = Outcome(pipeline.scenario.name, planted=len(expected), seconds=pipeline.clock.now)
    outcome.alerted = sum(1 for key in expected if slack.alerts[key])
    outcome.lost = len(expected) - outcome.alerted
    outcome.duplicated = sum(count - 1 for count in slack.alerts.values() if count > 1)
    dead = [*pipeline.inspect_q.dead, *pipeline.results_q.dead, *pipeline.files_q.dead]
    outcome.poison_dead_lettered = sum(1 for body in dead if body == POISON)
    outcome.dead_lettered = len(dead) - outcome.poison_dead_lettered
    outcome.redriven = pipeline.redriven
    queues = (pipeline.inspect_q, pipeline.results_q, pipeline.files_q)
    outcome.retried = pipeline.slack_retries + sum(q.redeliveries for q in queues)
    outcome.refused_files = sum(1 for r in audit.records if r["kind"] == "file_skipped")
    audited = {r["item_id"] for r in audit.records if r["kind"] == "alert"}
    outcome.audit_missing = outcome.alerted - len(audited)
    if pipeline.lost_deliveries:
        outcome.notes.append(f"{pipeline.lost_deliveries} deliveries failed four times (Slack gives up)")
    if any(notices > 1 for notices in slack.notices.values()):
        outcome.notes.append("an author was told twice")
    outcome.leaked = _leaks(values, json.dumps(audit.records))
    return outcome


class _DeadLetters:
    def __init__(self, queue: SimQueue) -> None:
        self._queue = queue

    def publish(self, body: str) -> str:
        self._queue.dead.append(body)
        return "parked"


def _fetch(fetcher: FileInspector, queue: SimQueue) -> None:
    for message_id, body in queue.receive(1):
        try:
            fetcher.process(FileRef.from_json(body))
        except Exception:  # the fetcher handler fails the record; SQS redelivers it
            queue.failed(message_id)
        else:
            queue.done(message_id)


def _inspect(inspector: Inspector, queue: SimQueue) -> None:
    records = queue.receive(100)
    if not records:
        return
    batch = inspector.inspect(records)
    failed = []
    for message_id, _ in records:
        try:
            inspector.complete(batch, message_id)
        except Exception:
            failed.append(message_id)
        else:
            queue.done(message_id)
    delays = inspector.retry_delays(batch, failed)
    for message_id in failed:
        queue.failed(message_id, delays.get(message_id))


def _report(reporter: Reporter, queue: SimQueue) -> None:
    records = queue.receive(10)
    if not records:
        return
    for message_id, error in reporter.report_batch(records).items():
        if error is None:
            queue.done(message_id)
        else:
            queue.failed(message_id, getattr(error, "retry_after", None))


_LOGS = io.StringIO()


def _leaks(values: list[str], *outputs: str) -> int:
    """Planted values found in the logs or in other outputs (the audit trail)."""
    seen = _LOGS.getvalue() + "".join(outputs)
    return sum(1 for value in values if value in seen)


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    handler = logger.registered_handler
    previous = handler.setStream(_LOGS)  # type: ignore[attr-defined]
    try:
        yield _LOGS
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


@contextlib.contextmanager
def simulated_aws() -> Iterator[None]:
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                             "AWS_ENDPOINT_URL")}  # fmt: skip
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": "chaos", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_matrix(messages: int = 100, scenarios: list[Scenario] | None = None) -> list[Outcome]:
    with simulated_aws(), captured_logs(), _quiet_metrics():
        return [run_scenario(scenario, messages) for scenario in scenarios or SCENARIOS]


@contextlib.contextmanager
def _quiet_metrics() -> Iterator[None]:
    """Powertools prints metrics to stdout when a batch of them fills; keep the matrix readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def render(outcomes: list[Outcome]) -> str:
    head = ("fault", "planted", "alerted", "lost", "duplicated", "retried", "DLQ", "poison→DLQ", "redriven",
            "refused", "unaudited", "leaks")  # fmt: skip
    rows = [head] + [
        (o.scenario, *(str(v) for v in (o.planted, o.alerted, o.lost, o.duplicated, o.retried, o.dead_lettered,
                                        o.poison_dead_lettered, o.redriven, o.refused_files, o.audit_missing,
                                        o.leaked)))
        for o in outcomes
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]  # fmt: skip
    total_lost = sum(o.lost for o in outcomes)
    total_dup = sum(o.duplicated for o in outcomes)
    lines.append(f"total: {total_lost} lost, {total_dup} duplicated over {sum(o.planted for o in outcomes)} planted")
    lines.extend(f"  {o.scenario}: {note}" for o in outcomes for note in o.notes)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100, help="messages per scenario (each holds a value)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    outcomes = run_matrix(args.messages)
    if args.json:
        print(json.dumps([o.__dict__ for o in outcomes], indent=2))
    else:
        print(render(outcomes))
    clean = all(o.lost == 0 and o.duplicated == 0 and o.dead_lettered == 0 and o.leaked == 0 and o.audit_missing == 0
                for o in outcomes)  # fmt: skip
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
