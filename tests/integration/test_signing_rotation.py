"""Rotating the Slack signing secret drops no event: the previous secret verifies for a grace period."""

from __future__ import annotations

import time

import boto3
import pytest

from slack_dlp.slack.verify import SlackRequestVerifier
from slack_dlp.wiring import SIGNING_SECRET_GRACE_SECONDS, previous_secret_reader, secret_reader
from tests.factories import signed_request

OLD, NEW = "old-signing-secret-0123456789abcdef", "new-signing-secret-0123456789abcdef"


@pytest.fixture
def secret_arn(aws: None) -> str:
    client = boto3.client("secretsmanager")
    return str(client.create_secret(Name="signing", SecretString=OLD)["ARN"])


def _verifier(arn: str, now: float) -> SlackRequestVerifier:
    return SlackRequestVerifier(secret_reader(arn), previous_secret=previous_secret_reader(arn, clock=lambda: now))


def test_after_a_rotation_both_secrets_verify_during_the_grace_period(secret_arn: str) -> None:
    # GIVEN the signing secret was rotated a moment ago (a new AWSCURRENT, the old one AWSPREVIOUS)
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=NEW)
    verifier = _verifier(secret_arn, time.time())
    # WHEN requests signed with the new, the old and an unrelated secret arrive
    # THEN the new and the old verify, the unrelated does not
    assert verifier.is_valid(*signed_request({"type": "event_callback"}, secret=NEW))
    assert verifier.is_valid(*signed_request({"type": "event_callback"}, secret=OLD))
    assert not verifier.is_valid(*signed_request({"type": "event_callback"}, secret="some-other-secret"))


def test_the_previous_secret_stops_verifying_when_the_grace_period_ends(secret_arn: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=NEW)
    later = time.time() + SIGNING_SECRET_GRACE_SECONDS + 1
    verifier = _verifier(secret_arn, later)
    assert verifier.is_valid(*signed_request({"type": "event_callback"}, secret=NEW))
    assert not verifier.is_valid(*signed_request({"type": "event_callback"}, secret=OLD))


def test_a_secret_never_rotated_has_no_previous_value_and_the_lookup_is_cached(secret_arn: str) -> None:
    calls: list[str] = []
    client = boto3.client("secretsmanager")
    original = client.get_secret_value

    def counting(**kwargs: str) -> object:
        calls.append(kwargs["VersionStage"])
        return original(**kwargs)

    client.get_secret_value = counting  # type: ignore[method-assign]
    read = previous_secret_reader(secret_arn, client, clock=time.time)
    assert read() == ""
    assert read() == ""  # a miss is remembered too: bad signatures do not each cost a Secrets Manager call
    assert calls == ["AWSCURRENT", "AWSPREVIOUS"]
