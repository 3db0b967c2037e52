"""Settings: stated once, read by the CDK app (from cdk context) and by the Lambdas (from env).

The stack turns a ``Settings`` into Lambda environment variables with :meth:`Settings.to_env`;
each function rebuilds the very same object with :meth:`Settings.from_env` at cold start.
A batch size or a rate limit therefore cannot disagree between infrastructure and code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from difflib import get_close_matches
from typing import Any, ClassVar, Literal, get_args

DlpProvider = Literal["builtin", "google"]
ENV_PREFIX = "SLACK_DLP_"
_SNS_ARN = re.compile(r"arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+")
#: A DLP request must finish well inside the inspector's 60-second time-out (infra.stack.INSPECTOR_TIMEOUT).
MAX_DLP_TIMEOUT_SECONDS = 30
#: What a setting's name looks like (cdk context also holds the CDK's own keys, which never do).
_SETTING_NAME = re.compile(r"[a-z][a-z0-9_]*")


#: The largest body worth accepting. Slack's largest message is 40,000 characters; JSON-escaped as
#: \ud83d\ude00 pairs a 4-byte character takes 12 bytes, so its text is up to 480,000 bytes, which an
#: event repeats in ``blocks``, and an edit (message_changed) again for the previous version: about
#: 1.9 MB plus attachments. API Gateway's HTTP API takes 10 MB, but Lambda's synchronous invocation
#: payload is 6 MB and a body arrives base64-encoded when it is not JSON (4/3 larger): 4.5 MiB fits both.
MAX_BODY_CEILING = 4_718_592


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Deployment settings with their documented defaults (see README, Configuration)."""

    #: Channel that receives alerts: a channel id (C0123...) or a name (#dlp-alerts).
    alert_channel: str = "#dlp-alerts"
    #: Which DLP engine inspects messages.
    dlp_provider: DlpProvider = "builtin"
    #: Items the inspector hands to the DLP provider in one request (the SQS batch size).
    batch_size: int = 100
    #: Seconds the event source waits to fill a batch (>= 1 when batch_size > 10).
    batching_window_seconds: int = 1
    #: Concurrent inspector invocations (the event source's MaximumConcurrency).
    max_concurrency: int = 10
    #: The DLP API quota: requests in any 1-second window (google provider).
    dlp_requests_per_second: int = 10
    #: Margin the rate limiter adds to the window for arrival jitter, in milliseconds.
    dlp_rate_margin_ms: int = 40
    #: Google DLP API base URL (regional endpoints, emulators).
    dlp_endpoint: str = "https://dlp.googleapis.com"
    #: Google Cloud project that owns the DLP quota (google provider).
    dlp_project: str = ""
    #: Google DLP location (``global`` or a region such as ``europe-west1``).
    dlp_location: str = "global"
    #: infoTypes to inspect for; empty means slack-dlp's explicit default list.
    dlp_info_types: tuple[str, ...] = field(default_factory=tuple)
    #: Lowest likelihood Google reports: VERY_UNLIKELY, UNLIKELY, POSSIBLE, LIKELY, VERY_LIKELY.
    dlp_min_likelihood: str = "POSSIBLE"
    #: Seconds to wait for one DLP request.
    dlp_timeout_seconds: int = 10
    #: Slack Web API base URL; point it at a stand-in for local runs.
    slack_api_url: str = "https://slack.com/api/"
    #: How long a Slack event_id is remembered to drop Slack's retries.
    dedup_ttl_seconds: int = 6 * 3600
    #: Largest request body the ingest endpoint accepts, in bytes (see MAX_BODY_CEILING for the sizing).
    max_body_bytes: int = 4 * 1024 * 1024
    #: Deliveries of one message before it goes to its queue's dead-letter queue.
    max_receive_count: int = 10
    #: Minimum confidence a finding needs to be reported: low, medium or high.
    min_confidence: Literal["low", "medium", "high"] = "medium"
    #: Detector ids to switch off (lists: comma-separated or a JSON array in context/env).
    disabled_detectors: tuple[str, ...] = field(default_factory=tuple)
    #: Detectors that are off by default (email-address, phone-number) to switch on.
    enabled_detectors: tuple[str, ...] = field(default_factory=tuple)
    #: Channel ids whose messages are never inspected (e.g. the security team's own channels).
    allow_channels: tuple[str, ...] = field(default_factory=tuple)
    #: User ids whose messages are never inspected (e.g. a service account that posts test data).
    allow_users: tuple[str, ...] = field(default_factory=tuple)
    #: Fingerprints of values that never alert (from a finding's fingerprint).
    allow_fingerprints: tuple[str, ...] = field(default_factory=tuple)
    #: Regexes (RE2 syntax) of values that never alert.
    allow_patterns: tuple[str, ...] = field(default_factory=tuple)
    #: Rules files (slack-dlp or gitleaks TOML) added to the built-in detectors, relative to the repo.
    custom_rules: tuple[str, ...] = field(default_factory=tuple)
    #: Tell the person who posted, in an ephemeral message only they see.
    notify_author: bool = True
    #: The ephemeral notice; {kinds} is replaced by what was found (never the value).
    author_notice: str = (
        "slack-dlp: your message contains {kinds}. Please delete it, and if it is a credential, rotate it now: "
        "anyone in this conversation may have copied it."
    )
    #: The stack creates an AdminUserToken secret (an admin's xoxp- token): Delete buttons, auto-delete.
    admin_user_token: bool = False
    #: Categories whose messages are deleted automatically (secret, financial, personal).
    auto_delete_categories: tuple[str, ...] = field(default_factory=tuple)
    #: Lowest confidence of a finding that triggers automatic deletion.
    auto_delete_min_confidence: Literal["low", "medium", "high"] = "high"
    #: Inspect the files people share (PDF, DOCX, XLSX, ZIP, text and code).
    inspect_files: bool = True
    #: Largest file downloaded, in MB; larger files are recorded as not inspected.
    max_file_mb: int = 20
    #: Also post "could not inspect" to the alert channel for files too large or encrypted to read.
    alert_uninspected_files: bool = False
    #: Characters per inspected chunk of a file, and the overlap between chunks.
    file_chunk_chars: int = 16_000
    file_chunk_overlap: int = 4_096
    #: Slack's quota for conversations.history and conversations.replies, each, per workspace
    #: (Tier 3: about 50 a minute for an internal app); backfill paces its calls to it.
    backfill_requests_per_minute: int = 50
    #: Days before a backfill window in which thread parents are looked for: a reply posted in the
    #: window to an older thread is read from it (history lists threads only by their parent). 0: off.
    backfill_thread_lookback_days: int = 3
    #: Days the audit trail (alerts and the actions taken on them) is kept.
    audit_retention_days: int = 365
    #: Join every new or unarchived public channel (conversations.join, scope channels:join).
    auto_join_public_channels: bool = True
    #: Bot ids (B0123...) of other apps whose messages are never inspected; slack-dlp's own always are not.
    skip_bot_ids: tuple[str, ...] = field(default_factory=tuple)
    #: Keep the audit trail, the allowlist and their KMS key when the stack is deleted or replaced.
    retain_data: bool = True
    #: Log level of every function.
    log_level: str = "INFO"
    #: An address the alarm topic emails (it must confirm the subscription).
    alarm_email: str = ""
    #: An existing SNS topic for the alarms instead of the stack's own.
    alarm_topic_arn: str = ""
    #: An existing EventBridge bus for findings and triage events instead of the stack's own.
    event_bus_name: str = ""
    #: Who may press an alert's buttons: user ids and/or a user group id; empty means anyone.
    triage_users: tuple[str, ...] = field(default_factory=tuple)
    triage_usergroup: str = ""
    #: Days a false-positive allowlisting lasts; 0 keeps it until it is removed.
    allowlist_ttl_days: int = 0
    #: X-Ray active tracing with the Powertools Tracer (responses and payloads never captured).
    tracing: bool = False
    #: Lambda SnapStart for the ingest and interactions functions: published versions behind an alias,
    #: restored from a snapshot taken after init instead of importing at a cold start. Costs money while
    #: idle (the cached snapshot), so it is off by default; see README, Cold start.
    snapstart: bool = False

    def __post_init__(self) -> None:
        likelihoods = ("VERY_UNLIKELY", "UNLIKELY", "POSSIBLE", "LIKELY", "VERY_LIKELY")
        checks = (
            (self.dlp_provider in get_args(DlpProvider), f"dlp_provider must be one of {get_args(DlpProvider)}"),
            (1 <= self.batch_size <= 10_000, "batch_size must be between 1 and 10000"),
            (
                self.batch_size <= 10 or self.batching_window_seconds >= 1,
                "batching_window_seconds must be >= 1 when batch_size > 10 (SQS rule)",
            ),
            (0 <= self.batching_window_seconds <= 300, "batching_window_seconds must be between 0 and 300"),
            (2 <= self.max_concurrency <= 1000, "max_concurrency must be between 2 and 1000 (ESM MaximumConcurrency)"),
            (self.dlp_requests_per_second >= 1, "dlp_requests_per_second must be >= 1"),
            (0 <= self.dlp_rate_margin_ms <= 1000, "dlp_rate_margin_ms must be between 0 and 1000"),
            (
                self.dlp_provider != "google" or bool(self.dlp_project),
                "dlp_project is required when dlp_provider is google",
            ),
            (self.dlp_min_likelihood in likelihoods, "dlp_min_likelihood must be a Google likelihood such as POSSIBLE"),
            (bool(self.alert_channel.strip()), "alert_channel must not be empty"),
            (
                1024 <= self.max_body_bytes <= MAX_BODY_CEILING,
                f"max_body_bytes must be between 1024 and {MAX_BODY_CEILING} (Lambda's 6 MB invocation payload)",
            ),
            (
                self.log_level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                "log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL",
            ),
            (1 <= self.max_receive_count <= 1000, "max_receive_count must be between 1 and 1000"),
            (1 <= self.max_file_mb <= 1024, "max_file_mb must be between 1 and 1024"),
            (0 < self.file_chunk_overlap < self.file_chunk_chars, "file_chunk_overlap must be below file_chunk_chars"),
            (1 <= self.backfill_requests_per_minute <= 1000, "backfill_requests_per_minute must be between 1 and 1000"),
            (0 <= self.backfill_thread_lookback_days <= 365, "backfill_thread_lookback_days must be between 0 and 365"),
            (self.min_confidence in ("low", "medium", "high"), "min_confidence must be low, medium or high"),
            (
                self.auto_delete_min_confidence in ("low", "medium", "high"),
                "auto_delete_min_confidence must be low, medium or high",
            ),
            (
                1 <= self.dlp_timeout_seconds <= MAX_DLP_TIMEOUT_SECONDS,
                f"dlp_timeout_seconds must be between 1 and {MAX_DLP_TIMEOUT_SECONDS} (inspector time-out: 60 s)",
            ),
            (self.dedup_ttl_seconds >= 1, "dedup_ttl_seconds must be >= 1"),
            (self.audit_retention_days >= 1, "audit_retention_days must be >= 1"),
            (
                not self.alarm_topic_arn or _SNS_ARN.fullmatch(self.alarm_topic_arn) is not None,
                "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
            ),
            (not self.alarm_email or "@" in self.alarm_email, "alarm_email must be an email address"),
            (self.allowlist_ttl_days >= 0, "allowlist_ttl_days must be >= 0 (0: no expiry)"),
            (
                not (self.alarm_email and self.alarm_topic_arn),
                "alarm_email subscribes the stack's own topic: "
                "with alarm_topic_arn, subscribe the address to that topic instead",
            ),
            (
                set(self.auto_delete_categories) <= {"secret", "financial", "personal"},
                "auto_delete_categories may name only secret, financial and personal",
            ),
            (
                self.admin_user_token or not self.auto_delete_categories,
                "auto_delete_categories needs admin_user_token=true: a bot token cannot delete other people's "
                "messages, so the stack must create an AdminUserToken secret for an admin's user token (xoxp-, "
                "scope chat:write) that you fill in after deploying",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise SettingsError(message)
        object.__setattr__(self, "log_level", self.log_level.upper())  # -c log_level=debug: DEBUG everywhere
        if not self.slack_api_url.endswith("/"):
            object.__setattr__(self, "slack_api_url", self.slack_api_url + "/")

    # -- round trips --------------------------------------------------------------------------------

    @classmethod
    def from_lookup(cls, lookup: Callable[[str], Any]) -> Settings:
        """Build settings from a key lookup (cdk context, env); missing keys keep their defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = lookup(f.name)
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.name, f.type, raw)
        return cls(**values)

    @classmethod
    def check_names(cls, names: Iterable[str], *, also: Iterable[str] = ()) -> None:
        """Refuse a name that looks like a setting but is none (``-c batchsize=25``): it would be
        ignored silently and the default used. Names with ``:``, ``@`` or ``-`` are the CDK's own."""
        known = {f.name for f in fields(cls)} | set(also)
        unknown = sorted(n for n in names if _SETTING_NAME.fullmatch(n) and n not in known)
        if unknown:
            hints = [_with_hint(name, known) for name in unknown]
            raise SettingsError(f"unknown setting {', '.join(hints)}; README, Configuration lists them")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls.from_lookup(lambda name: env.get(ENV_PREFIX + name.upper()))

    def to_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            env[ENV_PREFIX + f.name.upper()] = json.dumps(list(value)) if isinstance(value, tuple) else str(value)
        return env

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


#: Context keys the CDK app reads besides the settings (``Settings.check_names`` accepts them).
APP_CONTEXT_KEYS = ("stack_name", "local_emulator")


def _with_hint(name: str, known: set[str]) -> str:
    close = get_close_matches(name, known, 1)
    return f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)


_EXPECTED = {"int": "a whole number", "bool": "true or false"}


def _coerce(name: str, annotation: object, raw: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            lowered = str(raw).strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(lowered)
            return lowered in ("true", "1", "yes")
        if kind.startswith("tuple"):
            if isinstance(raw, str):
                items = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
            else:
                items = list(raw)
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(raw)
    except (TypeError, ValueError):
        expected = _EXPECTED.get(kind, "a list" if kind.startswith("tuple") else "text")
        raise SettingsError(f"setting {name!r} must be {expected}, not {str(raw)[:40]!r}") from None


@dataclass(frozen=True)
class Resources:
    """Names of the deployed resources a function talks to, given by the stack as env vars."""

    inspect_queue_url: str = ""
    results_queue_url: str = ""
    dedup_table: str = ""
    signing_secret_arn: str = ""
    bot_token_secret_arn: str = ""
    fingerprint_key_secret_arn: str = ""
    rate_limit_table: str = ""
    dlp_credentials_secret_arn: str = ""
    results_dlq_url: str = ""
    triage_table: str = ""
    admin_token_secret_arn: str = ""
    files_queue_url: str = ""
    event_bus_name: str = ""
    backfill_queue_url: str = ""
    backfill_table: str = ""
    join_queue_url: str = ""

    ENV_NAMES: ClassVar[dict[str, str]] = {
        "inspect_queue_url": "INSPECT_QUEUE_URL",
        "results_queue_url": "RESULTS_QUEUE_URL",
        "dedup_table": "DEDUP_TABLE_NAME",
        "signing_secret_arn": "SLACK_SIGNING_SECRET_ARN",
        "bot_token_secret_arn": "SLACK_BOT_TOKEN_SECRET_ARN",
        "fingerprint_key_secret_arn": "FINGERPRINT_KEY_SECRET_ARN",
        "rate_limit_table": "RATE_LIMIT_TABLE_NAME",
        "dlp_credentials_secret_arn": "DLP_CREDENTIALS_SECRET_ARN",
        "results_dlq_url": "RESULTS_DLQ_URL",
        "triage_table": "TRIAGE_TABLE_NAME",
        "admin_token_secret_arn": "SLACK_ADMIN_TOKEN_SECRET_ARN",
        "files_queue_url": "FILES_QUEUE_URL",
        "event_bus_name": "EVENT_BUS_NAME",
        "backfill_queue_url": "BACKFILL_QUEUE_URL",
        "backfill_table": "BACKFILL_TABLE_NAME",
        "join_queue_url": "JOIN_QUEUE_URL",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Resources:
        env = os.environ if environ is None else environ
        return cls(**{attr: env.get(name, "") for attr, name in cls.ENV_NAMES.items()})

    def require(self, *attrs: str) -> None:
        """Fail the cold start with a clear message when a function lacks a resource it needs."""
        missing = [self.ENV_NAMES[a] for a in attrs if not getattr(self, a)]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
