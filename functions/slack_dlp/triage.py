"""Triage from the alert: Acknowledge and False positive buttons, an allowlist, an audit trail.

The alert carries the buttons; Slack posts a signed ``block_actions`` payload to
``POST /slack/interactions`` when one is pressed; the alert is then updated in place with who did
what and when. *False positive* adds the findings' fingerprints to the workspace's allowlist, so
the same values never alert again there. Every alert and every action is written to the audit
trail (masked), with a retention.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from slack_dlp import jsonsafe
from slack_dlp.batches import batch_get
from slack_dlp.events_bus import EventPublisher, triage_event
from slack_dlp.http import HttpRequest, HttpResponse
from slack_dlp.observability import logger, metrics
from slack_dlp.queues import PublishError
from slack_dlp.slack.actions import ACKNOWLEDGE, DELETE, FALSE_POSITIVE, TRIAGE_BLOCK_ID, NotifyError, TriageTarget
from slack_dlp.slack.verify import RequestVerifier

_VERBS = {ACKNOWLEDGE: "acknowledged", FALSE_POSITIVE: "marked as a false positive", DELETE: "deleted"}
_AUDIT_KINDS = {ACKNOWLEDGE: "acknowledged", FALSE_POSITIVE: "false_positive", DELETE: "deleted"}
NOT_ALLOWED = (
    "You are not allowed to triage slack-dlp alerts; ask the security team to add you. This attempt was recorded."
)


@dataclass(frozen=True)
class Pressed:
    """A button press, validated field by field: a payload of any other shape is a ValueError."""

    type: str
    action_id: str
    block_id: str
    target: TriageTarget
    actor: str
    team_id: str
    channel: str
    message_ts: str
    blocks: list[dict[str, Any]]
    #: Enterprise Grid: the org of the workspace the button was pressed in.
    enterprise_id: str = ""

    @classmethod
    def parse(cls, body: bytes) -> Pressed:
        payload = _object(jsonsafe.loads(parse_qs(body.decode("utf-8"))["payload"][0]))
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            raise ValueError("no actions")
        action = _object(actions[0])
        container = _object(payload.get("container"))
        team = payload.get("team")
        enterprise = payload.get("enterprise")
        message = payload.get("message")
        blocks = message.get("blocks") if isinstance(message, dict) else None
        return cls(
            type=_text(payload.get("type")),
            action_id=_text(action.get("action_id")),
            block_id=_text(action.get("block_id")) or TRIAGE_BLOCK_ID,
            target=TriageTarget.from_value(_text(action.get("value"))),
            actor=_text(_object(payload.get("user")).get("id"), required=True),
            team_id=_text(team.get("id")) if isinstance(team, dict) else "",
            channel=_text(container.get("channel_id"), required=True),
            message_ts=_text(container.get("message_ts"), required=True),
            blocks=[b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else [],
            enterprise_id=(_text(enterprise.get("id")) if isinstance(enterprise, dict) else "")
            or (_text(team.get("enterprise_id")) if isinstance(team, dict) else ""),
        )


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value


def _text(value: Any, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ValueError("expected a string")
    return value


def _code(error: Exception) -> str:
    return str(getattr(error, "code", "")) or type(error).__name__


class Allowlist(Protocol):
    def add(
        self,
        team_id: str,
        fingerprints: Sequence[str],
        *,
        actor: str,
        item_id: str,
        masked: Mapping[str, str] | None = None,
        alert: str = "",
    ) -> None: ...

    def allowed(self, team_id: str, fingerprints: Iterable[str]) -> set[str]: ...


class UserNotifier(Protocol):
    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        """A message only ``user`` sees in ``channel``. Raises NotifyError."""
        ...


class TriagePolicy:
    """Who may press an alert's buttons: listed users and the members of one user group. With
    neither configured, anyone who sees the alert may. Group members are read from Slack
    (``usergroups.users.list``) and cached; when Slack cannot say, nobody outside the list may."""

    def __init__(
        self,
        users: Iterable[str] = (),
        usergroup: str = "",
        members: Callable[[str], set[str]] | None = None,
        *,
        cache_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = frozenset(users)
        self._usergroup = usergroup
        self._members = members
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cached: tuple[float, frozenset[str]] | None = None

    @property
    def restricted(self) -> bool:
        return bool(self._users or self._usergroup)

    def allows(self, user_id: str) -> bool:
        if not self.restricted or user_id in self._users:
            return True
        return bool(self._usergroup) and user_id in self._group_members()

    def _group_members(self) -> frozenset[str]:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        if self._members is None:
            return frozenset()
        try:
            members = frozenset(self._members(self._usergroup))
        except NotifyError as error:
            logger.error(
                "triage user group unreadable", extra={"usergroup": self._usergroup, "slack_error": error.code}
            )
            return self._cached[1] if self._cached is not None else frozenset()
        self._cached = (now, members)
        return members


class AuditLog(Protocol):
    def record(self, kind: str, **fields: Any) -> None: ...

    def since(self, seconds: float) -> list[dict[str, Any]]: ...


class AlertUpdater(Protocol):
    def update_alert(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None: ...


class MessageDeleter(Protocol):
    def delete_message(self, channel: str, ts: str) -> None:
        """Delete someone's message with an admin's user token. Raises NotifyError."""
        ...


class TriageService:
    def __init__(
        self,
        verifier: RequestVerifier,
        updater: AlertUpdater,
        allowlist: Allowlist,
        audit: AuditLog,
        clock: Callable[[], float] = time.time,
        deleter: MessageDeleter | None = None,
        policy: TriagePolicy | None = None,
        users: UserNotifier | None = None,
        events: EventPublisher | None = None,
    ) -> None:
        self._policy = policy or TriagePolicy()
        self._users = users
        self._events = events
        self._deleter = deleter
        self._verifier = verifier
        self._updater = updater
        self._allowlist = allowlist
        self._audit = audit
        self._clock = clock

    def handle_interaction_request(self, request: HttpRequest) -> HttpResponse:
        if not self._verifier.is_valid(request.body, request.headers):
            return HttpResponse.error(401, "invalid or missing Slack signature")
        try:
            pressed = Pressed.parse(request.body)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return HttpResponse.error(400, "not a slack-dlp block_actions payload")
        if pressed.type != "block_actions" or pressed.action_id not in _VERBS:
            return HttpResponse.json(200, ok=True)
        if not pressed.team_id:
            return HttpResponse.error(403, "the interaction names no workspace")
        if not pressed.target.belongs_to(pressed.team_id, pressed.enterprise_id):
            return HttpResponse.error(403, "the alert belongs to another workspace")
        if not self._policy.allows(pressed.actor):
            return self._refuse(pressed.action_id, pressed.actor, pressed.target, pressed.channel, pressed.message_ts)
        return self._act(pressed)

    def _act(self, pressed: Pressed) -> HttpResponse:
        action_id, target, actor = pressed.action_id, pressed.target, pressed.actor
        channel, message_ts, blocks = pressed.channel, pressed.message_ts, pressed.blocks

        verb = _VERBS[action_id]
        if action_id == DELETE:
            failure = self._delete(target)
            if failure:
                verb = f"not deleted ({failure})"
        if action_id == FALSE_POSITIVE:
            self._allowlist.add(
                target.tenant_id,
                target.fingerprints,
                actor=actor,
                item_id=target.item_id,
                masked=target.masked_by_fingerprint,
                alert=f"{channel}/{message_ts}",
            )
        kind = _AUDIT_KINDS[action_id] if not verb.startswith("not") else "delete_failed"
        self._audit.record(
            kind,
            actor=actor,
            item_id=target.item_id,
            team_id=target.team_id,
            enterprise_id=target.enterprise_id,
            channel=channel,
            alert_ts=message_ts,
            fingerprints=list(target.fingerprints),
        )
        self._publish(kind, actor, target, channel, message_ts)
        now = int(self._clock())
        note = f"*{verb.capitalize()}* by <@{actor}> · <!date^{now}^{{date_short_pretty}} {{time}}|{now}>"
        if action_id == FALSE_POSITIVE:
            scope = "organization" if target.enterprise_id else "workspace"
            note += f" · these values will not alert again in this {scope}"
        if action_id == DELETE and not verb.startswith("not"):
            note += " · the message is gone from the conversation"
        # In a digest each result has its own buttons: replace only the pressed ones with the note.
        context = {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}
        updated = [context if b.get("block_id") == pressed.block_id else b for b in blocks]
        if context not in updated:
            updated.append(context)
        try:
            self._updater.update_alert(channel, message_ts, f"Alert {verb} by <@{actor}>", updated)
        except (NotifyError, OSError) as error:
            # The action is recorded (audit trail, allowlist); only the alert's text is stale.
            logger.warning("alert not updated", extra={"item_id": target.item_id, "error": _code(error)})
            metrics.add_metric(name="AlertUpdateFailures", unit="Count", value=1)
        metrics.add_metric(name="AlertsTriaged", unit="Count", value=1)
        logger.info("alert triaged", extra={"item_id": target.item_id, "action": action_id})
        return HttpResponse(status=200, body="")

    def _refuse(self, action_id: str, actor: str, target: TriageTarget, channel: str, message_ts: str) -> HttpResponse:
        """Someone outside ``triage_users``/``triage_usergroup``: nothing changes, they are told, it is audited."""
        metrics.add_metric(name="TriageRefused", unit="Count", value=1)
        logger.warning("triage refused", extra={"item_id": target.item_id, "action": action_id, "actor": actor})
        self._audit.record(
            "triage_refused",
            actor=actor,
            action=_AUDIT_KINDS[action_id],
            item_id=target.item_id,
            team_id=target.team_id,
            channel=channel,
            alert_ts=message_ts,
        )
        self._publish("triage_refused", actor, target, channel, message_ts)
        if self._users is not None:
            try:
                self._users.post_ephemeral(channel, actor, NOT_ALLOWED)
            except NotifyError as error:
                logger.info("refusal not shown", extra={"slack_error": error.code})
        return HttpResponse(status=200, body="")

    def _publish(self, action: str, actor: str, target: TriageTarget, channel: str, message_ts: str) -> None:
        """Best effort: the action is done and audited; a SIEM that misses it still has the audit trail."""
        if self._events is None:
            return
        event = triage_event(
            action,
            actor=actor,
            team_id=target.team_id,
            item_id=target.item_id,
            fingerprints=target.fingerprints,
            channel=channel,
            alert_ts=message_ts,
        )
        try:
            self._events.put([event])
        except PublishError as error:
            metrics.add_metric(name="EventPublishFailures", unit="Count", value=1)
            logger.warning("triage event not published", extra={"item_id": target.item_id, "error": str(error)})

    def _delete(self, target: TriageTarget) -> str:
        """Empty when deleted, else why not (Slack's error code)."""
        if self._deleter is None or not target.channel_id:
            return "no admin token configured"
        try:
            self._deleter.delete_message(target.channel_id, target.ts)
        except NotifyError as error:
            logger.warning("message not deleted", extra={"item_id": target.item_id, "slack_error": error.code})
            return error.code
        return ""


class DynamoDbTriageStore:
    """Allowlist and audit trail in one table (``pk``/``sk``; ``expires`` is the TTL attribute).

    - allowlist: ``pk = allow#<tenant>``, ``sk = <fingerprint>`` (tenant: the Grid org, or the workspace;
      ``expires`` with ``allowlist_ttl_days``)
    - audit:     ``pk = audit#<yyyy-mm-dd>``, ``sk = <iso time>#<uuid>``
    """

    def __init__(
        self,
        client: Any,
        table: str,
        retention_days: int,
        clock: Callable[[], float] = time.time,
        *,
        allowlist_ttl_days: int = 0,
    ) -> None:
        self._client = client
        self._table = table
        self._retention = retention_days * 86400
        self._allow_ttl = allowlist_ttl_days * 86400
        self._clock = clock

    def add(
        self,
        team_id: str,
        fingerprints: Sequence[str],
        *,
        actor: str,
        item_id: str,
        masked: Mapping[str, str] | None = None,
        alert: str = "",
    ) -> None:
        now = self._clock()
        for fingerprint in fingerprints:
            item = {
                "pk": {"S": f"allow#{team_id}"},
                "sk": {"S": fingerprint},
                "actor": {"S": actor},
                "item_id": {"S": item_id},
                "at": {"S": datetime.fromtimestamp(now, UTC).isoformat()},
                "masked": {"S": (masked or {}).get(fingerprint, "")},
                "alert": {"S": alert},
            }
            if self._allow_ttl:
                item["expires"] = {"N": str(int(now + self._allow_ttl))}
            self._client.put_item(TableName=self._table, Item=item)

    def allowed(self, team_id: str, fingerprints: Iterable[str]) -> set[str]:
        wanted = sorted(set(fingerprints))
        found: set[str] = set()
        now = self._clock()
        for first in range(0, len(wanted), 100):
            keys = [{"pk": {"S": f"allow#{team_id}"}, "sk": {"S": f}} for f in wanted[first : first + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ProjectionExpression": "sk, expires"}}
            for response in batch_get(self._client, request):
                # DynamoDB deletes expired items within days, not at once: an expired entry no longer counts.
                found.update(
                    item["sk"]["S"]
                    for item in response.get("Responses", {}).get(self._table, [])
                    if not _expired(item, now)
                )
        return found

    def allowlist(self, team_ids: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Allowlisted fingerprints (of these workspaces, or all), masked, with who, when and which alert."""
        now = self._clock()
        if team_ids:
            pages = [
                self._pages(
                    "query",
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": f"allow#{team}"}},
                )
                for team in team_ids
            ]
        else:
            pages = [
                self._pages(
                    "scan",
                    FilterExpression="begins_with(pk, :allow)",
                    ExpressionAttributeValues={":allow": {"S": "allow#"}},
                )
            ]
        entries = []
        for item in (item for page in pages for item in page):
            if _expired(item, now):
                continue
            expires = int(item["expires"]["N"]) if "expires" in item else None
            entries.append(
                {
                    "workspace": item["pk"]["S"].removeprefix("allow#"),
                    "fingerprint": item["sk"]["S"],
                    "masked": item.get("masked", {}).get("S", ""),
                    "actor": item.get("actor", {}).get("S", ""),
                    "at": item.get("at", {}).get("S", ""),
                    "item_id": item.get("item_id", {}).get("S", ""),
                    "alert": item.get("alert", {}).get("S", ""),
                    "expires": datetime.fromtimestamp(expires, UTC).isoformat() if expires else None,
                }
            )
        return sorted(entries, key=lambda e: (e["workspace"], e["at"]))

    def remove(self, team_id: str, fingerprint: str) -> bool:
        """Take a fingerprint off a workspace's allowlist; False when it was not on it."""
        response = self._client.delete_item(
            TableName=self._table,
            Key={"pk": {"S": f"allow#{team_id}"}, "sk": {"S": fingerprint}},
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

    def _pages(self, operation: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
        call = getattr(self._client, operation)
        kwargs["TableName"] = self._table
        while True:
            response = call(**kwargs)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def record(self, kind: str, **fields: Any) -> None:
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC)
        item = {
            "pk": {"S": f"audit#{stamp:%Y-%m-%d}"},
            "sk": {"S": f"{stamp.isoformat()}#{uuid.uuid4().hex[:8]}"},
            "kind": {"S": kind},
            "expires": {"N": str(int(now + self._retention))},
            "data": {"S": json.dumps(fields, sort_keys=True)},
        }
        self._client.put_item(TableName=self._table, Item=item)

    def since(self, seconds: float) -> list[dict[str, Any]]:
        now = self._clock()
        start = datetime.fromtimestamp(now - seconds, UTC)
        days = {f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d}" for t in _days_between(now - seconds, now)}
        events: list[dict[str, Any]] = []
        for day in sorted(days):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk >= :from",
                "ExpressionAttributeValues": {":pk": {"S": f"audit#{day}"}, ":from": {"S": start.isoformat()}},
            }
            while True:
                response = self._client.query(**kwargs)
                for item in response.get("Items", []):
                    events.append({"at": item["sk"]["S"].split("#")[0], "kind": item["kind"]["S"],
                                   **json.loads(item["data"]["S"])})  # fmt: skip
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(events, key=lambda e: str(e["at"]))


def _expired(item: Mapping[str, Any], now: float) -> bool:
    return "expires" in item and int(item["expires"]["N"]) <= now


def _days_between(start: float, end: float) -> list[float]:
    days = []
    t = start
    while t < end + 86400:
        days.append(min(t, end))
        t += 86400
    return days


def render_events(events: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"{'WHEN':32} {'WHAT':20} {'WORKSPACE':12} {'WHO/WHERE':24} DETAIL"]
    for event in events:
        who = event.get("actor") or event.get("user_id") or ""
        where = event.get("channel") or ""
        detail = ", ".join(f"{d}" for d in event.get("detectors", [])) or event.get("item_id", "")
        if not detail and event.get("window_start"):
            detail = f"events lost {event['window_start']} to {event.get('window_end', '')}"
        if not detail and event.get("reason"):  # joins, skipped files
            detail = " ".join(str(event.get(k) or "") for k in ("reason", "error", "file_name")).strip()
        workspace = str(event.get("team_id") or "")
        lines.append(f"{event['at']:32} {event['kind']:20} {workspace:12} {who + ' ' + where:24} {detail}")
    return "\n".join(lines)
