"""``slack-dlp cost``: durations measured from a stack's REPORT lines, and the model's arithmetic."""

from __future__ import annotations

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

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_stack_resources"
        return _Paginator([{"StackResourceSummaries": self.resources}])

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return {"LoggingConfig": {"LogGroup": "/slack-dlp/ingest"}} if FunctionName == "ingest-fn" else {}

    def filter_log_events(self, logGroupName: str, nextToken: str = "", **_: Any) -> dict[str, Any]:
        pages = self.pages[logGroupName]
        return pages[1] if nextToken else pages[0]


class _Stack(StackTarget):
    def __init__(self, clients: _Clients) -> None:
        super().__init__(stack_name="SlackDlp")
        self._clients = clients

    def client(self, service: str) -> Any:
        return self._clients


def test_measured_durations_average_the_report_lines_of_each_invoked_function() -> None:
    assert measured_durations(_Stack(_Clients()), hours=1) == {"Ingest": (20.25, 0.0)}


def test_no_report_lines_is_a_usage_error() -> None:
    clients = _Clients()
    clients.pages["/slack-dlp/ingest"] = [{"events": []}]
    with pytest.raises(UsageError, match="no REPORT lines"):
        measured_durations(_Stack(clients), hours=1)


def test_the_api_line_is_one_request_per_event_at_the_list_price() -> None:
    shape = StackShape.from_template({"Resources": {}})
    result = estimate(shape, Workload(messages_per_day=2_000_000, files_per_day=10_000))
    events = 2_010_000 * DAYS_PER_MONTH
    assert result.components["API Gateway (HTTP API)"] == pytest.approx(events / 1e6 * PRICES["http_api_per_million"])
    assert result.usage["api_requests"] == pytest.approx(events)
