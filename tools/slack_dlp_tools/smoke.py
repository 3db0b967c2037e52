"""``slack-dlp smoke``: prove a deployed stack works end to end, stage by stage.

Sends one signed synthetic ``event_callback`` carrying a generated value shaped like an AWS
access key id (``AKIA`` + ``SLACKDLPSMOKE`` + 3 random characters: marked in its text, never a
real credential) to the stack's Request URL, signed with the secret the stack verifies with,
then follows it: enqueued (the ingest function's log), inspected (the inspector's log), alert
posted (the audit trail, written after Slack accepted the post). The event id marks it as a
smoke test, so the alert says so and has no buttons.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from slack_dlp.model import SMOKE_TEST_EVENT_PREFIX
from slack_dlp_tools.local.samples import event_envelope, message_event
from slack_dlp_tools.local.signing import signed_headers
from slack_dlp_tools.logs import StackLogs, error_summary

#: Marks the generated value (and makes it useless as a key id): AKIA + SLACKDLPSMOKE + 3 characters.
SMOKE_VALUE_MARK = "SLACKDLPSMOKE"
SMOKE_TEAM, SMOKE_CHANNEL, SMOKE_USER = "T0SMOKETEST", "C0SMOKETEST", "U0SMOKETEST"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

#: What a Slack error code in the reporter's log means for the person running the smoke test.
SLACK_ERROR_HINTS = {
    "not_in_channel": "the bot is not a member of the alert channel: /invite @slack-dlp there",
    "channel_not_found": "alert_channel does not exist, or is private and the bot is not in it",
    "is_archived": "the alert channel is archived: choose another alert_channel",
    "invalid_auth": "the BotToken secret is not a valid bot token: put the xoxb- token (README step 4)",
    "not_authed": "the BotToken secret is empty: put the xoxb- token (README step 4)",
    "token_revoked": "the bot token was revoked: reinstall the app and put the new xoxb- token",
    "account_inactive": "the bot token belongs to a deleted app or user: reinstall the app",
    "missing_scope": "the app lacks a scope: update it from `slack-dlp manifest` and reinstall",
}


def smoke_value() -> str:
    return "AKIA" + SMOKE_VALUE_MARK + "".join(secrets.choice(_BASE32) for _ in range(3))


def smoke_envelope(value: str, now: float) -> dict[str, Any]:
    text = f"slack-dlp smoke test, a generated value that is not a credential: {value}"
    event = message_event(text, channel=SMOKE_CHANNEL, user=SMOKE_USER, ts=f"{now:.6f}")
    event_id = SMOKE_TEST_EVENT_PREFIX + secrets.token_hex(4).upper()
    return event_envelope(event, team_id=SMOKE_TEAM, event_id=event_id, event_time=int(now))


def item_id(envelope: dict[str, Any]) -> str:
    return f"{envelope['team_id']}:{envelope['event']['channel']}:{envelope['event']['ts']}"


@dataclass
class Stage:
    name: str
    passed: bool | None = None  # None: not reached
    seconds: float | None = None
    detail: str = ""


@dataclass
class SmokeReport:
    request_url: str
    item_id: str = ""
    stages: list[Stage] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    function_errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.stages) and all(stage.passed for stage in self.stages)

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, **asdict(self)}

    def render(self) -> str:
        lines = [f"slack-dlp smoke test → {self.request_url}"]
        for stage in self.stages:
            mark = {True: "✓", False: "✗", None: "·"}[stage.passed]
            at = f"{stage.seconds:6.2f} s" if stage.seconds is not None else "    –   "
            lines.append(f"  {mark} {stage.name:<14} {at}  {stage.detail}".rstrip())
        if self.function_errors:
            lines.append("Function errors (CloudWatch Logs, first line of each):")
            lines.extend(f"  {error}" for error in self.function_errors)
        lines.extend(f"Check: {hint}" for hint in self.hints)
        lines.append("PASSED: events reach the pipeline and alerts reach Slack." if self.passed else "FAILED.")
        return "\n".join(lines)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - the stack's URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(errors="replace")


@dataclass
class SmokeTest:
    """One run against one stack; the collaborators are injected so tests can drive it."""

    request_url: str
    signing_secret: str
    audit: Any  # DynamoDbTriageStore: since(seconds) -> events
    logs: StackLogs | None
    timeout: float = 60
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    send: Callable[[str, bytes, dict[str, str]], tuple[int, str]] = post

    def run(self) -> SmokeReport:
        report = SmokeReport(self.request_url)
        report.stages = [Stage("HTTP"), Stage("enqueued"), Stage("inspected"), Stage("alert posted")]
        started = self.clock()
        envelope = smoke_envelope(smoke_value(), started)
        report.item_id = item_id(envelope)
        body = json.dumps(envelope).encode()
        status, answer = self.send(self.request_url, body, signed_headers(self.signing_secret, body))
        http = report.stage("HTTP")
        http.seconds = self.clock() - started
        http.passed = status == 200
        http.detail = f"HTTP {status} in {http.seconds * 1000:.0f} ms"
        if status != 200:
            http.detail += f": {answer[:200]}"
            report.hints.append(_http_hint(status))
            if status >= 500:
                self._collect_errors(report, started)
            return report
        if http.seconds > 3:
            http.detail += " (Slack retries deliveries that take over 3 s)"
        self._follow(report, started)
        return report

    def _follow(self, report: SmokeReport, started: float) -> None:
        deadline = started + self.timeout
        since_ms = int(started * 1000) - 5000  # clock skew between this machine and the logs
        while True:
            self._observe(report, started, since_ms)
            if report.stage("alert posted").passed or self.clock() >= deadline:
                break
            self.sleep(1.0)
        posted = report.stage("alert posted")
        for stage in report.stages[1:3]:
            if stage.passed is None and posted.passed:
                stage.passed, stage.detail = True, "(not in the logs yet; the alert implies it)"
        if posted.passed:
            return
        failed = next(s for s in report.stages if not s.passed)
        failed.passed = False
        failed.detail = f"not seen within {self.timeout:.0f} s"
        report.hints.extend(_stage_hints(failed.name))
        self._collect_errors(report, started)

    def _observe(self, report: SmokeReport, started: float, since_ms: int) -> None:
        if self.logs is not None:
            seen = {
                "enqueued": ("Ingest", "event enqueued"),
                "inspected": ("Inspector", "findings published"),
            }
            for line in self.logs.lines(since_ms, functions=("Ingest", "Inspector")):
                record = line.record
                for name, (function, message) in seen.items():
                    stage = report.stage(name)
                    if (
                        stage.passed is None
                        and line.function == function
                        and record.get("message") == message
                        and record.get("item_id") == report.item_id
                    ):
                        stage.passed, stage.seconds = True, max(0.0, line.timestamp_ms / 1000 - started)
                        stage.detail = (
                            "on the inspect queue" if name == "enqueued" else ", ".join(record.get("detectors", []))
                        )
        for event in self.audit.since(self.clock() - started + 120):
            if event.get("kind") == "alert" and event.get("item_id") == report.item_id:
                stage = report.stage("alert posted")
                stage.passed, stage.seconds = True, self.clock() - started
                stage.detail = f"in the alert channel (ts {event.get('alert_ts', '?')}), audit trail written"

    def _collect_errors(self, report: SmokeReport, started: float) -> None:
        if self.logs is None:
            report.hints.append("function logs unreadable here: look at the functions' CloudWatch Logs")
            return
        since_ms = int(started * 1000) - 5000
        lines = self.logs.lines(since_ms)
        report.function_errors = [e for line in lines if (e := error_summary(line))]
        report.function_errors = list(dict.fromkeys(report.function_errors))
        codes = {str(line.record.get("slack_error", "")) for line in lines} - {""}
        report.hints.extend(SLACK_ERROR_HINTS[code] for code in sorted(codes) if code in SLACK_ERROR_HINTS)


def _http_hint(status: int) -> str:
    if status == 401:
        return (
            "signing secret mismatch: the request was signed with a secret the stack does not verify with. "
            "The stack verifies with the value in SigningSecretArn; Slack must sign with the same value "
            "(Basic Information → App Credentials → Signing Secret)."
        )
    if status in (403, 404):
        return "wrong URL or no such route: is this the stack's RequestUrl output?"
    if status >= 500:
        return "the ingest function failed: see its errors below (enqueue failures answer 503)"
    return "the ingest function refused the request (see the body above)"


def _stage_hints(stage: str) -> list[str]:
    if stage == "enqueued":
        return ["ingest answered 200 but did not enqueue: is the smoke channel/user in allow_channels/allow_users?"]
    if stage == "inspected":
        return [
            "nothing was inspected: the inspector's errors are below; messages that fail go to InspectDlqUrl",
            "disabled_detectors or min_confidence=high may hide aws-access-key-id",
        ]
    return [
        "no alert was posted: the reporter's Slack error is below if it logged one; "
        "results it could not post are parked in ResultsDlqUrl",
        "the bot must be a member of the alert channel (/invite @slack-dlp) and the BotToken secret must hold "
        "the xoxb- token",
    ]
