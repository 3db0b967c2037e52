from __future__ import annotations

import random

import pytest

from slack_dlp.detect.catalog import BUILTIN_DETECTORS
from slack_dlp.detect.detector import Detector, DetectorError
from slack_dlp.detect.engine import DetectionEngine, Fingerprinter, Policy, mask
from slack_dlp.model import Category, Confidence
from slack_dlp_tools.local import samples

KEY = b"unit-test-fingerprint-key-000000"


@pytest.fixture
def engine() -> DetectionEngine:
    return DetectionEngine(fingerprinter=Fingerprinter(KEY))


RNG = random.Random(42)
POSITIVES = [
    ("aws-access-key-id", f"creds: {samples.fake_aws_access_key_id(RNG)} for prod"),
    ("github-pat", f"token={samples.fake_github_pat(RNG)}"),
    ("slack-bot-token", f"bot: {samples.fake_slack_bot_token(RNG)}"),
    ("payment-card", f"my card {samples.fake_card_number(RNG)} exp 01/28"),
    ("private-key", f"key:\n{samples.fake_private_key(RNG)}\n"),
    ("us-ssn", "SSN 536-22-1234 on file"),
    ("iban", "wire to DE44 5001 0517 5407 3249 31 please"),
]


@pytest.mark.parametrize(("detector", "text"), POSITIVES)
def test_planted_values_are_found_with_offsets_and_no_value(engine: DetectionEngine, detector: str, text: str) -> None:
    # WHEN
    findings = engine.scan(text)
    # THEN exactly the planted value is found, located by offsets, and only masked
    assert [f.detector for f in findings] == [detector]
    finding = findings[0]
    value = text[finding.start : finding.end]
    assert value.strip() == value and len(value) >= 9
    assert value not in repr(finding)
    assert value not in finding.masked


