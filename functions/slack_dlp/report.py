"""Reporter: one alert per inspection result, exactly once, and a private word to the author.

SQS delivers at least once, so each alert is posted under an idempotency key made of the
message and the fingerprints of its findings: a redelivered result posts nothing, and a copy
that reaches another invocation at the same time finds the key claimed (``alert_log``). A Slack
error no retry can fix (wrong channel, revoked token, missing scope) is logged loudly once per
container, counted, and the result is parked in the dead-letter queue instead of being retried
until it lands there anyway.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from slack_dlp.alert_log import AlertLog, AlertRecord
from slack_dlp.events_bus import EventPublisher, finding_events
from slack_dlp.ingest import Deduplicator, DedupOutcome
from slack_dlp.model import Category, Confidence, InspectionResult, MalformedMessage, MessageKind
from slack_dlp.observability import logger, metrics
from slack_dlp.queues import Publisher
from slack_dlp.slack.actions import NotifyError
from slack_dlp.slack.alerts import MAX_DIGEST_RESULTS
from slack_dlp.slack.notifier import Notifier
from slack_dlp.triage import AuditLog


class AlertInProgress(Exception):
    """Another container is posting this very alert now; retry later in case it fails
    (``retry_after``: when its claim ends, if known; else the queue's visibility timeout)."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _NoDedup:
    def run_once(self, key: str, action: Callable[[], None]) -> DedupOutcome:
        action()
        return DedupOutcome.DONE

    def run_once_value(self, key: str, action: Callable[[], str]) -> tuple[DedupOutcome, str]:
        return DedupOutcome.DONE, action()


def alert_key(result: InspectionResult) -> str:
    """The inspected text (its item id: a message, an edit, or a chunk of a file) and what was found
    in it. Two files shared in the same second with the same value are two alerts."""
    fingerprints = ",".join(sorted(f.fingerprint for f in result.findings))
    raw = f"{result.ref.item_id}|{fingerprints}"
    return "alert#" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def describe_kinds(result: InspectionResult) -> str:
    kinds = Counter((f.description or f.detector).lower() for f in result.findings)
    names = [f"{name} (×{count})" if count > 1 else name for name, count in kinds.most_common()]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class AutoDelete:
    """Opt-in automatic response: delete the message when a finding is of these categories and
    at least this confident (needs an admin's user token; the stack refuses the option without it)."""

    categories: frozenset[Category]
    min_confidence: Confidence = Confidence.HIGH

    def applies(self, result: InspectionResult) -> bool:
        return any(
            f.category in self.categories and f.confidence.at_least(self.min_confidence) for f in result.findings
        )


def merge_file_results(results: list[InspectionResult]) -> list[InspectionResult]:
    """Findings in the chunks of one file become one result, so the file gets one section."""
    merged: list[InspectionResult] = []
    position: dict[tuple[str, str], int] = {}
    for result in results:
        if result.ref.kind is MessageKind.FILE:
            key = (result.ref.team_id, result.ref.file_id)
            if key in position:
                first = merged[position[key]]
                # Chunks overlap: a value in the overlap is found twice; list it once.
                seen = {f.fingerprint for f in first.findings}
                extra = tuple(f for f in result.findings if f.fingerprint not in seen)
                merged[position[key]] = replace(first, findings=first.findings + extra)
                continue
            position[key] = len(merged)
        merged.append(result)
    return merged


class Reporter:
    def __init__(
        self,
        notifier: Notifier,
        *,
        dedup: Deduplicator | None = None,
        alerted: AlertLog | None = None,
        dead_letters: Publisher | None = None,
        author_notice: str | None = None,
        audit: AuditLog | None = None,
        auto_delete: AutoDelete | None = None,
        events: EventPublisher | None = None,
    ) -> None:
        self._events = events
        self._auto_delete = auto_delete
        self._notifier = notifier
        self._audit = audit
        self._dedup: Deduplicator = dedup or _NoDedup()
        self._alerted = alerted
        self._dead_letters = dead_letters
        self._author_notice = author_notice
        self._reported_config_errors: set[str] = set()

    def register_lambda_context(self, context: object) -> None:
        for store in (self._dedup, self._alerted):
            register = getattr(store, "register_lambda_context", None)
            if register is not None:
                register(context)

    def report_batch(self, records: Sequence[tuple[str, str]]) -> dict[str, Exception | None]:
        """A lone result gets its own alert; several are posted as digests of up to ten. Returns,
        per SQS message id, None when done or the exception that must fail that record."""
        outcomes: dict[str, Exception | None] = {}
        parsed: list[tuple[str, str, InspectionResult]] = []
        for message_id, body in records:
            try:
                parsed.append((message_id, body, InspectionResult.from_json(body)))
            except MalformedMessage as error:
                outcomes[message_id] = error
            except Exception as error:  # whatever a poison record raises, it fails alone
                outcomes[message_id] = MalformedMessage(f"unparseable record ({type(error).__name__})")
        for first in range(0, len(parsed), MAX_DIGEST_RESULTS):
            outcomes.update(self._report_group(parsed[first : first + MAX_DIGEST_RESULTS]))
        return outcomes

    def _report_group(self, group: list[tuple[str, str, InspectionResult]]) -> dict[str, Exception | None]:
        """One Slack post for the group, exactly once; its outcome is every record's outcome.

        A result posted before (alone, or in another digest: a redelivery after a failed later
        step, the same message inspected live and by a backfill) is not posted again, so grouping
        never decides twice; if its later steps were not all done, they run now, for it alone. The
        rest is claimed before the post: what another invocation claimed first is either posted
        already (treated the same way) or being posted now (its records fail, and come back after
        the claim's lease to find it posted, or to post it if that invocation died)."""
        keys = {message_id: alert_key(result) for message_id, _, result in group}
        first: dict[str, str] = {}  # alert key -> the record that carries it (a result twice in one batch)
        unique: list[tuple[str, str, InspectionResult]] = []
        for message_id, body, result in group:
            if first.setdefault(keys[message_id], message_id) == message_id:
                unique.append((message_id, body, result))
        known = self._alert_records([keys[message_id] for message_id, _, _ in unique])
        fresh = [record for record in unique if keys[record[0]] not in known]
        outcomes: dict[str, Exception | None] = {}
        if fresh:
            try:
                known |= self._claim([keys[message_id] for message_id, _, _ in fresh])
            except Exception as error:  # the store is unreachable: posting now could post twice
                logger.warning("alert claim failed; will retry", extra={"items": [r.id for _, _, r in fresh],
                                                                        "error": type(error).__name__})  # fmt: skip
                metrics.add_metric(name="AlertPostFailures", unit="Count", value=1)
                outcomes |= {message_id: error for message_id, _, _ in fresh}
        won = [record for record in fresh if record[0] not in outcomes and keys[record[0]] not in known]
        if won:
            outcomes |= self._post_group(won)
        for message_id, body, result in unique:
            record = known.get(keys[message_id])
            if record is None or message_id in outcomes:
                continue
            if record.pending:
                logger.info("alert being posted by another invocation; will retry", extra={"item_id": result.id})
                outcomes[message_id] = AlertInProgress(message_id, retry_after=record.retry_after)
            elif not record.followed_up:
                outcomes |= self._finish([(message_id, body, result)], [result], record.alert_ts)
        # Alerted before (not claimed and being posted now), or a copy of a result in this group.
        duplicates = 0
        for message_id, key in keys.items():
            record = known.get(key)
            duplicates += (not record.pending) if record is not None else first[key] != message_id
        if duplicates:
            metrics.add_metric(name="AlertsDeduplicated", unit="Count", value=duplicates)
        # A copy shares the outcome of the record it duplicates; an alert fully reported before is done.
        return {message_id: outcomes.get(first[key]) for message_id, key in keys.items()}

    def _alert_records(self, keys: list[str]) -> dict[str, AlertRecord]:
        if self._alerted is None:
            return {}
        try:
            return self._alerted.lookup(keys)
        except Exception:  # the store is unreachable: the claim that follows decides
            return {}

    def _claim(self, keys: list[str]) -> dict[str, AlertRecord]:
        """The records of the keys another invocation holds (raises when the store cannot say)."""
        return {} if self._alerted is None else self._alerted.claim(keys)

    def _release(self, results: list[InspectionResult]) -> None:
        """Best effort: a claim not released holds only until its lease runs out."""
        if self._alerted is None:
            return
        try:
            self._alerted.release([alert_key(result) for result in results])
        except Exception as error:
            logger.info("alert claim not released", extra={"error": type(error).__name__})

    def _post_group(self, group: list[tuple[str, str, InspectionResult]]) -> dict[str, Exception | None]:
        results = [result for _, _, result in group]
        keys = sorted(alert_key(r) for r in results)
        key = keys[0] if len(keys) == 1 else "digest#" + hashlib.sha256("|".join(keys).encode()).hexdigest()[:40]
        try:
            outcome, alert_ts = self._dedup.run_once_value(key, lambda: self._post_digest(results))
        except NotifyError as error:
            self._release(results)  # retried or parked: whichever invocation has it next may post it
            return self._post_failed(group, results, error)
        except Exception as error:  # a dropped connection to Slack, the dedup store: retry this group later
            logger.warning("alert post failed; will retry", extra={"items": [r.id for r in results],
                                                                   "error": type(error).__name__})  # fmt: skip
            metrics.add_metric(name="AlertPostFailures", unit="Count", value=1)
            self._release(results)
            return {message_id: error for message_id, _, _ in group}
        if outcome is DedupOutcome.IN_PROGRESS:  # the same group, posted by an invocation whose claim ran out
            self._release(results)
            return {message_id: AlertInProgress(message_id) for message_id, _, _ in group}
        if outcome is DedupOutcome.DUPLICATE:
            metrics.add_metric(name="AlertsDeduplicated", unit="Count", value=1)
            logger.info("alert already posted", extra={"items": [r.id for r in results]})
        self._mark(results, alert_ts, followed_up=False)
        return self._finish(group, results, alert_ts)

    def _finish(
        self, group: list[tuple[str, str, InspectionResult]], results: list[InspectionResult], alert_ts: str
    ) -> dict[str, Exception | None]:
        """The steps after the post, each once; then the results are done whatever group comes next."""
        try:
            self._follow_up(merge_file_results(results), alert_ts)
        except AlertInProgress as error:
            return {message_id: error for message_id, _, _ in group}
        except Exception as error:  # the audit write or the notice: retried alone, never the alert
            logger.warning("alert posted, a later step failed; will retry it", extra={
                "items": [r.id for r in results], "error": type(error).__name__})  # fmt: skip
            metrics.add_metric(name="AlertFollowUpFailures", unit="Count", value=1)
            return {message_id: error for message_id, _, _ in group}
        self._mark(results, alert_ts, followed_up=True)
        return {message_id: None for message_id, _, _ in group}

    def _mark(self, results: list[InspectionResult], alert_ts: str, *, followed_up: bool) -> None:
        """Best effort: without the mark only a regrouping of a redelivery can post a result twice."""
        if self._alerted is None:
            return
        try:
            self._alerted.mark([alert_key(result) for result in results], alert_ts, followed_up=followed_up)
        except Exception as error:
            logger.info("alert mark not written", extra={"error": type(error).__name__})

    def _post_failed(
        self, group: list[tuple[str, str, InspectionResult]], results: list[InspectionResult], error: NotifyError
    ) -> dict[str, Exception | None]:
        """Slack refused the post: retry later, or park the results when only a fix of the setup helps."""
        extra = {"items": [r.id for r in results], "slack_error": error.code, "retry_after": error.retry_after}
        if not error.fatal:
            logger.warning("alert post failed; will retry", extra=extra)
            metrics.add_metric(name="AlertPostFailures", unit="Count", value=1)
            return {message_id: error for message_id, _, _ in group}
        try:
            for _, body, _ in group:
                self._park(body, error.code, extra)
        except NotifyError as unparked:
            return {message_id: unparked for message_id, _, _ in group}
        return {message_id: None for message_id, _, _ in group}

    def _follow_up(self, results: list[InspectionResult], alert_ts: str) -> None:
        """After the post, each later step runs once per result under its own idempotency key: when
        one fails, SQS delivers the record again, the alert is not posted again (whatever group the
        record lands in), and only the steps not yet done run."""
        steps: list[tuple[str, Callable[[], None]]] = []
        for result in results:
            step = f"step#{alert_key(result)}"
            if self._audit is not None:
                steps.append((step + "#audit", partial(self._record_alert, result, alert_ts)))
            if self._author_notice:
                steps.append((step + "#notice", partial(self._notify_author, result)))
            if self._events is not None:
                steps.append((step + "#events", partial(self._publish_events, self._events, result)))
        # A step another invocation runs now (the same result in two groups) may yet fail there: not done.
        if [key for key, action in steps if self._dedup.run_once(key, action) is DedupOutcome.IN_PROGRESS]:
            raise AlertInProgress("a later step is running elsewhere")

    def _respond(self, result: InspectionResult) -> str:
        """Delete the message if the policy says so; a note for the alert, empty if nothing was done."""
        if self._auto_delete is None or result.ref.is_smoke_test or not self._auto_delete.applies(result):
            return ""
        try:
            self._notifier.delete_message(result.ref.channel_id, result.ref.ts)
        except NotifyError as error:
            logger.warning("automatic deletion failed", extra={"item_id": result.id, "slack_error": error.code})
            return f"automatic deletion failed ({error.code})"
        metrics.add_metric(name="MessagesDeleted", unit="Count", value=1)
        if self._audit is not None:
            self._audit.record("deleted", actor="slack-dlp", item_id=result.id, team_id=result.ref.team_id,
                               channel=result.ref.channel_id)  # fmt: skip
        return "message deleted automatically"

    def _post_digest(self, results: list[InspectionResult]) -> str:
        """Post the alert (or digest) and nothing else; its ts is remembered with the idempotency key."""
        merged = merge_file_results(results)
        if len(merged) == 1:  # one result, or the chunks of one file: a single alert
            return self._post(merged[0])
        notes = {r.ref.item_id: note for r in merged if (note := self._respond(r))}
        digest_ts = self._notifier.post_digest(merged, notes)
        metrics.add_metric(name="DigestsPosted", unit="Count", value=1)
        metrics.add_metric(name="AlertsPosted", unit="Count", value=len(merged))
        logger.info("digest posted", extra={"items": [r.id for r in merged]})
        return digest_ts

    def _post(self, result: InspectionResult) -> str:
        alert_ts = self._notifier.post_alert(result, self._respond(result))
        metrics.add_metric(name="AlertsPosted", unit="Count", value=1)
        logger.info("alert posted", extra={"item_id": result.id, "findings": len(result.findings)})
        return alert_ts

    def _record_alert(self, result: InspectionResult, alert_ts: str) -> None:
        if self._audit is not None:
            ref = result.ref
            self._audit.record(
                "alert",
                item_id=ref.item_id,
                team_id=ref.team_id,
                enterprise_id=ref.enterprise_id,
                channel=ref.channel_id,
                user_id=ref.user_id,
                alert_ts=alert_ts,
                detectors=sorted({f.detector for f in result.findings}),
                masked=[f.masked for f in result.findings],
                fingerprints=sorted({f.fingerprint for f in result.findings}),
                **({"smoke_test": True} if ref.is_smoke_test else {}),
            )

    def _notify_author(self, result: InspectionResult) -> None:
        if not self._author_notice or result.ref.is_smoke_test:
            return
        try:
            self._notifier.notify_author(result, self._author_notice.format(kinds=describe_kinds(result)))
        except NotifyError as error:
            if error.retry_after:
                raise  # rate limited: this step is retried later, the alert is not posted again
            # Otherwise best effort: a DM between two people admits no bot, a user may be gone.
            logger.info("author not notified", extra={"item_id": result.id, "slack_error": error.code})

    def _publish_events(self, events: EventPublisher, result: InspectionResult) -> None:
        """The findings, masked, to the event bus for a SIEM (raises PublishError: the step is retried)."""
        events.put(finding_events(result))
        metrics.add_metric(name="FindingEventsPublished", unit="Count", value=len(result.findings))

    def _park(self, body: str, code: str, extra: Mapping[str, object]) -> None:
        metrics.add_metric(name="AlertConfigErrors", unit="Count", value=1)
        if code not in self._reported_config_errors:
            self._reported_config_errors.add(code)
            logger.error("alerts cannot be posted until the Slack setup is fixed", extra=dict(extra))
        if self._dead_letters is None:
            raise NotifyError(code, fatal=True)
        self._dead_letters.publish(body)
