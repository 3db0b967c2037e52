"""Lambda handler: inspect queue -> DLP provider -> results queue (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.observability import logger, metrics, traced
from slack_dlp.queues import RedeliveryDelayer
from slack_dlp.wiring.inspector import build_inspector

inspector = build_inspector(Settings.from_env(), Resources.from_env())
processor = BatchProcessor(event_type=EventType.SQS)
redelivery = RedeliveryDelayer(aws.client("sqs"))


@traced
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    batch = inspector.inspect([(r.get("messageId", ""), r.get("body", "")) for r in records])

    def complete(record: SQSRecord) -> None:
        inspector.complete(batch, record.message_id)

    try:
        response = dict(
            process_partial_response(event=event, record_handler=complete, processor=processor, context=context)
        )
        failed = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
    except Exception:
        failed = [r.get("messageId", "") for r in records]
        _delay(records, inspector.retry_delays(batch, failed))
        raise
    _delay(records, inspector.retry_delays(batch, failed))
    return response


def _delay(records: list[dict[str, Any]], delays: dict[str, float]) -> None:
    """The API said when to come back (Retry-After): SQS redelivers those messages no sooner."""
    for record in records:
        seconds = delays.get(record.get("messageId", ""))
        if seconds:
            redelivery.delay(record.get("eventSourceARN", ""), record.get("receiptHandle", ""), seconds)
