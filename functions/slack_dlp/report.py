"""Reporter: one alert per inspection result. A failed post fails only its record."""

from __future__ import annotations

from slack_dlp.model import InspectionResult
from slack_dlp.observability import logger, metrics
from slack_dlp.slack.notifier import Notifier, NotifyError


class Reporter:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def report(self, body: str) -> str:
        """Post the alert for one results-queue message; raise to have SQS deliver it again."""
        result = InspectionResult.from_json(body)
        try:
            alert_ts = self._notifier.post_alert(result)
        except NotifyError as error:
            extra = {"item_id": result.id, "slack_error": error.code, "retry_after": error.retry_after}
            if error.fatal:
                # Needs a person: wrong alert channel, revoked token, missing scope.
                logger.error("alert cannot be posted until the Slack setup is fixed", extra=extra)
                metrics.add_metric(name="AlertConfigErrors", unit="Count", value=1)
            else:
                logger.warning("alert post failed; will retry", extra=extra)
                metrics.add_metric(name="AlertPostFailures", unit="Count", value=1)
            raise
        metrics.add_metric(name="AlertsPosted", unit="Count", value=1)
        logger.info("alert posted", extra={"item_id": result.id, "findings": len(result.findings)})
        return alert_ts
