"""The whole pipeline in-process (moto + Slack stand-in), with canary secrets planted at the start."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from slack_dlp_tools.local.slack_standin import SlackStandIn
from tests.factories import (
    FakeLambdaContext,
    canary_secrets,
    event_envelope,
    http_api_event,
    message_event,
    signed_request,
    sqs_event,
)
from tests.integration.conftest import FakeStack

CANARIES = canary_secrets(seed=2024)


def _variants(value: str) -> list[str]:
    """The value as planted, without separators, and its longest unmasked stretch."""
    compact = value.replace(" ", "")
    return [value, compact, compact[4:16]]


def _drain(stack: FakeStack, inspector: Any, reporter: Any, context: Any) -> tuple[list[str], list[str]]:
    """The inspect queue through the inspector, then the results queue through the reporter (no
    record may fail): the bodies of both queues."""
    inspect_bodies = [m["Body"] for m in stack.drain(stack.inspect_queue_url)]
    assert inspector.handler(sqs_event(inspect_bodies), context) == {"batchItemFailures": []}
    result_bodies = [m["Body"] for m in stack.drain(stack.results_queue_url)]
    assert reporter.handler(sqs_event(result_bodies), context) == {"batchItemFailures": []}
    return inspect_bodies, result_bodies


def test_planted_secrets_alert_once_each_and_leak_nowhere(
    load_handler: Any,
    stack: FakeStack,
    slack: SlackStandIn,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ingest, inspector, reporter = load_handler("ingest"), load_handler("inspector"), load_handler("reporter")
    context = FakeLambdaContext()

    # GIVEN messages that leak each canary, one clean message, and Slack retrying one of them twice
    leaks = {name: event_envelope(message_event(f"note: {value} (do not share)", channel=f"C0{name.upper()}"))
             for name, value in CANARIES.items()}  # fmt: skip
    clean = event_envelope(message_event("all quiet today"))
    retries = [{"X-Slack-Retry-Num": n, "X-Slack-Retry-Reason": "http_timeout"} for n in ("1", "2")]
    deliveries = [*((e, {}) for e in [*leaks.values(), clean]), *((leaks["github"], r) for r in retries)]
    for envelope, extra in deliveries:
        body, headers = signed_request(envelope, extra_headers=extra)
        assert ingest.handler(http_api_event(body, headers), context)["statusCode"] == 200

    # WHEN the queues are drained through the inspector and the reporter
    inspect_bodies, result_bodies = _drain(stack, inspector, reporter, context)
    assert len(inspect_bodies) == 5  # the first retry of a fast answer gets through, the second does not

    # THEN the three leaking messages are alerted (one digest: they arrived together), the clean one not
    alerts = slack.alerts()
    assert len(alerts) == 1
    assert {a["args"]["channel"] for a in alerts} == {"C0ALERTS"}
    posted = json.dumps(alerts[0]["args"]["blocks"])
    assert all(f"<#C0{name.upper()}>" in posted for name in CANARIES)
    assert posted.count("dlp_triage:") == 3

    # AND no canary appears in the results queue, the alerts, the logs or the metrics
    outputs = {
        "results queue": "\n".join(result_bodies),
        "slack calls": json.dumps(slack.state.calls, ensure_ascii=False),
        "logs": logs.getvalue(),
        "stdout (metrics)": capsys.readouterr().out,
    }
    for where, text in outputs.items():
        for value in CANARIES.values():
            for variant in _variants(value):
                assert variant not in text, f"canary leaked into {where}"
    assert "do not share" not in outputs["results queue"] + outputs["slack calls"] + outputs["logs"]


def test_secrets_holding_characters_slack_escapes_are_alerted_and_leak_nowhere(
    load_handler: Any,
    stack: FakeStack,
    slack: SlackStandIn,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ingest, inspector, reporter = load_handler("ingest"), load_handler("inspector"), load_handler("reporter")
    context = FakeLambdaContext()
    # GIVEN a password holding '&' and a pasted XML config, as the authors typed them ...
    password, xml_password = "Xk9&mP2q!vL7rT4w", "Zq8vR3m!Lp6sW2nT"
    typed = {
        "C0AMP": f"DB_PASSWORD={password}",
        "C0XML": f"<datasource><password>{xml_password}</password></datasource>",
    }
    # ... and as Slack delivers them: & < > escaped
    escaped = {c: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for c, t in typed.items()}
    for channel, text in escaped.items():
        body, headers = signed_request(event_envelope(message_event(text, channel=channel)))
        assert ingest.handler(http_api_event(body, headers), context)["statusCode"] == 200

    # WHEN the pipeline runs
    _, result_bodies = _drain(stack, inspector, reporter, context)

    # THEN both messages are alerted, the whole value found (its masked preview starts as typed)
    posted = json.dumps([a["args"] for a in slack.alerts()], ensure_ascii=False)
    assert "<#C0AMP>" in posted and "<#C0XML>" in posted
    results = [json.loads(body) for body in result_bodies]
    lengths = {r["ref"]["channel_id"]: r["findings"][0]["end"] - r["findings"][0]["start"] for r in results}
    assert lengths == {"C0AMP": len(password), "C0XML": len(xml_password)}
    # AND neither value, typed or escaped, reaches the results queue, Slack, the logs or the metrics
    outputs = "\n".join(result_bodies) + json.dumps(slack.state.calls) + logs.getvalue() + capsys.readouterr().out
    for value in (password, xml_password):
        for variant in (value, value.replace("&", "&amp;").replace("<", "&lt;"), value[3:12]):
            assert variant not in outputs
