"""``slack-dlp cost``: what the synthesized stack costs a month at a given volume, per component.

Everything the template states is read from it: each function's memory, architecture and system log
level, the API's access-log format, the queues' KMS data-key reuse, the number of secrets, keys,
alarms and dashboards, whether tracing is on. Everything else is a stated assumption below:
durations per invocation, log lines per invocation, the share of messages with findings, the share
of Slack events ingest records for deduplication. Prices are us-east-1 list prices on the date of
``PRICES_DATE``, without free tiers; data transfer is left out (Slack's requests come in free).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from slack_dlp_tools.cli.common import EXIT_CLEAN, StackTarget, UsageError, add_stack_arguments

PRICES_DATE = "2026-11-01"
#: us-east-1 list prices (USD) from each service's pricing page (aws.amazon.com/<service>/pricing/), first
#: tier, no free tier. SQS counts a request per 64 KB of payload (a Slack message is one); DynamoDB on-demand
#: bills a write request unit per 1 KB item written and a read unit per 4 KB read strongly (half eventually).
PRICES = {
    "http_api_per_million": 1.00,
    "lambda_request_per_million": 0.20,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86_64": 0.0000166667,
    "sqs_per_million": 0.40,
    "dynamodb_write_per_million": 0.625,
    "dynamodb_read_per_million": 0.125,
    "dynamodb_gb_month": 0.25,
    "kms_key_month": 1.00,
    "kms_per_10k": 0.03,
    "secret_month": 0.40,
    "secrets_per_10k": 0.05,
    "logs_ingest_gb": 0.50,
    "logs_store_gb_month": 0.03,
    "custom_metric_month": 0.30,
    "alarm_month": 0.10,
    "dashboard_month": 3.00,
    "eventbridge_per_million": 1.00,
    "xray_trace_per_million": 5.00,
}
#: AWS prices a month as 730 hours.
DAYS_PER_MONTH = 730 / 24
SECONDS_PER_MONTH = 730 * 3600

#: Milliseconds per invocation on Lambda (arm64): a fixed part and a part per item (built-in engine).
#: What each invocation waits for, at single-digit-millisecond AWS calls in-region: ingest one SQS send
#: (verifying the signature and parsing the envelope take well under a millisecond; a fast first
#: delivery writes nothing to DynamoDB, see ``DEDUP_WRITE_SHARE``); the inspector one SQS send per
#: result (detection: 0.2-0.3 ms per 100 messages, `make bench-engine`); the reporter a 1 s long poll
#: topping up a small batch plus three Slack calls. MiniStack on a shared 2-core machine measures far
#: more (`--measured`, README: Cost): an emulator's upper bound, not Lambda's; run `--measured` against
#: your own stack.
DURATION_MS = {
    "Ingest": (12.0, 0.0),
    "Inspector": (40.0, 1.0),
    "Reporter": (1300.0, 50.0),
    "Interactions": (300.0, 0.0),
    "Fetcher": (1500.0, 0.0),
    "Joiner": (300.0, 0.0),
    "Backfill": (1200.0, 0.0),
}
#: Where a function's logical id does not start with its name (a construct nests it).
LOGICAL_ID_PREFIX = {"Joiner": "ChannelJoiner", "Backfill": "BackfillReader"}
#: Bytes of one log line: Lambda's START/END/REPORT lines of an invocation together (written only when
#: the function's system log level is INFO or DEBUG; the stack sets WARN), a Powertools JSON line, one
#: Powertools EMF metrics document, one single-metric document (FindingsByDetector). Sizes of the lines
#: in the e2e run. The access log's line is sized from the template's format (``access_log_bytes``).
LOG_BYTES = {"platform": 360, "line": 480, "emf": 420, "single_metric": 380}
#: CloudWatch Logs counts 26 bytes per log event on top of its message (as PutLogEvents' size does).
LOG_EVENT_OVERHEAD_BYTES = 26
#: Ingest on its happy path (a message verified and enqueued) logs no line and emits no metric
#: document: only rejections, skips, deduplicated retries and failures do, which this model leaves
#: out. Functions that consume a queue emit one metrics document per invocation.
SILENT_HAPPY_PATH = frozenset({"Ingest"})
#: Ingest records a Slack event for deduplication only when its first delivery is slow or Slack
#: retries it; a fast first delivery writes nothing. Modelled as 1% of events. A marker claimed
#: before the enqueue is a short lease, confirmed by a second write once enqueued (a marker written
#: after a slow enqueue is one write): modelled at two.
DEDUP_WRITE_SHARE = 0.01
DEDUP_WRITES_PER_RECORD = 2
#: Custom metrics published in normal operation (a custom metric is billed by the hour it is published,
#: so error counters cost next to nothing), plus FindingsByDetector per active detector. Events
#: received and enqueued are the free AWS/ApiGateway Count and AWS/SQS NumberOfMessagesSent.
STEADY_METRICS = (
    "EventsSkipped",
    "EventsDeduplicated",
    "RequestsRejected",
    "ItemsInspected",
    "ItemsWithFindings",
    "Findings",
    "FindingsAllowlisted",
    "AlertsPosted",
    "DigestsPosted",
    "AlertsDeduplicated",
    "FindingEventsPublished",
    "AlertsTriaged",
)
#: Published only while files are shared.
FILE_METRICS = ("FilesEnqueued", "FileChunksEnqueued", "FilesSkipped")
#: What the access log's variables typically expand to (a Slack request over IPv4); others: 10 bytes.
ACCESS_LOG_VALUES = {
    "$context.requestId": "Pq8z2jWDIAMEbQ=",
    "$context.extendedRequestId": "Pq8z2jWDIAMEbQ=",
    "$context.identity.sourceIp": "203.0.113.101",
    "$context.requestTimeEpoch": "1796042316",
    "$context.requestTime": "29/Nov/2026:12:38:36 +0000",
    "$context.routeKey": "POST /slack/events",
    "$context.httpMethod": "POST",
    "$context.path": "/slack/events",
    "$context.resourcePath": "-",
    "$context.protocol": "HTTP/1.1",
    "$context.status": "200",
    "$context.responseLength": "2",
    "$context.responseLatency": "14",
    "$context.integrationLatency": "12",
    "$context.integrationErrorMessage": "-",
}
#: SQS pollers of an event source long-poll even when idle: about five, 20 s each.
IDLE_POLLS_PER_QUEUE_MONTH = 5 * 3 * 60 * 730
#: Compressed size of stored logs relative to ingested (CloudWatch bills storage compressed).
LOG_COMPRESSION = 0.2


@dataclass(frozen=True)
class Workload:
    messages_per_day: float
    files_per_day: float = 0
    #: Share of inspected items with a finding, and findings per such item.
    finding_rate: float = 0.005
    findings_per_alert: float = 1.2
    chunks_per_file: float = 2
    #: Share of alerts someone presses a button on.
    triage_rate: float = 0.5
    active_detectors: int = 10


@dataclass(frozen=True)
class StackShape:
    """What the template says about cost."""

    memory_mb: Mapping[str, int]
    architecture: Mapping[str, str]
    batch_size: int
    batching_window_seconds: int
    data_key_reuse_seconds: Mapping[str, int]
    secrets: int
    kms_keys: int
    alarms: int
    dashboards: int
    event_sources: int
    tracing: bool
    event_bus: bool
    #: Functions whose START/END/REPORT lines are written (system log level INFO or DEBUG, or text logs).
    platform_logs: frozenset[str] = frozenset()
    #: Bytes of one access-log line of the API (0: no access log).
    access_log_bytes: int = 0
    #: The reporter tells a message's author (``notify_author``): one more step per alert.
    notify_author: bool = True

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> StackShape:
        resources = template.get("Resources", {})

        def of(kind: str) -> dict[str, Any]:
            return {k: r.get("Properties", {}) for k, r in resources.items() if r.get("Type") == kind}

        functions = of("AWS::Lambda::Function")
        memory, architecture, tracing, platform_logs = {}, {}, False, set()
        for name in DURATION_MS:
            found = [p for k, p in functions.items() if k.startswith(LOGICAL_ID_PREFIX.get(name, name))]
            if found:
                memory[name] = int(found[0].get("MemorySize", 128))
                architecture[name] = (found[0].get("Architectures") or ["x86_64"])[0]
                tracing |= found[0].get("TracingConfig", {}).get("Mode") == "Active"
                logging = found[0].get("LoggingConfig") or {}
                if logging.get("LogFormat") != "JSON" or logging.get("SystemLogLevel", "INFO") in ("INFO", "DEBUG"):
                    platform_logs.add(name)
        mappings = of("AWS::Lambda::EventSourceMapping")
        inspector: dict[str, Any] = max(mappings.values(), key=lambda m: int(m.get("BatchSize", 10)), default={})
        queues = {k: p for k, p in of("AWS::SQS::Queue").items() if "RedrivePolicy" in p}
        reuse = {}
        for prefix in ("Inspect", "Results", "Files"):
            props = next((p for k, p in queues.items() if k.startswith(prefix)), None)
            if props is not None:
                reuse[prefix] = int(props.get("KmsDataKeyReusePeriodSeconds", 300))
        return cls(
            memory_mb=memory,
            architecture=architecture,
            batch_size=int(inspector.get("BatchSize", 100)),
            batching_window_seconds=int(inspector.get("MaximumBatchingWindowInSeconds", 1)),
            data_key_reuse_seconds=reuse,
            secrets=len(of("AWS::SecretsManager::Secret")),
            kms_keys=len(of("AWS::KMS::Key")),
            alarms=len(of("AWS::CloudWatch::Alarm")),
            dashboards=len(of("AWS::CloudWatch::Dashboard")),
            event_sources=len(mappings),
            tracing=tracing,
            event_bus=bool(of("AWS::Events::EventBus")) or _env_has(functions, "EVENT_BUS_NAME"),
            platform_logs=frozenset(platform_logs),
            notify_author=_env_value(functions, "SLACK_DLP_NOTIFY_AUTHOR", "True").lower() == "true",
            access_log_bytes=max((access_log_bytes(p) for p in of("AWS::ApiGatewayV2::Stage").values()), default=0),
        )


def access_log_bytes(stage: Mapping[str, Any]) -> int:
    """The size of one access-log line of an API stage: its format with typical values."""
    import re

    log_format = (stage.get("AccessLogSettings") or {}).get("Format")
    if not isinstance(log_format, str):
        return 0
    line = re.sub(r"\$context\.[A-Za-z.]+", lambda m: ACCESS_LOG_VALUES.get(m.group(0), "x" * 10), log_format)
    return len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES


@dataclass
class Estimate:
    workload: Workload
    durations: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DURATION_MS))
    components: dict[str, float] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)

    @property
    def messages_per_day(self) -> float:
        return self.workload.messages_per_day

    @property
    def files_per_day(self) -> float:
        return self.workload.files_per_day

    @property
    def monthly_usd(self) -> float:
        return sum(self.components.values())

    @property
    def usd_per_million_messages(self) -> float:
        messages = self.messages_per_day * DAYS_PER_MONTH
        return self.monthly_usd / messages * 1e6 if messages else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "prices_date": PRICES_DATE,
            "region": "us-east-1",
            "messages_per_day": self.messages_per_day,
            "files_per_day": self.files_per_day,
            "monthly_usd": round(self.monthly_usd, 2),
            "usd_per_million_messages": round(self.usd_per_million_messages, 3),
            "components": {k: round(v, 2) for k, v in self.components.items()},
            "usage_per_month": {k: round(v) for k, v in self.usage.items()},
            "assumptions": {
                "duration_ms": dict(self.durations),
                "log_bytes": LOG_BYTES,
                "dedup_write_share": DEDUP_WRITE_SHARE,
                "workload": asdict(self.workload),
            },
        }


@dataclass(frozen=True)
class Volumes:
    """A month of the workload, in the units AWS bills."""

    events: float
    items: float
    results: float
    findings: float
    presses: float
    files: float
    #: Per function: invocations a month and items per invocation.
    invocations: dict[str, tuple[float, float]]

    @classmethod
    def of(cls, shape: StackShape, work: Workload) -> Volumes:
        month = DAYS_PER_MONTH
        events = (work.messages_per_day + work.files_per_day) * month
        items = (work.messages_per_day + work.files_per_day * work.chunks_per_file) * month
        # The event source fills a batch for its window, up to the batch size.
        batch = min(shape.batch_size, max(1.0, items / SECONDS_PER_MONTH * max(1, shape.batching_window_seconds)))
        results = items * work.finding_rate
        presses = results * work.triage_rate
        files = work.files_per_day * month
        return cls(
            events=events,
            items=items,
            results=results,
            findings=results * work.findings_per_alert,
            presses=presses,
            files=files,
            invocations={
                "Ingest": (events, 1.0),
                "Inspector": (items / batch, batch),
                "Reporter": (results, 1.0),
                "Interactions": (presses, 1.0),
                "Fetcher": (files, 1.0),
                "Joiner": (0.0, 1.0),  # a join per new public channel: next to nothing
                "Backfill": (0.0, 1.0),  # on demand: a page read per 200 messages of history, when run
            },
        )


def estimate(shape: StackShape, work: Workload, durations: Mapping[str, tuple[float, float]] | None = None) -> Estimate:
    """The monthly bill of ``shape`` at ``work``, component by component."""
    volumes = Volumes.of(shape, work)
    est = Estimate(work, {**DURATION_MS, **(durations or {})})
    est.components["API Gateway (HTTP API)"] = volumes.events / 1e6 * PRICES["http_api_per_million"]
    est.usage["api_requests"] = volumes.events
    _compute(est, shape, volumes)
    _queues_and_tables(est, shape, volumes)
    _keys_and_secrets(est, shape, volumes)
    _observability(est, shape, volumes, work)
    if shape.event_bus:
        est.components["EventBridge"] = (volumes.findings + volumes.presses) / 1e6 * PRICES["eventbridge_per_million"]
        est.usage["bus_events"] = volumes.findings + volumes.presses
    return est


def _compute(est: Estimate, shape: StackShape, volumes: Volumes) -> None:
    for name, (count, per) in volumes.invocations.items():
        if name not in shape.memory_mb:
            continue
        fixed_ms, item_ms = est.durations[name]
        gb_seconds = count * (fixed_ms + item_ms * per) / 1000 * shape.memory_mb[name] / 1024
        rate = PRICES["lambda_gb_second_arm64" if shape.architecture[name] == "arm64" else "lambda_gb_second_x86_64"]
        requests = count / 1e6 * PRICES["lambda_request_per_million"]
        est.components[f"Lambda {name} ({shape.memory_mb[name]} MB)"] = requests + gb_seconds * rate
        est.usage[f"{name.lower()}_invocations"] = count
    if shape.tracing:
        # Lambda samples the first request each second and 5% of the rest.
        traced = sum(min(n, SECONDS_PER_MONTH + 0.05 * n) for n, _ in volumes.invocations.values())
        est.components["X-Ray"] = traced / 1e6 * PRICES["xray_trace_per_million"]


def _queues_and_tables(est: Estimate, shape: StackShape, volumes: Volumes) -> None:
    # SQS: sends; each event source's receives and batch deletes (at most ten messages a call each way),
    # the reporter's top-up; idle long polls. A receive is counted full (ten messages); at low rates a long
    # poll returns as soon as one message is there, so receives can be more.
    sqs = volumes.items + volumes.results + volumes.files
    sqs += sum(
        count * 2 * math.ceil(per / 10)
        for name, (count, per) in volumes.invocations.items()
        if name in ("Inspector", "Reporter", "Fetcher")
    )
    sqs += volumes.results
    sqs += shape.event_sources * IDLE_POLLS_PER_QUEUE_MONTH
    est.components["SQS"] = sqs / 1e6 * PRICES["sqs_per_million"]
    est.usage["sqs_requests"] = sqs
    # DynamoDB: ingest dedup (a write for the events it records, DEDUP_WRITE_SHARE);
    # per alert, in the reporter: the claim of its alert key before the post (1; a digest claims its
    # results in one transaction, 2 units each, but the model posts each result alone), the post's
    # idempotency record (claim and complete: 2), the alert log's marks (posted, then followed up: 2),
    # each later step's idempotency record (2 each: the audit, the author's notice, the event-bus
    # publication) and the audit record itself (1); per press: audit + allowlist. Reads: the alert
    # log's lookup per result (strongly consistent: 1), and the inspector's allowlist read for each
    # item with findings (eventually consistent: 0.5).
    steps = 1 + shape.notify_author + shape.event_bus
    per_result = 1 + 2 + 2 + 2 * steps + 1
    dedup_writes = volumes.events * DEDUP_WRITE_SHARE * DEDUP_WRITES_PER_RECORD
    writes = dedup_writes + volumes.results * per_result + volumes.presses * 2
    reads = volumes.results + volumes.findings * 0.5
    audit_gb = volumes.results * 12 * 600 / 1e9  # a year of audit records, about 600 bytes each
    est.components["DynamoDB"] = (
        writes / 1e6 * PRICES["dynamodb_write_per_million"]
        + reads / 1e6 * PRICES["dynamodb_read_per_million"]
        + audit_gb * PRICES["dynamodb_gb_month"]
    )
    est.usage["dynamodb_writes"], est.usage["dynamodb_reads"] = writes, reads
    est.usage["dedup_writes"] = dedup_writes


def _keys_and_secrets(est: Estimate, shape: StackShape, volumes: Volumes) -> None:
    # SQS asks KMS for a data key once per reuse period per producer and consumer; a secret read decrypts.
    secret_reads = _secret_reads(volumes.invocations, est.durations)
    kms_requests = sum(3 * SECONDS_PER_MONTH / reuse for reuse in shape.data_key_reuse_seconds.values())
    kms_requests += secret_reads
    est.components["KMS"] = shape.kms_keys * PRICES["kms_key_month"] + kms_requests / 1e4 * PRICES["kms_per_10k"]
    est.components["Secrets Manager"] = (
        shape.secrets * PRICES["secret_month"] + secret_reads / 1e4 * PRICES["secrets_per_10k"]
    )
    est.usage["kms_requests"], est.usage["secret_reads"] = kms_requests, secret_reads


def _observability(est: Estimate, shape: StackShape, volumes: Volumes, work: Workload) -> None:
    overhead = LOG_EVENT_OVERHEAD_BYTES
    log_bytes = volumes.events * shape.access_log_bytes  # one access-log line per request
    for name, (count, _) in volumes.invocations.items():
        if name not in shape.memory_mb:  # not in this stack
            continue
        if name in shape.platform_logs:
            log_bytes += count * (LOG_BYTES["platform"] + 3 * overhead)
        if name not in SILENT_HAPPY_PATH:
            log_bytes += count * (LOG_BYTES["emf"] + overhead)
    # per item with findings: the inspector's and the reporter's line, a FindingsByDetector document each
    log_bytes += volumes.results * (
        2 * (LOG_BYTES["line"] + overhead) + (LOG_BYTES["single_metric"] + overhead) * work.findings_per_alert
    )
    log_gb = log_bytes / 1e9
    est.components["CloudWatch Logs"] = log_gb * (
        PRICES["logs_ingest_gb"] + LOG_COMPRESSION * PRICES["logs_store_gb_month"]
    )
    metrics = len(STEADY_METRICS) + work.active_detectors + (len(FILE_METRICS) if volumes.files else 0)
    est.components["CloudWatch metrics, alarms, dashboard"] = (
        metrics * PRICES["custom_metric_month"]
        + shape.alarms * PRICES["alarm_month"]
        + shape.dashboards * PRICES["dashboard_month"]
    )
    est.usage["log_gb"] = log_gb
    est.usage["custom_metrics"] = metrics


def _secret_reads(
    invocations: Mapping[str, tuple[float, float]], durations: Mapping[str, tuple[float, float]]
) -> float:
    """A warm container re-reads each secret at most once a minute, and only when it is invoked."""
    secrets_per_function = {
        "Ingest": 1,
        "Reporter": 1,
        "Interactions": 2,
        "Fetcher": 1,
        "Inspector": 0,
        "Joiner": 1,
        "Backfill": 1,
    }
    minutes = SECONDS_PER_MONTH / 60
    reads = 0.0
    for name, (count, _) in invocations.items():
        containers = max(1.0, count / SECONDS_PER_MONTH * durations[name][0] / 1000 * 2)
        reads += secrets_per_function[name] * min(count, minutes * containers)
    return reads


def _env_value(functions: Mapping[str, Any], name: str, default: str) -> str:
    """A variable's value in the first function environment that has it."""
    for function in functions.values():
        value = function.get("Environment", {}).get("Variables", {}).get(name)
        if isinstance(value, str):
            return value
    return default


