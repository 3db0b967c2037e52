"""The ingest function: signature, deduplication, the inspect and files queues. No Slack Web API."""

from __future__ import annotations

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.dedup import IdempotencyDeduplicator
from slack_dlp.ingest import IngestService
from slack_dlp.queues import SqsPublisher
from slack_dlp.wiring import prepare, signing_verifier, triage_store


def build_ingest(settings: Settings, resources: Resources) -> IngestService:
    prepare(settings)
    resources.require("inspect_queue_url", "dedup_table", "signing_secret_arn")
    sqs = aws.client("sqs")  # one client (and its cold-start cost) for every queue
    return IngestService(
        settings=settings,
        verifier=signing_verifier(resources.signing_secret_arn),
        dedup=IdempotencyDeduplicator(resources.dedup_table, settings.dedup_ttl_seconds, aws.client("dynamodb")),
        publisher=SqsPublisher(sqs, resources.inspect_queue_url),
        files=SqsPublisher(sqs, resources.files_queue_url)
        if settings.inspect_files and resources.files_queue_url
        else None,
        joins=SqsPublisher(sqs, resources.join_queue_url)
        if settings.auto_join_public_channels and resources.join_queue_url
        else None,
        # On the DynamoDB client idempotency already holds: the audit trail costs the cold start nothing.
        audit=triage_store(settings, resources) if resources.triage_table else None,
        # An app_rate_limited minute starts a backfill of that window.
        backfill=SqsPublisher(sqs, resources.backfill_queue_url) if resources.backfill_queue_url else None,
    )
