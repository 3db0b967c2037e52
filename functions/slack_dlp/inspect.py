"""Inspector: one DLP request per SQS batch, findings mapped back to their messages.

The SQS batch (up to ``batch_size`` records) is parsed, handed to the DLP provider in as few
requests as its ``max_items`` allows, and each record then succeeds or fails on its own:
a record whose text could not be inspected, or whose result could not be published, fails
alone (partial batch response) and SQS delivers it again; poison records end in the DLQ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from slack_dlp.dlp.base import DlpClient, DlpError, ItemOutcome
from slack_dlp.files.where import locate
from slack_dlp.model import Finding, InspectionItem, InspectionResult, MalformedMessage, MessageKind, MessageRef
from slack_dlp.observability import NAMESPACE, SERVICE, logger, metrics
from slack_dlp.queues import Publisher
from slack_dlp.triage import Allowlist


def count_by_detector(findings: Sequence[Finding]) -> None:
    """``FindingsByDetector`` with category and detector dimensions, for the dashboard (one metric line
    per detector in this item; items with findings are rare)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    for (category, detector), count in Counter((f.category.value, f.detector) for f in findings).items():
        with single_metric(
            name="FindingsByDetector",
            unit=MetricUnit.Count,
            value=count,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as metric:
            metric.add_dimension(name="category", value=category)
            metric.add_dimension(name="detector", value=detector)


@dataclass
class InspectedBatch:
    """Outcomes of one batch, keyed by SQS message id; consumed record by record."""

    outcomes: dict[str, InspectionItem | MalformedMessage] = field(default_factory=dict)
    findings: dict[str, ItemOutcome] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemAllowlist:
    """Messages never inspected: from allowlisted channels or users. They spend no DLP quota."""

    channels: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def __call__(self, ref: MessageRef) -> bool:
        return ref.channel_id in self.channels or (bool(ref.user_id) and ref.user_id in self.users)


class Inspector:
    def __init__(
        self,
        dlp: DlpClient,
        results: Publisher,
        skip: ItemAllowlist | None = None,
        false_positives: Allowlist | None = None,
    ) -> None:
        self._dlp = dlp
        self._results = results
        self._skip = skip or ItemAllowlist()
        self._false_positives = false_positives

    def inspect(self, records: Sequence[tuple[str, str]]) -> InspectedBatch:
        """Parse ``(message_id, body)`` records and inspect all parseable ones together."""
        batch = InspectedBatch()
        items: list[tuple[str, InspectionItem]] = []
        for message_id, body in records:
            try:
                item = InspectionItem.from_json(body)
            except MalformedMessage as error:
                batch.outcomes[message_id] = error
                continue
            except Exception as error:  # whatever a poison record raises, it fails alone
                batch.outcomes[message_id] = MalformedMessage(f"unparseable record ({type(error).__name__})")
                continue
            batch.outcomes[message_id] = item
            if self._skip(item.ref):
                batch.findings[message_id] = []
                continue
            items.append((message_id, item))

        size = max(1, self._dlp.max_items)
        for offset in range(0, len(items), size):
            chunk = items[offset : offset + size]
            for (message_id, _), outcome in zip(chunk, self._inspect_chunk(chunk), strict=True):
                batch.findings[message_id] = outcome
        return batch

    def _inspect_chunk(self, chunk: list[tuple[str, InspectionItem]]) -> list[ItemOutcome]:
        try:
            # A file chunk carries its file's path: rules with a ``path`` apply only to files it matches.
            paths = [item.ref.file_path if item.ref.kind is MessageKind.FILE else "" for _, item in chunk]
            outcomes = self._dlp.inspect([item.text for _, item in chunk], paths if any(paths) else None)
        except DlpError as error:
            logger.warning("DLP request failed", extra={"provider": self._dlp.name, "error": str(error)})
            metrics.add_metric(name="DlpRequestFailures", unit="Count", value=1)
            return [error] * len(chunk)
        if len(outcomes) != len(chunk):
            mismatch = DlpError(f"provider returned {len(outcomes)} outcomes for {len(chunk)} items")
            logger.error("DLP response malformed", extra={"provider": self._dlp.name})
            return [mismatch] * len(chunk)
        metrics.add_metric(name="ItemsInspected", unit="Count", value=len(chunk))
        return outcomes

    def complete(self, batch: InspectedBatch, message_id: str) -> InspectionResult | None:
        """Finish one record: publish its findings. Raises to fail just this record."""
        parsed = batch.outcomes.get(message_id)
        if parsed is None:
            raise MalformedMessage("record was not part of the inspected batch")
        if isinstance(parsed, MalformedMessage):
            metrics.add_metric(name="MalformedRecords", unit="Count", value=1)
            raise parsed
        outcome = batch.findings[message_id]
        if isinstance(outcome, DlpError):
            raise outcome
        return self._publish(parsed, outcome)

    @staticmethod
    def retry_delays(batch: InspectedBatch, failed: list[str]) -> dict[str, float]:
        """Seconds the provider asked us to wait (Retry-After), per failed record that has a hint."""
        delays: dict[str, float] = {}
        for message_id in failed:
            outcome = batch.findings.get(message_id)
            if isinstance(outcome, DlpError) and outcome.retryable and outcome.retry_after:
                delays[message_id] = outcome.retry_after
        return delays

    def _publish(self, item: InspectionItem, findings: list[Finding]) -> InspectionResult | None:
        if findings and self._false_positives is not None:
            # Values someone marked as a false positive in this workspace (Grid: org) never alert again.
            allowed = self._false_positives.allowed(item.ref.tenant_id, {f.fingerprint for f in findings})
            if allowed:
                metrics.add_metric(name="FindingsAllowlisted", unit="Count", value=len(allowed))
            findings = [f for f in findings if f.fingerprint not in allowed]
        if not findings:
            return None
        ref = item.ref
        if ref.kind is MessageKind.FILE:  # the chunk's start -> the line, row or paragraph of the first finding
            first = min(f.start for f in findings)
            ref = replace(ref, file_where=locate(ref.file_where, item.text, first))
        result = InspectionResult(ref=ref, findings=tuple(findings), provider=self._dlp.name)
        self._results.publish(result.to_json())
        metrics.add_metric(name="ItemsWithFindings", unit="Count", value=1)
        metrics.add_metric(name="Findings", unit="Count", value=len(findings))
        count_by_detector(findings)
        logger.info(
            "findings published",
            extra={
                "item_id": item.id,
                "detectors": sorted({f.detector for f in findings}),
                "count": len(findings),
            },
        )
        return result