def _env_has(functions: Mapping[str, Any], name: str) -> bool:
    return any(name in f.get("Environment", {}).get("Variables", {}) for f in functions.values())


# -- the command -------------------------------------------------------------------------------------


def register(commands: Any) -> None:
    cost = commands.add_parser("cost", help="monthly cost of the synthesized stack at a given volume")
    cost.add_argument("--messages-per-day", type=float, default=1_000_000, metavar="N")
    cost.add_argument("--files-per-day", type=float, default=0, metavar="N")
    cost.add_argument(
        "--finding-rate",
        type=float,
        default=Workload.finding_rate,
        help="share of messages with a finding (default 0.005)",
    )
    cost.add_argument("--template", metavar="FILE", help="a synthesized template (default: synthesize this app)")
    cost.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="cdk context for the synthesis, as for cdk synth",
    )
    cost.add_argument(
        "--measured",
        action="store_true",
        help="use the deployed stack's average durations (REPORT lines, else AWS/Lambda Duration) instead of the table",
    )
    cost.add_argument("--hours", type=float, default=24, help="with --measured: over the last N hours (default 24)")
    cost.add_argument("--json", action="store_true")
    add_stack_arguments(cost)
    cost.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.messages_per_day <= 0 or args.files_per_day < 0 or not 0 <= args.finding_rate <= 1:
        raise UsageError("volumes must be positive and --finding-rate between 0 and 1")
    template = _load_template(args.template) if args.template else synthesize(_context(args.context))
    work = Workload(args.messages_per_day, args.files_per_day, finding_rate=args.finding_rate)
    durations = measured_durations(StackTarget.from_args(args), args.hours) if args.measured else None
    result = estimate(StackShape.from_template(template), work, durations)
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(result))
    return EXIT_CLEAN


