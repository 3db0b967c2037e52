"""Assertions on the synthesized template (synthesized once for the module: it takes seconds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions

from app import build_app

CONTEXT = {"alert_channel": "C0ALERTS", "max_concurrency": "7", "batch_size": "100"}


@pytest.fixture(scope="module")
def template() -> assertions.Template:
    app = build_app(context=CONTEXT)
    stack = app.node.find_child("SlackDlp")
    return assertions.Template.from_stack(stack)  # type: ignore[arg-type]


def _resources(template: assertions.Template, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def test_inspector_event_source_batches_100_with_a_window_and_max_concurrency(
    template: assertions.Template,
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 1,
            "ScalingConfig": {"MaximumConcurrency": 7},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_every_event_source_reports_partial_batch_failures(template: assertions.Template) -> None:
    mappings = _resources(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 5
    for mapping in mappings.values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_no_function_caps_throughput_with_reserved_concurrency_below_the_event_source(
    template: assertions.Template,
) -> None:
    for function in _resources(template, "AWS::Lambda::Function").values():
        reserved = function["Properties"].get("ReservedConcurrentExecutions")
        assert reserved is None or reserved >= 7


def test_queues_are_kms_encrypted_ssl_only_with_dlqs_and_long_enough_visibility(
    template: assertions.Template,
) -> None:
    queues = _resources(template, "AWS::SQS::Queue")
    functions = _resources(template, "AWS::Lambda::Function")
    max_timeout = max(f["Properties"]["Timeout"] for f in functions.values())
    main_queues = {k: q for k, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    assert len(main_queues) == 5
    assert len(queues) == 10
    for queue in queues.values():
        assert "KmsMasterKeyId" in queue["Properties"]
    for queue in main_queues.values():
        props = queue["Properties"]
        assert props["RedrivePolicy"]["maxReceiveCount"] >= 5
        assert props["VisibilityTimeout"] >= 6 * 30 + 1
    assert max_timeout <= 120
    policies = json.dumps(_resources(template, "AWS::SQS::QueuePolicy"))
    assert policies.count('"aws:SecureTransport": "false"') == 10


def test_kms_key_rotates(template: assertions.Template) -> None:
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_every_dlq_has_an_alarm(template: assertions.Template) -> None:
    dlqs = [k for k, q in _resources(template, "AWS::SQS::Queue").items() if "RedrivePolicy" not in q["Properties"]]
    alarmed = json.dumps([a["Properties"]["Dimensions"] for a in _resources(template, "AWS::CloudWatch::Alarm").values()
                          if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"])  # fmt: skip
    assert len(dlqs) == 5  # inspect, results, files, join, backfill
    assert all(f'"{dlq}"' in alarmed for dlq in dlqs)


def test_requests_too_large_to_inspect_raise_an_alarm(template: assertions.Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "SlackDlp",
            "MetricName": "RequestsTooLarge",
            "Dimensions": [{"Name": "service", "Value": "slack-dlp"}],
            "Threshold": 1,
        },
    )


def test_settings_reach_the_functions_through_the_environment(template: assertions.Template) -> None:
    for function in _resources(template, "AWS::Lambda::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["SLACK_DLP_ALERT_CHANNEL"] == "C0ALERTS"
        assert env["SLACK_DLP_BATCH_SIZE"] == "100"
        assert env["SLACK_DLP_MAX_CONCURRENCY"] == "7"


def test_functions_get_secret_arns_never_values(template: assertions.Template) -> None:
    rendered = json.dumps(_resources(template, "AWS::Lambda::Function"))
    assert "SLACK_SIGNING_SECRET_ARN" in rendered
    assert "xoxb-" not in rendered
    template.resource_count_is("AWS::SecretsManager::Secret", 3)


def test_each_function_has_its_own_role_and_only_the_grants_it_needs(template: assertions.Template) -> None:
    functions = _resources(template, "AWS::Lambda::Function")
    roles = {json.dumps(f["Properties"]["Role"]) for f in functions.values()}
    assert len(roles) == len(functions) == 7
    assert not any("ManagedPolicyArns" in r["Properties"] for r in _resources(template, "AWS::IAM::Role").values())
    policies = {key: json.dumps(p["Properties"]) for key, p in _resources(template, "AWS::IAM::Policy").items()}
    ingest = next(p for k, p in policies.items() if k.startswith("Ingest"))
    reporter = next(p for k, p in policies.items() if k.startswith("Reporter"))
    assert "sqs:SendMessage" in ingest and "dynamodb:PutItem" in ingest
    # Ingest's dedup markers are written and deleted, never read or updated.
    assert "dynamodb:DeleteItem" in ingest
    assert "dynamodb:GetItem" not in ingest and "dynamodb:UpdateItem" not in ingest
    assert "BotToken" not in ingest and "FingerprintKey" not in ingest
    assert "SigningSecret" not in reporter and "FingerprintKey" not in reporter
    # The reporter sends only to the results DLQ (parking what Slack refuses) and keeps alert idempotency.
    reporter_policy = json.loads(reporter)["PolicyDocument"]["Statement"]
    sends = [st for st in reporter_policy if "sqs:SendMessage" in st["Action"]]
    assert len(sends) == 1
    assert "ResultsQueueDlq" in json.dumps(sends[0]["Resource"])
    for policy in policies.values():
        assert '"Action": "*"' not in policy and "kms:*" not in policy


def test_functions_run_the_latest_python(template: assertions.Template) -> None:
    for function in _resources(template, "AWS::Lambda::Function").values():
        assert function["Properties"]["Runtime"] == "python3.14"


def test_http_api_routes_post_slack_events_with_throttling_and_access_logs(
    template: assertions.Template,
) -> None:
    template.has_resource_properties("AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP"})
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "POST /slack/events"})
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "POST /slack/interactions"})
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "DefaultRouteSettings": assertions.Match.object_like({"ThrottlingRateLimit": assertions.Match.any_value()}),
            "AccessLogSettings": assertions.Match.object_like({"DestinationArn": assertions.Match.any_value()}),
        },
    )


def test_dedup_table_expires_records(template: assertions.Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True}}
    )


def test_request_url_is_an_output(template: assertions.Template) -> None:
    assert "RequestUrl" in template.find_outputs("*")


def test_cdk_nag_runs_during_synth_and_the_stack_passes_it() -> None:
    # GIVEN the app as users deploy it WHEN synthesized THEN AwsSolutions checks pass
    build_app(context=CONTEXT).synth()
    # AND a non-compliant resource makes the same synth fail (the checks really run)
    from aws_cdk import aws_sqs as sqs

    app = build_app(context=CONTEXT)
    stack = app.node.find_child("SlackDlp")
    sqs.Queue(stack, "Unencrypted", encryption=sqs.QueueEncryption.UNENCRYPTED)  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"AwsSolutions-SQS"):
        app.synth()


def test_custom_rules_are_validated_at_synth_and_shipped_in_the_asset(tmp_path: Path) -> None:
    rules = tmp_path / "team-rules.toml"
    rules.write_text("[[detectors]]\nid = \"acme-key\"\nregex = 'acme_[a-z0-9]{32}'\n")
    app = build_app(context={**CONTEXT, "custom_rules": str(rules)})
    assembly = app.synth()
    template = assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]
    env = next(iter(template.find_resources("AWS::Lambda::Function").values()))["Properties"]["Environment"]
    assert json.loads(env["Variables"]["SLACK_DLP_CUSTOM_RULES"]) == ["custom_rules/0-team-rules.toml"]
    shipped = list(Path(assembly.directory).glob("asset.*/custom_rules/0-team-rules.toml"))
    assert shipped
    assert shipped[0].read_text() == rules.read_text()

    rules.write_text('[[detectors]]\nid = "broken"\nregex = "("\n')
    with pytest.raises(Exception, match="broken"):
        build_app(context={**CONTEXT, "custom_rules": str(rules)})


def test_google_provider_adds_the_shared_rate_limiter_and_credentials_for_the_inspector_only() -> None:
    app = build_app(context={**CONTEXT, "dlp_provider": "google", "dlp_project": "acme-dlp"})
    template = assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]
    template.resource_count_is("AWS::DynamoDB::Table", 4)
    template.resource_count_is("AWS::SecretsManager::Secret", 4)
    functions = template.find_resources("AWS::Lambda::Function")
    inspector = next(f for k, f in functions.items() if k.startswith("Inspector"))["Properties"]
    env = inspector["Environment"]["Variables"]
    assert "RATE_LIMIT_TABLE_NAME" in env and "DLP_CREDENTIALS_SECRET_ARN" in env
    assert env["SLACK_DLP_DLP_PROVIDER"] == "google"
    assert env["SLACK_DLP_DLP_REQUESTS_PER_SECOND"] == "10"
    others = [f for k, f in functions.items() if not k.startswith("Inspector")]
    assert all("RATE_LIMIT_TABLE_NAME" not in f["Properties"]["Environment"]["Variables"] for f in others)
    # The event source is sized from the same settings: one SQS batch is one DLP request.
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"BatchSize": 100, "ScalingConfig": {"MaximumConcurrency": 7}}
    )


def test_google_provider_without_a_project_is_refused_at_synth() -> None:
    with pytest.raises(Exception, match="dlp_project"):
        build_app(context={**CONTEXT, "dlp_provider": "google"})


def test_admin_token_secret_only_when_asked_and_auto_delete_refused_without_it() -> None:
    with pytest.raises(Exception, match="admin_user_token"):
        build_app(context={**CONTEXT, "auto_delete_categories": "secret"})
    app = build_app(context={**CONTEXT, "admin_user_token": "true", "auto_delete_categories": "secret"})
    template = assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]
    template.resource_count_is("AWS::SecretsManager::Secret", 4)
    functions = template.find_resources("AWS::Lambda::Function")
    with_admin = sorted(k for k, f in functions.items() if "SLACK_ADMIN_TOKEN_SECRET_ARN" in json.dumps(f))
    assert [k[:8] for k in with_admin] == ["Interact", "Reporter"]


def test_rate_limited_events_raise_an_alarm_and_ingest_may_record_the_minute(template: assertions.Template) -> None:
    # The metric ingest emits (Powertools EMF: namespace SlackDlp, dimension service=slack-dlp)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "SlackDlp",
            "MetricName": "EventsRateLimited",
            "Dimensions": [{"Name": "service", "Value": "slack-dlp"}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )
    functions = _resources(template, "AWS::Lambda::Function")
    ingest = next(f for k, f in functions.items() if k.startswith("Ingest"))["Properties"]["Environment"]["Variables"]
    assert "TRIAGE_TABLE_NAME" in ingest and "JOIN_QUEUE_URL" in ingest


def test_new_public_channels_are_joined_by_a_joiner_holding_the_bot_token_not_by_ingest(
    template: assertions.Template,
) -> None:
    functions = _resources(template, "AWS::Lambda::Function")
    joiner = next(f for k, f in functions.items() if k.startswith("ChannelJoiner"))["Properties"]
    assert joiner["Handler"] == "joiner.handler"
    assert "SLACK_BOT_TOKEN_SECRET_ARN" in joiner["Environment"]["Variables"]
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"BatchSize": 10, "ScalingConfig": {"MaximumConcurrency": 2}}
    )


def test_auto_join_off_builds_no_joiner() -> None:
    app = build_app(context={**CONTEXT, "auto_join_public_channels": "false"})
    template = assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]
    functions = template.find_resources("AWS::Lambda::Function")
    assert not any(k.startswith("ChannelJoiner") for k in functions)
    assert all("JOIN_QUEUE_URL" not in json.dumps(f) for f in functions.values())


def _triage_table_and_key(template: assertions.Template) -> tuple[dict[str, Any], dict[str, Any]]:
    tables = _resources(template, "AWS::DynamoDB::Table")
    triage = next(table for name, table in tables.items() if name.startswith("TriageTable"))
    key = next(iter(_resources(template, "AWS::KMS::Key").values()))
    return triage, key


def test_audit_trail_allowlist_and_their_key_outlive_the_stack_by_default(template: assertions.Template) -> None:
    # GIVEN the default settings WHEN the stack is deleted or a resource replaced
    triage, key = _triage_table_and_key(template)
    # THEN the table holding the audit trail and the allowlist, and the key it is encrypted with, stay
    for resource in (triage, key):
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"
    assert triage["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert "PipelineKey" in json.dumps(triage["Properties"]["SSESpecification"]["KMSMasterKeyId"])
    # AND what only lives for hours (Slack's retries) goes with the stack
    dedup = next(t for name, t in _resources(template, "AWS::DynamoDB::Table").items() if name.startswith("Dedup"))
    assert dedup["DeletionPolicy"] == "Delete"


def test_retain_data_false_lets_a_test_stack_take_its_data_with_it() -> None:
    app = build_app(context={**CONTEXT, "retain_data": "false"})
    template = assertions.Template.from_stack(app.node.find_child("SlackDlp"))  # type: ignore[arg-type]
    triage, key = _triage_table_and_key(template)
    assert triage["DeletionPolicy"] == key["DeletionPolicy"] == "Delete"
    retained = [name for name, r in template.to_json()["Resources"].items() if r.get("DeletionPolicy") == "Retain"]
    assert retained == []


def test_functions_that_use_the_audit_table_may_use_its_key_without_wildcards(template: assertions.Template) -> None:
    policies = {name: p["Properties"]["PolicyDocument"] for name, p in _resources(template, "AWS::IAM::Policy").items()}
    for prefix in ("Inspector", "Reporter", "Interactions", "Fetcher", "Ingest", "ChannelJoiner"):
        statements = next(p for name, p in policies.items() if name.startswith(prefix))["Statement"]
        actions = {a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
        assert "kms:Decrypt" in actions, prefix
        assert not any(a.endswith("*") for a in actions), prefix


def test_backfill_reads_one_page_at_a_time_two_at_once_and_reaches_only_its_queues(
    template: assertions.Template,
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 1, "ScalingConfig": {"MaximumConcurrency": 2}, "FunctionResponseTypes": ["ReportBatchItemFailures"],
         "FunctionName": {"Ref": assertions.Match.string_like_regexp("^BackfillReader")}},
    )  # fmt: skip
    policies = {key: p["Properties"] for key, p in _resources(template, "AWS::IAM::Policy").items()}
    backfill = json.dumps(next(p for k, p in policies.items() if k.startswith("BackfillReader")))
    assert "InspectQueue" in backfill and "FilesQueue" in backfill and "BackfillQueue" in backfill
    assert "ResultsQueue" not in backfill and "SigningSecret" not in backfill and "FingerprintKey" not in backfill
    assert "dynamodb:TransactWriteItems" not in backfill  # a transaction needs only its items' actions
    # AND ingest may queue a start command (the minute of an app_rate_limited envelope), nothing more
    ingest = json.dumps(next(p for k, p in policies.items() if k.startswith("Ingest")))
    assert "BackfillQueue" in ingest and "BackfillRuns" not in ingest
    outputs = template.to_json()["Outputs"]
    assert {"BackfillFunctionName", "BackfillTableName", "BackfillQueueUrl", "BackfillDlqUrl"} <= set(outputs)


def test_snapstart_is_off_by_default_so_nothing_is_charged_at_idle(template: assertions.Template) -> None:
    for function in _resources(template, "AWS::Lambda::Function").values():
        assert "SnapStart" not in function["Properties"]
    assert not _resources(template, "AWS::Lambda::Alias")
    assert not _resources(template, "AWS::Lambda::Version")


def test_an_ingest_invocation_ends_before_the_lease_of_the_dedup_marker_it_claimed(
    template: assertions.Template,
) -> None:
    # GIVEN the ingest function (its handler) in the template
    from slack_dlp.dedup import MARKER_LEASE_SECONDS

    [ingest] = [
        f
        for f in _resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "ingest.handler"
    ]
    # THEN its timeout is shorter than the lease, so a live invocation never loses its claim to a retry
    assert ingest["Properties"]["Timeout"] < MARKER_LEASE_SECONDS
