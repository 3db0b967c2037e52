"""Lambda handler: POST /slack/events (API Gateway HTTP API, payload format 2.0)."""

from __future__ import annotations

import time

#: When this execution environment began importing the function: the first request of a cold start
#: counts its init time when API Gateway gives no receipt time.
INIT_STARTED = time.time()

from typing import Any  # noqa: E402 - after the clock, so that the init is counted from the start

from slack_dlp import aws  # noqa: E402
from slack_dlp.config import Resources, Settings  # noqa: E402
from slack_dlp.http import HttpResponse, from_http_api, to_http_api  # noqa: E402
from slack_dlp.observability import logger, metrics, traced  # noqa: E402
from slack_dlp.wiring.ingest import build_ingest  # noqa: E402

ROUTE = "POST /slack/events"

settings = Settings.from_env()
service = build_ingest(settings, Resources.from_env())
#: The first request of this execution environment is timed from the init's start, later ones from their own.
_pending_init = {"started": INIT_STARTED}
# With SnapStart the init ran when the version was published: a restored environment starts now.
aws.on_restore(lambda: _pending_init.update(started=time.time()))


@traced
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    invoked = _pending_init.pop("started", None) or time.time()
    request = from_http_api(event, ROUTE, received_at=invoked)
    if isinstance(request, HttpResponse):
        return to_http_api(request)
    return to_http_api(service.handle_event_request(request))
