"""Operating the stack: alarms that reach someone, one dashboard, opt-in tracing.

Every alarm of the stack is made by :func:`alarm`, and the :class:`NotifyOnAlarms` aspect gives
every ``cloudwatch.Alarm`` in the stack — including ones added later, elsewhere — the alarm topic
as its AlarmAction and OKAction. The topic is the stack's own (KMS-encrypted, SSL-only, optionally
with an email subscription) or an existing one (``alarm_topic_arn``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aspects, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.alarms import NotifyOnAlarms, alarm
from infra.functions import PipelineFunction
from infra.nag import acknowledge
from infra.queues import QueueWithDlq
from slack_dlp.config import Settings
from slack_dlp.observability import NAMESPACE, SERVICE
from slack_dlp.wiring import COLD_START_MESSAGE

ONE_MINUTE, FIVE_MINUTES = Duration.minutes(1), Duration.minutes(5)
#: An inspect queue whose oldest message waits longer than this is not keeping up.
MAX_INSPECT_AGE_SECONDS = 300


def custom_metric(
    name: str, *, statistic: str = "Sum", period: Duration = FIVE_MINUTES, label: str = ""
) -> cloudwatch.Metric:
    """A metric the functions emit (Powertools EMF: namespace SlackDlp, dimension service)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=statistic,
        period=period,
        label=label or None,
    )


