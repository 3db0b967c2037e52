"""Lambda handler: files queue -> files.info, download, extract, chunk -> inspect queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from slack_dlp.config import Resources, Settings
from slack_dlp.model import FileRef
from slack_dlp.observability import logger, metrics, traced
from slack_dlp.wiring.fetcher import build_fetcher

fetcher = build_fetcher(Settings.from_env(), Resources.from_env())
processor = BatchProcessor(event_type=EventType.SQS)


def fetch(record: SQSRecord) -> None:
    fetcher.process(FileRef.from_json(record.body))


@traced
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=fetch, processor=processor, context=context))
