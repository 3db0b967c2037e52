"""Fixtures shared by the detection unit tests."""

from __future__ import annotations

import pytest

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter

#: The fingerprint key of every engine built in these tests.
KEY = b"unit-test-fingerprint-key-000000"


@pytest.fixture(scope="module")
def engine() -> DetectionEngine:
    """The built-in detectors, as the inspector runs them (one engine per test module)."""
    return DetectionEngine(fingerprinter=Fingerprinter(KEY))
