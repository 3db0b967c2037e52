"""``make bench-export``: ``slack-dlp scan-export`` on a generated export, timed as a whole process.

Builds an export ZIP of generated chatter (a planted secret in 1 of 200 messages, as in
``bench_engine``), spread over conversations and days like a real one, then runs the CLI in a fresh
Python process, pinned to one core where the OS allows it, and divides the bytes of message text by
the process's CPU time (user + system: what one core spends, whatever else the machine runs) and by
its wall time, interpreter start, imports, engine build, ZIP and JSON reading included. Messages
have the shape of a real export's: the text again as rich-text blocks, and the author's profile.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slack_dlp_tools.bench_engine import corpus
from slack_dlp_tools.export import write_export

REPO_ROOT = Path(__file__).resolve().parents[2]
SECONDS_PER_MESSAGE = 37.0  # a busy workspace: messages spread over days


def exported_message(text: str, user: str, ts: str) -> dict[str, object]:
    """Shaped like a message in a real export: the text again as rich-text blocks, the author's profile."""
    return {
        "client_msg_id": "7c4b2a4e-3f4c-4d55-9a4e-2b0c5f0e9d11",
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "team": "T0BENCH01",
        "user_team": "T0BENCH01",
        "source_team": "T0BENCH01",
        "user_profile": {
            "avatar_hash": "g1a2b3c4d5e6", "image_72": "https://secure.gravatar.com/avatar/0.jpg",
            "first_name": "Ada", "real_name": "Ada Lovelace", "display_name": "ada", "team": "T0BENCH01",
            "name": "ada", "is_restricted": False, "is_ultra_restricted": False,
        },
        "blocks": [{"type": "rich_text", "block_id": "Ab1", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
    }  # fmt: skip


def build(path: Path, messages: int, conversations: int = 40) -> tuple[Path, int]:
    texts, planted = corpus(messages)
    start = 1_700_000_000.0
    grouped: dict[str, list[dict[str, object]]] = {f"channel-{i:02d}": [] for i in range(conversations)}
    for index, text in enumerate(texts):
        name = f"channel-{index % conversations:02d}"
        grouped[name].append(exported_message(text, f"U{index % 97:07d}", f"{start + index * SECONDS_PER_MESSAGE:.6f}"))
    private = [n for n in grouped if n.endswith(("3", "7"))]
    write_export(path, grouped, private=private)
    return path, len(planted)


def _one_core() -> None:
    """Pin the scan to one core of those this process may use (Linux), like a single Lambda vCPU."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(path: Path) -> tuple[dict[str, object], float, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in ("functions", "tools"))}
    command = [sys.executable, "-m", "slack_dlp_tools.cli", "scan-export", str(path), "--json", "--exit-zero"]
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(  # noqa: S603 - our own CLI
        command, capture_output=True, text=True, check=False, env=env, preexec_fn=_one_core
    )
    if done.returncode != 0:
        raise SystemExit(f"scan-export failed ({done.returncode}): {done.stderr[-500:]}")
    return json.loads(done.stdout), time.perf_counter() - started, _children_cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        path, planted = build(Path(directory) / "export.zip", args.messages)
        print(f"export: {args.messages:,} messages, {planted:,} planted, {path.stat().st_size / 1e6:.1f} MB zipped")
        for number in range(1, args.runs + 1):
            summary, wall, cpu = run(path)
            text_mb = int(summary["text_bytes"]) / 1e6  # type: ignore[call-overload]
            print(
                f"run {number}: {text_mb:.1f} MB of message text; whole process: {cpu:.2f} CPU s = "
                f"{text_mb / cpu:.1f} MB/s per core, {wall:.2f} s wall = {text_mb / wall:.1f} MB/s; "
                f"{summary['findings']} findings (planted {planted})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
