"""Providers' tokens the built-ins used to miss (gitleaks' distinctive rules, .netrc, docker auth,
PuTTY keys, providers' names as labels) and the small PII misses found beside them: each found with
a generated value, each beside near misses that must stay quiet."""

from __future__ import annotations

import random
import re

import pytest

from slack_dlp.detect.catalog import PROVIDER_TOKENS
from slack_dlp.detect.engine import DetectionEngine
from slack_dlp.detect.validators import card_issuer, payment_card
from tests.quality.outside import Gen, group
from tests.quality.providers import ALNUM, HEX, TOKENS, password, r_

RNG = random.Random(23)
G = Gen(23)
#: detector -> a generated value (one per detector, the same for every test of this module)
VALUES = {detector: make(RNG) for detector, (make, _) in TOKENS.items()}
STANDALONE = [d.id for d in PROVIDER_TOKENS]


def _only(engine: DetectionEngine, text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in engine.scan(text)]


@pytest.mark.parametrize("detector", sorted(TOKENS))
def test_each_provider_token_is_found_by_its_detector(engine: DetectionEngine, detector: str) -> None:
    # GIVEN a message as people paste it, holding a generated value of the provider's format
    value, text = VALUES[detector], TOKENS[detector][1].format(v=VALUES[detector])
    # WHEN it is scanned, THEN the value (and only it) is found, by the detector named after the provider
    assert _only(engine, text) == [(detector, value)]


