"""``make run``: the real stack in MiniStack, a Slack stand-in, sample events replayed, then serve.

Contract (scripts build on it):
- prints one line ``Request URL: <url>`` with the local URL that accepts signed Slack events;
- the signing secret is ``SLACK_SIGNING_SECRET`` from the environment, else a generated one (printed);
- every alert the Slack stand-in receives is printed and appended as one JSON line to
  ``.local/alerts.jsonl``;
- when fewer alerts than expected arrive, the first line of each distinct function error follows.
With ``SLACK_BOT_TOKEN`` set, alerts go to real Slack (``SLACK_ALERT_CHANNEL``) instead.
With ``DLP_PROVIDER=google`` the inspector calls a Google DLP v2 API: ``DLP_ENDPOINT``, or a local
emulator enforcing ``DLP_REQUESTS_PER_SECOND`` (default 10) that this command starts.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from slack_dlp_tools.local.deployment import LocalDeployment, LocalDeploymentError
from slack_dlp_tools.local.dlp_emulator import DlpEmulator
from slack_dlp_tools.local.samples import sample_events
from slack_dlp_tools.local.signing import signed_headers
from slack_dlp_tools.local.slack_standin import SlackStandIn

STANDIN_TOKEN = "xoxb-local-standin-token"  # noqa: S105 - the stand-in's own fixed token, not a secret


def _say(line: str) -> None:
    print(line, flush=True)


def replay_samples(deployment: LocalDeployment, signing_secret: str) -> int:
    """Send the sample events signed like Slack does; return how many alerts to expect."""
    expected = 0
    for sample in sample_events():
        body = json.dumps(sample.envelope).encode()
        headers = signed_headers(signing_secret, body)
        if sample.retry_num:
            headers |= {"X-Slack-Retry-Num": str(sample.retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        started = time.perf_counter()
        status, _ = deployment.post_event(body, headers)
        elapsed_ms = (time.perf_counter() - started) * 1000
        _say(f"  → {sample.description}: HTTP {status} in {elapsed_ms:.0f} ms"
             f"{' (expect an alert)' if sample.expect_alert else ''}")  # fmt: skip
        expected += sample.expect_alert
    return expected


def _seed_channels(standin: SlackStandIn) -> SlackStandIn:
    """Conversations for ``slack-dlp coverage --endpoint …``: two the bot is in, one it is not, one it
    cannot join (private)."""
    standin.add_channel("C0GENERAL", "general", is_member=True)
    standin.add_channel("C0ENG", "eng", is_member=True)
    standin.add_channel("C0RANDOM", "random")
    standin.add_channel("G0SECOPS", "secops-private", is_private=True)
    return standin


def share_sample_file(deployment: LocalDeployment, standin: SlackStandIn, signing_secret: str) -> int:
    """Share a CSV export with a card number in it, through the stand-in's files.info and download."""
    import random

    from slack_dlp_tools.local.samples import event_envelope, fake_card_number

    card = fake_card_number(random.Random(8))  # noqa: S311 - look-alike test data
    standin.add_file("F0SAMPLECSV", "customers-export.csv", f"name,email,card\nAda,ada@example.com,{card}\n".encode())
    envelope = event_envelope({"type": "file_shared", "file_id": "F0SAMPLECSV", "user_id": "U0ERIN",
                               "channel_id": "C0SALES"})  # fmt: skip
    body = json.dumps(envelope).encode()
    status, _ = deployment.post_event(body, signed_headers(signing_secret, body))
    _say(f"  → a CSV export with a card number shared in #sales: HTTP {status} (expect an alert)")
    return 1


def await_sample_alerts(deployment: LocalDeployment, standin: SlackStandIn, expected: int, since: float) -> None:
    deadline = time.monotonic() + 90
    while standin.alerted_items() < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    _say(f"Alerts for {standin.alerted_items()} of the {expected} expected leaks arrived "
         f"(in {len(standin.alerts())} Slack messages: several at once become one digest).")  # fmt: skip
    if standin.alerted_items() < expected:
        explain_missing_alerts(deployment, since)