def render(result: Estimate) -> str:
    lines = [
        f"slack-dlp at {result.messages_per_day:,.0f} messages and {result.files_per_day:,.0f} files a day "
        f"(us-east-1 list prices of {PRICES_DATE}, no free tier)",
        "",
        "| Component | USD / month |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {usd:,.2f} |" for name, usd in sorted(result.components.items(), key=lambda kv: -kv[1])]
    lines += [
        f"| **Total** | **{result.monthly_usd:,.2f}** |",
        "",
        f"USD per million messages: {result.usd_per_million_messages:.2f}",
    ]
    return "\n".join(lines)


def measured_durations(stack: StackTarget, hours: float, max_samples: int = 10_000) -> dict[str, tuple[float, float]]:
    """Average milliseconds per invocation of each of the stack's functions over the last ``hours``; the
    measured average already includes the items each invocation handled. From the REPORT lines in the
    function's log group where Lambda writes them (system logs at INFO; MiniStack always does), else
    from CloudWatch's ``AWS/Lambda`` ``Duration`` (the stack sets system logs to WARN: no REPORT lines)."""
    import time

    cloudformation, lambdas = stack.client("cloudformation"), stack.client("lambda")
    functions = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack.stack_name):
        for resource in page.get("StackResourceSummaries", []):
            if resource["ResourceType"] == "AWS::Lambda::Function":
                functions[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    end = time.time()
    measured: dict[str, tuple[float, float]] = {}
    for name in DURATION_MS:
        prefix = LOGICAL_ID_PREFIX.get(name, name)
        physical = next((p for logical, p in functions.items() if logical.startswith(prefix)), None)
        if physical is None:
            continue
        config = lambdas.get_function_configuration(FunctionName=physical)
        group = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{physical}"
        average = _report_lines_average(stack.client("logs"), group, end - hours * 3600, max_samples)
        if average is None:
            average = _duration_metric_average(stack.client("cloudwatch"), physical, end, hours)
        if average is not None:
            measured[name] = (average, 0.0)
    if not measured:
        raise UsageError(
            f"no REPORT lines and no AWS/Lambda Duration of stack {stack.stack_name!r} in the last {hours:g} hours"
        )
    return measured


def _report_lines_average(logs: Any, group: str, start: float, max_samples: int) -> float | None:
    import re

    durations: list[float] = []
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(start * 1000),
        "filterPattern": '"REPORT RequestId"',
    }
    while len(durations) < max_samples:
        response = logs.filter_log_events(**kwargs)
        for event in response.get("events", []):
            match = re.search(r"\tDuration: ([0-9.]+) ms", event.get("message", ""))
            if match:
                durations.append(float(match.group(1)))
        if not response.get("nextToken"):
            break
        kwargs["nextToken"] = response["nextToken"]
    return sum(durations) / len(durations) if durations else None


