"""Logger and metrics, created once. Structured keys only: never message text or values."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics

#: The custom metrics' namespace and service dimension (the dashboard and alarms name them too).
NAMESPACE = "SlackDlp"
SERVICE = "slack-dlp"

logger = Logger(service=SERVICE, log_uncaught_exceptions=False)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# An invocation that counts nothing (ingest's happy path) is normal here, not worth a log line.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def traced(handler: Handler) -> Handler:
    """X-Ray tracing of each invocation when the stack enables it (``tracing=true``), with the
    Powertools Tracer: never the response, never an error's content (payloads stay out of traces).
    Without it the X-Ray SDK is not even imported (cold start)."""
    if os.environ.get("SLACK_DLP_TRACING", "").lower() != "true":
        return handler
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=SERVICE)
    return cast(Handler, tracer.capture_lambda_handler(handler, capture_response=False, capture_error=False))
