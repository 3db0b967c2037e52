"""Lambda handler: POST /slack/events (API Gateway HTTP API, payload format 2.0)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from slack_dlp.config import Resources, Settings
from slack_dlp.http import HttpRequest, HttpResponse
from slack_dlp.observability import logger, metrics, traced
from slack_dlp.wiring.ingest import build_ingest

settings = Settings.from_env()
service = build_ingest(settings, Resources.from_env())
app = APIGatewayHttpResolver()


@app.post("/slack/events")
def slack_events() -> Response[str]:
    event = app.current_event
    try:
        raw = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
    except (binascii.Error, ValueError):
        return _to_response(HttpResponse.error(400, "body is not valid base64"))
    return _to_response(service.handle_event_request(HttpRequest(body=raw, headers=event.headers)))


def _to_response(response: HttpResponse) -> Response[str]:
    return Response(
        status_code=response.status,
        content_type=response.content_type,
        body=response.encoded_body(),
        headers=dict(response.headers),
    )


@traced
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if hasattr(service.dedup, "register_lambda_context"):
        service.dedup.register_lambda_context(context)
    return app.resolve(event, context)