class Monitoring(Construct):
    """The alarm topic, the alarms on the pipeline, and the dashboard named after the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.topic = self._alarm_topic(settings)
        Aspects.of(Stack.of(self)).add(NotifyOnAlarms(self.topic))
        self.dashboard_name = Stack.of(self).stack_name
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.dashboard_name)
        region = Stack.of(self).region
        CfnOutput(
            Stack.of(self),
            "DashboardUrl",
            value=f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards:name={self.dashboard_name}",
        )
        CfnOutput(Stack.of(self), "AlarmTopicArn", value=self.topic.topic_arn)

    def _alarm_topic(self, settings: Settings) -> sns.ITopic:
        if settings.alarm_topic_arn:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", settings.alarm_topic_arn)
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="slack-dlp: encrypts the alarm topic (CloudWatch publishes with it)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch publishes alarm notifications itself: it needs the topic and its key (an AWS-managed key
        # cannot allow it), on behalf of this account's alarms only (no confused deputy).
        stack = Stack.of(self)
        alarms_here = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"},
        }
        cloudwatch_service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_service],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=alarms_here,
            )
        )
        topic = sns.Topic(self, "AlarmTopic", display_name="slack-dlp alarms", master_key=key, enforce_ssl=True)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_service],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=alarms_here,
            )
        )
        if settings.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        return topic

    # -- alarms and dashboard ------------------------------------------------------------------------

    def watch(
        self,
        *,
        http_api: apigwv2.HttpApi,
        functions: Mapping[str, PipelineFunction],
        queues: Mapping[str, QueueWithDlq],
    ) -> None:
        """Alarms and dashboard rows for the pipeline's API, functions and queues."""
        inspect = queues["inspect"]
        alarm(
            self,
            "InspectQueueBehind",
            metric=inspect.queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=ONE_MINUTE),
            threshold=MAX_INSPECT_AGE_SECONDS,
            evaluation_periods=3,
            description="The inspect queue's oldest message waits more than 5 minutes: inspection is not keeping up",
        )
        alarm(
            self,
            "Ingest5xx",
            metric=http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            description="The Slack endpoints answered 5xx: Slack retries, and disables apps that fail too often",
        )
        alarm(
            self,
            "AlertConfigErrors",
            metric=custom_metric("AlertConfigErrors"),
            description="Alerts cannot be posted (channel, token or scope); results wait in the results DLQ",
        )
        if self._settings.dlp_provider == "google":
            alarm(
                self,
                "DlpRateLimited",
                metric=custom_metric("DlpRateLimited"),
                evaluation_periods=3,
                description="The DLP API has refused requests (429) for 15 minutes: check the quota and the rate limit",
            )
        for name, function in functions.items():
            alarm(
                self,
                f"{name.title()}Errors",
                metric=function.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                description=f"The {name} function failed invocations",
            )
            alarm(
                self,
                f"{name.title()}Throttles",
                metric=function.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                description=f"The {name} function was throttled",
            )
        self._dashboard(http_api, functions, queues)

    def _dashboard(
        self,
        http_api: apigwv2.HttpApi,
        functions: Mapping[str, PipelineFunction],
        queues: Mapping[str, QueueWithDlq],
    ) -> None:
        logs = {name: f.log_group.log_group_name for name, f in functions.items()}
        quota = cloudwatch.HorizontalAnnotation(
            value=self._settings.dlp_requests_per_second, label="DLP quota (requests/s)", color="#d62728"
        )
        rows: list[Sequence[cloudwatch.IWidget]] = [
            [cloudwatch.TextWidget(markdown=f"# slack-dlp `{self.dashboard_name}`", width=24, height=1)],
            [
                _graph(
                    "Slack events",
                    [
                        # Free AWS metrics for the happy path (ingest emits no metric per enqueued event):
                        # requests to the API (events and button presses), and sends to the inspect queue.
                        http_api.metric_count(period=FIVE_MINUTES, statistic="Sum", label="received (requests)"),
                        queues["inspect"].queue.metric_number_of_messages_sent(
                            period=FIVE_MINUTES, statistic="Sum", label="enqueued (inspect queue)"
                        ),
                        *(custom_metric(name) for name in ("EventsSkipped", "EventsDeduplicated", "EventsRateLimited")),
                    ],
                ),
                _graph(
                    "Rejected (4xx) and failed (5xx)",
                    [
                        http_api.metric_client_error(period=FIVE_MINUTES, statistic="Sum", label="4xx"),
                        http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum", label="5xx"),
                        custom_metric("RequestsRejected"),
                        custom_metric("EnqueueFailures"),
                        custom_metric("RequestsTooLarge"),
                    ],
                ),
                _logs(
                    "4xx by reason",
                    [logs["ingest"]],
                    'filter message = "request rejected" | stats count(*) as rejected by reason, status',
                ),
                _graph(
                    "Ingest latency (ms)",
                    [
                        http_api.metric_latency(period=ONE_MINUTE, statistic="p50", label="p50"),
                        http_api.metric_latency(period=ONE_MINUTE, statistic="p99", label="p99"),
                    ],
                ),
            ],
            [
                _graph(
                    "Queues: waiting (left), oldest message in s (right)",
                    [
                        q.queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE, label=name)
                        for name, q in queues.items()
                    ],
                    right=[
                        q.queue.metric_approximate_age_of_oldest_message(period=ONE_MINUTE, label=f"{name} age")
                        for name, q in queues.items()
                    ],
                ),
                _graph(
                    "Inspector items/s and DLP requests/s",
                    [
                        _rate(custom_metric("ItemsInspected", period=ONE_MINUTE), "items/s"),
                    ],
                    right=[_rate(custom_metric("DlpRequests", period=ONE_MINUTE), "DLP requests/s")],
                    right_annotations=[quota],
                ),
                _counts("DLP rejections (429) and errors", "DlpRateLimited", "DlpRequestFailures"),
                _graph(
                    "Findings by category and detector",
                    [
                        _search('{SlackDlp,category,detector,service} MetricName="FindingsByDetector"', "detector"),
                        custom_metric("FindingsAllowlisted"),
                    ],
                ),
            ],
            [
                _counts(
                    "Alerts", "AlertsPosted", "DigestsPosted", "AlertsDeduplicated", "AlertsTriaged", "TriageRefused"
                ),
                _counts(
                    "Alert failures and events to the bus",
                    "AlertPostFailures",
                    "AlertConfigErrors",
                    "FindingEventsPublished",
                    "EventPublishFailures",
                ),
                _logs(
                    "Slack API errors by code",
                    list(logs.values()),
                    "filter ispresent(slack_error) | stats count(*) as errors by slack_error",
                ),
                _counts("Files", "FilesEnqueued", "FileChunksEnqueued", "FilesSkipped"),
            ],
            [
                _logs(
                    "Files skipped by reason",
                    [logs["fetcher"]] if "fetcher" in logs else list(logs.values()),
                    'filter message = "file not inspected" | stats count(*) as files by reason',
                ),
                _graph(
                    "Dead-letter queues (messages)",
                    [
                        q.dead_letter_queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE, label=name)
                        for name, q in queues.items()
                    ],
                ),
                _graph("Backfill", [_search("{SlackDlp,service} Backfill", "backfill")]),
                _logs(
                    # Lambda's REPORT lines (and their init duration) are not written (system logs at WARN):
                    # each execution environment logs one line when it starts, at INFO.
                    "Cold starts"
                    if self._settings.log_level.upper() in ("DEBUG", "INFO")
                    else f"Cold starts: not logged at log_level {self._settings.log_level.upper()} (INFO counts them)",
                    list(logs.values()),
                    f'filter message = "{COLD_START_MESSAGE}" | stats count(*) as cold_starts by @log',
                ),
            ],
            [
                _graph(
                    f"{name}: errors, throttles",
                    [
                        f.function.metric_errors(statistic="Sum", label="errors"),
                        f.function.metric_throttles(statistic="Sum", label="throttles"),
                    ],
                    right=[f.function.metric_duration(statistic="p99", label="duration p99 (ms)")],
                    width=max(4, 24 // len(functions)),
                )
                for name, f in functions.items()
            ],
        ]
        for row in rows:
            self.dashboard.add_widgets(*row)


