"""The messages that travel between the pipeline's stages.

inspect queue:  ``InspectionItem``  (a reference to a Slack message + the text to inspect)
results queue:  ``InspectionResult`` (the same reference + masked findings, never the text)
files queue:    ``FileRef``         (a file to fetch, never its content)
join queue:     ``JoinRequest``     (a public channel for the app to join)

Both serialize to small JSON documents with a schema version, and parsing rejects anything
malformed with ``MalformedMessage`` so a poison message fails its record (and ends in a DLQ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Self

from slack_dlp import jsonsafe

SCHEMA_VERSION = 1
#: ``slack-dlp smoke`` sends a synthetic event whose event_id starts with this (real ids are
#: ``Ev`` and a few characters): its alert says it is a test and has no buttons.
SMOKE_TEST_EVENT_PREFIX = "EvSLACKDLPSMOKETEST"


class MalformedMessage(ValueError):
    """A queue message that does not match the schema; the message says which field."""


class Category(StrEnum):
    SECRET = "secret"
    FINANCIAL = "financial"
    PERSONAL = "personal"


class Confidence(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]

    def at_least(self, other: Confidence) -> bool:
        return self.rank >= other.rank


_CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


class MessageKind(StrEnum):
    MESSAGE = "message"
    EDIT = "edit"
    MENTION = "mention"
    FILE_SHARE = "file_share"
    FILE = "file"  # text extracted from a shared file


@dataclass(frozen=True)
class MessageRef:
    """Where a piece of inspected text lives in Slack: enough to link to it and name its author."""

    team_id: str
    channel_id: str
    ts: str
    user_id: str = ""
    thread_ts: str = ""
    event_id: str = ""
    event_time: int = 0
    kind: MessageKind = MessageKind.MESSAGE
    channel_type: str = ""
    #: For text extracted from a shared file: which file, where in it, which chunk, a link to it.
    file_id: str = ""
    file_name: str = ""
    file_where: str = ""
    file_chunk: int = 0
    file_link: str = ""
    #: Inside an archive: the member's path, an archive inside it joined by ``!`` (``inner.zip!deploy/main.tf``).
    file_member: str = ""
    #: Enterprise Grid: the organization (E0123...) of ``team_id``, the workspace; empty elsewhere.
    enterprise_id: str = ""
    #: Posted by an app or an incoming webhook (B0123...), not by a person.
    bot_id: str = ""

    @property
    def tenant_id(self) -> str:
        """Who owns the data: the Grid organization, or the workspace outside Grid.

        An org-wide install may hear of one message through more than one workspace (a channel
        shared by several of the org's workspaces): keyed on the org, it is inspected once.
        """
        return self.enterprise_id or self.team_id

    @property
    def is_smoke_test(self) -> bool:
        """A synthetic event from ``slack-dlp smoke`` (signed with the stack's signing secret)."""
        return self.event_id.startswith(SMOKE_TEST_EVENT_PREFIX)

    @property
    def file_path(self) -> str:
        """The path rules with a ``path`` (gitleaks' ``main.tf`` rules) are matched against: the file's
        name, and inside an archive the member's after a ``!`` (``bundle.zip!infra/main.tf``), as
        gitleaks names archive members."""
        return f"{self.file_name}!{self.file_member}" if self.file_member else self.file_name

    @property
    def item_id(self) -> str:
        """Stable id of one inspected text: an edit of a message is a new text to inspect."""
        if self.kind is MessageKind.FILE:
            return f"{self.tenant_id}:file:{self.file_id}:{self.file_chunk}"
        suffix = f":{self.event_id}" if self.kind is MessageKind.EDIT else ""
        return f"{self.tenant_id}:{self.channel_id}:{self.ts}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: Any) -> MessageRef:
        if not isinstance(data, Mapping):
            raise MalformedMessage("ref must be an object")
        try:
            return cls(
                team_id=_str(data, "team_id", required=True),
                channel_id=_str(data, "channel_id", required=True),
                ts=_str(data, "ts", required=data.get("kind") != MessageKind.FILE.value),
                user_id=_str(data, "user_id"),
                thread_ts=_str(data, "thread_ts"),
                event_id=_str(data, "event_id"),
                event_time=int(data.get("event_time") or 0),
                kind=MessageKind(data.get("kind", MessageKind.MESSAGE.value)),
                channel_type=_str(data, "channel_type"),
                file_id=_str(data, "file_id"),
                file_name=_str(data, "file_name"),
                file_where=_str(data, "file_where"),
                file_chunk=int(data.get("file_chunk") or 0),
                file_link=_str(data, "file_link"),
                file_member=_str(data, "file_member"),
                enterprise_id=_str(data, "enterprise_id"),
                bot_id=_str(data, "bot_id"),
            )
        except (TypeError, ValueError, OverflowError) as error:
            if isinstance(error, MalformedMessage):
                raise
            raise MalformedMessage("ref has a field of the wrong type") from None


@dataclass(frozen=True)
class InspectionItem:
    """One text to inspect, as enqueued by ingest. Lives only on the encrypted inspect queue."""

    ref: MessageRef
    text: str

    @property
    def id(self) -> str:
        return self.ref.item_id

    def to_json(self) -> str:
        # UTF-8 rather than \u escapes: a 40,000-character message of 4-byte characters is 160 KB,
        # not 480 KB, and fits an SQS message (256 KiB).
        return sqs_safe_json({"v": SCHEMA_VERSION, "ref": self.ref.to_dict(), "text": self.text})

    @classmethod
    def from_json(cls, body: str) -> InspectionItem:
        data = _load(body)
        text = data.get("text")
        if not isinstance(text, str):
            raise MalformedMessage("text must be a string")
        return cls(ref=MessageRef.from_dict(data.get("ref")), text=text)


class _FlatMessage:
    """A queue message whose fields are all strings; the fields without a default are required."""

    def to_json(self) -> str:
        return json.dumps({"v": SCHEMA_VERSION, **asdict(self)})  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, body: str) -> Self:
        data = _load(body)
        return cls(**{f.name: _str(data, f.name, required=f.default is MISSING) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class FileRef(_FlatMessage):
    """A file to fetch and inspect, as ingest enqueues it on the files queue (never its content)."""

    team_id: str
    file_id: str
    channel_id: str = ""
    user_id: str = ""
    ts: str = ""
    event_id: str = ""
    enterprise_id: str = ""


@dataclass(frozen=True)
class JoinRequest(_FlatMessage):
    """A public channel for the app to join, as ingest enqueues it on the join queue."""

    team_id: str
    channel_id: str
    #: What made the channel appear: channel_created, channel_unarchive.
    reason: str = ""
    event_id: str = ""
    enterprise_id: str = ""


@dataclass(frozen=True)
class Finding:
    """One sensitive value found in a text: where, what kind, how sure, never the value itself.

    ``start``/``end`` are Python str offsets into the inspected text; ``masked`` keeps only a
    few leading characters; ``fingerprint`` is a keyed hash for allowlisting and dedup.
    """

    detector: str
    category: Category
    start: int
    end: int
    confidence: Confidence
    masked: str
    fingerprint: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["category"] = self.category.value
        data["confidence"] = self.confidence.value
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Finding:
        if not isinstance(data, Mapping):
            raise MalformedMessage("finding must be an object")
        try:
            finding = cls(
                detector=_str(data, "detector", required=True),
                category=Category(str(data.get("category"))),
                start=int(data["start"]),
                end=int(data["end"]),
                confidence=Confidence(str(data.get("confidence"))),
                masked=_str(data, "masked"),
                fingerprint=_str(data, "fingerprint", required=True),
                description=_str(data, "description"),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            if isinstance(error, MalformedMessage):
                raise
            raise MalformedMessage("finding has a missing or invalid field") from None
        if not 0 <= finding.start <= finding.end:
            raise MalformedMessage("finding offsets are out of order")
        return finding


@dataclass(frozen=True)
class InspectionResult:
    """What the reporter needs to alert: the message reference and its masked findings."""

    ref: MessageRef
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    provider: str = "builtin"

    @property
    def id(self) -> str:
        return self.ref.item_id

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": SCHEMA_VERSION,
                "ref": self.ref.to_dict(),
                "provider": self.provider,
                "findings": [f.to_dict() for f in self.findings],
            }
        )

    @classmethod
    def from_json(cls, body: str) -> InspectionResult:
        data = _load(body)
        findings = data.get("findings")
        if not isinstance(findings, list) or not findings:
            raise MalformedMessage("findings must be a non-empty list")
        return cls(
            ref=MessageRef.from_dict(data.get("ref")),
            findings=tuple(Finding.from_dict(f) for f in findings),
            provider=str(data.get("provider", "builtin")),
        )


#: Characters an SQS message body may not hold (it allows #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD
#: and #x10000-#x10FFFF); each is written as a JSON \u escape. Stated as the complement: the negated
#: class with the astral range took 6-20 ms to compile at every cold start.
_NOT_SQS_SAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def sqs_safe_json(data: Any) -> str:
    """Compact JSON in UTF-8 that SQS accepts: characters outside its allowed set are escaped."""
    return _NOT_SQS_SAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False))


def _load(body: str) -> Mapping[str, Any]:
    try:
        data = jsonsafe.loads(body)
    except (TypeError, ValueError):
        raise MalformedMessage("body is not JSON") from None
    if not isinstance(data, Mapping):
        raise MalformedMessage("body must be a JSON object")
    if data.get("v") != SCHEMA_VERSION:
        raise MalformedMessage(f"unsupported schema version (expected {SCHEMA_VERSION})")
    return data


def _str(data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise MalformedMessage(f"{key} must be a string")
    if required and not value:
        raise MalformedMessage(f"{key} is required")
    return value
