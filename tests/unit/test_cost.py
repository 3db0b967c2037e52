"""``slack-dlp cost``: durations measured from a stack's REPORT lines or its AWS/Lambda Duration metric,
and the model's arithmetic."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from slack_dlp_tools.cli.common import StackTarget, UsageError
from slack_dlp_tools.cli.cost import DAYS_PER_MONTH, PRICES, StackShape, Workload, estimate, measured_durations

REPORT = "REPORT RequestId: {id}\tDuration: {ms} ms\tBilled Duration: {ms} ms\tMemory Size: 512 MB"


class _Paginator:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self._pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self._pages


class _Clients:
    """CloudFormation, Lambda and CloudWatch Logs of a stack with two functions, one never invoked."""

    def __init__(self) -> None:
        self.resources = [
            {
                "ResourceType": "AWS::Lambda::Function",
                "LogicalResourceId": "IngestFunctionAB12",
                "PhysicalResourceId": "ingest-fn",
            },
            {
                "ResourceType": "AWS::Lambda::Function",
                "LogicalResourceId": "ReporterFunctionCD34",
                "PhysicalResourceId": "reporter-fn",
            },
            {"ResourceType": "AWS::SQS::Queue", "LogicalResourceId": "InspectQueue", "PhysicalResourceId": "q"},
        ]
        self.pages = {
            "/slack-dlp/ingest": [
                {
                    "events": [{"message": REPORT.format(id=1, ms=10)}, {"message": "START RequestId: 2"}],
                    "nextToken": "n",
                },
                {"events": [{"message": REPORT.format(id=3, ms=30.5)}]},
            ],
            "/aws/lambda/reporter-fn": [{"events": []}],
        }
        #: AWS/Lambda Duration datapoints per function name (hourly: average and invocations).
        self.durations: dict[str, list[dict[str, Any]]] = {}
        self.metric_queries: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_stack_resources"
        return _Paginator([{"StackResourceSummaries": self.resources}])

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return {"LoggingConfig": {"LogGroup": "/slack-dlp/ingest"}} if FunctionName == "ingest-fn" else {}

    def filter_log_events(self, logGroupName: str, nextToken: str = "", **_: Any) -> dict[str, Any]:
        pages = self.pages[logGroupName]
        return pages[1] if nextToken else pages[0]

    def get_metric_statistics(self, **query: Any) -> dict[str, Any]:
        self.metric_queries.append(query)
        [dimension] = query["Dimensions"]
        return {"Datapoints": self.durations.get(dimension["Value"], [])}


class _Stack(StackTarget):
    def __init__(self, clients: _Clients) -> None:
        super().__init__(stack_name="SlackDlp")
        self._clients = clients

    def client(self, service: str) -> Any:
        return self._clients


def test_measured_durations_average_the_report_lines_of_each_invoked_function() -> None:
    assert measured_durations(_Stack(_Clients()), hours=1) == {"Ingest": (20.25, 0.0)}


def test_without_report_lines_the_duration_metric_is_averaged_by_invocations() -> None:
    # GIVEN a stack whose functions write no REPORT lines (system logs at WARN), and the reporter's
    # Duration metric: 100 invocations at 200 ms in one hour, 300 at 1,000 ms in the next
    clients = _Clients()
    clients.pages["/slack-dlp/ingest"] = [{"events": []}]
    clients.durations["reporter-fn"] = [
        {"Average": 200.0, "SampleCount": 100.0},
        {"Average": 1000.0, "SampleCount": 300.0},
    ]
    # WHEN durations are measured over 24 hours
    measured = measured_durations(_Stack(clients), hours=24)
    # THEN the reporter's is the average per invocation; ingest, never invoked, keeps the table's
    assert measured == {"Reporter": (800.0, 0.0)}
    reporter_query = next(q for q in clients.metric_queries if q["Dimensions"][0]["Value"] == "reporter-fn")
    assert reporter_query["Namespace"] == "AWS/Lambda" and reporter_query["MetricName"] == "Duration"
    assert reporter_query["Period"] == 3600 and set(reporter_query["Statistics"]) == {"Average", "SampleCount"}


def test_report_lines_are_preferred_to_the_metric_where_a_function_writes_them() -> None:
    clients = _Clients()
    clients.durations["ingest-fn"] = [{"Average": 999.0, "SampleCount": 10.0}]
    assert measured_durations(_Stack(clients), hours=1)["Ingest"] == (20.25, 0.0)


def test_no_report_lines_and_no_metric_is_a_usage_error() -> None:
    clients = _Clients()
    clients.pages["/slack-dlp/ingest"] = [{"events": []}]
    with pytest.raises(UsageError, match="no REPORT lines and no AWS/Lambda Duration"):
        measured_durations(_Stack(clients), hours=1)


def test_the_api_line_is_one_request_per_event_at_the_list_price() -> None:
    shape = StackShape.from_template({"Resources": {}})
    result = estimate(shape, Workload(messages_per_day=2_000_000, files_per_day=10_000))
    events = 2_010_000 * DAYS_PER_MONTH
    assert result.components["API Gateway (HTTP API)"] == pytest.approx(events / 1e6 * PRICES["http_api_per_million"])
    assert result.usage["api_requests"] == pytest.approx(events)


def _template(system_log_level: str | None, access_log_format: str | None = None) -> dict[str, Any]:
    """Ingest alone (one invocation per Slack event), its logging config, and the API's stage."""
    logging = {"LogFormat": "JSON", "SystemLogLevel": system_log_level} if system_log_level else {}
    resources: dict[str, Any] = {
        "IngestFunctionAB12": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"MemorySize": 512, "Architectures": ["arm64"], "LoggingConfig": logging},
        }
    }
    if access_log_format:
        resources["ApiStage"] = {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"AccessLogSettings": {"DestinationArn": "arn", "Format": access_log_format}},
        }
    return {"Resources": resources}


