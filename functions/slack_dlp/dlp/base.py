"""The interface every DLP provider implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from slack_dlp.model import Finding


class DlpError(Exception):
    """A provider could not inspect some items; they must be retried, never reported clean.

    The message never contains inspected text. ``retry_after`` is the provider's hint in seconds.
    """

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


#: Per item: its findings, or the error that kept it from being inspected.
ItemOutcome = list[Finding] | DlpError


class DlpClient(Protocol):
    """Inspects texts in batches. One call may cover up to ``max_items`` texts."""

    @property
    def name(self) -> str: ...

    @property
    def max_items(self) -> int: ...

    def inspect(self, texts: Sequence[str], paths: Sequence[str] | None = None) -> list[ItemOutcome]:
        """One outcome per text, in order. Raises DlpError only when nothing could be inspected.

        ``paths``: per text, the name of the file it was extracted from ("" for a message), for
        rules that apply only to some files (gitleaks' ``path``); providers without such rules
        ignore it."""
        ...
