"""A handler's imports are its cold start: each handler module, imported in a fresh interpreter as
Lambda's runtime does, loads only what its function uses, and builds one AWS client per service.

The inspector reads its fingerprint key at init, so its interpreter runs inside moto; the others do
no network at init and run without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

RESOURCES = {
    "INSPECT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/inspect",
    "FILES_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/files",
    "RESULTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/results",
    "RESULTS_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/results-dlq",
    "DEDUP_TABLE_NAME": "dedup",
    "TRIAGE_TABLE_NAME": "triage",
    "SLACK_SIGNING_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:signing",
    "SLACK_BOT_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:bot",
    "FINGERPRINT_KEY_SECRET_ARN": "fingerprint-key",
}

#: Packages of other function groups, and parts of the core package a function has no use for.
DETECTION = ("re2", "slack_dlp.detect", "slack_dlp.dlp", "google.auth", "cryptography")
FILES = ("pypdf", "defusedxml", "docx", "openpyxl", "lxml", "slack_dlp.files.extract", "slack_dlp.files.fetch")
#: What the API functions (Slack's 3 seconds) do without: boto3 (clients come from botocore; boto3
#: brings s3transfer), Powertools' idempotency, parameters and event handler (each imports boto3 or
#: pulls in data classes, OpenAPI and asyncio; slack_sdk imports asyncio too, which ingest does without).
API_EXTRAS = ("boto3", "s3transfer", "aws_lambda_powertools.utilities.idempotency",
              "aws_lambda_powertools.utilities.parameters", "aws_lambda_powertools.event_handler")  # fmt: skip
MUST_NOT_LOAD = {
    # Verifies, deduplicates, enqueues: no Slack Web API client at all.
    "ingest": ("slack_sdk", "asyncio", *DETECTION, *FILES, *API_EXTRAS, "slack_dlp.report"),
    "interactions": (*DETECTION, *FILES, *API_EXTRAS, "slack_dlp.report", "slack_dlp.ingest"),
    "reporter": (*DETECTION, *FILES),
    # Extraction libraries are imported per file type, when a file of that type arrives.
    "fetcher": (*DETECTION, "pypdf", "defusedxml", "docx", "openpyxl", "lxml", "slack_dlp.report", "slack_dlp.ingest"),
    "inspector": ("slack_sdk", *FILES, "google.auth", "slack_dlp.report", "slack_dlp.ingest"),
    "joiner": (*DETECTION, *FILES, "slack_dlp.report", "slack_dlp.ingest"),
}
#: Each AWS client is built once, at init, and shared (Powertools idempotency included). Ingest's
#: DynamoDB client is created by the first request that writes a marker (see test_ingest_handler).
CLIENTS = {
    "ingest": ["secretsmanager", "sqs"],
    "interactions": ["dynamodb", "secretsmanager"],
    "reporter": ["dynamodb", "secretsmanager", "sqs"],
    "fetcher": ["dynamodb", "secretsmanager", "sqs"],
    "inspector": ["dynamodb", "secretsmanager", "sqs"],
    "joiner": ["dynamodb", "secretsmanager", "sqs"],
}

PROBE = """
import json, os, sys
import botocore.session

created = []
_create = botocore.session.Session.create_client

def counting(self, service_name, *args, **kwargs):
    created.append(service_name)
    return _create(self, service_name, *args, **kwargs)

botocore.session.Session.create_client = counting
before = set(sys.modules)
if os.environ.get("PROBE_MOTO"):
    import boto3
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    boto3.client("secretsmanager").create_secret(Name="fingerprint-key", SecretString="k" * 32)
    created.clear()
    before = set(sys.modules)
__import__(sys.argv[1])
print(json.dumps({"loaded": sorted(set(sys.modules) - before), "clients": sorted(created)}))
"""


def import_in_fresh_interpreter(handler: str) -> dict[str, list[str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLACK_DLP_"))},
        **RESOURCES,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SLACK_DLP_ALERT_CHANNEL": "C0ALERTS",
        "PYTHONPATH": str(REPO_ROOT / "functions"),
        **({"PROBE_MOTO": "1"} if handler == "inspector" else {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, handler], capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("handler", sorted(MUST_NOT_LOAD))
def test_a_handler_loads_only_what_its_function_uses(handler: str) -> None:
    # GIVEN a fresh interpreter with the function's environment
    # WHEN the runtime imports the handler module (and with it the function's init)
    probe = import_in_fresh_interpreter(handler)
    # THEN no module of another function's packages is loaded
    loaded = set(probe["loaded"])
    unexpected = sorted(
        name for name in loaded for banned in MUST_NOT_LOAD[handler] if name == banned or name.startswith(banned + ".")
    )
    assert not unexpected, f"{handler} loads {unexpected}"
    # AND each AWS client is created once, at init
    assert probe["clients"] == CLIENTS[handler]
