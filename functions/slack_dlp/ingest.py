"""Ingest: a signed Slack request in, at most one inspection item per message out, in milliseconds.

Order matters: size, then signature over the raw bytes, then parsing. Nothing unsigned is
parsed; nothing malformed produces a 5xx (Slack disables apps that fail most deliveries);
only a failure to enqueue does, so that Slack retries and nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from slack_dlp.config import Settings
from slack_dlp.http import HttpRequest, HttpResponse
from slack_dlp.model import FileRef, InspectionItem
from slack_dlp.observability import logger, metrics
from slack_dlp.queues import Publisher, PublishError
from slack_dlp.slack.events import (
    JOIN_EVENTS,
    RATE_LIMITED_AUDIT_KIND,
    MalformedEvent,
    Skip,
    file_refs,
    join_request,
    normalize,
    rate_limited_minute,
)
from slack_dlp.slack.verify import RequestVerifier

if TYPE_CHECKING:
    from slack_dlp.triage import AuditLog


class DedupOutcome(StrEnum):
    DONE = "done"  # this call ran the action
    DUPLICATE = "duplicate"  # an earlier delivery completed it
    IN_PROGRESS = "in_progress"  # an earlier delivery is still running it


class Deduplicator(Protocol):
    def run_once(self, key: str, action: Callable[[], None]) -> DedupOutcome:
        """Run ``action`` unless ``key`` was seen; a failed action leaves the key unseen."""
        ...


@dataclass(frozen=True)
class IngestService:
    settings: Settings
    verifier: RequestVerifier
    dedup: Deduplicator
    publisher: Publisher
    bot_user_ids: frozenset[str] = frozenset()
    #: The files queue; None when file inspection is off.
    files: Publisher | None = None
    #: The join queue (new and unarchived public channels); None when auto-join is off.
    joins: Publisher | None = None
    #: The audit trail, where minutes Slack rate-limited are recorded for a backfill.
    audit: AuditLog | None = None

    def handle_event_request(self, request: HttpRequest) -> HttpResponse:
        if len(request.body) > self.settings.max_body_bytes:
            return _rejected(413, f"body larger than {self.settings.max_body_bytes} bytes", "too_large")
        if not self.verifier.is_valid(request.body, request.headers):
            return _rejected(401, "invalid or missing Slack signature", "bad_signature")
        if request.media_type != "application/json":
            return _rejected(415, "content type must be application/json", "bad_content_type")
        try:
            envelope = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
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
        return self._event_callback(envelope, retry_num=request.header("x-slack-retry-num"))

    def _event_callback(self, envelope: dict[str, Any], *, retry_num: str) -> HttpResponse:
        identity = {"bot_user_ids": self.bot_user_ids, "skip_bot_ids": frozenset(self.settings.skip_bot_ids)}
        if self.files is not None:
            for ref in file_refs(envelope, **identity):
                failed = self._enqueue_file_once(ref)
                if failed is not None:
                    return failed
        event = envelope.get("event")
        if isinstance(event, dict) and event.get("type") == "file_shared":
            return HttpResponse.json(200, ok=True)
        if isinstance(event, dict) and event.get("type") in JOIN_EVENTS:
            return self._join(envelope)
        try:
            outcome = normalize(envelope, **identity)
        except MalformedEvent as error:
            return _rejected(400, str(error), "malformed_event")
        if isinstance(outcome, Skip):
            metrics.add_metric(name="EventsSkipped", unit="Count", value=1)
            logger.debug("event skipped", extra={"reason": outcome.reason})
            return HttpResponse.json(200, ok=True)
        return self._enqueue_once(outcome, retry_num=retry_num)

    def _enqueue_once(self, item: InspectionItem, *, retry_num: str) -> HttpResponse:
        log = {"item_id": item.id, "event_id": item.ref.event_id, "retry_num": retry_num or "0"}
        try:
            # The key is the message (not only the event id): Slack's retries of one event and the
            # message + app_mention events of one message are inspected once.
            result = self.dedup.run_once(item.id, lambda: self._publish(item))
        except PublishError as error:
            logger.error("enqueue failed; Slack will retry", extra={**log, "error": str(error)})
            metrics.add_metric(name="EnqueueFailures", unit="Count", value=1)
            return HttpResponse.error(503, "could not enqueue the event; retry later")
        if result is DedupOutcome.DONE:
            metrics.add_metric(name="EventsEnqueued", unit="Count", value=1)
            logger.info("event enqueued", extra=log)
        else:
            metrics.add_metric(name="EventsDeduplicated", unit="Count", value=1)
            logger.info("duplicate delivery dropped", extra={**log, "dedup": result.value})
        return HttpResponse.json(200, ok=True)

    def _publish(self, item: InspectionItem) -> None:
        self.publisher.publish(item.to_json())

    def _enqueue_file_once(self, ref: FileRef) -> HttpResponse | None:
        """A file shared twice (file_shared + file_share, or in two channels) is fetched once."""
        files = self.files
        assert files is not None
        try:
            result = self.dedup.run_once(
                f"file:{ref.enterprise_id or ref.team_id}:{ref.file_id}", lambda: _ignore(files.publish(ref.to_json()))
            )
        except PublishError as error:
            logger.error("file enqueue failed; Slack will retry", extra={"file_id": ref.file_id, "error": str(error)})
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
        key = f"join:{request.channel_id}:{request.event_id or request.reason}"
        try:
            result = self.dedup.run_once(key, lambda: _ignore(joins.publish(request.to_json())))
        except PublishError as error:
            logger.error("join enqueue failed; Slack will retry", extra={"channel": request.channel_id,
                                                                          "error": str(error)})  # fmt: skip
            return HttpResponse.error(503, "could not enqueue the join; retry later")
        if result is DedupOutcome.DONE:
            metrics.add_metric(name="JoinsEnqueued", unit="Count", value=1)
            logger.info("channel queued to join", extra={"channel": request.channel_id, "team_id": request.team_id,
                                                         "reason": request.reason})  # fmt: skip
        return HttpResponse.json(200, ok=True)

    def _rate_limited(self, envelope: dict[str, Any]) -> HttpResponse:
        """Slack dropped this workspace's events for a minute: acknowledge, count, record the gap."""
        try:
            minute = rate_limited_minute(envelope)
        except MalformedEvent as error:
            return _rejected(400, str(error), "malformed_event")
        audit = self.audit

        def record() -> None:
            if audit is not None:
                audit.record(RATE_LIMITED_AUDIT_KIND, **minute.audit_fields())

        try:
            result = self.dedup.run_once(minute.dedup_key, record)
        except Exception as error:  # the audit adapter's AWS errors; nothing else runs in record()
            where = {"team_id": minute.team_id, "minute": minute.minute, "error": type(error).__name__}
            logger.error("rate-limited minute not recorded; Slack will retry", extra=where)
            return HttpResponse.error(503, "could not record the rate-limited minute; retry later")
        if result is DedupOutcome.DONE:
            metrics.add_metric(name="EventsRateLimited", unit="Count", value=1)
            logger.warning("Slack rate-limited a workspace's events: a minute to backfill", extra=minute.audit_fields())
        return HttpResponse.json(200, ok=True)


def _ignore(_: object) -> None:
    return None


def _rejected(status: int, message: str, reason: str) -> HttpResponse:
    logger.warning("request rejected", extra={"status": status, "reason": reason})
    metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
    return HttpResponse.error(status, message)