NEGATIVES = [
    "lunch at 12:30? the usual place",
    "the docs use AKIAIOSFODNN7EXAMPLE as an example",
    "set SLACK_BOT_TOKEN=xoxb-your-token in .env",
    "password = os.environ['DB_PASSWORD']",
    "api_key: ${API_KEY}",
    "token: <API_KEY>",
    "card 4111 1111 1111 1111 is the test card",
    "order 1234567812345678 shipped",
    "request id 123e4567-e89b-12d3-a456-426614174000",
    "commit 9b74c9897bac770ffc029102a200c5de3c1f7e2a",
    "ts 1700000000.123456 and epoch 1699999999999",
    "ssn 000-12-3456 is invalid",
    "sk_live_XXXXXXXXXXXXXXXXXXXXXXXX",
    "password: ********",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_placeholders_examples_and_lookalikes_stay_quiet(engine: DetectionEngine, text: str) -> None:
    assert engine.scan(text) == []


def test_fingerprints_are_keyed_and_stable() -> None:
    a, b = Fingerprinter(KEY), Fingerprinter(b"another-key-of-sixteen-bytes-or-more")
    assert a("value") == a("value")
    assert a("value") != b("value")
    assert "value" not in a("value")


def test_mask_keeps_only_a_short_prefix() -> None:
    assert mask("ghp_abcdefghijklmnopqrstuvwxyz0123456789").startswith("ghp_")
    assert "abcdef" not in mask("ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    assert mask("536-22-1234").startswith("53")


def test_policy_disables_detectors_and_allowlists_values(engine: DetectionEngine) -> None:
    text = f"{samples.fake_github_pat(RNG)} and SSN 536-22-1234"
    fingerprint = next(f.fingerprint for f in engine.scan(text) if f.detector == "us-ssn")
    quiet = DetectionEngine(
        fingerprinter=Fingerprinter(KEY),
        policy=Policy(disabled=frozenset({"github-pat"}), allow_fingerprints=frozenset({fingerprint})),
    )
    assert quiet.scan(text) == []


def test_min_confidence_filters_weaker_findings() -> None:
    strict = DetectionEngine(fingerprinter=Fingerprinter(KEY), policy=Policy(min_confidence=Confidence.HIGH))
    assert strict.scan("ref 536-22-1234") == []


def test_specific_detector_wins_over_generic_on_the_same_span(engine: DetectionEngine) -> None:
    findings = engine.scan(f"api_key = {samples.fake_github_pat(RNG)}")
    assert [f.detector for f in findings] == ["github-pat"]


def test_catalog_ids_are_unique_and_patterns_compile() -> None:
    ids = [d.id for d in BUILTIN_DETECTORS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


@pytest.mark.parametrize(
    "kwargs",
    [{"id": "Bad Id", "pattern": "x"}, {"id": "ok", "pattern": "("}, {"id": "ok", "pattern": "a*"},
     {"id": "ok", "pattern": "x", "keywords": ("UPPER",)}],
)  # fmt: skip
def test_bad_detector_definitions_fail_at_load_time(kwargs: dict[str, object]) -> None:
    with pytest.raises(DetectorError):
        Detector(category=Category.SECRET, description="d", **kwargs)  # type: ignore[arg-type]


def test_scan_large_finds_each_value_once_across_piece_boundaries(engine: DetectionEngine) -> None:
    # GIVEN a long text with tokens planted every ~1,000 characters, pieces of 4,096 characters
    rng = random.Random(3)
    parts, planted = [], []
    for _ in range(300):
        token = samples.fake_github_pat(rng)
        parts.append("x " * rng.randint(300, 600) + f"token {token}\n")
        planted.append(token)
    text = "".join(parts)
    assert len(text) > 3 * (4096 + engine.overlap)
    # WHEN scanned whole and in overlapping pieces
    pieces = engine.scan_large(text, chunk_chars=4096)
    # THEN the pieces find exactly what one scan finds: every token once, at its offsets
    assert pieces == engine.scan(text)
    assert [text[f.start : f.end] for f in pieces] == planted


def _long_private_key(rng: random.Random) -> str:
    """An RSA-4096-sized PEM block (3.3 KB): longer than any bounded pattern's reach."""
    body = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=64 * 50))
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----"


def test_scan_large_finds_a_long_key_whole_wherever_a_cut_falls(engine: DetectionEngine) -> None:
    # GIVEN a 3.3 KB private key placed across, before, at and after each cut between pieces
    rng = random.Random(5)
    key = _long_private_key(rng)
    chunk = 4096
    half = engine.overlap // 2
    cut = chunk + half  # where the first piece's text ends and the second's begins
    filler = "".join(f"line {n} of chatter\n" for n in range(20_000))
    for start in (cut - len(key) - 1, cut - len(key) // 2, cut - 1, cut, cut + 1, cut + chunk - 10):
        text = filler[:start] + key + filler[start:]
        # WHEN scanned in pieces
        found = engine.scan_large(text, chunk_chars=chunk)
        # THEN as one scan of the whole text: the whole key, once
        assert found == engine.scan(text)
        assert [(f.detector, text[f.start : f.end]) for f in found] == [("private-key", key)]


def test_scan_large_of_a_last_piece_of_only_overlap_and_of_a_short_text(engine: DetectionEngine) -> None:
    rng = random.Random(6)
    token = samples.fake_github_pat(rng)
    chunk = 4096
    filler = "".join(f"row {n}\n" for n in range(40_000))
    # GIVEN a text just longer than one piece (its second piece is overlap and a few characters), a
    # token in that tail, and a text shorter than one piece
    whole = chunk + engine.overlap
    tail = filler[: whole + 5 - len(token) - 1] + " " + token
    short = f"token {token} and nothing else"
    for text in (tail, short, filler[: whole + 1], ""):
        # WHEN scanned in pieces
        found = engine.scan_large(text, chunk_chars=chunk)
        # THEN as one scan of the whole text
        assert found == engine.scan(text)
    assert [tail[f.start : f.end] for f in engine.scan_large(tail, chunk_chars=chunk)] == [token]
    with pytest.raises(ValueError, match="positive"):
        engine.scan_large(short, chunk_chars=0)


def test_scan_large_runs_keyword_rules_where_the_whole_text_holds_a_keyword() -> None:
    # GIVEN a gitleaks-style rule whose keyword is far from its matches (in another piece)
    rule = Detector("acme-id", Category.SECRET, "d", r"\b(ACME[0-9A-F]{16})\b", engine="re2", keywords=("acme_vault",))
    engine = DetectionEngine((*BUILTIN_DETECTORS, rule), fingerprinter=Fingerprinter(KEY))
    filler = "".join(f"line {n}\n" for n in range(30_000))
    text = "acme_vault export\n" + filler + "id ACME0123456789ABCDEF\n" + filler
    exhaustive = DetectionEngine((rule,), fingerprinter=Fingerprinter(KEY), use_prefilter=False)  # no locators
    for scanner in (engine, exhaustive):
        # WHEN scanned in pieces and whole
        found = scanner.scan_large(text, chunk_chars=4096)
        # THEN the rule runs in every piece, as over the whole text
        assert found == scanner.scan(text)
        assert [f.detector for f in found] == ["acme-id"]
        quiet = text.replace("acme_vault", "other")
        assert scanner.scan_large(quiet, chunk_chars=4096) == scanner.scan(quiet) == []


def test_rules_and_allowlists_see_only_their_own_text_in_a_batch(engine: DetectionEngine) -> None:
    # GIVEN a private key split across two messages of one batch
    key = samples.fake_private_key(RNG)
    head, tail = key[: len(key) // 2], key[len(key) // 2 :]
    # THEN no message reports the other's half as a complete key
    assert all(f.detector != "private-key" for fs in engine.scan_many([head, tail]) for f in fs)
    # AND a complete key after it in the same batch is still found
    results = engine.scan_many([head, "hello", f"key:\n{key}\n"])
    assert [f.detector for f in results[2]] == ["private-key"]


def test_context_words_count_on_the_values_own_line_only(engine: DetectionEngine) -> None:
    card = samples.fake_card_number(RNG)
    # GIVEN a card number whose neighbouring line (another record of a file) talks about an invoice
    text = f"invoice 2026-0042 paid\ncard {card} exp 11/27\nsee the invoice above"
    # THEN the neighbours do not lower its confidence, while the same word on its line does
    assert [f.confidence.value for f in engine.scan(text)] == ["high"]
    assert engine.scan(f"invoice {card}") == []


def test_non_latin_text_and_rules_keep_their_offsets_and_meaning() -> None:
    # GIVEN a rule with a Cyrillic keyword (no Latin-1 locator) and text with emoji and accents
    rule = Detector("ru-secret", Category.SECRET, "d", r"секрет=(?P<secret>[а-я]{10})", engine="re2")
    engine = DetectionEngine((*BUILTIN_DETECTORS, rule), fingerprinter=Fingerprinter(KEY))
    token = samples.fake_github_pat(RNG)
    text = f"héllo 🎉 naïve — {token} и секрет=абвгдежзик"
    found = {f.detector: text[f.start : f.end] for f in engine.scan(text)}
    assert found == {"github-pat": token, "ru-secret": "абвгдежзик"}


def test_cards_are_found_beside_digit_runs_no_issuer_starts(engine: DetectionEngine) -> None:
    # GIVEN a card number after a quantity, beside an epoch timestamp and order ids that no issuer range starts
    text = "qty 1 4539 1488 0343 6467 at 1712345678901, ids 9123456789012345 and 1000200030004000"
    # WHEN
    findings = engine.scan(text)
    # THEN only the card is found, in full
    assert [(f.detector, text[f.start : f.end]) for f in findings] == [("payment-card", "4539 1488 0343 6467")]


def test_findings_are_the_models_own_findings() -> None:
    import dataclasses

    from slack_dlp.detect.engine import _new_finding
    from slack_dlp.model import Finding

    # Given a finding built by the engine's fast path and the same one built by the model
    fields = ("github-pat", Category.SECRET, 3, 43, Confidence.HIGH, "ghp_••••", "ab12", "GitHub token")
    fast, model = _new_finding(*fields), Finding(*fields)
    # Then they are equal in every respect the model defines, and as frozen
    assert type(fast) is Finding
    assert fast == model and hash(fast) == hash(model) and repr(fast) == repr(model)
    assert fast.to_dict() == model.to_dict() and Finding.from_dict(fast.to_dict()) == model
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.start = 0  # type: ignore[misc]


def test_a_pattern_compiled_once_serves_every_rule_and_a_bad_one_fails_every_time() -> None:
    import re2

    from slack_dlp.detect.fastre2 import Re2Pattern

    # GIVEN the same allowlist regex in two rules (gitleaks' global allowlist is in all 222)
    first, second = Re2Pattern(r"(?i)example|^x{5,}$"), Re2Pattern(r"(?i)example|^x{5,}$")
    # THEN each answers for itself
    assert first.search("an EXAMPLE key") and second.search("xxxxxx")
    assert not first.search("ghp_realvalue") and not second.search("xxxxxx1")
    # AND a regex that does not compile is refused each time it is asked for (no failure is kept)
    for _ in range(2):
        with pytest.raises(re2.error):
            Re2Pattern("(unclosed")


def test_locators_are_compiled_when_first_needed_and_kept() -> None:
    # GIVEN an engine with a rule that has no Latin-1 locator, and text that wakes a few detectors
    rule = Detector("ru-secret", Category.SECRET, "d", r"секрет=(?P<secret>[а-я]{10})", engine="re2")
    engine = DetectionEngine((*BUILTIN_DETECTORS, rule), fingerprinter=Fingerprinter(KEY))
    exhaustive = DetectionEngine((*BUILTIN_DETECTORS, rule), fingerprinter=Fingerprinter(KEY), use_prefilter=False)
    prefilter = engine._prefilter
    ranks = {d.id: rank for rank, d in enumerate(engine.detectors)}
    token = samples.fake_github_pat(RNG)
    texts = [f"token {token}", "SSN 536-22-1234", "и секрет=абвгдежзик", f"card {samples.fake_card_number(RNG)}"]
    # WHEN scanned one by one (each wakes other locators)
    for text in texts:
        # THEN what is found is what every exact pattern over the text finds
        assert engine.scan(text) == exhaustive.scan(text)
    # AND a locator, once compiled, is the same one; a rule without one has None
    github = prefilter.locator(ranks["github-pat"])
    assert github is not None and prefilter.locator(ranks["github-pat"]) is github
    assert prefilter.locator(ranks["ru-secret"]) is None


def test_keyword_rules_in_a_text_are_those_whose_keywords_it_holds() -> None:
    from slack_dlp.detect.prefilter import Prefilter

    # GIVEN rules whose keywords hold punctuation, spaces and letters beyond ASCII
    keyword_sets = [("acme_key",), ("x-api key", "tok:"), ("секрет",), ("naïve",), ("a.b*c",), ("(p)",)]
    rules = [
        Detector(f"r{n}", Category.SECRET, "d", r"\b[A-Z]{30}\b", engine="re2", keywords=k)
        for n, k in enumerate(keyword_sets)
    ]
    prefilter = Prefilter((*BUILTIN_DETECTORS[:3], *rules))
    offset = 3
    texts = ["ACME_KEY=1", "X-API KEY and TOK:", "Секрет", "NAÏVE", "aXb*c a.b*c", "(p)", "nothing", "a.bbc (q)"]
    for text in texts:
        # WHEN asked which rules' keywords the text holds
        woken = prefilter.keyword_rules_in(text)
        # THEN exactly those a lowercase substring check finds
        expected = {offset + n for n, k in enumerate(keyword_sets) if any(w in text.lower() for w in k)}
        assert woken == expected, text


@pytest.mark.parametrize(
    ("pattern", "keywords", "holds"),
    [
        (r"(?i)\b(sk_live_[0-9a-z]{24})\b", ("sk_live_",), True),
        (r"(?i)[\w.-]{0,50}?(?:adafruit)(?:[ \t\w.-]{0,20})[\s'\"]{0,3}([a-z0-9_-]{32})", ("adafruit",), True),
        (r"(?:ghp_|xoxb-)[0-9A-Za-z]{36}", ("ghp_", "xoxb-"), True),  # each alternative holds one
        (r"(?:ghp|xyz)_[0-9A-Za-z]{36}", ("ghp_",), False),  # one alternative holds none
        (r"(?:AKIA){1,2}[A-Z0-9]{16}", ("akia",), True),  # a repeat done at least once, case aside
        (r"(?:AKIA)?[A-Z0-9]{16}", ("akia",), False),  # an optional part proves nothing
        (r"\b(ACME[0-9A-F]{16})\b", ("acme_vault",), False),  # the keyword is context, not in the match
        (r"[ab]cme_key=\w+", ("acme_key",), False),  # a class is not a literal (conservative)
        (r"(?P<x>unclosed", ("unclosed",), False),  # does not parse: unsure
    ],
)
def test_a_rule_whose_every_match_holds_a_keyword_is_known(
    pattern: str, keywords: tuple[str, ...], holds: bool
) -> None:
    from slack_dlp.detect.prefilter import _keyword_in_every_match

    rule = Detector.__new__(Detector)  # only pattern, flags and keywords are looked at
    object.__setattr__(rule, "pattern", pattern)
    object.__setattr__(rule, "flags", 0)
    object.__setattr__(rule, "keywords", keywords)
    assert _keyword_in_every_match(rule) is holds
