"""Ingest: a signed Slack request in, at most one inspection item per message out, in milliseconds.

Order matters: signature over the raw bytes, then size, then parsing. Nothing unsigned is
parsed; nothing malformed produces a 5xx (Slack disables apps that fail most deliveries);
only a failure to enqueue does, so that Slack retries and nothing is lost. A signed message
too large to inspect is counted and recorded in the audit trail (once, however often Slack
retries it), never dropped silently.

Deduplication writes only where Slack may deliver a message again. Slack retries a delivery that
failed or was answered after 3 seconds, with ``X-Slack-Retry-Num``. A first delivery answered fast
is enqueued without touching DynamoDB; one that is slow (more than ``SLOW_DELIVERY_SECONDS`` since
API Gateway received it) leaves a marker, so that the retry of a late answer is dropped; a retry
claims the marker (a conditional write) and is enqueued only if it wrote it. What gets through twice
(a retry of a fast answer that was lost, the store failing) is caught by the reporter's alert key,
which is the message identity too. The happy path logs at DEBUG and emits no metric: events
received and enqueued are API Gateway's and SQS's own (free) metrics.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from slack_dlp import jsonsafe
from slack_dlp.config import Settings
from slack_dlp.http import HttpRequest, HttpResponse
from slack_dlp.model import FileRef, InspectionItem
from slack_dlp.observability import logger, metrics
from slack_dlp.queues import Publisher, PublishError
from slack_dlp.slack.events import (
    RATE_LIMITED_AUDIT_KIND,
    MalformedEvent,
    Skip,
    file_refs,
    is_join_event,
    join_request,
    normalize,
    rate_limited_minute,
)
from slack_dlp.slack.verify import RequestVerifier

if TYPE_CHECKING:
    from slack_dlp.triage import AuditLog

#: A delivery answered later than this after API Gateway received it leaves a dedup marker: Slack
#: retries answers later than 3 s, and what remains of the request (enqueue, answer) must fit.
SLOW_DELIVERY_SECONDS = 1.0


class DedupOutcome(StrEnum):
    DONE = "done"  # this call ran the action
    DUPLICATE = "duplicate"  # an earlier delivery completed it
    IN_PROGRESS = "in_progress"  # an earlier delivery is still running it


class Deduplicator(Protocol):
    """The reporter's run-once store (an alert, then each later step, once per key)."""

    def run_once(self, key: str, action: Callable[[], None]) -> DedupOutcome:
        """Run ``action`` unless ``key`` was seen; a failed action leaves the key unseen."""
        ...

    def run_once_value(self, key: str, action: Callable[[], str]) -> tuple[DedupOutcome, str]:
        """``run_once`` that keeps what ``action`` returned, and returns it again for a duplicate
        (an alert's ts, so that later steps of a redelivered record still know it)."""
        ...


class DeliveryMarkers(Protocol):
    """Markers of what was delivered, kept for ``dedup_ttl_seconds`` (one conditional write each)."""

    def claim(self, key: str, *, done: bool = False) -> bool:
        """Write the marker of ``key`` unless one exists; True when this call wrote it. Unless
        ``done`` (what it stands for already happened), the marker only holds for a short lease
        until :meth:`confirm`: an invocation that dies before either leaves no lasting marker."""
        ...

    def confirm(self, key: str) -> None:
        """What the claimed marker of ``key`` stands for happened: keep it for the whole TTL."""
        ...

    def release(self, key: str) -> None:
        """Delete the marker of ``key``: what it stood for did not happen, the next delivery must pass."""
        ...


