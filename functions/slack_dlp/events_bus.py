"""Findings and triage actions as EventBridge events, masked, for a SIEM to subscribe with a rule.

Each finding becomes one ``slack-dlp finding`` event; each button press one ``slack-dlp triage``
event. An event carries what the alert shows — detector, category, confidence, the masked value,
the fingerprint, where and by whom — and never the value or the message text. Its ``id`` is
stable across redeliveries, so a subscriber can drop the duplicates an at-least-once pipeline
may produce.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_dlp.model import InspectionResult, MessageKind
from slack_dlp.queues import PublishError

SOURCE = "slack-dlp"
FINDING = "slack-dlp finding"
TRIAGE = "slack-dlp triage"
#: PutEvents takes at most 10 entries per call.
MAX_ENTRIES_PER_CALL = 10


@dataclass(frozen=True)
class BusEvent:
    detail_type: str
    detail: Mapping[str, Any]


class EventPublisher(Protocol):
    def put(self, events: Sequence[BusEvent]) -> None:
        """Publish every event, or raise PublishError (never with event content)."""
        ...


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str, source: str = SOURCE) -> None:
        self._client = client
        self._bus_name = bus_name
        self._source = source

    def put(self, events: Sequence[BusEvent]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        entries = [
            {
                "Source": self._source,
                "DetailType": event.detail_type,
                "Detail": json.dumps(event.detail, sort_keys=True),
                "EventBusName": self._bus_name,
            }
            for event in events
        ]
        for first in range(0, len(entries), MAX_ENTRIES_PER_CALL):
            batch = entries[first : first + MAX_ENTRIES_PER_CALL]
            try:
                response = self._client.put_events(Entries=batch)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "Unknown")
                raise PublishError(f"EventBridge PutEvents failed: {code}") from None
            except BotoCoreError as error:
                raise PublishError(f"EventBridge PutEvents failed: {type(error).__name__}") from None
            if response.get("FailedEntryCount"):
                codes = sorted({str(e.get("ErrorCode")) for e in response.get("Entries", []) if e.get("ErrorCode")})
                raise PublishError(f"EventBridge rejected {response['FailedEntryCount']} entries: {','.join(codes)}")


def finding_events(result: InspectionResult) -> list[BusEvent]:
    """One event per finding of an alerted result: masked, with where it was and a link."""
    from slack_dlp.slack.alerts import fallback_permalink

    ref = result.ref
    permalink = fallback_permalink(result)
    events = []
    for finding in result.findings:
        detail: dict[str, Any] = {
            "id": _event_id(ref.item_id, finding.fingerprint, str(finding.start)),
            "detector": finding.detector,
            "description": finding.description,
            "category": finding.category.value,
            "confidence": finding.confidence.value,
            "masked": finding.masked,
            "fingerprint": finding.fingerprint,
            "workspace": ref.team_id,
            "channel": ref.channel_id,
            "user": ref.user_id,
            "ts": ref.ts,
            "thread_ts": ref.thread_ts,
            "kind": ref.kind.value,
            "permalink": permalink,
            "location": {"start": finding.start, "end": finding.end},
            "provider": result.provider,
        }
        if ref.kind is MessageKind.FILE:
            detail["file"] = {"id": ref.file_id, "name": ref.file_name, "where": ref.file_where}
        events.append(BusEvent(FINDING, detail))
    return events


def triage_event(
    action: str, *, actor: str, team_id: str, item_id: str, fingerprints: Sequence[str], channel: str, alert_ts: str
) -> BusEvent:
    """A button press (or a refused one): who did what to which alert, by fingerprints only."""
    return BusEvent(
        TRIAGE,
        {
            "id": _event_id(item_id, action, actor, alert_ts),
            "action": action,
            "actor": actor,
            "workspace": team_id,
            "item_id": item_id,
            "fingerprints": list(fingerprints),
            "alert_channel": channel,
            "alert_ts": alert_ts,
        },
    )


def _event_id(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
