"""Operating the stack: the dashboard, alarms that notify, the event bus, opt-in tracing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import assertions

from app import build_app

CONTEXT = {"alert_channel": "C0ALERTS"}
#: Every option of this issue that changes the template, in one synth (each costs seconds).
OPTIONS = {
    **CONTEXT,
    "tracing": "true",
    "alarm_email": "secops@example.com",
    "event_bus_name": "security-findings",
    "dlp_provider": "google",
    "dlp_project": "acme-dlp",
    "log_level": "WARNING",
}


def _template(context: dict[str, str]) -> assertions.Template:
    app = build_app(context=context)
    return assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def template() -> assertions.Template:
    return _template(CONTEXT)


@pytest.fixture(scope="module")
def with_options() -> assertions.Template:
    # A full synth runs cdk-nag: every option passes the AwsSolutions checks.
    app = build_app(context=OPTIONS)
    app.synth()
    return assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]


def _resources(template: assertions.Template, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def _function(template: assertions.Template, prefix: str) -> dict[str, Any]:
    return next(
        f["Properties"] for k, f in _resources(template, "AWS::Lambda::Function").items() if k.startswith(prefix)
    )


def test_dashboard_is_named_by_the_stack_and_shows_every_function_and_queue(template: assertions.Template) -> None:
    # GIVEN the synthesized stack WHEN its dashboard is read
    [dashboard] = _resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    # THEN it is named after the stack, and every function and every queue (DLQs too) is on it
    assert dashboard["Properties"]["DashboardName"] == "SlackDlp"
    functions = _resources(template, "AWS::Lambda::Function")
    queues = _resources(template, "AWS::SQS::Queue")
    assert len(functions) >= 5 and len(queues) >= 6
    for logical_id in [*functions, *queues]:
        assert f'"{logical_id}"' in body, f"{logical_id} is not on the dashboard"
    # AND it plots what an operator asks first
    for shown in (
        "EventsRateLimited",
        "ApproximateAgeOfOldestMessage",
        "DlpRequests",
        "DlpRateLimited",
        "FindingsByDetector",
        "AlertsPosted",
        "DigestsPosted",
        "slack_error",
        "FilesSkipped",
        "5xx",
        "Throttles",
        "p99",
        "cold start",
        "NumberOfMessagesSent",
        "Backfill",
        "DLP quota",
    ):
        assert shown in body, shown
    assert "DashboardUrl" in template.find_outputs("*")


def test_the_cold_start_widget_says_when_the_log_level_hides_the_line_it_counts(
    template: assertions.Template, with_options: assertions.Template
) -> None:
    # GIVEN the default stack (log_level INFO) and one at log_level=WARNING
    default, quiet = (
        json.dumps(next(iter(_resources(t, "AWS::CloudWatch::Dashboard").values()))["Properties"]["DashboardBody"])
        for t in (template, with_options)
    )
    # THEN the default one counts cold starts, and the other says why its widget reads nothing
    assert '"Cold starts"' in default.replace('\\"', '"') and "not logged" not in default
    assert "Cold starts: not logged at log_level WARNING" in quiet


def test_events_received_and_enqueued_are_free_aws_metrics_and_nothing_reads_events_enqueued(
    template: assertions.Template,
) -> None:
    # GIVEN the dashboard and the alarms (ingest emits no metric for an event it enqueues)
    [dashboard] = _resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    alarms = json.dumps(_resources(template, "AWS::CloudWatch::Alarm"))
    # THEN events received are the API's request count and enqueued the inspect queue's sends
    assert '\\"AWS/ApiGateway\\",\\"Count\\"' in body
    assert '\\"AWS/SQS\\",\\"NumberOfMessagesSent\\"' in body
    # AND no widget or alarm depends on the custom metric
    assert "EventsEnqueued" not in body and "EventsEnqueued" not in alarms


def test_functions_write_json_logs_without_lambdas_platform_lines(
    template: assertions.Template, with_options: assertions.Template
) -> None:
    # GIVEN every function of the default stack, and of one with log_level=WARNING
    for t, application_level in ((template, "INFO"), (with_options, "INFO")):
        for logical_id, function in _resources(t, "AWS::Lambda::Function").items():
            # THEN Lambda writes no START/END/REPORT lines (system logs at WARN), and keeps INFO application
            # lines: Powertools' metric documents carry no level and count as INFO
            assert function["Properties"]["LoggingConfig"] == {
                "LogFormat": "JSON",
                "SystemLogLevel": "WARN",
                "ApplicationLogLevel": application_level,
                "LogGroup": function["Properties"]["LoggingConfig"]["LogGroup"],
            }, logical_id


def test_application_log_level_follows_the_setting_but_never_drops_metrics() -> None:
    from aws_cdk import aws_lambda as lambda_

    from infra.functions import application_log_level

    assert application_log_level("DEBUG") == lambda_.ApplicationLogLevel.DEBUG
    for level in ("INFO", "WARNING", "ERROR", "CRITICAL"):
        assert application_log_level(level) == lambda_.ApplicationLogLevel.INFO


def test_access_log_is_kept_and_lean_and_queues_reuse_data_keys_for_a_day(template: assertions.Template) -> None:
    from slack_dlp_tools.cli.cost import access_log_bytes

    [stage] = _resources(template, "AWS::ApiGatewayV2::Stage").values()
    log_format = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    # THEN each request is logged with who, when, which route, the status and an integration error
    assert set(log_format.values()) >= {
        "$context.requestId",
        "$context.identity.sourceIp",
        "$context.requestTimeEpoch",
        "$context.routeKey",
        "$context.status",
        "$context.integrationErrorMessage",
    }
    # AND a line stays small (it is paid for every Slack event)
    assert access_log_bytes(stage["Properties"]) <= 200
    for logical_id, queue in _resources(template, "AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsDataKeyReusePeriodSeconds"] == 86400, logical_id


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(template: assertions.Template) -> None:
    [topic_id] = _resources(template, "AWS::SNS::Topic")
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic_id}], logical_id
        assert props["OKActions"] == [{"Ref": topic_id}], logical_id
        assert "Metrics" not in props, "metric math alarms do not deploy in MiniStack"
    names = {a["Properties"]["MetricName"] for a in alarms.values()}
    assert {"ApproximateAgeOfOldestMessage", "5xx", "AlertConfigErrors", "EventsRateLimited"} <= names
    per_function = [a for a in alarms.values() if a["Properties"]["MetricName"] in ("Errors", "Throttles")]
    assert len(per_function) == 2 * len(_resources(template, "AWS::Lambda::Function"))


def test_an_alarm_added_later_anywhere_in_the_stack_notifies_too() -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    app = build_app(context=CONTEXT)
    stack = app.node.find_child("SlackDlp")
    cloudwatch.Alarm(
        stack, "Later", metric=cloudwatch.Metric(namespace="X", metric_name="Y"), threshold=1, evaluation_periods=1
    )  # type: ignore[arg-type]
    template = assertions.Template.from_stack(stack)  # type: ignore[arg-type]
    later = next(a for k, a in _resources(template, "AWS::CloudWatch::Alarm").items() if k.startswith("Later"))
    assert later["Properties"]["AlarmActions"] and later["Properties"]["OKActions"]


def test_alarm_topic_is_kms_encrypted_ssl_only_and_cloudwatch_may_use_its_key(template: assertions.Template) -> None:
    [topic] = _resources(template, "AWS::SNS::Topic").values()
    key_ref = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_policy = json.dumps(_resources(template, "AWS::KMS::Key")[key_ref]["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in key_policy
    policies = json.dumps(_resources(template, "AWS::SNS::TopicPolicy"))
    assert '"aws:SecureTransport": "false"' in policies
    assert '"Service": "cloudwatch.amazonaws.com"' in policies and "sns:Publish" in policies
    assert not _resources(template, "AWS::SNS::Subscription")


def test_alarm_email_subscribes_and_an_existing_topic_replaces_the_stacks_own(
    with_options: assertions.Template,
) -> None:
    with_options.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "secops@example.com"}
    )
    existing = "arn:aws:sns:us-east-1:111111111111:secops-pager"
    template = _template({**CONTEXT, "alarm_topic_arn": existing})
    assert not _resources(template, "AWS::SNS::Topic")
    for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [existing] == alarm["Properties"]["OKActions"]


def test_sustained_dlp_429s_alarm_with_the_google_provider(
    template: assertions.Template, with_options: assertions.Template
) -> None:
    def dlp_alarms(t: assertions.Template) -> list[dict[str, Any]]:
        return [
            a
            for a in _resources(t, "AWS::CloudWatch::Alarm").values()
            if a["Properties"]["MetricName"] == "DlpRateLimited"
        ]

    assert not dlp_alarms(template)
    [alarm] = dlp_alarms(with_options)
    assert alarm["Properties"]["EvaluationPeriods"] >= 3


def test_findings_bus_and_only_the_reporter_and_interactions_may_put_events(template: assertions.Template) -> None:
    [bus_id] = _resources(template, "AWS::Events::EventBus")
    template.has_resource_properties("AWS::Events::EventBus", {"Name": "SlackDlp"})
    policies = {k: json.dumps(p["Properties"]) for k, p in _resources(template, "AWS::IAM::Policy").items()}
    putters = sorted(k[:8] for k, p in policies.items() if "events:PutEvents" in p)
    assert putters == ["Interact", "Reporter"]
    for key in ("Reporter", "Interactions"):
        assert _function(template, key)["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": bus_id}
    assert "EVENT_BUS_NAME" not in _function(template, "Inspector")["Environment"]["Variables"]
    assert {"EventBusName", "EventBusArn"} <= set(template.find_outputs("*"))


def test_an_existing_event_bus_is_used_instead_of_the_stacks_own(with_options: assertions.Template) -> None:
    assert not _resources(with_options, "AWS::Events::EventBus")
    assert _function(with_options, "Reporter")["Environment"]["Variables"]["EVENT_BUS_NAME"] == "security-findings"
    assert "security-findings" in json.dumps(_resources(with_options, "AWS::IAM::Policy"))


def test_tracing_is_off_by_default_and_active_on_every_function_with_the_flag(
    template: assertions.Template, with_options: assertions.Template
) -> None:
    for function in _resources(template, "AWS::Lambda::Function").values():
        assert "TracingConfig" not in function["Properties"]
        assert function["Properties"]["Environment"]["Variables"]["SLACK_DLP_TRACING"] == "False"
    assert "xray:" not in json.dumps(_resources(template, "AWS::IAM::Policy"))
    traced = _resources(with_options, "AWS::Lambda::Function")
    for function in traced.values():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
        assert function["Properties"]["Environment"]["Variables"]["SLACK_DLP_TRACING"] == "True"
    assert json.dumps(_resources(with_options, "AWS::IAM::Policy")).count("xray:PutTraceSegments") == len(traced)


def test_cost_is_computed_from_the_synthesized_template(
    template: assertions.Template, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from slack_dlp_tools.cli import main
    from slack_dlp_tools.cli.cost import DAYS_PER_MONTH, LOGICAL_ID_PREFIX, StackShape, Workload, estimate

    # GIVEN the synthesized template WHEN its shape is read THEN memory and counts come from it
    data = template.to_json()
    shape = StackShape.from_template(data)
    functions = _resources(template, "AWS::Lambda::Function")
    for name, memory in shape.memory_mb.items():
        assert memory == _function(template, LOGICAL_ID_PREFIX.get(name, name))["MemorySize"]
    assert len(shape.memory_mb) == len(functions)
    assert shape.alarms == len(_resources(template, "AWS::CloudWatch::Alarm")) and shape.dashboards == 1
    assert shape.event_bus and not shape.tracing and shape.batch_size == 100
    assert shape.notify_author and not shape.platform_logs and shape.access_log_bytes > 0
    # AND the command prints the monthly figure per component and per million messages
    path = tmp_path / "SlackDlp.template.json"
    path.write_text(json.dumps(data))
    assert main(["cost", "--template", str(path), "--messages-per-day", "1000000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["usd_per_million_messages"] == pytest.approx(out["monthly_usd"] / (DAYS_PER_MONTH), rel=1e-3)
    assert {"API Gateway (HTTP API)", "SQS", "DynamoDB", "KMS", "Secrets Manager", "CloudWatch Logs",
            "EventBridge"} <= set(out["components"])  # fmt: skip
    assert any(name.startswith("Lambda Inspector") for name in out["components"])
    # AND a bigger memory costs more; fixed costs spread over more messages
    bigger = StackShape.from_template(json.loads(json.dumps(data).replace('"MemorySize": 512', '"MemorySize": 2048')))
    one, ten = estimate(shape, Workload(1e6)), estimate(shape, Workload(1e7))
    assert estimate(bigger, Workload(1e6)).monthly_usd > one.monthly_usd
    assert ten.monthly_usd > one.monthly_usd and ten.usd_per_million_messages < one.usd_per_million_messages