@dataclass(frozen=True)
class IngestService:
    settings: Settings
    verifier: RequestVerifier
    dedup: DeliveryMarkers
    publisher: Publisher
    bot_user_ids: frozenset[str] = frozenset()
    #: The files queue; None when file inspection is off.
    files: Publisher | None = None
    #: The join queue (new and unarchived public channels); None when auto-join is off.
    joins: Publisher | None = None
    #: The backfill queue: each minute Slack rate-limited is read back from history (None: not deployed).
    backfill: Publisher | None = None
    #: The audit trail: messages too large to inspect, minutes Slack rate-limited (for a backfill).
    audit: AuditLog | None = None
    #: Epoch seconds, compared with :attr:`HttpRequest.received_at`.
    clock: Callable[[], float] = time.time

    def handle_event_request(self, request: HttpRequest) -> HttpResponse:
        too_large = len(request.body) > self.settings.max_body_bytes
        if too_large:
            metrics.add_metric(name="RequestsTooLarge", unit="Count", value=1)
        if not self.verifier.is_valid(request.body, request.headers):
            if too_large:
                return _rejected(413, f"body larger than {self.settings.max_body_bytes} bytes", "too_large")
            return _rejected(401, "invalid or missing Slack signature", "bad_signature")
        if too_large:
            self._record_too_large(request.body)
            return _rejected(413, f"body larger than {self.settings.max_body_bytes} bytes", "too_large")
        if request.media_type != "application/json":
            return _rejected(415, "content type must be application/json", "bad_content_type")
        try:
            envelope = jsonsafe.loads(request.body)
        except ValueError:
            return _rejected(400, "body is not valid JSON", "bad_json")
        if not isinstance(envelope, dict):
            return _rejected(400, "body must be a JSON object", "bad_json")

        envelope_type = envelope.get("type")
        if envelope_type == "url_verification":
            challenge = envelope.get("challenge")
            if not isinstance(challenge, str):
                return _rejected(400, "url_verification without a challenge", "bad_challenge")
            return HttpResponse.json(200, challenge=challenge)
        if envelope_type == "app_rate_limited":
            return self._rate_limited(envelope)
        if envelope_type != "event_callback":
            logger.info("envelope acknowledged", extra={"envelope_type": str(envelope_type)[:40]})
            return HttpResponse.json(200, ok=True)
        try:
            return self._event_callback(envelope, request)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as error:
            # A signed body of a shape Slack never sends: a 4xx, never a 5xx that Slack would count.
            return _rejected(400, "malformed event", f"malformed_event:{type(error).__name__}")

    def _event_callback(self, envelope: dict[str, Any], request: HttpRequest) -> HttpResponse:
        identity = {"bot_user_ids": self.bot_user_ids, "skip_bot_ids": frozenset(self.settings.skip_bot_ids)}
        if self.files is not None:
            for ref in file_refs(envelope, **identity):
                failed = self._enqueue_file_once(ref)
                if failed is not None:
                    return failed
        event = envelope.get("event")
        if isinstance(event, dict) and event.get("type") == "file_shared":
            return HttpResponse.json(200, ok=True)
        if isinstance(event, dict) and is_join_event(event):
            return self._join(envelope)
        try:
            outcome = normalize(envelope, **identity)
        except MalformedEvent as error:
            return _rejected(400, str(error), "malformed_event")
        if isinstance(outcome, Skip):
            metrics.add_metric(name="EventsSkipped", unit="Count", value=1)
            logger.debug("event skipped", extra={"reason": outcome.reason})
            return HttpResponse.json(200, ok=True)
        return self._enqueue_once(outcome, request)

    def _enqueue_once(self, item: InspectionItem, request: HttpRequest) -> HttpResponse:
        retry_num = request.header("x-slack-retry-num")[:8]
        log = {"item_id": item.id, "event_id": item.ref.event_id, "retry_num": retry_num or "0"}
        # The key is the message (not only the event id): Slack's retries of one event and the
        # message + app_mention events of one message share it.
        key = item.id
        # Slack delivers this again (or already did) when it retries, or when it will get the answer late:
        # then the marker is claimed first and the item enqueued only if this delivery wrote it.
        claim_first = bool(retry_num) or self._slow(request)
        result = self._once(key, lambda: self._publish(item), log, claim=claim_first)
        if result is None:
            metrics.add_metric(name="EnqueueFailures", unit="Count", value=1)
            return HttpResponse.error(503, "could not enqueue the event; retry later")
        if result is DedupOutcome.DUPLICATE:
            metrics.add_metric(name="EventsDeduplicated", unit="Count", value=1)
            logger.info("duplicate delivery dropped", extra=log)
            return HttpResponse.json(200, ok=True)
        # At DEBUG (a log line per message costs more than the rest of ingest); `slack-dlp smoke`'s
        # own test message is logged, so that its report shows the stage.
        (logger.info if item.ref.is_smoke_test else logger.debug)("event enqueued", extra=log)
        if not claim_first and self._slow(request):
            self._claim(key, log, done=True)  # answered late enough that Slack may retry: the marker drops it
        return HttpResponse.json(200, ok=True)

    def _slow(self, request: HttpRequest) -> bool:
        received = request.received_at
        return received is not None and self.clock() - received > SLOW_DELIVERY_SECONDS

    def _claim(self, key: str, log: dict[str, Any], *, done: bool = False) -> bool | None:
        """The marker written (True), found (False), or the store failing (None: counted, logged)."""
        try:
            return self.dedup.claim(key, done=done)
        except Exception as error:
            logger.warning("dedup store failed; enqueued without it", extra={**log, "error": type(error).__name__})
            metrics.add_metric(name="DedupFailures", unit="Count", value=1)
            return None

    def _confirm(self, key: str, log: dict[str, Any]) -> None:
        try:
            self.dedup.confirm(key)
        except Exception as error:  # the lease expires: a later delivery may pass (the alert key absorbs it)
            logger.warning("dedup marker not confirmed", extra={**log, "error": type(error).__name__})
            metrics.add_metric(name="DedupFailures", unit="Count", value=1)

    def _release(self, key: str, log: dict[str, Any]) -> None:
        try:
            self.dedup.release(key)
        except Exception as error:  # the marker stays: Slack's retries of this delivery will be dropped
            logger.error("dedup marker not deleted after a failure", extra={**log, "error": type(error).__name__})
            metrics.add_metric(name="DedupFailures", unit="Count", value=1)

    def _once(
        self, key: str, publish: Callable[[], None], log: dict[str, Any], *, claim: bool = True
    ) -> DedupOutcome | None:
        """``publish`` once per key; None when it could not be enqueued (Slack retries on the 503,
        and the marker is deleted so that the retry gets through). Without ``claim``, publish only.

        When the dedup store itself fails (DynamoDB throttled or down), the message is enqueued
        anyway: Slack gives up after three retries, so refusing would lose it, while a duplicate is
        caught further on by the alert's own idempotency key."""
        claimed = self._claim(key, log) if claim else None
        if claimed is False:
            return DedupOutcome.DUPLICATE
        try:
            publish()
        except PublishError as error:
            logger.error("enqueue failed; Slack will retry", extra={**log, "error": str(error)})
            if claimed:
                self._release(key, log)
            return None
        if claimed:
            self._confirm(key, log)
        return DedupOutcome.DONE

    def _run_once(self, key: str, action: Callable[[], object]) -> bool:
        """``action`` unless the marker of ``key`` exists: True when it ran. A failing action (its
        exception propagates, as does the store's) deletes the marker, so a retry runs it again."""
        if not self.dedup.claim(key):
            return False
        try:
            action()
        except BaseException:
            self._release(key, {"key": key[:80]})
            raise
        self._confirm(key, {"key": key[:80]})
        return True

    def _publish(self, item: InspectionItem) -> None:
        self.publisher.publish(item.to_json())

    def _record_too_large(self, body: bytes) -> None:
        """A signed message we will not inspect: who, where and when go to the audit trail, once."""
        try:
            envelope = jsonsafe.loads(body)
        except ValueError:
            envelope = {}
        event = envelope.get("event") if isinstance(envelope, dict) else None
        event = event if isinstance(event, dict) else {}
        fields = {
            "team_id": _field(envelope, "team_id") or _field(event, "team"),
            "event_id": _field(envelope, "event_id"),
            "channel": _field(event, "channel"),
            "user_id": _field(event, "user"),
            "ts": _field(event, "ts") or _field(event, "event_ts"),
            "bytes": len(body),
            "limit": self.settings.max_body_bytes,
        }
        logger.warning("signed request too large to inspect", extra=fields)
        if self.audit is None:
            return
        audit = self.audit
        key = "too_large:" + (str(fields["event_id"]) or hashlib.sha256(body).hexdigest()[:40])
        try:
            self._run_once(key, lambda: audit.record("message_too_large", **fields))
        except Exception as error:  # the 413, the metric and the log stand; the audit is best effort here
            logger.error("could not record the refused message", extra={"error": type(error).__name__})

    def _enqueue_file_once(self, ref: FileRef) -> HttpResponse | None:
        """A file shared twice (file_shared + file_share, or in two channels) is fetched once."""
        files = self.files
        assert files is not None
        log = {"file_id": ref.file_id}
        key = f"file:{ref.enterprise_id or ref.team_id}:{ref.file_id}"
        result = self._once(key, lambda: _ignore(files.publish(ref.to_json())), log)
        if result is None:
            return HttpResponse.error(503, "could not enqueue the file; retry later")
        metrics.add_metric(name="FilesEnqueued" if result is DedupOutcome.DONE else "FilesDeduplicated", unit="Count",
                           value=1)  # fmt: skip
        return None

    def _join(self, envelope: dict[str, Any]) -> HttpResponse:
        """A new or unarchived public channel: queue it for the joiner (the join is a Slack call, not
        made here, so this still answers in milliseconds)."""
        try:
            request = join_request(envelope)
        except MalformedEvent as error:
            return _rejected(400, str(error), "malformed_event")
        if isinstance(request, Skip) or self.joins is None:
            metrics.add_metric(name="EventsSkipped", unit="Count", value=1)
            return HttpResponse.json(200, ok=True)
        joins = self.joins
        log = {"channel": request.channel_id, "team_id": request.team_id, "reason": request.reason}
        key = f"join:{request.channel_id}:{request.event_id or request.reason}"
        result = self._once(key, lambda: _ignore(joins.publish(request.to_json())), log)
        if result is None:
            return HttpResponse.error(503, "could not enqueue the join; retry later")
        if result is DedupOutcome.DONE:
            metrics.add_metric(name="JoinsEnqueued", unit="Count", value=1)
            logger.info("channel queued to join", extra=log)
        return HttpResponse.json(200, ok=True)

    def _rate_limited(self, envelope: dict[str, Any]) -> HttpResponse:
        """Slack dropped this workspace's events for a minute: acknowledge, count, record the gap."""
        try:
            minute = rate_limited_minute(envelope)
        except MalformedEvent as error:
            return _rejected(400, str(error), "malformed_event")
        audit, backfill = self.audit, self.backfill

        def record() -> None:
            if audit is not None:
                audit.record(RATE_LIMITED_AUDIT_KIND, **minute.audit_fields())
            if backfill is not None:
                from slack_dlp.backfill import lost_window_command

                backfill.publish(lost_window_command(minute.team_id, minute.minute))

        try:
            recorded = self._run_once(minute.dedup_key, record)
        except Exception as error:  # the audit or dedup store's AWS errors; nothing else runs here
            where = {"team_id": minute.team_id, "minute": minute.minute, "error": type(error).__name__}
            logger.error("rate-limited minute not recorded; Slack will retry", extra=where)
            return HttpResponse.error(503, "could not record the rate-limited minute; retry later")
        if recorded:
            metrics.add_metric(name="EventsRateLimited", unit="Count", value=1)
            logger.warning("Slack rate-limited a workspace's events: a minute to backfill", extra=minute.audit_fields())
        return HttpResponse.json(200, ok=True)


def _field(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    return value[:64] if isinstance(value, str) else ""


def _ignore(_: object) -> None:
    return None


def _rejected(status: int, message: str, reason: str) -> HttpResponse:
    logger.warning("request rejected", extra={"status": status, "reason": reason})
    metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
    return HttpResponse.error(status, message)
