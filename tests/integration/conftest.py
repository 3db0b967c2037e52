"""moto-backed AWS resources shaped like the stack's, and handler modules loaded against them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from slack_dlp import aws as slack_dlp_aws
from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.factories import SIGNING_SECRET

BOT_TOKEN = "xoxb-integration-test-token"
ADMIN_TOKEN = "xoxp-integration-admin-token"


@dataclass
class FakeStack:
    inspect_queue_url: str
    results_queue_url: str
    table: str
    signing_secret_arn: str
    bot_token_secret_arn: str
    fingerprint_key_secret_arn: str
    results_dlq_url: str
    triage_table: str = "triage"
    files_queue_url: str = ""

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            for message in batch:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    parameters.clear_caches()
    slack_dlp_aws.reset()  # each test is a new execution environment: no client or cache from another
    with mock_aws():
        yield
    parameters.clear_caches()
    slack_dlp_aws.reset()


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=BOT_TOKEN, extra_tokens=(ADMIN_TOKEN,)) as standin:
        yield standin


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch, slack: SlackStandIn) -> FakeStack:
    sqs = boto3.client("sqs")
    dynamodb = boto3.client("dynamodb")
    secrets = boto3.client("secretsmanager")
    dynamodb.create_table(
        TableName="dedup",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="triage",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    fake = FakeStack(
        inspect_queue_url=sqs.create_queue(QueueName="inspect")["QueueUrl"],
        results_queue_url=sqs.create_queue(QueueName="results")["QueueUrl"],
        table="dedup",
        signing_secret_arn=secrets.create_secret(Name="signing", SecretString=SIGNING_SECRET)["ARN"],
        bot_token_secret_arn=secrets.create_secret(Name="bot", SecretString=BOT_TOKEN)["ARN"],
        fingerprint_key_secret_arn=secrets.create_secret(Name="fp", SecretString="f" * 64)["ARN"],
        results_dlq_url=sqs.create_queue(QueueName="results-dlq")["QueueUrl"],
        files_queue_url=sqs.create_queue(QueueName="files")["QueueUrl"],
    )
    env = {
        "INSPECT_QUEUE_URL": fake.inspect_queue_url,
        "RESULTS_QUEUE_URL": fake.results_queue_url,
        "DEDUP_TABLE_NAME": fake.table,
        "SLACK_SIGNING_SECRET_ARN": fake.signing_secret_arn,
        "SLACK_BOT_TOKEN_SECRET_ARN": fake.bot_token_secret_arn,
        "FINGERPRINT_KEY_SECRET_ARN": fake.fingerprint_key_secret_arn,
        "RESULTS_DLQ_URL": fake.results_dlq_url,
        "TRIAGE_TABLE_NAME": fake.triage_table,
        "FILES_QUEUE_URL": fake.files_queue_url,
        "SLACK_DLP_SLACK_API_URL": slack.api_url,
        "SLACK_DLP_ALERT_CHANNEL": "C0ALERTS",
        "POWERTOOLS_METRICS_NAMESPACE": "SlackDlp",
        "POWERTOOLS_SERVICE_NAME": "slack-dlp-test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return fake


@pytest.fixture
def load_handler(stack: FakeStack) -> Iterator[Any]:
    """Import a handler module fresh, so its cold-start wiring reads this test's resources."""
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        sys.modules.pop(name, None)
        loaded.append(name)
        return importlib.import_module(name)

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
