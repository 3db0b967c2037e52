from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import pytest

from slack_dlp.detect.allowlist import MergedAllowlists, RuleAllowlist
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
    # The rule's allowlist and the global stopword quiet the rule (the built-in generic rule, which
    # knows neither, may still report a random value under a NAME_TOKEN)
    for quiet in ("widget_token = aaaa" + token[4:], "widget_token = dummy" + token[5:]):
        assert [f for f in engine.scan(quiet) if f.detector == "gitleaks.widget-token"] == []


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


# --- gitleaks semantics, on the upstream default configuration (tests/data/gitleaks.toml) ---

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "gitleaks.toml"
#: A value random enough for gitleaks' generic-api-key (entropy above 3.5).
RANDOM = "".join(random.Random(8).choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=28))


@pytest.fixture(scope="module")
def upstream() -> DetectionEngine:
    # The built-in generic rule is off so that only gitleaks' own rules speak.
    from slack_dlp.detect.engine import Policy

    policy = Policy(disabled=frozenset({"generic-secret-assignment"}))
    return DetectionEngine((*BUILTIN_DETECTORS, *load_rules(UPSTREAM)), fingerprinter=KEY, policy=policy)


def test_the_upstream_config_loads_with_a_report() -> None:
    from slack_dlp.detect.rules import load_rules_report

    detectors, report = load_rules_report(UPSTREAM)
    assert len(detectors) + len(report.skipped) == 222
    assert report.skipped == [("pkcs12-file", "path-only rule: it matches file names, not content")]
    assert {d.confidence.value for d in detectors} == {"medium"}  # gitleaks rules: medium unless they say
    assert {d.id for d in detectors if d.path} >= {"gitleaks.hashicorp-tf-password", "gitleaks.kubernetes-secret-yaml"}


@pytest.mark.parametrize(
    "text",
    [f'public_key = "{RANDOM}"', f"key_alias: {RANDOM}", f"credential_id={RANDOM}", f"api_version: {RANDOM}"],
)
def test_identifiers_gitleaks_allowlists_are_quiet(upstream: DetectionEngine, text: str) -> None:
    # GIVEN an identifier named like a secret (gitleaks allowlists these with regexTarget = "match")
    # THEN nothing is reported
    assert upstream.scan(text) == []


def test_the_same_value_under_a_secret_name_is_reported(upstream: DetectionEngine) -> None:
    [finding] = upstream.scan(f'api_key = "{RANDOM}"')
    assert finding.detector == "gitleaks.generic-api-key"
    assert finding.confidence.value == "medium"


TERRAFORM = 'resource "azurerm_sql_server" "db" {\n  administrator_login_password = "Tq7Zk2Lp9Wm4xv"\n}\n'


def test_rules_with_a_path_apply_to_matching_files_only(upstream: DetectionEngine) -> None:
    # WHEN the same Terraform text is a file named main.tf, a file named notes.txt, and a chat message
    in_tf = {f.detector for f in upstream.scan(TERRAFORM, path="infra/main.tf")}
    in_txt = {f.detector for f in upstream.scan(TERRAFORM, path="notes.txt")}
    in_chat = {f.detector for f in upstream.scan(TERRAFORM)}
    # THEN only main.tf fires the tf rule
    assert "gitleaks.hashicorp-tf-password" in in_tf
    assert "gitleaks.hashicorp-tf-password" not in in_txt | in_chat


def _gitleaks_engine(tmp_path: Path, toml: str) -> DetectionEngine:
    config = tmp_path / "gitleaks.toml"
    config.write_text(toml)
    return DetectionEngine(load_rules(config), fingerprinter=KEY)


W = "".join(random.Random(9).choices("abcdefghijklmnopqrstuvwxyz0123456789", k=24))
RULE = """
[[rules]]
id = "widget"
regex = \'\'\'widget_(?:token|id)\\s*=\\s*([a-z0-9]{24})\'\'\'
"""


@pytest.mark.parametrize(
    ("allowlist", "quiet", "loud"),
    [
        # regexTarget = secret (default): the regex sees the secret only
        ("regexes = ['^aaaa']", "widget_token = aaaa" + W[4:], "widget_token = " + W),
        # regexTarget = match: the regex sees the whole match, name included
        ("regexTarget = 'match'\nregexes = ['widget_id']", "widget_id = " + W, "widget_token = " + W),
        # regexTarget = line: the regex sees the line around the match
        ("regexTarget = 'line'\nregexes = ['# test fixture']", "widget_token = " + W + " # test fixture",
         "widget_token = " + W),
        # stopwords: substrings of the secret, case-insensitive
        ("stopwords = ['EXAMPLE']", "widget_token = example" + W[7:], "widget_token = " + W),
        # condition AND: every check must hold (here a regex and a stopword)
        ("condition = 'AND'\nregexes = ['^q']\nstopwords = ['zz']", "widget_token = q" + W[1:22] + "zz",
         "widget_token = x" + W[1:22] + "zz"),
        # condition AND with paths: never true for a chat message
        ("condition = 'AND'\npaths = ['.*']\nregexes = ['.*']", "", "widget_token = " + W),
    ],
)  # fmt: skip
def test_gitleaks_allowlist_semantics(tmp_path: Path, allowlist: str, quiet: str, loud: str) -> None:
    engine = _gitleaks_engine(tmp_path, RULE + "[[rules.allowlists]]\n" + allowlist + "\n")
    if quiet:
        assert engine.scan(quiet) == []
    assert [f.detector for f in engine.scan(loud)] == ["gitleaks.widget"]


