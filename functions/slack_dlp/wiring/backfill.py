"""The backfill function: pages of Slack history, paced per workspace and method, into the inspect queue."""

from __future__ import annotations

from slack_dlp import aws
from slack_dlp.backfill import BackfillService, DynamoDbRunStore, SlackHistory
from slack_dlp.config import Resources, Settings
from slack_dlp.dlp.ratelimit import DynamoDbRateLimiter, Quota
from slack_dlp.queues import SqsPublisher
from slack_dlp.wiring import prepare, slack_notifier


def build_backfill(settings: Settings, resources: Resources) -> BackfillService:
    """Pages of history from Slack (paced per workspace and method in the backfill table) to the queues."""
    prepare(settings)
    resources.require("inspect_queue_url", "bot_token_secret_arn", "backfill_queue_url", "backfill_table")
    sqs, dynamodb = aws.client("sqs"), aws.client("dynamodb")
    notifier = slack_notifier(settings, resources)
    slack_quota = Quota(requests=settings.backfill_requests_per_minute, window_seconds=60, margin_seconds=0.5)

    def limiter(team_id: str, method: str) -> DynamoDbRateLimiter:
        return DynamoDbRateLimiter(dynamodb, resources.backfill_table, slack_quota, name=f"slack#{team_id}#{method}")

    return BackfillService(
        SlackHistory(notifier.web_client, limiter),
        DynamoDbRunStore(dynamodb, resources.backfill_table),
        tasks=SqsPublisher(sqs, resources.backfill_queue_url),
        inspect=SqsPublisher(sqs, resources.inspect_queue_url),
        files=SqsPublisher(sqs, resources.files_queue_url)
        if settings.inspect_files and resources.files_queue_url
        else None,
        requests_per_minute=settings.backfill_requests_per_minute,
        thread_lookback_seconds=settings.backfill_thread_lookback_days * 86400,
    )
