"""The slack-dlp stack: API -> ingest -> inspect queue -> inspector -> results queue -> reporter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    CfnOutput,
    DockerImage,
    Duration,
    RemovalPolicy,
    SecretValue,
    Stack,
)
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.alarms import alarm
from infra.api import SlackApi
from infra.backfill import HistoryBackfill
from infra.bundling import REPO_ROOT, BundleTarget, LocalPythonBundling
from infra.coverage import ChannelJoiner, events_rate_limited_alarm
from infra.functions import CORE, DETECT, FILES, LAMBDA_TARGET, RUNTIME, FunctionGroup, PipelineFunction
from infra.monitoring import FindingsBus, Monitoring, custom_metric, enable_tracing
from infra.nag import acknowledge
from infra.queues import QueueWithDlq
from infra.secrets import SlackSecrets
from slack_dlp.config import Resources, Settings, SettingsError
from slack_dlp.detect.rules import RulesError, load_rules

FUNCTIONS_DIR = REPO_ROOT / "functions"
INSPECTOR_TIMEOUT = Duration.seconds(60)
#: Lambda's longest time-out.
MAX_FUNCTION_TIMEOUT_SECONDS = 900
REPORTER_TIMEOUT = Duration.seconds(30)
#: Downloading and reading a 20 MB file; one file per invocation, a few at a time.
FETCHER_TIMEOUT = Duration.seconds(120)
FETCHER_MAX_CONCURRENCY = 5
#: Alerts go to one channel, which Slack limits to about one message a second.
REPORTER_MAX_CONCURRENCY = 2
REPORTER_BATCH_SIZE = 10


def lambda_code(
    group: FunctionGroup,
    functions_dir: Path = FUNCTIONS_DIR,
    *,
    for_local_emulator: bool = False,
    extra_files: Mapping[str, Path] | None = None,
) -> lambda_.Code:
    """The asset of one function group: the handlers, the core package and the group's dependencies.

    MiniStack runs functions with the host's Python, so a local deployment carries wheels for the
    host's interpreter and platform instead of Lambda's (compiled extensions differ). The asset's
    hash covers the target, so both bundles can live side by side in one ``cdk.out``.
    """
    bundler = LocalPythonBundling(
        functions_dir,
        group.requirement_files,
        target=BundleTarget.host() if for_local_emulator else LAMBDA_TARGET,
        extra_files=extra_files,
    )
    return lambda_.Code.from_asset(
        str(functions_dir),
        exclude=["**/__pycache__", "*.egg-info"],
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundler.asset_hash(),
        bundling=BundlingOptions(image=DockerImage.from_registry(RUNTIME.bundling_image.image), local=bundler),
    )


#: What Powertools idempotency does with its records: read, claim, complete, release on failure.
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


def pipeline_table(
    scope: Construct,
    construct_id: str,
    *,
    partition_key: str,
    sort_key: str | None = None,
    ttl: str | None = None,
    key: kms.IKey | None = None,
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
) -> dynamodb.Table:
    """On-demand, point-in-time recovery on, string keys; the TTL attribute expires records;
    encrypted with ``key`` when given (else DynamoDB's own key)."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        time_to_live_attribute=ttl,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if key else None,
        encryption_key=key,
        removal_policy=removal_policy,
    )


_TABLE_WRITES = frozenset({"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"})


