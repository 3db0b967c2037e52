"""Builds the services with their AWS and Slack adapters, once per cold start.

Handlers call these factories; tests build the services directly with fakes instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_dlp.config import Resources, Settings
from slack_dlp.detect.engine import Fingerprinter
from slack_dlp.detection import build_engine
from slack_dlp.dlp.base import DlpClient
from slack_dlp.dlp.builtin import BuiltinDlpClient
from slack_dlp.dlp.credentials import google_token_source
from slack_dlp.dlp.google import DEFAULT_INFO_TYPES, GoogleDlpClient, GoogleDlpConfig
from slack_dlp.dlp.ratelimit import DynamoDbRateLimiter, Quota
from slack_dlp.events_bus import EventBridgePublisher
from slack_dlp.files.extract import Limits
from slack_dlp.files.fetch import FileInspector, SlackFileSource
from slack_dlp.ingest import IngestService
from slack_dlp.inspect import Inspector, ItemAllowlist
from slack_dlp.model import Category, Confidence
from slack_dlp.observability import logger
from slack_dlp.queues import SqsPublisher
from slack_dlp.report import AutoDelete, Reporter
from slack_dlp.slack.join import ChannelJoiner, SlackJoinApi
from slack_dlp.slack.notifier import SlackNotifier
from slack_dlp.slack.verify import SlackRequestVerifier
from slack_dlp.triage import AuditLog, DynamoDbTriageStore, TriagePolicy, TriageService

if TYPE_CHECKING:
    from slack_dlp.backfill import BackfillService

#: Secrets are re-read at most this often, so a value set after deploy is picked up quickly.
SECRET_MAX_AGE_SECONDS = 60


def secret_reader(arn: str) -> Callable[[], str]:
    from aws_lambda_powertools.utilities import parameters

    def read() -> str:
        value = parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)
        return value if isinstance(value, str) else value.decode("utf-8")

    return read


def configure_logging(settings: Settings) -> None:
    """Every function logs at ``log_level`` (Powertools reads only its own variables by itself)."""
    logger.setLevel(settings.log_level.upper())


#: After the signing secret is rotated, the one before it still verifies this long: deliveries
#: signed before the switch (and Slack's retries of them) arrive for minutes after it.
SIGNING_SECRET_GRACE_SECONDS = 3600
#: How long the fallback secrets are remembered: requests that fail verification (a rotation in
#: progress, or noise) cost at most two Secrets Manager reads per container in this time.
FALLBACK_MAX_AGE_SECONDS = 5


def rotation_fallbacks(
    arn: str,
    client: Any = None,
    *,
    grace_seconds: float = SIGNING_SECRET_GRACE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Callable[[], tuple[str, ...]]:
    """Secrets to try when the cached signing secret rejects a request: the current value read
    afresh (``AWSCURRENT``), and while that version is younger than ``grace_seconds`` the previous
    one (``AWSPREVIOUS``). Read with boto3, not Powertools: the grace period starts at the current
    version's ``CreatedDate``, which Powertools does not return (and its cache is keyed by name
    alone, so two stages of one secret would collide)."""
    cache: list[tuple[float, tuple[str, ...]]] = []

    def read() -> tuple[str, ...]:
        nonlocal client
        now = clock()
        if cache and now < cache[0][0]:
            return cache[0][1]
        if client is None:
            import boto3

            client = boto3.client("secretsmanager")
        values: tuple[str, ...] = ()
        expires = now + FALLBACK_MAX_AGE_SECONDS
        try:
            current = client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
            values = (str(current.get("SecretString", "")),)
            grace_ends = current["CreatedDate"].timestamp() + grace_seconds
            if now < grace_ends:
                previous = client.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
                values += (str(previous.get("SecretString", "")),)
                expires = min(expires, grace_ends)
        except client.exceptions.ResourceNotFoundException:
            pass  # no value yet, or never rotated
        except Exception as error:  # no permission, throttled: the cached secret still verifies
            logger.warning("signing secret unreadable", extra={"error": type(error).__name__})
        cache[:] = [(expires, tuple(v for v in values if v))]
        return cache[0][1]

    return read


def signing_verifier(arn: str) -> SlackRequestVerifier:
    """The signing secret (cached), a rotated one at once, and the previous one for a grace period."""
    return SlackRequestVerifier(secret_reader(arn), fallback_secrets=rotation_fallbacks(arn))


def build_fetcher(settings: Settings, resources: Resources) -> FileInspector:
    configure_logging(settings)
    import boto3

    resources.require("inspect_queue_url", "bot_token_secret_arn", "triage_table")
    notifier = slack_notifier(settings, resources)
    return FileInspector(
        SlackFileSource(notifier.web_client, secret_reader(resources.bot_token_secret_arn)),
        SqsPublisher(boto3.client("sqs"), resources.inspect_queue_url),
        audit=triage_store(settings, resources),
        limits=Limits(max_file_bytes=settings.max_file_mb * 1024 * 1024),
        chunk_chars=settings.file_chunk_chars,
        overlap_chars=settings.file_chunk_overlap,
        report_uninspected=notifier.post_notice if settings.alert_uninspected_files else None,
    )


def build_backfill(settings: Settings, resources: Resources) -> BackfillService:
    """Pages of history from Slack (paced per workspace and method in the backfill table) to the queues."""
    import boto3

    from slack_dlp.backfill import BackfillService, DynamoDbRunStore, SlackHistory

    resources.require("inspect_queue_url", "bot_token_secret_arn", "backfill_queue_url", "backfill_table")
    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
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
    )


def build_ingest(settings: Settings, resources: Resources) -> IngestService:
    configure_logging(settings)
    import boto3

    from slack_dlp.dedup import IdempotencyDeduplicator

    resources.require("inspect_queue_url", "dedup_table", "signing_secret_arn")
    sqs = boto3.client("sqs")  # one client (and its cold-start cost) for every queue
    return IngestService(
        settings=settings,
        verifier=signing_verifier(resources.signing_secret_arn),
        dedup=IdempotencyDeduplicator(resources.dedup_table, settings.dedup_ttl_seconds),
        publisher=SqsPublisher(sqs, resources.inspect_queue_url),
        files=SqsPublisher(sqs, resources.files_queue_url)
        if settings.inspect_files and resources.files_queue_url
        else None,
        joins=SqsPublisher(sqs, resources.join_queue_url)
        if settings.auto_join_public_channels and resources.join_queue_url
        else None,
        audit=LazyAuditLog(lambda: triage_store(settings, resources)) if resources.triage_table else None,
        backfill=SqsPublisher(sqs, resources.backfill_queue_url) if resources.backfill_queue_url else None,
    )


class LazyAuditLog:
    """The audit trail, connected on first use: ingest records there rarely (refused messages, rate-limited minutes),
    and a DynamoDB client on its cold-start path would slow every first request."""

    def __init__(self, build: Callable[[], AuditLog]) -> None:
        self._build = build
        self._log: AuditLog | None = None

    def _get(self) -> AuditLog:
        if self._log is None:
            self._log = self._build()
        return self._log

    def record(self, kind: str, **fields: Any) -> None:
        self._get().record(kind, **fields)

    def since(self, seconds: float) -> list[dict[str, Any]]:
        return self._get().since(seconds)


def build_joiner(settings: Settings, resources: Resources) -> ChannelJoiner:
    resources.require("bot_token_secret_arn", "triage_table")
    notifier = slack_notifier(settings, resources)
    return ChannelJoiner(SlackJoinApi(notifier.web_client), audit=triage_store(settings, resources))


def google_config(settings: Settings) -> GoogleDlpConfig:
    return GoogleDlpConfig(
        project=settings.dlp_project,
        endpoint=settings.dlp_endpoint,
        location=settings.dlp_location,
        info_types=settings.dlp_info_types or DEFAULT_INFO_TYPES,
        min_likelihood=settings.dlp_min_likelihood,
        max_items=settings.batch_size,
        timeout_seconds=settings.dlp_timeout_seconds,
    )


def quota(settings: Settings) -> Quota:
    return Quota(requests=settings.dlp_requests_per_second, margin_seconds=settings.dlp_rate_margin_ms / 1000)


def build_dlp_client(settings: Settings, fingerprint_key: bytes, resources: Resources | None = None) -> DlpClient:
    if settings.dlp_provider == "builtin":
        return BuiltinDlpClient(build_engine(settings, fingerprint_key), max_items=settings.batch_size)
    import boto3

    resources = resources or Resources.from_env()
    resources.require("rate_limit_table")
    token = (
        google_token_source(secret_reader(resources.dlp_credentials_secret_arn)())
        if resources.dlp_credentials_secret_arn
        else (lambda: None)
    )
    client = GoogleDlpClient(
        google_config(settings),
        fingerprinter=Fingerprinter(fingerprint_key),
        limiter=DynamoDbRateLimiter(boto3.client("dynamodb"), resources.rate_limit_table, quota(settings)),
        token=token,
    )
    client.warm_up()  # during the Lambda init phase, not on the first batch's clock
    return client


def build_inspector(settings: Settings, resources: Resources) -> Inspector:
    configure_logging(settings)
    import boto3

    resources.require("results_queue_url", "fingerprint_key_secret_arn", "triage_table")
    key = secret_reader(resources.fingerprint_key_secret_arn)().encode("utf-8")
    return Inspector(
        dlp=build_dlp_client(settings, key, resources),
        results=SqsPublisher(boto3.client("sqs"), resources.results_queue_url),
        skip=ItemAllowlist(channels=frozenset(settings.allow_channels), users=frozenset(settings.allow_users)),
        false_positives=triage_store(settings, resources),
    )


def triage_store(settings: Settings, resources: Resources) -> DynamoDbTriageStore:
    import boto3

    return DynamoDbTriageStore(
        boto3.client("dynamodb"),
        resources.triage_table,
        settings.audit_retention_days,
        allowlist_ttl_days=settings.allowlist_ttl_days,
    )


def event_publisher(resources: Resources) -> EventBridgePublisher | None:
    """Findings and triage actions to the event bus, when the stack names one."""
    if not resources.event_bus_name:
        return None
    import boto3

    return EventBridgePublisher(boto3.client("events"), resources.event_bus_name)


def build_triage(settings: Settings, resources: Resources) -> TriageService:
    configure_logging(settings)
    resources.require("signing_secret_arn", "bot_token_secret_arn", "triage_table")
    store = triage_store(settings, resources)
    notifier = slack_notifier(settings, resources)
    return TriageService(
        verifier=signing_verifier(resources.signing_secret_arn),
        updater=notifier,
        allowlist=store,
        audit=store,
        deleter=notifier if notifier.can_delete else None,
        policy=TriagePolicy(settings.triage_users, settings.triage_usergroup, notifier.usergroup_members),
        users=notifier,
        events=event_publisher(resources),
    )


#: Alerts are remembered for longer than a result can wait on its queue (4 days), so no redelivery repeats one.
ALERT_DEDUP_SECONDS = 5 * 24 * 3600


def build_reporter(settings: Settings, resources: Resources) -> Reporter:
    configure_logging(settings)
    import boto3

    from slack_dlp.dedup import DynamoDbReportedLog, IdempotencyDeduplicator

    resources.require("bot_token_secret_arn", "dedup_table", "results_dlq_url", "triage_table")
    notifier = slack_notifier(settings, resources)
    return Reporter(
        notifier,
        dedup=IdempotencyDeduplicator(resources.dedup_table, ALERT_DEDUP_SECONDS),
        reported=DynamoDbReportedLog(boto3.client("dynamodb"), resources.dedup_table, ALERT_DEDUP_SECONDS),
        dead_letters=SqsPublisher(boto3.client("sqs"), resources.results_dlq_url),
        author_notice=settings.author_notice if settings.notify_author else None,
        audit=triage_store(settings, resources),
        auto_delete=AutoDelete(
            categories=frozenset(Category(c) for c in settings.auto_delete_categories),
            min_confidence=Confidence(settings.auto_delete_min_confidence),
        )
        if settings.auto_delete_categories
        else None,
        events=event_publisher(resources),
    )


def slack_notifier(settings: Settings, resources: Resources) -> SlackNotifier:
    admin = resources.admin_token_secret_arn if settings.admin_user_token else ""
    return SlackNotifier(
        token=secret_reader(resources.bot_token_secret_arn),
        alert_channel=settings.alert_channel,
        base_url=settings.slack_api_url,
        admin_token=secret_reader(admin) if admin else None,
    )
