"""The reporter function: alerts posted once, author notices, automatic deletion, the audit trail."""

from __future__ import annotations

from slack_dlp import aws
from slack_dlp.alert_log import DynamoDbAlertLog
from slack_dlp.config import Resources, Settings
from slack_dlp.dedup import IdempotencyDeduplicator
from slack_dlp.model import Category, Confidence
from slack_dlp.queues import SqsPublisher
from slack_dlp.report import AutoDelete, Reporter
from slack_dlp.wiring import event_publisher, prepare, slack_notifier, triage_store

#: Alerts are remembered for longer than a result can wait on its queue (4 days), so no redelivery repeats one.
ALERT_DEDUP_SECONDS = 5 * 24 * 3600


def build_reporter(settings: Settings, resources: Resources) -> Reporter:
    prepare(settings)
    resources.require("bot_token_secret_arn", "dedup_table", "results_dlq_url", "triage_table")
    notifier = slack_notifier(settings, resources)
    return Reporter(
        notifier,
        dedup=IdempotencyDeduplicator(resources.dedup_table, ALERT_DEDUP_SECONDS, aws.client("dynamodb")),
        alerted=DynamoDbAlertLog(aws.client("dynamodb"), resources.dedup_table, ALERT_DEDUP_SECONDS),
        dead_letters=SqsPublisher(aws.client("sqs"), resources.results_dlq_url),
        author_notice=settings.author_notice if settings.notify_author else None,
        audit=triage_store(settings, resources),
        auto_delete=AutoDelete(
            categories=frozenset(Category(c) for c in settings.auto_delete_categories),
            min_confidence=Confidence(settings.auto_delete_min_confidence),
        )
        if settings.auto_delete_categories
        else None,
        events=event_publisher(resources),
    )
