"""The in-process provider: the built-in detection engine, no network, no quota."""

from __future__ import annotations

from collections.abc import Sequence

from slack_dlp.detect.engine import DetectionEngine
from slack_dlp.dlp.base import ItemOutcome


class BuiltinDlpClient:
    name = "builtin"

    def __init__(self, engine: DetectionEngine, max_items: int = 100) -> None:
        self._engine = engine
        self._max_items = max_items

    @property
    def max_items(self) -> int:
        return self._max_items

    def inspect(self, texts: Sequence[str], paths: Sequence[str] | None = None) -> list[ItemOutcome]:
        return list(self._engine.scan_many(texts, paths))
