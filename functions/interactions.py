"""Lambda handler: POST /slack/interactions (the alert's buttons), API Gateway HTTP API."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from slack_dlp.config import Resources, Settings
from slack_dlp.http import HttpRequest, HttpResponse
from slack_dlp.observability import logger, metrics, traced
from slack_dlp.wiring.interactions import build_triage

service = build_triage(Settings.from_env(), Resources.from_env())
app = APIGatewayHttpResolver()


@app.post("/slack/interactions")
def slack_interactions() -> Response[str]:
    event = app.current_event
    try:
        # Form-encoded bodies reach an HTTP API base64-encoded; Slack signed the decoded bytes.
        raw = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
    except (binascii.Error, ValueError):
        return _to_response(HttpResponse.error(400, "body is not valid base64"))
    return _to_response(service.handle_interaction_request(HttpRequest(body=raw, headers=event.headers)))


def _to_response(response: HttpResponse) -> Response[str]:
    return Response(status_code=response.status, content_type=response.content_type, body=response.encoded_body())


@traced
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
