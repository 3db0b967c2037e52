"""Lambda handler: results queue -> Slack alert (partial batch responses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.observability import logger, metrics, traced
from slack_dlp.queues import QueueTopUp, RedeliveryDelayer
from slack_dlp.slack.alerts import MAX_DIGEST_RESULTS
from slack_dlp.wiring.reporter import build_reporter

resources = Resources.from_env()
reporter = build_reporter(Settings.from_env(), resources)
processor = BatchProcessor(event_type=EventType.SQS)
sqs = aws.client("sqs")
redelivery = RedeliveryDelayer(sqs)
top_up = QueueTopUp(sqs, resources.results_queue_url)


@traced
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reporter.register_lambda_context(context)
    records = event.get("Records") or []
    # A burst can arrive a message per invocation: take more from the queue to post one digest.
    extra = top_up.take(MAX_DIGEST_RESULTS - len(records)) if 0 < len(records) < MAX_DIGEST_RESULTS else []
    outcomes = reporter.report_batch(
        [(r.get("messageId", ""), r.get("body", "")) for r in records] + [(m.message_id, m.body) for m in extra]
    )
    refused = top_up.done([m for m in extra if outcomes.get(m.message_id) is None])
    refused += top_up.release([m for m in extra if outcomes.get(m.message_id) is not None])
    if refused:
        logger.warning("topped-up messages not settled; SQS delivers them again", extra={"count": refused})

    def complete(record: SQSRecord) -> None:
        error = outcomes.get(record.message_id)
        if error is None:
            return
        redelivery.honour_retry_after(record, error)
        raise error

    return dict(process_partial_response(event=event, record_handler=complete, processor=processor, context=context))
