"""Lambda handler: POST /slack/interactions (the alert's buttons), API Gateway HTTP API."""

from __future__ import annotations

import time
from typing import Any

from slack_dlp.config import Resources, Settings
from slack_dlp.http import HttpResponse, from_http_api, to_http_api
from slack_dlp.observability import logger, metrics, traced
from slack_dlp.wiring.interactions import build_triage

ROUTE = "POST /slack/interactions"

service = build_triage(Settings.from_env(), Resources.from_env())


@traced
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    request = from_http_api(event, ROUTE, received_at=time.time())
    if isinstance(request, HttpResponse):
        return to_http_api(request)
    return to_http_api(service.handle_interaction_request(request))
