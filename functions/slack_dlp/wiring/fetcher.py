"""The fetcher function: files.info, download, extraction (its libraries load per file type), chunks."""

from __future__ import annotations

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.files.extract import Limits
from slack_dlp.files.fetch import FileInspector, SlackFileSource
from slack_dlp.queues import SqsPublisher
from slack_dlp.wiring import prepare, secret_reader, slack_notifier, triage_store


def build_fetcher(settings: Settings, resources: Resources) -> FileInspector:
    prepare(settings)
    resources.require("inspect_queue_url", "bot_token_secret_arn", "triage_table")
    notifier = slack_notifier(settings, resources)
    return FileInspector(
        SlackFileSource(notifier.web_client, secret_reader(resources.bot_token_secret_arn)),
        SqsPublisher(aws.client("sqs"), resources.inspect_queue_url),
        audit=triage_store(settings, resources),
        limits=Limits(max_file_bytes=settings.max_file_mb * 1024 * 1024),
        chunk_chars=settings.file_chunk_chars,
        overlap_chars=settings.file_chunk_overlap,
        report_uninspected=notifier.post_notice if settings.alert_uninspected_files else None,
    )
