"""Rotating the Slack signing secret drops no event: the new one verifies at once, the previous one
for a grace period, and requests that fail do not each cost a Secrets Manager read."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from slack_dlp.slack.verify import SlackRequestVerifier
from slack_dlp.wiring import SIGNING_SECRET_GRACE_SECONDS, rotation_fallbacks, secret_reader
from tests.factories import signed_request
from tests.fakes import FakeClock

OLD, NEW = "old-signing-secret-0123456789abcdef", "new-signing-secret-0123456789abcdef"


@pytest.fixture
def secret_arn(aws: None) -> str:
    client = boto3.client("secretsmanager")
    return str(client.create_secret(Name="signing", SecretString=OLD)["ARN"])


def _verifier(arn: str, clock: FakeClock) -> SlackRequestVerifier:
    return SlackRequestVerifier(secret_reader(arn), fallback_secrets=rotation_fallbacks(arn, clock=clock))


def _signed(secret: str) -> tuple[bytes, dict[str, str]]:
    return signed_request({"type": "event_callback"}, secret=secret)


def test_a_rotated_secret_verifies_at_once_and_the_previous_one_during_the_grace_period(secret_arn: str) -> None:
    # GIVEN a warm function that has cached the old secret
    verifier = _verifier(secret_arn, FakeClock(time.time()))
    assert verifier.is_valid(*_signed(OLD))
    # WHEN the secret is rotated (a new AWSCURRENT; the old one becomes AWSPREVIOUS)
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=NEW)
    # THEN requests signed with the new one verify at once (not when the cache expires), the old
    # ones still verify, and an unrelated secret does not
    assert verifier.is_valid(*_signed(NEW))
    assert verifier.is_valid(*_signed(OLD))
    assert not verifier.is_valid(*_signed("some-other-secret"))


def test_the_previous_secret_stops_verifying_when_the_grace_period_ends(secret_arn: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=NEW)
    verifier = _verifier(secret_arn, FakeClock(time.time() + SIGNING_SECRET_GRACE_SECONDS + 1))
    assert verifier.is_valid(*_signed(NEW))
    assert not verifier.is_valid(*_signed(OLD))


def test_requests_that_fail_verification_cost_one_lookup_per_few_seconds(secret_arn: str) -> None:
    calls: list[str] = []
    client = boto3.client("secretsmanager")
    original = client.get_secret_value

    def counting(**kwargs: str) -> Any:
        calls.append(kwargs["VersionStage"])
        return original(**kwargs)

    client.get_secret_value = counting  # type: ignore[method-assign]
    clock = FakeClock(time.time())
    verifier = SlackRequestVerifier(lambda: OLD, fallback_secrets=rotation_fallbacks(secret_arn, client, clock=clock))
    for _ in range(20):
        assert not verifier.is_valid(*_signed("forged"))
    assert calls == ["AWSCURRENT", "AWSPREVIOUS"]  # created just now: is there a previous one? (no)
    clock.now += 10
    assert not verifier.is_valid(*_signed("forged"))
    assert len(calls) == 4
