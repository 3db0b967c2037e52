"""Google credentials for the DLP API, from a Secrets Manager value, via google-auth.

The secret holds one JSON document:
- a service-account key (``"type": "service_account"``), or
- a workload identity federation configuration (``"type": "external_account"``), with which the
  Lambda's own AWS role is exchanged for a short-lived Google token: no long-lived key at all;
- anything else (the stack's placeholder ``{"type": "none"}``): no Authorization header is sent,
  which is what emulators expect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class CredentialsError(Exception):
    """The credentials secret cannot be used; the message says why, never the secret."""


def google_token_source(secret_value: str) -> Callable[[], str | None]:
    try:
        info = json.loads(secret_value) if secret_value.strip() else {}
    except ValueError:
        raise CredentialsError("the DLP credentials secret is not JSON") from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind not in ("service_account", "external_account"):
        return lambda: None
    credentials = _credentials(info, kind)
    lock = threading.Lock()

    def token() -> str | None:
        import urllib3
        from google.auth.exceptions import GoogleAuthError
        from google.auth.transport.urllib3 import Request

        with lock:
            if not credentials.valid:
                try:
                    credentials.refresh(Request(urllib3.PoolManager()))
                except GoogleAuthError as error:
                    raise CredentialsError(f"Google token refresh failed ({type(error).__name__})") from None
            return str(credentials.token)

    return token


def _credentials(info: dict[str, Any], kind: str) -> Any:
    try:
        if kind == "service_account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        source = info.get("credential_source", {})
        if isinstance(source, dict) and str(source.get("environment_id", "")).startswith("aws"):
            from google.auth import aws

            return aws.Credentials.from_info(info, scopes=SCOPES)
        from google.auth import identity_pool

        return identity_pool.Credentials.from_info(info, scopes=SCOPES)
    except (ValueError, KeyError, TypeError) as error:
        raise CredentialsError(f"the DLP credentials secret is not a usable {kind} ({type(error).__name__})") from None
