"""The ingest function: signature, deduplication, the inspect and files queues. No Slack Web API."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.dedup import DynamoDbMarkers
from slack_dlp.ingest import IngestService
from slack_dlp.queues import SqsPublisher
from slack_dlp.wiring import prepare, signing_verifier, triage_store

if TYPE_CHECKING:
    from slack_dlp.triage import AuditLog


class DeferredAudit:
    """The audit trail, built by its first use: ingest records only refused messages and
    rate-limited minutes, so its cold start does not import the triage module for them."""

    def __init__(self, build: Callable[[], AuditLog]) -> None:
        self._build = build
        self._audit: AuditLog | None = None

    def _get(self) -> AuditLog:
        if self._audit is None:
            self._audit = self._build()
        return self._audit

    def record(self, kind: str, **fields: Any) -> None:
        self._get().record(kind, **fields)

    def since(self, seconds: float) -> list[dict[str, Any]]:
        return self._get().since(seconds)


def build_ingest(settings: Settings, resources: Resources) -> IngestService:
    prepare(settings)
    resources.require("inspect_queue_url", "dedup_table", "signing_secret_arn")
    # Every request needs SQS and the signing secret: both clients are built here, at init.
    sqs = aws.client("sqs")  # one client for every queue
    # DynamoDB only for Slack's retries, slow answers, files, joins and the rare audit records: its
    # client is created by the first of those, so a fast first delivery never pays for it.
    dynamodb = aws.LazyClient("dynamodb")
    return IngestService(
        settings=settings,
        verifier=signing_verifier(resources.signing_secret_arn),
        dedup=DynamoDbMarkers(dynamodb, resources.dedup_table, settings.dedup_ttl_seconds),
        publisher=SqsPublisher(sqs, resources.inspect_queue_url),
        files=SqsPublisher(sqs, resources.files_queue_url)
        if settings.inspect_files and resources.files_queue_url
        else None,
        joins=SqsPublisher(sqs, resources.join_queue_url)
        if settings.auto_join_public_channels and resources.join_queue_url
        else None,
        audit=DeferredAudit(lambda: triage_store(settings, resources, dynamodb)) if resources.triage_table else None,
        # An app_rate_limited minute starts a backfill of that window.
        backfill=SqsPublisher(sqs, resources.backfill_queue_url) if resources.backfill_queue_url else None,
    )
