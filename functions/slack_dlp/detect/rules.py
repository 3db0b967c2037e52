r"""User rules: slack-dlp's own rules file, and gitleaks configurations read with gitleaks' meaning.

slack-dlp format (TOML or JSON)::

    default_confidence = "high"         # optional, for detectors that do not say (default high)

    [[detectors]]
    id = "acme-api-key"                 # lowercase letters, digits, - _ .
    regex = 'acme_(?P<secret>[a-z0-9]{32})'
    description = "ACME API key"        # optional
    category = "secret"                 # secret | financial | personal
    confidence = "high"                 # low | medium | high
    keywords = ["acme_"]                # optional: a text must hold one (and a cheap prefilter)
    entropy = 3.5                       # optional floor, bits per character
    validator = "luhn"                  # optional, one of VALIDATORS
    secret_group = 1                    # optional group holding the value
    path = '\.tf$'                      # optional: only files whose name matches, never messages
    allow = ['acme_test_']              # optional regexes that exempt a value
    [[detectors.allowlists]]            # optional, gitleaks' allowlist tables

gitleaks format, as gitleaks reads it: ``[[rules]]`` with id, description, regex, secretGroup,
entropy (the value's must exceed it), keywords, ``path`` (the rule inspects only files whose name
matches, never chat messages) and ``[[rules.allowlists]]`` / ``[rules.allowlist]`` (regexes tested
against the secret, the match or the line per ``regexTarget``; stopwords in the secret; paths;
``condition`` OR/AND), plus the global ``[allowlist]`` / ``[[allowlists]]`` (``targetRules``
honoured), which apply to that file's rules. Rules are medium confidence unless the file sets
``default_confidence`` or a rule sets ``confidence``. What has no meaning in chat is skipped and
said so in the load report (``slack-dlp rules check FILE``): path-only rules, composite rules
(``[[rules.required]]``), ``skipReport`` rules; ``[extend]`` is reported (the built-in detectors are
always on, in place of gitleaks' defaults).

Every user regex is compiled with RE2, which runs in time linear in the text, so no rule can
stall the inspector with catastrophic backtracking; a rule that does not compile is rejected
when the file is loaded, with the rule's id in the message.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_dlp.detect import validators as v
from slack_dlp.detect.allowlist import AllowlistError, RuleAllowlist
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


@dataclass
class LoadReport:
    """What a rules file contributed: loaded detector ids, rules skipped (with why) and warnings."""

    source: str
    dialect: str = "slack-dlp"
    loaded: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_rules(path: str | Path) -> tuple[Detector, ...]:
    return load_rules_report(path)[0]


def load_rules_report(path: str | Path) -> tuple[tuple[Detector, ...], LoadReport]:
    source = Path(path)
    try:
        raw = source.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesError(f"{source}: cannot read rules file ({error.strerror})") from None
    try:
        data = json.loads(raw) if source.suffix.lower() == ".json" else tomllib.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise RulesError(f"{source}: not valid {'JSON' if source.suffix == '.json' else 'TOML'}: {error}") from None
    if not isinstance(data, Mapping):
        raise RulesError(f"{source}: expected [[detectors]] (slack-dlp) or [[rules]] (gitleaks) tables")
    report = LoadReport(str(source))
    try:
        if "rules" in data:
            report.dialect = "gitleaks"
            detectors = _gitleaks(data, str(source), report)
        elif "detectors" in data:
            detectors = _native(data["detectors"], str(source), _confidence(data, "high"))
        else:
            raise RulesError(f"{source}: expected [[detectors]] (slack-dlp) or [[rules]] (gitleaks) tables")
    except (DetectorError, AllowlistError) as error:
        raise RulesError(f"{source}: {error}") from None
    report.loaded = [d.id for d in detectors]
    return tuple(detectors), report


def load_many(paths: Sequence[str | Path]) -> tuple[Detector, ...]:
    return tuple(detector for path in paths for detector in load_rules(path))


def _confidence(data: Mapping[str, Any], default: str) -> Confidence:
    try:
        return Confidence(data.get("default_confidence", default))
    except ValueError:
        raise RulesError(
            f"default_confidence must be low, medium or high, not {data['default_confidence']!r}"
        ) from None


def _native(entries: Any, source: str, default_confidence: Confidence) -> list[Detector]:
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
                    confidence=Confidence(entry.get("confidence", default_confidence)),
                    min_entropy=_entropy(entry.get("entropy")),
                    secret_group=_group(entry.get("secret_group")),
                    allow_patterns=tuple(str(p) for p in entry.get("allow", ())),
                    allowlists=tuple(_allowlists(entry.get("allowlists"), None)),
                    path=_optional_str(entry.get("path"), "path"),
                    engine="re2",
                    source=source,
                )
            )
        except (DetectorError, AllowlistError, RulesError, KeyError, TypeError, ValueError) as error:
            raise RulesError(f"{source}: detector {rule_id!r}: {error}") from None
    return detectors


def _gitleaks(data: Mapping[str, Any], source: str, report: LoadReport) -> list[Detector]:
    default_confidence = _confidence(data, "medium")
    extend = data.get("extend")
    if isinstance(extend, Mapping):
        if extend.get("useDefault"):
            report.warnings.append(
                "[extend] useDefault: gitleaks' default rules are not loaded from here; slack-dlp's built-in "
                "detectors are always on in their place (load config/gitleaks.toml itself for gitleaks' rules)"
            )
        if extend.get("path"):
            report.warnings.append(f"[extend] path {extend['path']!r} is not followed: load that file as well")
        if extend.get("disabledRules"):
            report.warnings.append("[extend] disabledRules has nothing to disable: use disabled_detectors")
    try:
        global_allow = [
            (a, _target_rules(block))
            for block in _allow_blocks(data.get("allowlist"), data.get("allowlists"))
            for a in _allowlists([block], report)
        ]
    except (AllowlistError, RulesError, TypeError, ValueError) as error:
        raise RulesError(f"{source}: global allowlist: {error}") from None
    detectors = []
    for position, rule in enumerate(data.get("rules") or [], start=1):
        if not isinstance(rule, Mapping):
            raise RulesError(f"{source}: rule #{position} must be a table")
        rule_id = str(rule.get("id") or f"rule-{position}")
        reason = _unsupported(rule)
        if reason:
            report.skipped.append((rule_id, reason))
            continue
        try:
            own = _allowlists(_allow_blocks(rule.get("allowlist"), rule.get("allowlists")), report, rule_id)
            inherited = [a for a, targets in global_allow if targets is None or rule_id in targets]
            detectors.append(
                Detector(
                    id="gitleaks." + re.sub(r"[^a-z0-9_.-]+", "-", rule_id.lower()).strip("-"),
                    category=Category(rule.get("category", "secret")),
                    description=str(rule.get("description") or rule_id),
                    pattern=str(rule["regex"]),
                    keywords=_keywords(rule.get("keywords")),
                    confidence=Confidence(rule.get("confidence", default_confidence)),
                    min_entropy=_entropy(rule.get("entropy")),
                    entropy_exclusive=True,
                    secret_group=_group(rule.get("secretGroup"), default=FIRST_GROUP),
                    allowlists=(*inherited, *own),
                    path=_optional_str(rule.get("path"), "path"),
                    engine="re2",
                    source=source,
                    generic=rule_id.lower().startswith("generic"),
                )
            )
        except (DetectorError, AllowlistError, RulesError, TypeError, ValueError) as error:
            raise RulesError(f"{source}: gitleaks rule {rule_id!r}: {error}") from None
    return detectors


def _unsupported(rule: Mapping[str, Any]) -> str:
    if not rule.get("regex"):
        if rule.get("path"):
            return "path-only rule: it matches file names, not content"
        return "no regex"
    if rule.get("skipReport"):
        return "skipReport: only used as part of composite rules"
    if rule.get("required"):
        return "composite rule ([[rules.required]]) is not supported"
    return ""


def _allow_blocks(*blocks: Any) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for block in blocks:
        for allow in block if isinstance(block, list) else [block] if isinstance(block, Mapping) else []:
            if not isinstance(allow, Mapping):
                raise RulesError("an allowlist must be a table")
            out.append(allow)
    return out


def _target_rules(block: Mapping[str, Any]) -> frozenset[str] | None:
    targets = block.get("targetRules")
    return frozenset(str(t) for t in targets) if targets else None


def _allowlists(blocks: Any, report: LoadReport | None, rule_id: str = "") -> list[RuleAllowlist]:
    allowlists = []
    for block in _allow_blocks(blocks):
        allowlist = RuleAllowlist(
            regexes=tuple(str(p) for p in block.get("regexes", ())),
            stopwords=tuple(str(w) for w in block.get("stopwords", ())),
            paths=tuple(str(p) for p in block.get("paths", ())),
            commits=tuple(str(c) for c in block.get("commits", ())),
            regex_target=str(block.get("regexTarget") or block.get("regex_target") or "secret"),
            condition=str(block.get("condition") or "OR").upper(),
            description=str(block.get("description", "")),
        )
        if not (allowlist.regexes or allowlist.stopwords or allowlist.paths):
            if report is not None:
                where = f"rule {rule_id!r}" if rule_id else "global"
                report.warnings.append(f"{where} allowlist names only commits, which never apply to chat: ignored")
            continue
        allowlists.append(allowlist)
    return allowlists


def _optional_str(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise RulesError(f"'{key}' must be a non-empty string")
    return value


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
