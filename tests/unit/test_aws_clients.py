"""One client per service, shared; after a SnapStart restore, connections and cached secrets are renewed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import snapshot_restore_py

from slack_dlp import aws
from slack_dlp.config import Settings
from slack_dlp.wiring import prepare


class FakeClient:
    def __init__(self, service: str) -> None:
        self.service = service
        self.closed = 0
        self.reads: list[str] = []

    def close(self) -> None:
        self.closed += 1

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.reads.append(SecretId)
        return {"SecretString": f"value {len(self.reads)}"}


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeClient]]:
    import botocore.session

    created: list[FakeClient] = []

    def create_client(_session: object, service: str, *_: Any, **__: Any) -> FakeClient:
        created.append(FakeClient(service))
        return created[-1]

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    aws.reset()
    yield created
    aws.reset()


def test_each_service_gets_one_client_from_one_botocore_session_without_boto3(clients: list[FakeClient]) -> None:
    sqs = aws.client("sqs")
    assert aws.client("sqs") is sqs
    assert aws.secrets().client is aws.client("secretsmanager")
    assert [c.service for c in clients] == ["sqs", "secretsmanager"]


def test_a_lazy_client_is_created_by_its_first_use_only(clients: list[FakeClient]) -> None:
    # GIVEN a lazy DynamoDB client (ingest's: only retries and slow answers write)
    dynamodb = aws.LazyClient("dynamodb")
    assert clients == []
    # WHEN it is first used, THEN the shared client is created and used
    assert dynamodb.service == "dynamodb"
    dynamodb.close()
    assert [c.service for c in clients] == ["dynamodb"]
    assert aws.client("dynamodb").closed == 1


def test_secrets_are_cached_for_their_max_age(clients: list[FakeClient]) -> None:
    now = [100.0]
    cache = aws.SecretCache(aws.client("secretsmanager"), clock=lambda: now[0])
    assert cache.get("arn", max_age=60) == "value 1"
    now[0] += 59
    assert cache.get("arn", max_age=60) == "value 1"
    now[0] += 2
    assert cache.get("arn", max_age=60) == "value 2"
    assert clients[0].reads == ["arn", "arn"]


def test_a_restore_drops_connections_and_cached_secrets_then_reads_again(clients: list[FakeClient]) -> None:
    # GIVEN a client, a cached secret and a secret reader registered for after the restore
    sqs = aws.client("sqs")
    provider = aws.secrets()
    assert provider.get("arn", max_age=60) == "value 1"
    reads: list[str] = []
    aws.on_restore(lambda: reads.append("read"))
    aws.on_restore(lambda: 1 / 0)  # a failing hook must not fail the restore
    aws.on_restore(lambda: reads.append("after a failure"))
    # WHEN Lambda restores the snapshot
    aws.refresh_after_restore()
    # THEN the pooled connections are closed, the cache is empty, and every hook ran
    assert sqs.closed == 1
    assert provider.get("arn", max_age=60) == "value 2"
    assert reads == ["read", "after a failure"]


def test_a_client_that_fails_to_close_does_not_fail_the_restore(
    clients: list[FakeClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a client whose close raises, and a secret reader registered for after the restore
    broken = aws.client("sqs")
    monkeypatch.setattr(broken, "close", lambda: 1 / 0)
    reads: list[str] = []
    aws.on_restore(lambda: reads.append("read"))
    # WHEN Lambda restores the snapshot, THEN nothing raises and the secrets are still read again
    aws.refresh_after_restore()
    assert reads == ["read"]


def test_the_hooks_are_registered_with_the_runtime_only_with_snapstart(clients: list[FakeClient]) -> None:
    registered = len(snapshot_restore_py.get_after_restore())
    prepare(Settings())
    assert len(snapshot_restore_py.get_after_restore()) == registered
    prepare(Settings(snapstart=True))
    hooks = snapshot_restore_py.get_after_restore()
    assert len(hooks) == registered + 1
    assert hooks[-1][0] is aws.refresh_after_restore


def test_a_client_is_created_without_listing_every_service_botocore_ships(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import botocore
    from botocore.exceptions import UnknownServiceError

    # GIVEN a new execution environment, and every folder listing recorded
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset()
    data_root = os.path.join(os.path.dirname(botocore.__file__), "data")
    listed: list[str] = []
    listdir = os.listdir

    def recording_listdir(path: Any = ".") -> list[str]:
        listed.append(os.path.normpath(str(path)))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", recording_listdir)
    try:
        # WHEN the clients a cold start needs are created
        sqs, secrets = aws.client("sqs"), aws.client("secretsmanager")
        # THEN they are botocore's, and botocore's data folder (about 430 services) was never listed
        assert sqs.meta.service_model.service_name == "sqs"
        assert secrets.meta.service_model.service_name == "secretsmanager"
        assert listed and data_root not in listed, listed
        # AND an unknown service still fails as botocore says, naming the services it knows
        with pytest.raises(UnknownServiceError, match="sqs"):
            aws.client("no-such-service")
        assert data_root in listed
    finally:
        aws.reset()