def explain_missing_alerts(deployment: LocalDeployment, since: float) -> None:
    """The functions' distinct errors: MiniStack's own log (a function that cannot start is only
    there) and the functions' CloudWatch Logs in MiniStack."""
    from slack_dlp_tools.logs import StackLogs, distinct, emulator_errors

    errors = emulator_errors(deployment.state_dir / "ministack.log")
    try:
        logs = StackLogs.of_stack(deployment.client("cloudformation"), deployment.client("logs"), deployment.stack_name)
        errors += logs.errors(int(since * 1000) - 5000)
    except Exception as error:  # a diagnosis must not hide the failure it explains
        _say(f"(function logs unreadable: {type(error).__name__})")
    if not errors:
        _say(f"No function logged an error; MiniStack's log: {deployment.state_dir / 'ministack.log'}")
        return
    _say("Function errors (first line of each distinct error):")
    for line in distinct(errors):
        _say(f"  {line}")


def _dlp_provider() -> tuple[dict[str, str], DlpEmulator | None]:
    """cdk context for the chosen DLP provider, and the emulator started for it if any."""
    provider = os.environ.get("DLP_PROVIDER", "builtin")
    if provider != "google":
        return {"dlp_provider": provider}, None
    rate = os.environ.get("DLP_REQUESTS_PER_SECOND", "10")
    endpoint, emulator = os.environ.get("DLP_ENDPOINT", ""), None
    if not endpoint:
        emulator = DlpEmulator(requests_per_second=int(rate)).start()
        endpoint = emulator.endpoint
        _say(f"Google DLP API emulator on {endpoint} (quota enforced: 429 over the limit)")
    context = {
        "dlp_provider": provider,
        "dlp_endpoint": endpoint,
        "dlp_project": os.environ.get("DLP_PROJECT", "slack-dlp-local"),
        "dlp_requests_per_second": rate,
    }
    return context, emulator


def main(argv: list[str] | None = None) -> int:
    del argv
    repo_root = Path.cwd()
    state_dir = repo_root / ".local"
    state_dir.mkdir(exist_ok=True)
    alerts_file = state_dir / "alerts.jsonl"

    signing_secret = os.environ.get("SLACK_SIGNING_SECRET", "")
    if not signing_secret:
        signing_secret = secrets.token_hex(16)
        _say(f"Signing secret (generated; set SLACK_SIGNING_SECRET to choose one): {signing_secret}")
    real_token = os.environ.get("SLACK_BOT_TOKEN", "")

    standin: SlackStandIn | None = None
    if real_token:
        api_url, token = "https://slack.com/api/", real_token
        channel = os.environ.get("SLACK_ALERT_CHANNEL", "#dlp-alerts")
        _say(f"Alerts go to real Slack, channel {channel}")
    else:
        standin = _seed_channels(SlackStandIn(token=STANDIN_TOKEN, alerts_file=alerts_file, echo=_say).start())
        api_url, token, channel = standin.api_url, STANDIN_TOKEN, "#dlp-alerts"
        _say(f"Slack Web API stand-in on {standin.api_url} (alerts: {alerts_file})")

    extra_context, emulator = _dlp_provider()

    deployment = LocalDeployment(
        repo_root=repo_root,
        state_dir=state_dir,
        signing_secret=signing_secret,
        bot_token=token,
        slack_api_url=api_url,
        alert_channel=channel,
        ministack_port=int(os.environ.get("MINISTACK_PORT", "4566")),
        extra_context=extra_context,
        log=_say,
    )

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        deployment.start()
        _say(f"Request URL: {deployment.request_url}")
        _say("Replaying sample Slack events:")
        replay_started = time.time()
        expected = replay_samples(deployment, signing_secret) + (
            share_sample_file(deployment, standin, signing_secret) if standin is not None else 0
        )
        if standin is not None:
            await_sample_alerts(deployment, standin, expected, replay_started)
        _say("Serving. Send signed events to the Request URL; Ctrl-C stops everything.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        _say("Stopping…")
    except LocalDeploymentError as error:
        _say(f"error: {error}")
        return 1
    finally:
        deployment.stop()
        if standin is not None:
            standin.stop()
        if emulator is not None:
            emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
