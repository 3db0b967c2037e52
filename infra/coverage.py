"""What keeps slack-dlp seeing every public conversation: the channel joiner, and an alarm when
Slack drops events because a workspace passed the Events API's 30,000 events an hour."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.functions import PipelineFunction
from infra.queues import QueueWithDlq

JOINER_TIMEOUT = Duration.seconds(30)
#: Channels created together (a migration, a script) are joined in one invocation.
JOINER_BATCHING_WINDOW = Duration.seconds(1)
#: conversations.join is Tier 3 (about 50 a minute per workspace): a couple of joins at a time.
JOINER_MAX_CONCURRENCY = 2
#: The namespace and service dimension Powertools gives every slack-dlp metric.
METRICS_NAMESPACE = "SlackDlp"
METRICS_SERVICE = "slack-dlp"


class ChannelJoiner(Construct):
    """join queue -> joiner function -> conversations.join, off the request path (the stack grants
    it the audit trail, where joins are recorded).

    A queue and a function of their own rather than ingest calling Slack: ingest must answer
    Slack in milliseconds and holds no bot token; joins are rare, retried by SQS with a DLQ, and
    slowed by Slack's ``Retry-After`` without touching the file fetcher's capacity.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        environment: Mapping[str, str],
        key: kms.IKey,
        max_receive_count: int,
        bot_token: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = QueueWithDlq(
            self,
            "JoinQueue",
            key=key,
            # AWS's guidance for SQS event sources: six times the timeout, plus the batching window.
            visibility_timeout=Duration.seconds(6 * JOINER_TIMEOUT.to_seconds() + JOINER_BATCHING_WINDOW.to_seconds()),
            max_receive_count=max_receive_count,
        )
        self.joiner = PipelineFunction(
            self,
            "Joiner",
            code=code,
            handler="joiner.handler",
            description="slack-dlp: joins new and unarchived public channels (conversations.join)",
            timeout=JOINER_TIMEOUT,
            memory_size=256,
            environment=environment,
        )
        self.joiner.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue.queue,
                batch_size=10,
                max_batching_window=JOINER_BATCHING_WINDOW,
                max_concurrency=JOINER_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
        bot_token.grant_read(self.joiner.function)


def events_rate_limited_alarm(scope: Construct) -> cloudwatch.Alarm:
    """Slack sent ``app_rate_limited``: events of a workspace were dropped (the audit trail says
    which workspace and minute, for a backfill)."""
    return cloudwatch.Alarm(
        scope,
        "EventsRateLimitedAlarm",
        alarm_description="Slack rate-limited the Events API for a workspace: events were dropped. "
        "slack-dlp findings lists the workspace and minutes (kind events_rate_limited) to backfill.",
        metric=cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="EventsRateLimited",
            dimensions_map={"service": METRICS_SERVICE},
            statistic="Sum",
            period=Duration.minutes(5),
        ),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
