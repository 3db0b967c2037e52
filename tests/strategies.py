"""Hypothesis strategies for hostile input: any JSON, mutated Slack envelopes and interactions,
header values of any characters, and broken files."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from slack_dlp.triage import ACKNOWLEDGE, FALSE_POSITIVE, TriageTarget
from tests.factories import event_envelope, message_event

#: Bounded and reproducible: derandomized (the same examples every run), no per-example deadline
#: (moto's first call is slow) but few enough examples to keep the suite fast.
FUZZ = settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
#: Strings that break naive handling: non-ASCII, surrogates, control characters, huge numbers.
nasty_text = st.text(st.characters(codec=None, categories=None), max_size=30) | st.sampled_from(
    ["\x80", "\udcff", "1e400", "NaN", "-Infinity", "\x00", "v0=" + "é" * 64, "9" * 5000, "[" * 50]
)
#: Raw JSON snippets the standard library accepts but that break code downstream.
hostile_json = st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "[" * 3000 + "]" * 3000, "9" * 5000, '"\\ud800"'])

ENVELOPE_PATHS = [
    ("type",), ("team_id",), ("event_id",), ("event_time",), ("authorizations",), ("event",),
    ("event", "type"), ("event", "subtype"), ("event", "text"), ("event", "channel"), ("event", "ts"),
    ("event", "user"), ("event", "bot_id"), ("event", "files"), ("event", "message"), ("event", "file_id"),
    ("event", "file"), ("event", "previous_message"), ("event", "thread_ts"), ("event", "channel_type"),
]  # fmt: skip


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target: Any = document
    for key in path[:-1]:
        if not isinstance(target, dict):
            return
        target = target.setdefault(key, {})
    if isinstance(target, dict):
        target[path[-1]] = value


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> bytes:
    """A valid message event with some fields replaced by any JSON (or hostile raw JSON)."""
    subtype = draw(st.sampled_from([None, "message_changed", "file_share", "bot_message", "thread_broadcast"]))
    event = message_event("hello", ts=f"1700000000.{draw(st.integers(0, 999_999)):06d}")
    if subtype:
        event["subtype"] = subtype
    envelope = event_envelope(event)
    if subtype == "file_share":
        envelope["event"]["files"] = [{"id": "F0FUZZ"}]
    for path in draw(st.lists(st.sampled_from(ENVELOPE_PATHS), max_size=4, unique=True)):
        _set(envelope, path, draw(json_values))
    body = json.dumps(envelope)
    if draw(st.booleans()):
        # Swap one value for raw JSON json.dumps cannot write (1e400, deep nesting, huge numbers).
        body = body.replace('"hello"', draw(hostile_json), 1)
    return body.encode()


def interaction_payload(team: Any = "T0TEAM") -> dict[str, Any]:
    value = TriageTarget(team_id="T0TEAM", item_id="T0TEAM:C1:1.0", fingerprints=("ab" * 16,)).to_value()
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0SECOPS"},
        "container": {"type": "message", "channel_id": "C0ALERTS", "message_ts": "1700000001.000100"},
        "message": {"blocks": [{"type": "section", "block_id": "dlp_triage"}]},
        "actions": [{"action_id": ACKNOWLEDGE, "value": value, "type": "button"}],
    }
    if team is not None:
        payload["team"] = {"id": team}
    return payload


INTERACTION_PATHS = [
    ("type",), ("team",), ("team", "id"), ("user",), ("user", "id"), ("container",), ("container", "channel_id"),
    ("container", "message_ts"), ("message",), ("message", "blocks"), ("actions",),
]  # fmt: skip


@st.composite
def mutated_interactions(draw: st.DrawFn) -> bytes:
    payload = interaction_payload(draw(st.sampled_from(["T0TEAM", "T0OTHER", None])))
    action = payload["actions"][0]
    action["action_id"] = draw(st.sampled_from([ACKNOWLEDGE, FALSE_POSITIVE, "other"]))
    if draw(st.booleans()):
        action["value"] = draw(nasty_text | hostile_json)
    for path in draw(st.lists(st.sampled_from(INTERACTION_PATHS), max_size=3, unique=True)):
        _set(payload, path, copy.deepcopy(draw(json_values)))
    raw = json.dumps(payload)
    if draw(st.booleans()):
        raw = raw.replace('"U0SECOPS"', draw(hostile_json), 1)
    form = {"payload": raw} if draw(st.integers(0, 9)) else {"other": raw}
    return urlencode(form).encode()


header_values = nasty_text | st.text(max_size=10)
