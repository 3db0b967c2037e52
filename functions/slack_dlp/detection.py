"""The detection engine built from settings: built-in detectors, rules files, policy.

Apart from ``wiring`` (which imports every adapter) so that local tools scanning text — ``slack-dlp
scan``, ``scan-export`` — start without loading the AWS and Slack clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slack_dlp.config import Settings
from slack_dlp.detect.catalog import BUILTIN_DETECTORS
from slack_dlp.detect.detector import Detector
from slack_dlp.detect.engine import DetectionEngine, Fingerprinter, Policy
from slack_dlp.detect.rules import load_many
from slack_dlp.model import Confidence

#: Relative rules paths resolve against the Lambda asset's root (where the bundler copies them).
ASSET_ROOT = Path(__file__).resolve().parent.parent


def build_engine(
    settings: Settings,
    fingerprint_key: bytes,
    *,
    extra_rules: Sequence[str] = (),
    extra_detectors: Sequence[Detector] = (),
    rules_base: Path = ASSET_ROOT,
) -> DetectionEngine:
    """The engine for ``settings``, plus detectors from ``extra_rules`` files and ``extra_detectors``
    (rules a caller has loaded already, e.g. to print their load report)."""
    policy = Policy(
        min_confidence=Confidence(settings.min_confidence),
        disabled=frozenset(settings.disabled_detectors),
        enabled=frozenset(settings.enabled_detectors),
        allow_fingerprints=frozenset(settings.allow_fingerprints),
        allow_patterns=Policy.compile_allow_patterns(settings.allow_patterns),
    )
    rule_files = [rules_base / path for path in settings.custom_rules] + [Path(p) for p in extra_rules]
    detectors = (*BUILTIN_DETECTORS, *load_many(rule_files), *extra_detectors)
    return DetectionEngine(detectors, fingerprinter=Fingerprinter(fingerprint_key), policy=policy)
