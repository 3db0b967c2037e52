"""``slack-dlp backfill``: the start command it sends, its progress bar, and its errors."""

from __future__ import annotations

import io
import socket

import pytest

from slack_dlp_tools.cli import build_parser, main
from slack_dlp_tools.cli.backfill import follow, progress_line, start_command
from tests.fakes import FakeClock


def test_the_start_command_carries_the_window_channels_and_page_size() -> None:
    args = build_parser().parse_args(["backfill", "--since", "2d", "--channels", "C1, C2,", "--page-size", "50"])
    assert start_command(args, now=1_000_000.0) == {
        "action": "start", "page_size": 50, "channels": ["C1", "C2"], "oldest": f"{1_000_000 - 2 * 86400:.6f}",
    }  # fmt: skip
    args = build_parser().parse_args(["backfill", "--oldest", "1700000000", "--latest", "1700003600"])
    command = start_command(args, now=0)
    assert (command["oldest"], command["latest"]) == ("1700000000", "1700003600") and "channels" not in command


def test_progress_is_a_bar_with_channels_messages_enqueued_and_eta_until_done() -> None:
    # GIVEN a run whose state changes between polls
    states = [
        {"channels": 4, "channels_done": 1, "messages": 1200, "enqueued": 1100, "threads": 3, "eta_seconds": 42,
         "done": False},
        {"channels": 4, "channels_done": 4, "messages": 5000, "enqueued": 4800, "threads": 9, "eta_seconds": 0,
         "done": True},
    ]  # fmt: skip
    out, clock = io.StringIO(), FakeClock()
    # WHEN it is followed on a terminal
    summary = follow(lambda: states.pop(0), out, tty=True, clock=clock, sleep=clock.sleep)
    # THEN the bar is redrawn in place and ends with the final state
    assert summary["done"]
    text = out.getvalue()
    assert "\r[######------------------] 1/4 channels · 1,200 messages read · 1,100 enqueued" in text
    assert "ETA ~42s" in text and text.endswith("done\x1b[K\n")
    assert progress_line({"channels": 0, "done": True}).startswith("[" + "#" * 24 + "]")


def test_following_stops_at_the_timeout_with_the_run_still_going() -> None:
    clock = FakeClock()
    running = {"channels": 1, "channels_done": 0, "done": False}
    summary = follow(lambda: running, io.StringIO(), tty=False, timeout=10, clock=clock, sleep=clock.sleep)
    assert summary is running and clock.now >= 1_010


def test_an_unreachable_stack_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # one refused connection is enough to know
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert main(["backfill", "--endpoint", f"http://127.0.0.1:{port}", "--no-wait"]) == 2
    assert "cannot read stack 'SlackDlp'" in capsys.readouterr().err
