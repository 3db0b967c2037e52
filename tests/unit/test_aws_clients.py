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

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeClient]]:
    import boto3

    created: list[FakeClient] = []

    def client(service: str, *_: Any, **__: Any) -> FakeClient:
        created.append(FakeClient(service))
        return created[-1]

    monkeypatch.setattr(boto3, "client", client)
    aws.reset()
    yield created
    aws.reset()


def test_each_service_gets_one_client_which_powertools_shares(clients: list[FakeClient]) -> None:
    sqs = aws.client("sqs")
    assert aws.client("sqs") is sqs
    assert aws.secrets().client is aws.client("secretsmanager")
    assert [c.service for c in clients] == ["sqs", "secretsmanager"]


def test_a_restore_drops_connections_and_cached_secrets_then_reads_again(clients: list[FakeClient]) -> None:
    # GIVEN a client, a cached secret and a secret reader registered for after the restore
    sqs = aws.client("sqs")
    provider = aws.secrets()
    provider.add_to_cache(key=("arn", None), value="stale", max_age=60)
    reads: list[str] = []
    aws.on_restore(lambda: reads.append("read"))
    aws.on_restore(lambda: 1 / 0)  # a failing hook must not fail the restore
    aws.on_restore(lambda: reads.append("after a failure"))
    # WHEN Lambda restores the snapshot
    aws.refresh_after_restore()
    # THEN the pooled connections are closed, the cache is empty, and every hook ran
    assert sqs.closed == 1
    assert not provider.has_not_expired_in_cache(("arn", None))
    assert reads == ["read", "after a failure"]


def test_the_hooks_are_registered_with_the_runtime_only_with_snapstart(clients: list[FakeClient]) -> None:
    registered = len(snapshot_restore_py.get_after_restore())
    prepare(Settings())
    assert len(snapshot_restore_py.get_after_restore()) == registered
    prepare(Settings(snapstart=True))
    hooks = snapshot_restore_py.get_after_restore()
    assert len(hooks) == registered + 1
    assert hooks[-1][0] is aws.refresh_after_restore
