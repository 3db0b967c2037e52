"""Shared fixtures. The Lambda handlers live in functions/, importable as top-level modules; tooling in tools/."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
for path in (REPO_ROOT, REPO_ROOT / "functions", REPO_ROOT / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


from slack_dlp.observability import logger  # noqa: E402  (after the path set-up above)


@pytest.fixture(autouse=True)
def logs() -> Iterator[io.StringIO]:
    """Everything the functions log during a test, as the JSON lines CloudWatch would receive."""
    handler = logger.registered_handler
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    handler.setStream(previous)  # type: ignore[attr-defined]
