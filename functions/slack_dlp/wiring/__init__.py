"""Builds each function's service with its AWS and Slack adapters, once per cold start.

One module per function (``wiring.ingest``, ``wiring.interactions``, ``wiring.reporter``,
``wiring.inspector``, ``wiring.fetcher``): a handler imports only its own, so its cold start loads
only the packages its function uses. This module holds what several share and imports nothing
heavy. Tests build the services directly with fakes instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.observability import logger
from slack_dlp.slack.verify import SlackRequestVerifier

if TYPE_CHECKING:
    from slack_dlp.events_bus import EventBridgePublisher
    from slack_dlp.slack.notifier import SlackNotifier
    from slack_dlp.triage import DynamoDbTriageStore

#: Secrets are re-read at most this often, so a value set after deploy is picked up quickly.
SECRET_MAX_AGE_SECONDS = 60


def configure_logging(settings: Settings) -> None:
    """Every function logs at ``log_level`` (Powertools reads only its own variables by itself)."""
    logger.setLevel(settings.log_level.upper())


#: Logged once per execution environment: the dashboard counts cold starts with it (Lambda's REPORT
#: lines, which carry the init duration, are not written: system logs are at WARN).
COLD_START_MESSAGE = "cold start"


def prepare(settings: Settings) -> None:
    """Once per execution environment, before its service is built: the log level; with SnapStart,
    what the snapshot froze (connections, cached secrets) is refreshed after every restore."""
    configure_logging(settings)
    logger.info(COLD_START_MESSAGE)
    if settings.snapstart:
        aws.register_snapstart_hooks()


def secret_reader(arn: str) -> Callable[[], str]:
    """Reads a secret through the cache on the shared Secrets Manager client (created here, at
    init); after a SnapStart restore it is read again before the first request."""
    provider = aws.secrets()

    def read() -> str:
        return provider.get(arn, max_age=SECRET_MAX_AGE_SECONDS)

    aws.on_restore(read)
    return read


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
    one (``AWSPREVIOUS``). Read past the cache: the grace period starts at the current version's
    ``CreatedDate``, and the cache is keyed by ARN alone (two stages of one secret would collide)."""
    cache: list[tuple[float, tuple[str, ...]]] = []
    secrets = client if client is not None else aws.client("secretsmanager")

    def read() -> tuple[str, ...]:
        now = clock()
        if cache and now < cache[0][0]:
            return cache[0][1]
        values: tuple[str, ...] = ()
        expires = now + FALLBACK_MAX_AGE_SECONDS
        try:
            current = secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
            values = (str(current.get("SecretString", "")),)
            grace_ends = current["CreatedDate"].timestamp() + grace_seconds
            if now < grace_ends:
                previous = secrets.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
                values += (str(previous.get("SecretString", "")),)
                expires = min(expires, grace_ends)
        except secrets.exceptions.ResourceNotFoundException:
            pass  # no value yet, or never rotated
        except Exception as error:  # no permission, throttled: the cached secret still verifies
            logger.warning("signing secret unreadable", extra={"error": type(error).__name__})
        cache[:] = [(expires, tuple(v for v in values if v))]
        return cache[0][1]

    aws.on_restore(cache.clear)
    return read


def signing_verifier(arn: str) -> SlackRequestVerifier:
    """The signing secret (cached), a rotated one at once, and the previous one for a grace period."""
    return SlackRequestVerifier(secret_reader(arn), fallback_secrets=rotation_fallbacks(arn))


def triage_store(settings: Settings, resources: Resources, dynamodb: Any = None) -> DynamoDbTriageStore:
    """The allowlist and audit trail (``dynamodb``: a client to use instead of the shared one)."""
    from slack_dlp.triage import DynamoDbTriageStore

    return DynamoDbTriageStore(
        aws.client("dynamodb") if dynamodb is None else dynamodb,
        resources.triage_table,
        settings.audit_retention_days,
        allowlist_ttl_days=settings.allowlist_ttl_days,
    )


def event_publisher(resources: Resources) -> EventBridgePublisher | None:
    """Findings and triage actions to the event bus, when the stack names one."""
    if not resources.event_bus_name:
        return None
    from slack_dlp.events_bus import EventBridgePublisher

    return EventBridgePublisher(aws.client("events"), resources.event_bus_name)


def slack_notifier(settings: Settings, resources: Resources) -> SlackNotifier:
    """The Slack Web API adapter (imports slack_sdk's WebClient: only functions that call Slack)."""
    from slack_dlp.slack.notifier import SlackNotifier

    admin = resources.admin_token_secret_arn if settings.admin_user_token else ""
    return SlackNotifier(
        token=secret_reader(resources.bot_token_secret_arn),
        alert_channel=settings.alert_channel,
        base_url=settings.slack_api_url,
        admin_token=secret_reader(admin) if admin else None,
    )