@pytest.mark.parametrize("detector", STANDALONE)
def test_standalone_tokens_need_their_whole_format(engine: DetectionEngine, detector: str) -> None:
    # GIVEN the value with its prefix inside a longer word, cut to half its length, and masked
    value = VALUES[detector]
    masked = value[:5] + re.sub(r"[A-Za-z0-9]", "x", value[5:])
    # THEN none of them is reported, in any message
    for near in (f"abc{value}", value[: len(value) // 2], masked):
        assert _only(engine, f"token: {near}") == [], near


QUIET = [
    # placeholders and docs' descriptions of the formats
    "SUPABASE_ACCESS_TOKEN=sbp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "GROQ_API_KEY=gsk_...  # from console.groq.com",
    "grafana tokens look like glsa_<32 chars>_<8 hex>",
    "REPLICATE_API_TOKEN=r8_******************************",
    "export DOPPLER_TOKEN=dp.st.prd.$(cat token.txt)",
    "AGE-SECRET-KEY-1XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    # the prefixes inside other words and paths
    "see docs/sbp_setup.md and gsk_migration.py",
    "ssl.create_default_context() reads openssl.cnf",
    "the pul-request template and rdme_notes",
    "API-GATEWAYINTEGRATIONRESPONSE is the CloudFormation resource",
    # base64 blobs whose runs start like a token (`cmVmd` is base64 of "ref", zero bytes are `AAAA`)
    "data:image/png;base64," + "A" * 22 + r_(RNG, ALNUM, 90) + "+/w8AAAA=",
    "certificate body: cmVmd" + r_(RNG, ALNUM, 59) + "/Zm9v+YmFy",
    # .netrc, docker and PuTTY look-alikes
    "the machine learning team needs a login and a password manager",
    "machine api.acme.io login ci password $NETRC_PASSWORD",
    '{"auths": {"ghcr.io": {"auth": "${DOCKER_AUTH}"}}}',
    '{"auth": "dXNlcm5hbWU="}',  # base64 of "username": no password in it
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAI",
    # labeled providers: ids and placeholders under the name
    "PAGERDUTY_SERVICE_ID=PX7Q2ZK",
    "pagerduty token: <your-api-key>",
    "VERCEL_TOKEN=${{ secrets.VERCEL_TOKEN }}",
    "AZURE_DEVOPS_EXT_PAT=$(System.AccessToken)",
    "echo $AZURE_DEVOPS_PAT | az devops login",
    # PII: dotted digits without the label, dates, versions, IPs; a Maestro-range number failing Luhn
    "bumped to 1.22.8794 and node 536.22.8794",
    "host 10.22.87.94 since 2026.11.29",
    "maestro 6759 6498 2643 8454",
    "the iban field takes nl91abna0417164301 (typo, check digits fail)",
]


@pytest.mark.parametrize("text", QUIET)
def test_near_misses_stay_quiet(engine: DetectionEngine, text: str) -> None:
    assert engine.scan(text) == []


def test_a_shown_twilio_pair_reports_the_token_not_the_sid(engine: DetectionEngine) -> None:
    # GIVEN the console's account SID and auth token copied as words, no colon
    sid, token = "AC" + r_(RNG, HEX, 32), r_(RNG, HEX, 32)
    text = f"account sid {sid} auth token {token}"
    # THEN the token is found by the Twilio detector
    assert ("twilio-auth-token", token) in _only(engine, text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("git clone https://{v}@dev.azure.com/acme/proj/_git/api", "{v}"),
        ("echo {v} | az devops login --organization https://dev.azure.com/acme", "{v}"),
        ("ado_token: {v}", "{v}"),
    ],
)
def test_azure_devops_pats_in_the_docs_layouts(engine: DetectionEngine, text: str, value: str) -> None:
    pat = VALUES["azure-devops-pat"]
    assert _only(engine, text.format(v=pat)) == [("azure-devops-pat", value.format(v=pat))]


def test_slack_config_tokens_at_gitleaks_lengths(engine: DetectionEngine) -> None:
    # GIVEN a refresh token (146 after `xoxe-1-`) and an access token (163-166 after `xoxe.xoxp-1-`), any case
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    refresh, access = "xoxe-1-" + r_(RNG, alnum, 146), "xoxe.xoxp-1-" + r_(RNG, alnum, 166)
    # THEN both are found as Slack configuration tokens
    for token in (refresh, access):
        assert _only(engine, f"slack config token {token}") == [("slack-config-token", token)]


def test_pii_the_probe_missed(engine: DetectionEngine) -> None:
    # GIVEN a UK Maestro number, an SSN written with dots under its name, an IBAN typed in lowercase
    maestro = group(G.luhn("6759", 16), (4, 4, 4, 4))
    ssn = G.ssn().replace("-", ".")
    iban = G.iban("NL").lower()
    # THEN each is found by its detector
    assert _only(engine, f"card {maestro} exp 04/29") == [("payment-card", maestro)]
    assert _only(engine, f"SSN {ssn}") == [("us-ssn-unformatted", ssn)]
    assert _only(engine, f"iban {iban}") == [("iban", iban)]
    assert _only(engine, f"IBAN: {iban}") == [("iban", iban)]


def test_maestro_is_an_issuer_only_in_its_ranges_and_lengths() -> None:
    assert card_issuer(G.luhn("6759", 16)) == "maestro" and card_issuer(G.luhn("6763", 19)) == "maestro"
    assert card_issuer(G.luhn("6759", 15)) is None and card_issuer(G.luhn("6770", 16)) is None
    assert payment_card(G.luhn("5018", 18))


def test_netrc_takes_each_token_on_its_own_line(engine: DetectionEngine) -> None:
    secret = password(RNG)
    text = f"machine gitlab.acme.io\n    login deploy\n    password {secret}\n"
    assert _only(engine, text) == [("netrc-password", secret)]


def test_legacy_slack_tokens_as_gitleaks_has_them(engine: DetectionEngine) -> None:
    # GIVEN a legacy workspace token (`xoxr-`, an optional digit, 8-48 characters) and a legacy bot token
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    workspace, bot = f"xoxr-1-{r_(RNG, alnum, 24)}", f"xoxb-{r_(RNG, '0123456789', 12)}-{r_(RNG, alnum, 24)}"
    # THEN each is found by its Slack detector, and a prefix alone is not
    assert _only(engine, f"workspace token {workspace}") == [("slack-legacy-token", workspace)]
    assert _only(engine, f"old bot token {bot}") == [("slack-bot-token", bot)]
    assert _only(engine, "the xoxa-abc and xoxb-1234 prefixes") == []