class FindingsBus(Construct):
    """The EventBridge bus findings and triage actions are published on (the stack's own, or
    ``event_bus_name``); a SIEM subscribes with a rule on ``source: slack-dlp``."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        from aws_cdk import aws_events as events

        super().__init__(scope, construct_id)
        if settings.event_bus_name:
            self.bus: events.IEventBus = events.EventBus.from_event_bus_name(self, "Bus", settings.event_bus_name)
        else:
            self.bus = events.EventBus(
                self, "Bus", event_bus_name=Stack.of(self).stack_name, description="slack-dlp findings and triage"
            )
        CfnOutput(Stack.of(self), "EventBusName", value=self.bus.event_bus_name)
        CfnOutput(Stack.of(self), "EventBusArn", value=self.bus.event_bus_arn)

    def grant_put(self, *functions: lambda_.IFunction) -> None:
        from slack_dlp.config import Resources

        for function in functions:
            self.bus.grant_put_events_to(function)
            if isinstance(function, lambda_.Function):
                function.add_environment(Resources.ENV_NAMES["event_bus_name"], self.bus.event_bus_name)


def enable_tracing(functions: Sequence[PipelineFunction]) -> None:
    """X-Ray active tracing; the handlers' Powertools Tracer never records responses or payloads."""
    for pipeline_function in functions:
        function = pipeline_function.function
        cfn = function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        function.add_environment("POWERTOOLS_TRACE_DISABLED", "false")
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"])
        )
        acknowledge(
            pipeline_function.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions.",
        )


def _graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    *,
    right: Sequence[cloudwatch.IMetric] = (),
    right_annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
    width: int = 6,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right) or None,
        right_annotations=list(right_annotations) or None,
        width=width,
        height=6,
    )


def _counts(title: str, *names: str) -> cloudwatch.GraphWidget:
    return _graph(title, [custom_metric(name) for name in names])


def _rate(metric: cloudwatch.Metric, label: str) -> cloudwatch.MathExpression:
    name = metric.metric_name.lower()  # ids must differ between the expressions of one graph
    return cloudwatch.MathExpression(
        expression=f"{name} / PERIOD({name})", using_metrics={name: metric}, label=label, period=metric.period
    )


def _search(query: str, label: str) -> cloudwatch.MathExpression:
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{query}', 'Sum', 300)", using_metrics={}, label=label, period=FIVE_MINUTES
    )


def _logs(title: str, log_groups: Sequence[str], query: str) -> cloudwatch.LogQueryWidget:
    return cloudwatch.LogQueryWidget(
        title=title,
        log_group_names=list(log_groups),
        query_string=query,
        view=cloudwatch.LogQueryVisualizationType.TABLE,
        width=6,
        height=6,
    )
