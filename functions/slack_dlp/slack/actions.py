"""The alert's buttons: their ids and the target a button carries. The lowest layer of triage:
the alert builder writes them, the triage service reads them, and neither imports the other."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_dlp import jsonsafe

TRIAGE_BLOCK_ID = "dlp_triage"
ACKNOWLEDGE = "dlp_acknowledge"
FALSE_POSITIVE = "dlp_false_positive"
DELETE = "dlp_delete"
#: Slack caps a button value at 2,000 characters; 40 fingerprints of 32 hex characters fit.
MAX_FINGERPRINTS_PER_BUTTON = 40
MAX_BUTTON_VALUE = 2000
_JSON_MARKUP_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@dataclass(frozen=True)
class TriageTarget:
    """What a button acts on, carried in its value: never a value, only fingerprints."""

    team_id: str
    item_id: str
    fingerprints: tuple[str, ...]
    channel_id: str = ""
    ts: str = ""
    #: The masked previews of the fingerprints, in the same order, when they fit in the button.
    masked: tuple[str, ...] = ()
    #: Enterprise Grid: the organization; its security team triages every workspace's alerts.
    enterprise_id: str = ""

    @property
    def tenant_id(self) -> str:
        """Whose allowlist a false positive joins: the Grid organization, or the workspace."""
        return self.enterprise_id or self.team_id

    def to_value(self) -> str:
        data: dict[str, Any] = {
            "t": self.team_id,
            "i": self.item_id,
            "f": list(self.fingerprints[:MAX_FINGERPRINTS_PER_BUTTON]),
        }
        if self.channel_id:
            data |= {"c": self.channel_id, "s": self.ts}
        if self.enterprise_id:
            data |= {"e": self.enterprise_id}
        # Masked previews keep a few characters of a value: escape anything Slack would read as markup.
        with_masked = json.dumps(
            data | {"m": list(self.masked[: len(data["f"])])}, separators=(",", ":"), ensure_ascii=False
        ).translate(_JSON_MARKUP_ESCAPES)
        if self.masked and len(with_masked) <= MAX_BUTTON_VALUE:
            return with_masked
        return json.dumps(data, separators=(",", ":"))

    @property
    def masked_by_fingerprint(self) -> dict[str, str]:
        return dict(zip(self.fingerprints, self.masked, strict=False))

    def belongs_to(self, team_id: str, enterprise_id: str = "") -> bool:
        """The button was pressed in the alert's own workspace, or, on Grid, in its organization."""
        if self.enterprise_id:
            return enterprise_id == self.enterprise_id
        return team_id == self.team_id

    @classmethod
    def from_value(cls, value: str) -> TriageTarget:
        data = jsonsafe.loads(value)
        fingerprints, masked = data["f"], data.get("m", [])
        for strings in (fingerprints, masked):
            if not isinstance(strings, list) or not all(isinstance(f, str) for f in strings):
                raise ValueError("fingerprints")
        return cls(
            team_id=str(data["t"]),
            item_id=str(data["i"]),
            fingerprints=tuple(fingerprints),
            channel_id=str(data.get("c", "")),
            ts=str(data.get("s", "")),
            masked=tuple(masked),
            enterprise_id=str(data.get("e", "")),
        )


class NotifyError(Exception):
    """A Slack call failed. Carries Slack's error code, never the alert content."""

    def __init__(self, code: str, *, fatal: bool = False, retry_after: float | None = None) -> None:
        super().__init__(f"Slack API error: {code}")
        self.code = code
        self.fatal = fatal
        self.retry_after = retry_after