def test_ingest_logs_nothing_per_event_when_lambda_writes_no_platform_lines() -> None:
    # GIVEN ingest with system logs at WARN (JSON), and the same with Lambda's default text logs
    quiet, chatty = StackShape.from_template(_template("WARN")), StackShape.from_template(_template(None))
    assert quiet.platform_logs == frozenset() and chatty.platform_logs == {"Ingest"}
    # WHEN a month of a million messages a day is priced
    work = Workload(messages_per_day=1_000_000, finding_rate=0)
    silent, with_platform = estimate(quiet, work), estimate(chatty, work)
    # THEN ingest's happy path adds no log bytes; START/END/REPORT cost 360 bytes + 3 events' overhead each
    assert silent.usage["log_gb"] == 0
    events = 1_000_000 * DAYS_PER_MONTH
    assert with_platform.usage["log_gb"] == pytest.approx(events * (360 + 3 * 26) / 1e9)


def test_access_log_line_is_sized_from_the_stage_format() -> None:
    shape = StackShape.from_template(_template("WARN", '{"id":"$context.requestId","status":"$context.status"}'))
    assert shape.access_log_bytes == len('{"id":"Pq8z2jWDIAMEbQ=","status":"200"}') + 26
    result = estimate(shape, Workload(messages_per_day=1_000_000, finding_rate=0))
    assert result.usage["log_gb"] == pytest.approx(1_000_000 * DAYS_PER_MONTH * shape.access_log_bytes / 1e9)


def test_ingest_writes_to_dynamodb_only_for_the_events_it_records_for_deduplication() -> None:
    from slack_dlp_tools.cli.cost import DEDUP_WRITE_SHARE, DEDUP_WRITES_PER_RECORD

    result = estimate(StackShape.from_template(_template("WARN")), Workload(messages_per_day=1_000_000, finding_rate=0))
    assert result.usage["dedup_writes"] == pytest.approx(
        1_000_000 * DAYS_PER_MONTH * DEDUP_WRITE_SHARE * DEDUP_WRITES_PER_RECORD
    )
    assert result.usage["dynamodb_writes"] == result.usage["dedup_writes"]


def test_file_metrics_are_billed_only_while_files_are_shared() -> None:
    from slack_dlp_tools.cli.cost import FILE_METRICS

    shape = StackShape.from_template(_template("WARN"))
    without = estimate(shape, Workload(messages_per_day=1_000_000))
    with_files = estimate(shape, Workload(messages_per_day=1_000_000, files_per_day=1_000))
    assert with_files.usage["custom_metrics"] - without.usage["custom_metrics"] == len(FILE_METRICS)


def test_each_alert_costs_the_reporters_idempotency_alert_log_and_audit_writes() -> None:
    # GIVEN a stack with the event bus and author notices (the defaults), and one without either
    shape = dataclasses.replace(StackShape.from_template({"Resources": {}}), event_bus=True, notify_author=True)
    plain = dataclasses.replace(shape, event_bus=False, notify_author=False)
    work = Workload(messages_per_day=1_000_000, finding_rate=0.01, triage_rate=0)
    results = 1_000_000 * DAYS_PER_MONTH * 0.01
    dedup = 1_000_000 * DAYS_PER_MONTH * 0.01 * 2  # a claim and its confirmation
    # THEN an alert writes its claim, the post's record (2), two alert-log marks, each step's record (2)
    # and the audit
    assert estimate(shape, work).usage["dynamodb_writes"] == pytest.approx(dedup + results * (1 + 2 + 2 + 2 * 3 + 1))
    assert estimate(plain, work).usage["dynamodb_writes"] == pytest.approx(dedup + results * (1 + 2 + 2 + 2 * 1 + 1))
