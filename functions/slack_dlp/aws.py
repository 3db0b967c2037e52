"""AWS clients: one per service in an execution environment, created at init and shared with
Powertools (idempotency, parameters), so a cold start builds each client once. With SnapStart, what
the snapshot froze (pooled connections, cached secrets) is refreshed after each restore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_dlp.observability import logger

_clients: dict[str, Any] = {}
_providers: dict[str, Any] = {}
_restore_hooks: list[Callable[[], object]] = []


def client(service: str) -> Any:
    """The boto3 client for ``service``, created on first use."""
    if service not in _clients:
        import boto3

        _clients[service] = boto3.client(service)
    return _clients[service]


def secrets() -> Any:
    """Powertools' Secrets Manager provider (its cache) on the shared client."""
    if "secrets" not in _providers:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        _providers["secrets"] = SecretsProvider(boto3_client=client("secretsmanager"))
    return _providers["secrets"]


def on_restore(hook: Callable[[], object]) -> None:
    """Run ``hook`` after a SnapStart restore, once cached values and connections are dropped
    (e.g. read a secret again, off the first request's clock)."""
    _restore_hooks.append(hook)


def refresh_after_restore() -> None:
    """The snapshot may be days old: its pooled connections are dead and its cached secrets may
    have been rotated. Drop both, then run the registered hooks. Never raises (a failing hook
    would fail the restore); what could not be refreshed is read again on first use."""
    for each in _clients.values():
        each.close()  # empties the connection pools; the next call opens new connections
    for provider in _providers.values():
        provider.clear_cache()
    for hook in _restore_hooks:
        try:
            hook()
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
    """Forget every client, provider and hook: a new execution environment (tests start one per test)."""
    _clients.clear()
    _providers.clear()
    _restore_hooks.clear()
