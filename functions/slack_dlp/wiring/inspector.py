"""The inspector function: the detection engine, or Google's DLP API behind the shared rate limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_dlp import aws
from slack_dlp.config import Resources, Settings
from slack_dlp.detect.engine import Fingerprinter
from slack_dlp.detection import build_engine
from slack_dlp.dlp.base import DlpClient
from slack_dlp.dlp.builtin import BuiltinDlpClient
from slack_dlp.inspect import Inspector, ItemAllowlist
from slack_dlp.queues import SqsPublisher
from slack_dlp.wiring import prepare, secret_reader, triage_store

if TYPE_CHECKING:
    from slack_dlp.dlp.google import GoogleDlpConfig
    from slack_dlp.dlp.ratelimit import Quota


def google_config(settings: Settings) -> GoogleDlpConfig:
    from slack_dlp.dlp.google import DEFAULT_INFO_TYPES, GoogleDlpConfig

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
    from slack_dlp.dlp.ratelimit import Quota

    return Quota(requests=settings.dlp_requests_per_second, margin_seconds=settings.dlp_rate_margin_ms / 1000)


def build_dlp_client(settings: Settings, fingerprint_key: bytes, resources: Resources | None = None) -> DlpClient:
    if settings.dlp_provider == "builtin":
        return BuiltinDlpClient(build_engine(settings, fingerprint_key), max_items=settings.batch_size)
    # Google's client and credentials (google-auth, cryptography) load only for dlp_provider=google.
    from slack_dlp.dlp.credentials import google_token_source
    from slack_dlp.dlp.google import GoogleDlpClient
    from slack_dlp.dlp.ratelimit import DynamoDbRateLimiter

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
        limiter=DynamoDbRateLimiter(aws.client("dynamodb"), resources.rate_limit_table, quota(settings)),
        token=token,
    )
    client.warm_up()  # during the Lambda init phase, not on the first batch's clock
    return client


def build_inspector(settings: Settings, resources: Resources) -> Inspector:
    prepare(settings)
    resources.require("results_queue_url", "fingerprint_key_secret_arn", "triage_table")
    key = secret_reader(resources.fingerprint_key_secret_arn)().encode("utf-8")
    return Inspector(
        dlp=build_dlp_client(settings, key, resources),
        results=SqsPublisher(aws.client("sqs"), resources.results_queue_url),
        skip=ItemAllowlist(channels=frozenset(settings.allow_channels), users=frozenset(settings.allow_users)),
        false_positives=triage_store(settings, resources),
    )
