"""Lambda handler: backfill queue -> one page of Slack history -> inspect/files queues (partial batch
responses); a direct invocation ``{"action": "start" | "status", ...}`` starts a run or reports one."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.observability import logger, metrics
from slack_dlp.queues import RedeliveryDelayer
from slack_dlp.slack.actions import NotifyError
from slack_dlp.wiring.backfill import build_backfill

service = build_backfill(Settings.from_env(), Resources.from_env())
processor = BatchProcessor(event_type=EventType.SQS)
redelivery = RedeliveryDelayer(aws.client("sqs"))


def read_page(record: SQSRecord) -> None:
    try:
        service.handle(record.body)
    except NotifyError as error:
        redelivery.honour_retry_after(record, error)
        raise


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:
        return service.command(event)
    return dict(process_partial_response(event=event, record_handler=read_page, processor=processor, context=context))
