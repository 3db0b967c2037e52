"""User rules: slack-dlp's own rules file, and gitleaks configurations read as they are.

slack-dlp format (TOML or JSON)::

    [[detectors]]
    id = "acme-api-key"                 # lowercase letters, digits, - _ .
    regex = 'acme_(?P<secret>[a-z0-9]{32})'
    description = "ACME API key"        # optional
    category = "secret"                 # secret | financial | personal
    confidence = "high"                 # low | medium | high
    keywords = ["acme_"]                # optional prefilter literals
    entropy = 3.5                       # optional floor, bits per character
    validator = "luhn"                  # optional, one of VALIDATORS
    secret_group = 1                    # optional group holding the value
    allow = ['acme_test_']              # optional regexes that exempt a value

gitleaks format: ``[[rules]]`` with id, description, regex, secretGroup, entropy, keywords and
``[rules.allowlist]`` / ``[[rules.allowlists]]`` (regexes, stopwords), plus the global
``[allowlist]`` / ``[[allowlists]]``. Path-only rules and commit/path allowlists do not apply to
chat messages and are skipped.

Every user regex is compiled with RE2, which runs in time linear in the text, so no rule can
stall the inspector with catastrophic backtracking; a rule that does not compile is rejected
when the file is loaded, with the rule's id in the message.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from slack_dlp.detect import validators as v
from slack_dlp.detect.detector import FIRST_GROUP, Detector, DetectorError
from slack_dlp.model import Category, Confidence

VALIDATORS: dict[str, v.Validator] = {
    "luhn": v.luhn,
    "payment_card": v.payment_card,
    "iban": v.iban,
    "us_ssn": v.us_ssn,
    "us_itin": v.us_itin,
    "aba_routing": v.aba_routing,
    "canada_sin": v.canada_sin,
    "uk_nino": v.uk_nino,
    "jwt": v.jwt,
    "pem_private_key": v.pem_private_key,
    "mixed_alnum": v.mixed_alnum,
}


class RulesError(ValueError):
    """A rules file cannot be used; the message names the file and the rule."""


def load_rules(path: str | Path) -> tuple[Detector, ...]:
    source = Path(path)
    try:
        raw = source.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesError(f"{source}: cannot read rules file ({error.strerror})") from None
    try:
        data = json.loads(raw) if source.suffix.lower() == ".json" else tomllib.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise RulesError(f"{source}: not valid {'JSON' if source.suffix == '.json' else 'TOML'}: {error}") from None
    try:
        if "rules" in data:
            return tuple(_gitleaks(data, str(source)))
        if "detectors" in data:
            return tuple(_native(data["detectors"], str(source)))
    except DetectorError as error:
        raise RulesError(f"{source}: {error}") from None
    raise RulesError(f"{source}: expected [[detectors]] (slack-dlp) or [[rules]] (gitleaks) tables")


def load_many(paths: Sequence[str | Path]) -> tuple[Detector, ...]:
    return tuple(detector for path in paths for detector in load_rules(path))


def _native(entries: Any, source: str) -> list[Detector]:
    if not isinstance(entries, list):
        raise RulesError(f"{source}: 'detectors' must be a list of tables")
    detectors = []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise RulesError(f"{source}: detector #{position} must be a table")
        rule_id = str(entry.get("id") or f"#{position}")
        try:
            validator_name = entry.get("validator")
            if validator_name is not None and validator_name not in VALIDATORS:
                raise RulesError(f"unknown validator {validator_name!r} (known: {', '.join(sorted(VALIDATORS))})")
            detectors.append(
                Detector(
                    id=_required(entry, "id"),
                    category=Category(entry.get("category", "secret")),
                    description=str(entry.get("description") or entry["id"]),
                    pattern=_required(entry, "regex"),
                    keywords=_keywords(entry.get("keywords")),
                    validator=VALIDATORS[validator_name] if validator_name else None,
                    confidence=Confidence(entry.get("confidence", "high")),
                    min_entropy=_entropy(entry.get("entropy")),
                    secret_group=_group(entry.get("secret_group")),
                    allow_patterns=tuple(str(p) for p in entry.get("allow", ())),
                    engine="re2",
                    source=source,
                )
            )
        except (DetectorError, RulesError, KeyError, TypeError, ValueError) as error:
            raise RulesError(f"{source}: detector {rule_id!r}: {error}") from None
    return detectors


def _gitleaks(data: Mapping[str, Any], source: str) -> list[Detector]:
    global_allow = _gitleaks_allow(data.get("allowlist"), data.get("allowlists"))
    detectors = []
    for position, rule in enumerate(data.get("rules") or [], start=1):
        if not isinstance(rule, Mapping):
            raise RulesError(f"{source}: rule #{position} must be a table")
        if not rule.get("regex"):
            continue  # path-only rules match file names, not message text
        rule_id = str(rule.get("id") or f"rule-{position}")
        try:
            detectors.append(
                Detector(
                    id="gitleaks." + re.sub(r"[^a-z0-9_.-]+", "-", rule_id.lower()).strip("-"),
                    category=Category.SECRET,
                    description=str(rule.get("description") or rule_id),
                    pattern=str(rule["regex"]),
                    keywords=_keywords(rule.get("keywords")),
                    confidence=Confidence.HIGH,
                    min_entropy=_entropy(rule.get("entropy")),
                    secret_group=_group(rule.get("secretGroup"), default=FIRST_GROUP),
                    allow_patterns=global_allow + _gitleaks_allow(rule.get("allowlist"), rule.get("allowlists")),
                    engine="re2",
                    source=source,
                )
            )
        except (DetectorError, TypeError, ValueError) as error:
            raise RulesError(f"{source}: gitleaks rule {rule_id!r}: {error}") from None
    return detectors


def _gitleaks_allow(*blocks: Any) -> tuple[str, ...]:
    patterns: list[str] = []
    for block in blocks:
        for allow in block if isinstance(block, list) else [block] if isinstance(block, Mapping) else []:
            if not isinstance(allow, Mapping):
                continue
            patterns.extend(str(p) for p in allow.get("regexes", ()))
            patterns.extend("(?i)" + re.escape(str(w)) for w in allow.get("stopwords", ()))
    return tuple(patterns)


def _required(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise RulesError(f"'{key}' is required and must be a string")
    return value


def _keywords(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise RulesError("'keywords' must be a list of non-empty strings")
    return tuple(k.lower() for k in value)


def _entropy(value: Any) -> float | None:
    return None if value is None else float(value)


def _group(value: Any, default: str = "secret") -> int | str:
    if value is None or value == 0:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RulesError("secret group must be a number or a group name")
    return value
