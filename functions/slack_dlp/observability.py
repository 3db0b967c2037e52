"""Logger and metrics, created once. Structured keys only: never message text or values."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="slack-dlp", log_uncaught_exceptions=False)
metrics = Metrics(namespace="SlackDlp", service="slack-dlp")
