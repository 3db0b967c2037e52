"""History backfill: a queue of page cursors (KMS, DLQ), the run-state table, and the function
that reads one page of Slack history per task into the inspect and files queues."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.functions import PipelineFunction
from infra.queues import QueueWithDlq
from slack_dlp.config import Resources, Settings

#: One page per invocation; a page waits at most a paced slot (~1.2 s) plus Slack and SQS calls.
BACKFILL_TIMEOUT = Duration.seconds(60)
#: Two readers share the workspace's quota: more would only wait longer for their slots.
BACKFILL_MAX_CONCURRENCY = 2


class HistoryBackfill(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        key: kms.IKey,
        settings: Settings,
        resources: Resources,
        inspect: QueueWithDlq,
        files: QueueWithDlq,
        bot_token: secretsmanager.ISecret,
        starters: Sequence[lambda_.Function] = (),
    ) -> None:
        # The stack module composes this construct; its shared factories are imported when it runs.
        from infra.stack import _environment, pipeline_table, visibility_timeout

        super().__init__(scope, construct_id)
        self.queue = QueueWithDlq(
            self,
            "Queue",
            key=key,
            visibility_timeout=visibility_timeout(BACKFILL_TIMEOUT, 0),
            max_receive_count=settings.max_receive_count,
        )
        #: Runs, channels, recorded pages, and the Slack rate limiter's items.
        self.table = pipeline_table(self, "Runs", partition_key="id", ttl="expires")
        resources = dataclasses.replace(
            resources, backfill_queue_url=self.queue.queue.queue_url, backfill_table=self.table.table_name
        )
        needed = ["inspect_queue_url", "bot_token_secret_arn", "backfill_queue_url", "backfill_table"]
        if settings.inspect_files:
            needed.append("files_queue_url")
        self.reader = PipelineFunction(
            self,
            "Reader",
            code=code,
            handler="backfill.handler",
            description="slack-dlp: reads Slack history page by page into the inspect queue (backfill)",
            timeout=BACKFILL_TIMEOUT,
            memory_size=512,
            environment=_environment(settings, resources, *needed),
        )
        self.function = self.reader.function
        self.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue.queue,
                batch_size=1,
                max_concurrency=BACKFILL_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
        self.queue.grant_send(self.function)
        inspect.grant_send(self.function)
        if settings.inspect_files:
            files.grant_send(self.function)
        bot_token.grant_read(self.function)
        self.table.grant(
            self.function,
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem",
        )  # fmt: skip
        for starter in starters:  # functions that queue start commands (lost windows)
            self.queue.grant_send(starter)
            starter.add_environment(Resources.ENV_NAMES["backfill_queue_url"], self.queue.queue.queue_url)
        CfnOutput(scope, "BackfillFunctionName", value=self.function.function_name)
        CfnOutput(scope, "BackfillTableName", value=self.table.table_name)
        CfnOutput(scope, "BackfillQueueUrl", value=self.queue.queue.queue_url)
        CfnOutput(scope, "BackfillDlqUrl", value=self.queue.dead_letter_queue.queue_url)
