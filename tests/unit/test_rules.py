from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from slack_dlp.detect.catalog import BUILTIN_DETECTORS
from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.detect.rules import RulesError, load_rules
from slack_dlp_tools.cli import main

KEY = Fingerprinter(b"rules-test-fingerprint-key-00000")
RNG = random.Random(5)
ACME = "acme_" + "".join(RNG.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=32))

NATIVE = """
[[detectors]]
id = "acme-api-key"
description = "ACME API key"
regex = 'acme_(?P<secret>[a-z0-9]{32})'
keywords = ["acme_"]
entropy = 3.0
confidence = "high"
allow = ['^0+$']

[[detectors]]
id = "employee-id"
category = "personal"
regex = 'EMP-\\d{16}'
validator = "luhn"
confidence = "medium"
"""

GITLEAKS = """
title = "gitleaks config"

[allowlist]
description = "global"
stopwords = ["dummy"]

[[rules]]
id = "Widget-Token"
description = "Widget service token"
regex = '''(?i)widget[_-]?token\\s*[:=]\\s*['"]?([a-z0-9]{24})['"]?'''
secretGroup = 1
entropy = 3.2
keywords = ["widget"]

  [[rules.allowlists]]
  regexes = ['''^aaaa''']

[[rules]]
id = "pem-files"
path = '''\\.pem$'''
"""


def _engine(*rule_files: Path) -> DetectionEngine:
    detectors = (*BUILTIN_DETECTORS, *(d for f in rule_files for d in load_rules(f)))
    return DetectionEngine(detectors, fingerprinter=KEY)


def test_native_rules_add_detectors_with_secret_group_entropy_and_allowlist(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(NATIVE)
    engine = _engine(rules)
    [finding] = engine.scan(f"use {ACME} for the api")
    assert finding.detector == "acme-api-key"
    assert f"use {ACME}"[finding.start : finding.end] == ACME[5:]  # the secret group only
    assert engine.scan("use acme_" + "0" * 32) == []  # allowlisted by the rule's own regex
    assert engine.scan("use acme_" + "a" * 32) == []  # below the entropy floor


def test_native_rule_validators_apply(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(NATIVE)
    engine = _engine(rules)
    assert [f.detector for f in engine.scan("badge EMP-4539148803436467")] == ["employee-id"]
    assert engine.scan("badge EMP-4539148803436468") == []  # Luhn fails


def test_gitleaks_config_loads_as_it_is(tmp_path: Path) -> None:
    config = tmp_path / "gitleaks.toml"
    config.write_text(GITLEAKS)
    detectors = load_rules(config)
    assert [d.id for d in detectors] == ["gitleaks.widget-token"]  # the path-only rule is skipped
    engine = _engine(config)
    token = "".join(RNG.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=24))
    [finding] = engine.scan(f"WIDGET_TOKEN={token}")
    assert f"WIDGET_TOKEN={token}"[finding.start : finding.end] == token
    assert engine.scan("widget_token = aaaa" + token[4:]) == []  # the rule's allowlist
    assert engine.scan("widget_token = dummy" + token[5:]) == []  # the global stopword


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[detectors]]\nid = "broken"\nregex = "(unclosed"\n', "'broken'.*does not compile"),
        ('[[detectors]]\nid = "x"\nregex = "a"\nvalidator = "magic"\n', "unknown validator"),
        ('[[detectors]]\nregex = "a"\n', "'id' is required"),
        ('[[detectors]]\nid = "Bad Id"\nregex = "a"\n', "must be lowercase"),
        ('[[rules]]\nid = "lookbehind"\nregex = "(?<=x)y"\n', "'lookbehind'.*does not compile"),
        ("not toml = = =", "not valid TOML"),
        ('[[something]]\nid = "x"\n', r"expected \[\[detectors\]\]"),
    ],
)
def test_bad_rules_are_rejected_at_load_time_with_a_clear_message(tmp_path: Path, content: str, message: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(content)
    with pytest.raises(RulesError, match=message):
        load_rules(rules)


def test_user_regexes_cannot_backtrack_catastrophically(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[[detectors]]\nid = \"evil\"\nregex = '(a+)+$'\n")
    [evil] = load_rules(rules)
    assert type(evil.compiled).__module__.startswith("re2")  # linear-time engine
    started = time.perf_counter()
    DetectionEngine([evil], fingerprinter=KEY).scan("a" * 50_000 + "!")
    assert time.perf_counter() - started < 5  # Python's re would not finish this in hours


def test_cli_scan_accepts_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(NATIVE)
    source = tmp_path / "msg.txt"
    source.write_text(f"key {ACME}")
    assert main(["scan", str(source), "--rules", str(rules)]) == 1
    assert "acme-api-key" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[detectors]]\nid = "broken"\nregex = "("\n')
    assert main(["scan", str(source), "--rules", str(bad)]) == 2
    assert "broken" in capsys.readouterr().err