def test_gitleaks_path_allowlists_skip_matching_files_only(tmp_path: Path) -> None:
    engine = _gitleaks_engine(tmp_path, RULE + "[[rules.allowlists]]\npaths = ['\\.lock$']\n")
    text = "widget_token = " + W
    assert engine.scan(text, path="deps.lock") == []
    assert len(engine.scan(text, path="deps.txt")) == len(engine.scan(text)) == 1


def test_gitleaks_entropy_must_exceed_the_floor_and_confidence_is_configurable(tmp_path: Path) -> None:
    value = "ab" * 12  # entropy exactly 1.0 (the built-in placeholder checks would not stop it: 2 letters do)
    engine = _gitleaks_engine(tmp_path, 'default_confidence = "high"\n' + RULE + "entropy = 1.0\n")
    assert engine.scan("widget_token = " + value) == []  # gitleaks: entropy <= floor is skipped
    [finding] = engine.scan("widget_token = " + "abc" * 8)
    assert finding.confidence.value == "high"


def test_rules_check_reports_loaded_skipped_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "extend.toml"
    config.write_text("[extend]\nuseDefault = true\n" + GITLEAKS)
    assert main(["rules", "check", str(config)]) == 0
    out = capsys.readouterr().out
    assert "1 rule(s) loaded" in out
    assert "skipped pem-files: path-only rule" in out
    assert "useDefault" in out and "built-in detectors are always on" in out
    assert main(["rules", "check", "--strict", str(config)]) == 2
    assert main(["rules", "check", str(tmp_path / "missing.toml")]) == 2


def test_rule_keywords_gate_each_message_not_the_batch(upstream: DetectionEngine) -> None:
    # GIVEN gitleaks' sourcegraph rule (keywords sgp_, sourcegraph; its regex also matches any 40-hex
    # string) and a batch where one message names sourcegraph and another holds a commit hash
    commit = "".join(random.Random(3).choices("0123456789abcdef", k=40))
    texts = ["the sourcegraph token rotation is done", f"deploy {commit} went out"]
    # THEN the commit is not reported: gitleaks runs a rule only on texts holding one of its keywords
    assert all(f.detector != "gitleaks.sourcegraph-access-token" for fs in upstream.scan_many(texts) for f in fs)
    [finding] = [f for f in upstream.scan(f"sourcegraph deploy {commit}") if f.detector.startswith("gitleaks.")]
    assert finding.detector == "gitleaks.sourcegraph-access-token"


def test_merged_allowlists_allow_what_any_of_the_allowlists_allows() -> None:
    # Given OR and AND allowlists on every target, with stopwords and paths
    allowlists = (
        RuleAllowlist(regexes=("^aaaa", "(?i)^test"), stopwords=("dummy", "Sample")),
        RuleAllowlist(regexes=("widget_id",), regex_target="match"),
        RuleAllowlist(regexes=("# fixture",), regex_target="line", paths=(r"\.lock$",)),
        RuleAllowlist(regexes=("^q",), stopwords=("zz",), condition="AND"),
        RuleAllowlist(regexes=(".*",), paths=(r"\.md$",), condition="AND"),
    )
    merged = MergedAllowlists(allowlists)
    secrets = ["", "aaaab", "TESTvalue", "xDUMMYx", "sample", "q12zz", "q12", "plain"]
    matches = ["", "widget_id = x", "widget_token = x"]
    lines = ["", "a # fixture", "a line"]
    paths = ["", "deps.lock", "notes.md", "main.tf"]
    # Then, for every combination, the merged check answers as the allowlists one by one do
    for secret, match, line, path in itertools.product(secrets, matches, lines, paths):
        expected = any(a.allows(secret, match, line, path) for a in allowlists)
        assert merged.allows(secret, match, line, path) is expected, (secret, match, line, path)
    assert (merged.needs_match, merged.needs_line) == (True, True)
    assert not MergedAllowlists(allowlists[:1]).needs_match
