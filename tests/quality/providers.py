"""Generated values for the providers' tokens (never real ones): one generator per detector of
``catalog.PROVIDER_TOKENS`` and the labeled or file-shaped detectors added beside them.

``TOKENS`` maps a detector id to (value generator, a message that holds the value as ``{v}``);
the corpus (tests/quality/corpus.py) plants them, the outside-in set (tests/quality/outside.py)
writes its own messages around the same generators, and the unit tests take their near misses.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from collections.abc import Callable

LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
ALNUM = LOWER + UPPER + DIGITS
LOWER_ALNUM = LOWER + DIGITS
UPPER_ALNUM = UPPER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
BASE32_LOWER = LOWER + "234567"


def r_(rng: random.Random, alphabet: str, n: int) -> str:
    """``n`` random characters of ``alphabet``, varied enough not to read as filler."""
    while True:
        value = "".join(rng.choices(alphabet, k=n))
        if len(set(value)) > min(8, n // 2) and not value.startswith(("-", "_")):
            return value


def password(rng: random.Random) -> str:
    return r_(rng, ALNUM, 10) + rng.choice("!#%&*") + r_(rng, ALNUM, 5)


def _docker_auth(rng: random.Random) -> str:
    return base64.b64encode(f"deploy:{password(rng)}".encode()).decode()


def _putty_private(rng: random.Random) -> str:
    return "\n".join(r_(rng, B64, 64) for _ in range(3)) + "\n" + r_(rng, B64, 24) + "="


#: A .ppk around its private lines (the public lines are public; the MAC is not a secret alone).
PUTTY_FILE = (
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@ci\nPublic-Lines: 2\n"
    "AAAAC3NzaC1lZDI1NTE5AAAAIHbX4mQ2Jt0fNz8kR1cW5uLp9sVx7aYo3gEdTqBn\nK2c=\nPrivate-Lines: 4\n{v}\n"
    "Private-MAC: 0c1d3f5a7b9e2d4c6a8f0b1e3d5c7a9f2e4d6b8a0c1e3f5d7b9a2c4e6f8d0b1a"
)

Generator = Callable[[random.Random], str]

TOKENS: dict[str, tuple[Generator, str]] = {
    "1password-token": (
        lambda r: "-".join(
            ("A3", r_(r, UPPER_ALNUM, 6), r_(r, UPPER_ALNUM, 11), *(r_(r, UPPER_ALNUM, 5) for _ in "123"))
        ),
        "my 1password secret key is {v}, emergency kit is in the safe",
    ),
    "adafruit-io-key": (lambda r: "aio_" + r_(r, ALNUM, 28), "ADAFRUIT_IO_KEY={v}"),
    "adobe-client-secret": (lambda r: "p8e-" + r_(r, ALNUM, 32), "adobe io client secret {v}"),
    "age-secret-key": (
        lambda r: "AGE-SECRET-KEY-1" + r_(r, BECH32, 58),
        "# created: 2026-11-29T10:12:01Z\n# public key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n{v}",
    ),
    "airtable-pat": (lambda r: "pat" + r_(r, ALNUM, 14) + "." + r_(r, HEX, 64), "AIRTABLE_TOKEN={v}"),
    "alibaba-access-key-id": (lambda r: "LTAI" + r_(r, ALNUM, 20), "aliyun configure: AccessKey ID {v}"),
    "artifactory-token": (lambda r: "AKCp" + r_(r, ALNUM, 69), "jfrog rt c --apikey {v}"),
    "authress-access-key": (
        lambda r: f"sc_{r_(r, LOWER_ALNUM, 12)}.{r_(r, LOWER_ALNUM, 4)}.acc_{r_(r, LOWER_ALNUM, 20)}.{r_(r, B64, 60)}",
        "authress service client key {v}",
    ),
    "aws-bedrock-api-key": (lambda r: "ABSK" + r_(r, B64, 140), "AWS_BEARER_TOKEN_BEDROCK={v}"),
    "aws-mws-auth-token": (lambda r: f"amzn.mws.{uuid.UUID(int=r.getrandbits(128))}", "MWS auth token {v}"),
    "clickhouse-cloud-key": (lambda r: "4b1d" + r_(r, ALNUM, 38), "clickhouse cloud key secret {v}"),
    "clojars-token": (lambda r: "CLOJARS_" + r_(r, LOWER_ALNUM, 60), "deploy token {v}"),
    "cloudflare-origin-ca-key": (
        lambda r: f"v1.0-{r_(r, HEX, 24)}-{r_(r, HEX, 146)}",
        "origin ca key for cert-manager: {v}",
    ),
    "defined-networking-token": (
        lambda r: f"dnkey-{r_(r, UPPER_ALNUM, 26)}-{r_(r, UPPER_ALNUM, 52)}",
        "dnclient enroll token {v}",
    ),
    "doppler-token": (
        lambda r: r.choice(["dp.pt.", "dp.st.prd.", "dp.ct.", "dp.sa."]) + r_(r, ALNUM, 43),
        "DOPPLER_TOKEN={v}",
    ),
    "dropbox-token": (lambda r: "sl." + r_(r, URLSAFE, 135), "dropbox access token {v}"),
    "duffel-token": (lambda r: "duffel_live_" + r_(r, URLSAFE, 43), "duffel {v}"),
    "dynatrace-token": (
        lambda r: f"dt0c01.{r_(r, UPPER_ALNUM, 24)}.{r_(r, UPPER_ALNUM, 64)}",
        "Api-Token {v}",
    ),
    "easypost-token": (lambda r: "EZAK" + r_(r, ALNUM, 54), "easypost prod key {v}"),
    "facebook-page-token": (lambda r: "EAAC" + r_(r, ALNUM, 160), "page access token {v}"),
    "figma-token": (lambda r: "figd_" + r_(r, URLSAFE, 40), "X-Figma-Token: {v}"),
    "flutterwave-secret-key": (lambda r: "FLWSECK-" + r_(r, "abcdefgh0123456789", 32) + "-X", "flw secret {v}"),
    "flyio-token": (lambda r: "fo1_" + r_(r, URLSAFE, 43), "FLY_API_TOKEN={v}"),
    "frameio-token": (lambda r: "fio-u-" + r_(r, URLSAFE, 64), "frame.io dev token {v}"),
    "grafana-token": (lambda r: f"glsa_{r_(r, ALNUM, 32)}_{r_(r, HEX, 8)}", "grafana sa token: {v}"),
    "groq-api-key": (lambda r: "gsk_" + r_(r, ALNUM, 52), "GROQ_API_KEY={v}"),
    "harness-token": (
        lambda r: f"pat.{r_(r, URLSAFE, 22)}.{r_(r, ALNUM, 24)}.{r_(r, ALNUM, 20)}",
        "x-api-key: {v}",
    ),
    "infracost-token": (lambda r: "ico-" + r_(r, ALNUM, 32), "INFRACOST_API_KEY={v}"),
    "intra42-client-secret": (lambda r: "s-s4t2ud-" + r_(r, HEX, 64), "42 api secret {v}"),
    "maxmind-license-key": (lambda r: f"{r_(r, ALNUM, 6)}_{r_(r, ALNUM, 29)}_mmk", "LicenseKey {v}"),
    "octopus-deploy-api-key": (lambda r: "API-" + r_(r, UPPER_ALNUM, 26), "octo push --apiKey {v}"),
    "openshift-token": (lambda r: "sha256~" + r_(r, URLSAFE, 43), "oc login --token={v} --server=https://api.ocp:6443"),
    "perplexity-api-key": (lambda r: "pplx-" + r_(r, ALNUM, 48), "PPLX_API_KEY={v}"),
    "planetscale-token": (
        lambda r: r.choice(["pscale_tkn_", "pscale_oauth_", "pscale_pw_"]) + r_(r, URLSAFE, 43),
        "planetscale {v}",
    ),
    "prefect-api-key": (lambda r: "pnu_" + r_(r, ALNUM, 36), "prefect cloud login -k {v}"),
    "pulumi-access-token": (lambda r: "pul-" + r_(r, HEX, 40), "PULUMI_ACCESS_TOKEN={v}"),
    "readme-api-key": (lambda r: "rdme_" + r_(r, LOWER_ALNUM, 70), "readme key {v}"),
    "replicate-api-token": (lambda r: "r8_" + r_(r, ALNUM, 37), "REPLICATE_API_TOKEN={v}"),
    "rubygems-api-key": (lambda r: "rubygems_" + r_(r, HEX, 48), "---\n:rubygems_api_key: {v}"),
    "scalingo-token": (lambda r: "tk-us-" + r_(r, URLSAFE, 48), "scalingo login --api-token {v}"),
    "sendinblue-api-key": (lambda r: f"xkeysib-{r_(r, HEX, 64)}-{r_(r, ALNUM, 16)}", "brevo api-key: {v}"),
    "settlemint-token": (lambda r: "sm_pat_" + r_(r, ALNUM, 16), "settlemint {v}"),
    "shippo-api-token": (lambda r: "shippo_live_" + r_(r, HEX, 40), "Authorization: ShippoToken {v}"),
    "sourcegraph-token": (lambda r: f"sgp_{r_(r, HEX, 16)}_{r_(r, HEX, 40)}", "SRC_ACCESS_TOKEN={v}"),
    "supabase-token": (lambda r: "sbp_" + r_(r, HEX, 40), "supabase login --token {v}"),
    "twitter-bearer-token": (lambda r: "A" * 22 + r_(r, ALNUM, 90), "TWITTER_BEARER={v}"),
    "typeform-token": (lambda r: "tfp_" + r_(r, ALNUM, 59), "typeform pat {v}"),
    "yandex-api-key": (lambda r: "AQVN" + r_(r, URLSAFE, 36), "yc api key {v}"),
    # Beside them: formats with a prefix or a layout of their own, and providers' names as labels.
    "gcp-oauth-refresh-token": (lambda r: "1//0" + r_(r, URLSAFE, 99), '"refresh_token": "{v}",'),
    "azure-devops-pat": (lambda r: r_(r, BASE32_LOWER, 52), "AZURE_DEVOPS_EXT_PAT={v}"),
    "pagerduty-api-key": (lambda r: "u+" + r_(r, ALNUM, 18), "PAGERDUTY_TOKEN={v}"),
    "vercel-token": (lambda r: r_(r, ALNUM, 24), "VERCEL_TOKEN={v}"),
    "netrc-password": (password, "machine api.heroku.com login ci@acme.io password {v}"),
    "docker-config-auth": (_docker_auth, '{{"auths": {{"registry.acme.io": {{"auth": "{v}"}}}}}}'),
    "putty-private-key": (_putty_private, PUTTY_FILE),
}