def grant_table(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> None:
    """The table actions, and the use of its KMS key they need (decrypt; encrypt too for writes)."""
    table.grant(grantee, *actions)
    key = table.encryption_key
    if key is None:
        return
    writes = ("kms:Encrypt", "kms:GenerateDataKey") if _TABLE_WRITES.intersection(actions) else ()
    key.grant(grantee, "kms:Decrypt", "kms:DescribeKey", *writes)  # no wildcards (CDK's would add ReEncrypt*)


def custom_rule_files(settings: Settings) -> dict[str, Path]:
    """Asset path -> repo file for each rules file; each is loaded now so a bad rule fails the synth."""
    files = {}
    for position, name in enumerate(settings.custom_rules):
        source = (REPO_ROOT / name).resolve()
        try:
            load_rules(source)
        except RulesError as error:
            raise SettingsError(f"custom_rules: {error}") from None
        files[f"custom_rules/{position}-{source.name}"] = source
    return files


def inspector_timeout(settings: Settings) -> Duration:
    """60 s, plus with an external DLP API the longest wait for a rate slot: every concurrent inspector
    may be queued on the shared limiter at once, max_concurrency / dlp_requests_per_second seconds,
    and a function that times out while it waits has spent its slot for nothing."""
    if settings.dlp_provider != "google":
        return INSPECTOR_TIMEOUT
    queued = math.ceil(settings.max_concurrency / settings.dlp_requests_per_second)
    return Duration.seconds(min(MAX_FUNCTION_TIMEOUT_SECONDS, INSPECTOR_TIMEOUT.to_seconds() + queued))


def visibility_timeout(function_timeout: Duration, batching_window_seconds: int) -> Duration:
    """AWS's guidance for SQS event sources: at least six times the timeout, plus the window."""
    return Duration.seconds(6 * function_timeout.to_seconds() + batching_window_seconds)


class SlackDlpStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        for_local_emulator: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        rule_files = custom_rule_files(settings)
        # The functions find the rules next to their code, under the names the bundler gives them.
        settings = settings.replace(custom_rules=tuple(rule_files))
        self.settings = settings
        # A year of audit trail and the allowlist outlive the stack (cdk destroy, a replacement),
        # and so does the key without which they cannot be read; retain_data=false for test stacks.
        data_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = kms.Key(
            self,
            "PipelineKey",
            description="slack-dlp: encrypts the queues (message text in flight), the Slack secrets, "
            "the audit trail and the allowlist",
            enable_key_rotation=True,
            removal_policy=data_policy,
        )
        secrets = SlackSecrets(self, "Secrets", key=key)
        inspect = QueueWithDlq(
            self,
            "InspectQueue",
            key=key,
            visibility_timeout=visibility_timeout(inspector_timeout(settings), settings.batching_window_seconds),
            max_receive_count=settings.max_receive_count,
        )
        results = QueueWithDlq(
            self,
            "ResultsQueue",
            key=key,
            visibility_timeout=visibility_timeout(REPORTER_TIMEOUT, 1),
            max_receive_count=settings.max_receive_count,
        )
        files = QueueWithDlq(
            self,
            "FilesQueue",
            key=key,
            visibility_timeout=visibility_timeout(FETCHER_TIMEOUT, 0),
            max_receive_count=settings.max_receive_count,
        )
        dedup_table = pipeline_table(self, "DedupTable", partition_key="id", ttl="expiration")

        triage_table = pipeline_table(
            self,
            "TriageTable",
            partition_key="pk",
            sort_key="sk",
            ttl="expires",
            key=key,
            removal_policy=data_policy,
        )

        resources = Resources(
            inspect_queue_url=inspect.queue.queue_url,
            results_queue_url=results.queue.queue_url,
            dedup_table=dedup_table.table_name,
            signing_secret_arn=secrets.signing_secret.secret_arn,
            bot_token_secret_arn=secrets.bot_token.secret_arn,
            fingerprint_key_secret_arn=secrets.fingerprint_key.secret_arn,
            results_dlq_url=results.dead_letter_queue.queue_url,
            triage_table=triage_table.table_name,
            files_queue_url=files.queue.queue_url,
        )
        code = {
            CORE: lambda_code(CORE, for_local_emulator=for_local_emulator),
            # Custom rules are read by the inspector only: a rules change redeploys nothing else.
            DETECT: lambda_code(DETECT, for_local_emulator=for_local_emulator, extra_files=rule_files),
            FILES: lambda_code(FILES, for_local_emulator=for_local_emulator),
        }

        ingest = PipelineFunction(
            self,
            "Ingest",
            code=code[CORE],
            handler="ingest.handler",
            description="slack-dlp: verifies Slack events, drops retries, enqueues messages",
            timeout=Duration.seconds(10),
            memory_size=512,
            snapstart=settings.snapstart,
            environment=_environment(
                settings,
                resources,
                "inspect_queue_url",
                "dedup_table",
                "signing_secret_arn",
                "files_queue_url",
                "triage_table",
            ),
        )
        inspect.grant_send(ingest.function)
        # Messages too large to inspect are recorded in the audit trail (see _coverage: the grant with
        # its KMS key serves both), and counted with an alarm.
        self.too_large_alarm = alarm(
            self,
            "RequestsTooLarge",
            description=f"Slack requests larger than {settings.max_body_bytes} bytes were not inspected "
            "(slack-dlp findings lists them as message_too_large)",
            metric=custom_metric("RequestsTooLarge"),
        )
        files.grant_send(ingest.function)
        # Ingest's dedup markers: a conditional put, and a delete when the enqueue fails.
        dedup_table.grant(ingest.function, "dynamodb:PutItem", "dynamodb:DeleteItem")
        secrets.signing_secret.grant_read(ingest.function)

        inspector = PipelineFunction(
            self,
            "Inspector",
            code=code[DETECT],
            handler="inspector.handler",
            description="slack-dlp: inspects batches of messages with the DLP provider",
            timeout=inspector_timeout(settings),
            memory_size=1024,
            environment=_environment(
                settings, resources, "results_queue_url", "fingerprint_key_secret_arn", "triage_table"
            ),
        )
        if settings.dlp_provider == "google":
            self._external_dlp(inspector.function, key)
        inspector.function.add_event_source(
            event_sources.SqsEventSource(
                inspect.queue,
                batch_size=settings.batch_size,
                max_batching_window=Duration.seconds(settings.batching_window_seconds),
                max_concurrency=settings.max_concurrency,
                report_batch_item_failures=True,
            )
        )
        results.grant_send(inspector.function)
        grant_table(triage_table, inspector.function, "dynamodb:BatchGetItem")
        secrets.fingerprint_key.grant_read(inspector.function)

        reporter = PipelineFunction(
            self,
            "Reporter",
            code=code[CORE],
            handler="reporter.handler",
            description="slack-dlp: posts masked alerts to the alert channel",
            timeout=REPORTER_TIMEOUT,
            memory_size=256,
            environment=_environment(
                settings,
                resources,
                "bot_token_secret_arn",
                "dedup_table",
                "results_queue_url",
                "results_dlq_url",
                "triage_table",
            ),
        )
        reporter.function.add_event_source(
            event_sources.SqsEventSource(
                results.queue,
                batch_size=REPORTER_BATCH_SIZE,
                max_batching_window=Duration.seconds(1),
                max_concurrency=REPORTER_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
        secrets.bot_token.grant_read(reporter.function)
        # Idempotency, and results reported in any digest (checked and recorded a group at a time).
        dedup_table.grant(reporter.function, *IDEMPOTENCY_ACTIONS, "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem")
        results.grant_send_to_dead_letter_queue(reporter.function)
        grant_table(triage_table, reporter.function, "dynamodb:PutItem")

        interactions = PipelineFunction(
            self,
            "Interactions",
            code=code[CORE],
            handler="interactions.handler",
            description="slack-dlp: the alert's buttons (acknowledge, false positive)",
            timeout=Duration.seconds(10),
            memory_size=256,
            snapstart=settings.snapstart,
            environment=_environment(settings, resources, "signing_secret_arn", "bot_token_secret_arn", "triage_table"),
        )
        secrets.signing_secret.grant_read(interactions.function)
        secrets.bot_token.grant_read(interactions.function)
        grant_table(triage_table, interactions.function, "dynamodb:PutItem")

        api = SlackApi(
            self,
            "Api",
            ingest=ingest.entry,
            interactions=interactions.entry,
            rate_limit=2000,
            burst_limit=1000,
        )

        fetcher = self._file_fetcher(
            code[FILES],
            _environment(settings, resources, "inspect_queue_url", "bot_token_secret_arn", "triage_table"),
            files,
            inspect,
            secrets.bot_token,
            triage_table,
        )

        # Ingest starts a backfill of each minute Slack rate-limited (app_rate_limited).
        self.backfill = HistoryBackfill(self, "Backfill", code=code[CORE], key=key, settings=settings,
                                        resources=resources, inspect=inspect, files=files, bot_token=secrets.bot_token,
                                        starters=(ingest.function,))  # fmt: skip

        if settings.admin_user_token:
            self._admin_token(key, reporter.function, interactions.function)

        self.api = api
        self.queues = {"inspect": inspect, "results": results, "files": files, "backfill": self.backfill.queue}
        self.functions = {"ingest": ingest, "inspector": inspector, "reporter": reporter, "interactions": interactions,
                          "fetcher": fetcher, "backfill": self.backfill.reader}  # fmt: skip
        self._operations(
            settings,
            self._coverage(settings, resources, code[CORE], key, secrets.bot_token, triage_table, ingest.function),
        )
        self._outputs(api, secrets, inspect, results, triage_table)
        CfnOutput(self, "FilesQueueUrl", value=files.queue.queue_url)
        CfnOutput(self, "FilesDlqUrl", value=files.dead_letter_queue.queue_url)
        CfnOutput(self, "SlackApiUrl", value=settings.slack_api_url, description="Slack Web API the functions call")

    def _operations(self, settings: Settings, joiner: ChannelJoiner | None) -> None:
        """Findings to the event bus, alarms that notify, the dashboard, opt-in tracing."""
        if joiner is not None:
            self.queues["join"] = joiner.queue
            self.functions["joiner"] = joiner.joiner
        bus = FindingsBus(self, "Findings", settings=settings)
        bus.grant_put(self.functions["reporter"].function, self.functions["interactions"].function)
        monitoring = Monitoring(self, "Monitoring", settings=settings)
        monitoring.watch(http_api=self.api.http_api, functions=self.functions, queues=self.queues)
        if settings.tracing:
            enable_tracing(list(self.functions.values()))

    def _outputs(
        self,
        api: SlackApi,
        secrets: SlackSecrets,
        inspect: QueueWithDlq,
        results: QueueWithDlq,
        triage_table: dynamodb.ITable,
    ) -> None:
        CfnOutput(self, "RequestUrl", value=api.events_url, description="Paste into Slack: Event Subscriptions")
        CfnOutput(self, "InteractionsUrl", value=api.interactions_url, description="Paste into Slack: Interactivity")
        CfnOutput(self, "HttpApiId", value=api.http_api.api_id)
        CfnOutput(self, "TriageTableName", value=triage_table.table_name)
        CfnOutput(self, "SigningSecretArn", value=secrets.signing_secret.secret_arn)
        CfnOutput(self, "BotTokenSecretArn", value=secrets.bot_token.secret_arn)
        CfnOutput(self, "InspectQueueUrl", value=inspect.queue.queue_url)
        CfnOutput(self, "ResultsQueueUrl", value=results.queue.queue_url)
        CfnOutput(self, "InspectDlqUrl", value=inspect.dead_letter_queue.queue_url)
        CfnOutput(self, "ResultsDlqUrl", value=results.dead_letter_queue.queue_url)

    def _file_fetcher(
        self,
        code: lambda_.Code,
        environment: dict[str, str],
        files: QueueWithDlq,
        inspect: QueueWithDlq,
        bot_token: secretsmanager.ISecret,
        triage_table: dynamodb.ITable,
    ) -> PipelineFunction:
        """files queue -> fetcher -> inspect queue: one file per invocation, a few at a time."""
        fetcher = PipelineFunction(
            self,
            "Fetcher",
            code=code,
            handler="fetcher.handler",
            description="slack-dlp: downloads shared files, extracts their text, queues it for inspection",
            timeout=FETCHER_TIMEOUT,
            memory_size=1024,
            environment=environment,
        )
        fetcher.function.add_event_source(
            event_sources.SqsEventSource(
                files.queue, batch_size=1, max_concurrency=FETCHER_MAX_CONCURRENCY, report_batch_item_failures=True
            )
        )
        inspect.grant_send(fetcher.function)
        bot_token.grant_read(fetcher.function)
        grant_table(triage_table, fetcher.function, "dynamodb:PutItem")
        return fetcher

    def _coverage(
        self,
        settings: Settings,
        resources: Resources,
        code: lambda_.Code,
        key: kms.IKey,
        bot_token: secretsmanager.ISecret,
        triage_table: dynamodb.ITable,
        ingest: lambda_.Function,
    ) -> ChannelJoiner | None:
        """app_rate_limited: counted (alarm) and recorded by ingest in the audit trail for a backfill
        (as are messages too large to inspect: the same write, with the table's KMS key);
        new and unarchived public channels: queued by ingest, joined by the joiner."""
        grant_table(triage_table, ingest, "dynamodb:PutItem")
        self.rate_limited_alarm = events_rate_limited_alarm(self)
        if not settings.auto_join_public_channels:
            return None
        joiner = ChannelJoiner(
            self,
            "ChannelJoiner",
            code=code,
            environment=_environment(settings, resources, "bot_token_secret_arn", "triage_table"),
            key=key,
            max_receive_count=settings.max_receive_count,
            bot_token=bot_token,
        )
        grant_table(triage_table, joiner.joiner.function, "dynamodb:PutItem")
        joiner.queue.grant_send(ingest)
        ingest.add_environment(Resources.ENV_NAMES["join_queue_url"], joiner.queue.queue.queue_url)
        CfnOutput(self, "JoinQueueUrl", value=joiner.queue.queue.queue_url)
        CfnOutput(self, "JoinDlqUrl", value=joiner.queue.dead_letter_queue.queue_url)
        return joiner

    def _admin_token(self, key: kms.IKey, *functions: lambda_.Function) -> None:
        """An admin's user token for deleting other people's messages (Delete button, auto-delete)."""
        admin_token = secretsmanager.Secret(
            self,
            "AdminUserToken",
            description="slack-dlp: a Slack admin's user token (xoxp-, chat:write) to delete others' messages",
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(admin_token, "AwsSolutions-SMG4", "Slack issues this token; it is rotated in Slack.")
        for function in functions:
            admin_token.grant_read(function)
            function.add_environment(Resources.ENV_NAMES["admin_token_secret_arn"], admin_token.secret_arn)
        CfnOutput(self, "AdminUserTokenSecretArn", value=admin_token.secret_arn)

    def _external_dlp(self, inspector: lambda_.Function, key: kms.IKey) -> None:
        """The shared rate limiter's table and the DLP API credentials, for the inspector only."""
        limiter_table = pipeline_table(self, "RateLimitTable", partition_key="id")
        limiter_table.grant(inspector, "dynamodb:GetItem", "dynamodb:PutItem")
        credentials = secretsmanager.Secret(
            self,
            "DlpCredentials",
            description="slack-dlp: Google DLP credentials, a service-account key or a workload identity "
            'federation config (JSON); {"type": "none"} sends no Authorization header (emulators)',
            encryption_key=key,
            secret_string_value=SecretValue.unsafe_plain_text('{"type": "none"}'),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            credentials,
            "AwsSolutions-SMG4",
            "Google issues this credential; prefer workload identity federation, which holds no long-lived key.",
        )
        credentials.grant_read(inspector)
        inspector.add_environment(Resources.ENV_NAMES["rate_limit_table"], limiter_table.table_name)
        inspector.add_environment(Resources.ENV_NAMES["dlp_credentials_secret_arn"], credentials.secret_arn)
        CfnOutput(self, "DlpCredentialsSecretArn", value=credentials.secret_arn)


def _environment(settings: Settings, resources: Resources, *needed: str) -> dict[str, str]:
    """Settings for every function, plus only the resource names this function uses."""
    env = settings.to_env()
    for attr in needed:
        env[Resources.ENV_NAMES[attr]] = getattr(resources, attr)
    return env