def _duration_metric_average(cloudwatch: Any, function_name: str, end: float, hours: float) -> float | None:
    """The average of ``AWS/Lambda`` ``Duration`` over the window: hourly averages weighted by their
    invocations (SampleCount), so a busy hour counts for what it was."""
    from datetime import UTC, datetime

    period = 3600 if hours >= 1 else 60
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Duration",
        Dimensions=[{"Name": "FunctionName", "Value": function_name}],
        StartTime=datetime.fromtimestamp(end - hours * 3600, UTC),
        EndTime=datetime.fromtimestamp(end, UTC),
        Period=period,
        Statistics=["Average", "SampleCount"],
    ).get("Datapoints", [])
    invocations = sum(float(p.get("SampleCount", 0)) for p in points)
    if not invocations:
        return None
    return sum(float(p["Average"]) * float(p["SampleCount"]) for p in points if p.get("SampleCount")) / invocations


def _context(pairs: list[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--context takes KEY=VALUE, not {pair!r}")
        context[key] = value
    return context


def _load_template(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except ValueError:
        raise UsageError(f"{path} is not a JSON template") from None
    if not isinstance(data, dict) or "Resources" not in data:
        raise UsageError(f"{path} is not a CloudFormation template")
    return data


def synthesize(context: Mapping[str, str]) -> dict[str, Any]:
    """This checkout's CDK app, synthesized in-process (Node, no AWS credentials)."""
    import os

    repo = Path(__file__).resolve().parents[3]
    if not (repo / "app.py").exists():
        raise UsageError("no app.py next to the tools: pass --template cdk.out/SlackDlp.template.json")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    for path in (repo, repo / "functions"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import importlib

    from aws_cdk import assertions

    app = importlib.import_module("app").build_app(context=dict(context))
    stack_name = context.get("stack_name", "SlackDlp")
    return dict(assertions.Template.from_stack(app.node.find_child(stack_name)).to_json())
