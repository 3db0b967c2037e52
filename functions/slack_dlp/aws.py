"""AWS clients: one per service in an execution environment, shared by every adapter, built on
botocore directly. With SnapStart, what the snapshot froze (pooled connections, cached secrets) is
refreshed after each restore.

Why botocore and not boto3: the functions use only low-level clients, which are the same class
either way; ``import boto3`` also imports s3transfer (for S3's managed transfers) and boto3's
resource layer, about a third of a cold import that calls AWS. For the same reason secrets are
cached here rather than with Powertools' ``SecretsProvider`` (its module imports boto3)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from slack_dlp.observability import logger

_session: list[Any] = []
_clients: dict[str, Any] = {}
_providers: dict[str, SecretCache] = {}
_restore_hooks: list[Callable[[], object]] = []


def session() -> Any:
    """The execution environment's botocore session (region, credentials and endpoint from the
    environment, as boto3's default session reads them)."""
    if not _session:
        import botocore.session

        created = botocore.session.get_session()
        created.register_component("data_loader", _service_loader(created.get_config_variable("data_path")))
        _session.append(created)
    return _session[0]


class _ServiceNames:
    """The services a botocore loader knows, for one model type, asked one at a time: whether a
    service exists is answered from its own folder; only iterating (the message of an unknown
    service's error) lists them all."""

    def __init__(self, loader: Any, type_name: str, list_all: Callable[[str], list[str]]) -> None:
        self._loader, self._type_name, self._list_all = loader, type_name, list_all

    def __contains__(self, service: object) -> bool:
        from botocore.exceptions import DataNotFoundError

        try:
            return bool(self._loader.list_api_versions(service, self._type_name))
        except DataNotFoundError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._list_all(self._type_name))


def _service_loader(data_path: str | None) -> Any:
    """botocore's data loader (``AWS_DATA_PATH`` honoured), except that before loading a model it
    checks that the service exists by looking at that service's folder instead of listing every
    service folder botocore ships (about 430, each stat-ed: 30-60 ms of every cold start here)."""
    from botocore.loaders import create_loader

    loader = create_loader(data_path)
    list_all = loader.list_available_services
    loader.list_available_services = lambda type_name: _ServiceNames(loader, type_name, list_all)
    return loader


def client(service: str) -> Any:
    """The low-level client for ``service``, created on first use."""
    if service not in _clients:
        _clients[service] = session().create_client(service)
    return _clients[service]


class LazyClient:
    """Stands for ``client(service)`` and creates it on first use: for a client that only rare
    paths need (ingest's DynamoDB, written to only for Slack's retries and slow deliveries)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self.service), name)


class SecretCache:
    """Secrets Manager values cached per ARN for at most ``max_age`` seconds, on the shared client."""

    def __init__(self, secretsmanager: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = secretsmanager
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    def get(self, arn: str, *, max_age: float) -> str:
        now = self._clock()
        cached = self._cache.get(arn)
        if cached is not None and now < cached[0]:
            return cached[1]
        response = self.client.get_secret_value(SecretId=arn)
        value = response.get("SecretString")
        if not isinstance(value, str):
            value = bytes(response.get("SecretBinary", b"")).decode("utf-8")
        self._cache[arn] = (now + max_age, value)
        return value

    def clear_cache(self) -> None:
        self._cache.clear()


def secrets() -> SecretCache:
    """The secret cache on the shared Secrets Manager client."""
    if "secrets" not in _providers:
        _providers["secrets"] = SecretCache(client("secretsmanager"))
    return _providers["secrets"]


def on_restore(hook: Callable[[], object]) -> None:
    """Run ``hook`` after a SnapStart restore, once cached values and connections are dropped
    (e.g. read a secret again, off the first request's clock)."""
    _restore_hooks.append(hook)


def refresh_after_restore() -> None:
    """The snapshot may be days old: its pooled connections are dead and its cached secrets may
    have been rotated. Drop both, then run the registered hooks. Never raises (a failing hook
    would fail the restore); what could not be refreshed is read again on first use."""
    steps: list[Callable[[], object]] = [each.close for each in _clients.values()]  # empties the pools
    steps += [provider.clear_cache for provider in _providers.values()]
    for step in steps + _restore_hooks:
        try:
            step()
        except Exception as error:
            logger.warning("refresh after restore failed", extra={"error": type(error).__name__})


def register_snapstart_hooks() -> bool:
    """Register :func:`refresh_after_restore` with Lambda's runtime hooks (``snapshot_restore_py``,
    part of the Python 3.12+ managed runtimes). False where the library is absent."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    register_after_restore(refresh_after_restore)
    return True


def reset() -> None:
    """Forget the session and every client, provider and hook: a new execution environment (tests
    start one per test)."""
    _session.clear()
    _clients.clear()
    _providers.clear()
    _restore_hooks.clear()
