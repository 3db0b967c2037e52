"""A labeled corpus: Slack-like messages with planted values for every detector, and hard negatives.

Values are generated with valid structure (checksums, lengths, prefixes) and are never real.
Each positive is (text, detector id, value); negatives are texts that must produce no finding.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from slack_dlp.detect.validators import IBAN_LENGTHS, luhn
from slack_dlp_tools.local import samples
from tests.quality.providers import TOKENS

LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
ALNUM = LOWER + UPPER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"


@dataclass(frozen=True)
class Planted:
    text: str
    detector: str
    value: str
    #: Other real values the text holds (an access key id beside its secret): neither hits nor misses.
    also: tuple[str, ...] = ()


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    while True:
        value = "".join(rng.choices(alphabet, k=n))
        # Random draws with a single character class look like filler to the placeholder checks.
        if len(set(value)) > min(6, n // 2):
            return value


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _luhn_complete(body: str) -> str:
    return next(body + d for d in DIGITS if luhn(body + d))


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
                                 ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16)])  # fmt: skip
    number = _luhn_complete(prefix + _r(rng, DIGITS, length - len(prefix) - 1))
    if length == 16 and rng.random() < 0.5:
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def _iban(rng: random.Random) -> str:
    country = rng.choice(["DE", "GB", "FR", "NL", "ES", "IT", "CH", "BE", "PL", "SE"])
    length = IBAN_LENGTHS[country]
    bban = (_r(rng, UPPER, 4) if country in ("GB", "NL") else "") + _r(rng, DIGITS, length - 4)
    bban = bban[: length - 4]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if rng.random() < 0.5 else compact


def _aba(rng: random.Random) -> str:
    while True:
        digits = f"{rng.choice([1, 2, 3, 6, 7, 11, 21, 26, 31, 61, 67]):02d}" + _r(rng, DIGITS, 6)
        weights = (3, 7, 1, 3, 7, 1, 3, 7)
        check = (10 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10) % 10
        if len(set(digits)) > 3:
            return digits + str(check)


def _ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _itin(rng: random.Random) -> str:
    group = rng.choice([*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100)])
    return f"9{rng.randint(0, 99):02d}-{group:02d}-{rng.randint(1, 9999):04d}"


def _nino(rng: random.Random) -> str:
    while (prefix := rng.choice("ABCEHJKLMNOPRSTWXY") + rng.choice("ABCEHJKLMNPRSTWXY")) in {
        "BG",
        "GB",
        "NK",
        "KN",
        "TN",
        "NT",
        "ZZ",
    }:
        pass
    first, second = prefix
    digits = _r(rng, DIGITS, 6)
    return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"


def _sin(rng: random.Random) -> str:
    number = _luhn_complete(str(rng.randint(1, 7)) + _r(rng, DIGITS, 7))
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def _pem(rng: random.Random, label: str) -> str:
    body = "\n".join(_r(rng, B64, 64) for _ in range(8))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def _jwt(rng: random.Random) -> str:
    header = _b64url({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"})
    payload = _b64url({"sub": str(rng.randint(1000, 99999)), "name": "svc", "iat": 1700000000})
    return f"{header}.{payload}.{_r(rng, URLSAFE, 43)}"


def _password(rng: random.Random) -> str:
    return _r(rng, ALNUM + "!#%^&*", rng.randint(12, 20))


# detector id -> (value generator, message template with {v})
GENERATORS: dict[str, tuple[Callable[[random.Random], str], str]] = {
    "aws-access-key-id": (samples.fake_aws_access_key_id, "new creds for staging: {v}"),
    "aws-secret-access-key": (lambda r: _r(r, ALNUM + "/+", 40), "aws_secret_access_key = {v}"),
    "aws-session-token": (lambda r: _r(r, B64, 180), "AWS_SESSION_TOKEN={v}"),
    "gcp-api-key": (lambda r: "AIza" + _r(r, URLSAFE, 35), "maps key is {v} fyi"),
    "gcp-service-account-key": (
        lambda r: (
            "-----BEGIN PRIVATE KEY-----\\n"
            + "\\n".join(_r(r, B64, 64) for _ in range(4))
            + "\\n-----END PRIVATE KEY-----\\n"
        ),
        '{{"type": "service_account", "project_id": "acme", "private_key": "{v}"}}',
    ),
    "gcp-oauth-client-secret": (lambda r: "GOCSPX-" + _r(r, URLSAFE, 28), "client secret {v}"),
    "azure-storage-account-key": (
        lambda r: _r(r, B64, 86) + "==",
        "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={v};EndpointSuffix=core.windows.net",
    ),
    "azure-sas-token": (
        lambda r: _r(r, ALNUM + "%", 44),
        "https://acme.blob.core.windows.net/c/report.csv?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-01T00:00:00Z&sig={v}",
    ),
    "azure-connection-string": (
        lambda r: _r(r, B64, 43) + "=",
        "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={v}",
    ),
    "azure-ad-client-secret": (
        lambda r: _r(r, ALNUM, 3) + r.choice(DIGITS) + r.choice(ALNUM) + "Q~" + _r(r, ALNUM + "_~.-", 34),
        "app registration secret: {v}",
    ),
    "digitalocean-token": (lambda r: "dop_v1_" + _r(r, HEX, 64), "doctl auth init -t {v}"),
    "heroku-api-key": (lambda r: "HRKU-" + _r(r, URLSAFE, 60), "heroku token {v}"),
    "heroku-api-key-legacy": (lambda r: str(uuid.UUID(int=r.getrandbits(128))), "HEROKU_API_KEY={v}"),
    "databricks-token": (lambda r: "dapi" + _r(r, HEX, 32), "databricks pat: {v}"),
    "snowflake-connection": (_password, "snowflake://etl_user:{v}@acme-xy12345.snowflakecomputing.com/analytics"),
    "github-pat": (samples.fake_github_pat, "try with mine {v}"),
    "github-fine-grained-pat": (
        lambda r: "github_pat_" + _r(r, ALNUM, 22) + "_" + _r(r, ALNUM, 59),
        "fine-grained token {v}",
    ),
    "github-oauth-token": (lambda r: "gho_" + _r(r, ALNUM, 36), "oauth: {v}"),
    "github-app-token": (lambda r: r.choice(["ghu_", "ghs_"]) + _r(r, ALNUM, 36), "installation token {v}"),
    "github-refresh-token": (lambda r: "ghr_" + _r(r, ALNUM, 76), "refresh {v}"),
    "gitlab-token": (lambda r: "glpat-" + _r(r, ALNUM, 20), "gitlab: {v}"),
    "bitbucket-app-password": (lambda r: "ATBB" + _r(r, ALNUM, 32), "bitbucket app password {v}"),
    "atlassian-api-token": (lambda r: "ATATT3" + _r(r, URLSAFE, 186), "jira token {v}"),
    "npm-token": (lambda r: "npm_" + _r(r, ALNUM, 36), "//registry.npmjs.org/:_authToken={v}"),
    "pypi-token": (lambda r: "pypi-AgEIcHlwaS5vcmc" + _r(r, URLSAFE, 70), "twine password {v}"),
    "docker-hub-token": (lambda r: "dckr_pat_" + _r(r, URLSAFE, 27), "docker login -p {v}"),
    "postman-api-key": (lambda r: f"PMAK-{_r(r, HEX, 24)}-{_r(r, HEX, 34)}", "postman key {v}"),
    "hashicorp-vault-token": (lambda r: "hvs." + _r(r, URLSAFE, 90), "VAULT_TOKEN={v}"),
    "terraform-cloud-token": (lambda r: _r(r, ALNUM, 14) + ".atlasv1." + _r(r, URLSAFE, 67), "tfc token {v}"),
    "slack-bot-token": (samples.fake_slack_bot_token, "bot token is {v}"),
    "slack-user-token": (
        lambda r: f"xoxp-{_r(r, DIGITS, 12)}-{_r(r, DIGITS, 12)}-{_r(r, DIGITS, 13)}-{_r(r, HEX, 32)}",
        "my user token {v}",
    ),
    "slack-app-token": (
        lambda r: f"xapp-1-A{_r(r, UPPER + DIGITS, 10)}-{_r(r, DIGITS, 13)}-{_r(r, HEX, 64)}",
        "socket mode {v}",
    ),
    "slack-config-token": (lambda r: "xoxe.xoxp-1-" + _r(r, UPPER + DIGITS, 150), "config token {v}"),
    "slack-legacy-token": (
        lambda r: f"xoxs-{_r(r, DIGITS, 10)}-{_r(r, DIGITS, 11)}-{_r(r, DIGITS, 12)}-{_r(r, HEX, 64)}",
        "legacy {v}",
    ),
    "slack-webhook": (
        lambda r: f"T{_r(r, UPPER + DIGITS, 10)}/B{_r(r, UPPER + DIGITS, 10)}/{_r(r, ALNUM, 24)}",
        "post to https://hooks.slack.com/services/{v}",
    ),
    "discord-bot-token": (
        lambda r: "M" + _r(r, URLSAFE, 23) + "." + _r(r, URLSAFE, 6) + "." + _r(r, URLSAFE, 27),
        "discord bot {v}",
    ),
    "discord-webhook": (lambda r: _r(r, URLSAFE, 68), "https://discord.com/api/webhooks/112233445566778899/{v}"),
    "telegram-bot-token": (lambda r: f"{_r(r, DIGITS, 9)}:AA{_r(r, URLSAFE, 33)}", "telegram {v}"),
    "microsoft-teams-webhook": (
        lambda r: (
            f"{uuid.UUID(int=r.getrandbits(128))}@{uuid.UUID(int=r.getrandbits(128))}/IncomingWebhook/"
            f"{_r(r, HEX, 32)}/{uuid.UUID(int=r.getrandbits(128))}"
        ),
        "https://acme.webhook.office.com/webhookb2/{v}",
    ),
    "linear-api-key": (lambda r: "lin_api_" + _r(r, ALNUM, 40), "linear {v}"),
    "notion-token": (lambda r: "ntn_" + _r(r, DIGITS, 11) + _r(r, ALNUM, 35), "notion integration {v}"),
    "openai-api-key": (
        lambda r: "sk-proj-" + _r(r, URLSAFE, 40) + "T3BlbkFJ" + _r(r, URLSAFE, 40),
        "OPENAI_API_KEY={v}",
    ),
    "anthropic-api-key": (lambda r: "sk-ant-api03-" + _r(r, URLSAFE, 93) + "AA", "claude key {v}"),
    "huggingface-token": (lambda r: "hf_" + _r(r, LOWER + UPPER, 34), "HF_TOKEN={v}"),
    "sendgrid-api-key": (lambda r: f"SG.{_r(r, URLSAFE, 22)}.{_r(r, URLSAFE, 43)}", "sendgrid {v}"),
    "mailgun-api-key": (lambda r: "key-" + _r(r, HEX, 32), "mailgun {v}"),
    "mailchimp-api-key": (lambda r: f"{_r(r, HEX, 32)}-us{r.randint(1, 21)}", "mailchimp {v}"),
    "twilio-api-key": (lambda r: "SK" + _r(r, HEX, 32), "twilio sid {v}"),
    "twilio-auth-token": (lambda r: _r(r, HEX, 32), "TWILIO_AUTH_TOKEN={v}"),
    "datadog-api-key": (lambda r: _r(r, HEX, 32), "DD_API_KEY={v}"),
    "new-relic-key": (lambda r: "NRAK-" + _r(r, UPPER + DIGITS, 27), "new relic {v}"),
    "sentry-token": (lambda r: "sntryu_" + _r(r, HEX, 64), "sentry auth {v}"),
    "okta-api-token": (lambda r: "00" + _r(r, URLSAFE, 40), "OKTA_API_TOKEN={v}"),
    "shopify-token": (lambda r: "shpat_" + _r(r, HEX, 32), "shopify admin {v}"),
    "stripe-secret-key": (lambda r: "sk_live_" + _r(r, ALNUM, 99), "stripe: {v}"),
    "stripe-webhook-secret": (lambda r: "whsec_" + _r(r, ALNUM, 32), "webhook signing {v}"),
    "square-token": (lambda r: "sq0atp-" + _r(r, URLSAFE, 22), "square {v}"),
    "braintree-access-token": (
        lambda r: f"access_token$production${_r(r, LOWER + DIGITS, 16)}${_r(r, HEX, 32)}",
        "braintree {v}",
    ),
    "private-key": (
        lambda r: _pem(r, r.choice(["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY"])),
        "deploy key:\n{v}\n",
    ),
    "private-key-truncated": (
        lambda r: "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(_r(r, B64, 64) for _ in range(3)),
        "partial paste:\n{v}",
    ),
    "private-key-base64": (
        lambda r: base64.b64encode(
            _pem(r, r.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY"])).encode()
        ).decode(),
        "users:\n- name: deployer\n  user:\n    client-key-data: {v}\n",
    ),
    "cli-password": (_password, "docker login -u ci-bot -p '{v}' registry.acme.io"),
    "openssh-private-key-truncated": (
        lambda r: "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n" + _r(r, B64, 64),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{v}\n(cut off)",
    ),
    "jwt": (_jwt, "Authorization: Bearer {v}"),
    "bearer-token": (lambda r: _r(r, URLSAFE, 40), "curl -H 'Authorization: Bearer {v}' https://api.acme.io"),
    "basic-auth-header": (
        lambda r: base64.b64encode(f"deploy:{_password(r)}".encode()).decode(),
        "Authorization: Basic {v}",
    ),
    "gcp-oauth-access-token": (lambda r: "ya29." + _r(r, URLSAFE, 120), "gcloud token ya29 is {v}"),
    "database-connection-string": (_password, "DATABASE_URL=postgres://app:{v}@db.internal:5432/app"),
    "password-in-url": (_password, "git clone https://deploy:{v}@git.acme.io/platform.git"),
    # In a URL a password is percent-encoded (`&` would end it).
    "password-in-query": (
        lambda r: quote(_password(r), safe=""),
        "jdbc:mysql://db.acme.io:3306/orders?user=app&password={v}&useSSL=false",
    ),
    "generic-secret-assignment": (_password, 'db_password = "{v}"'),
    "token-assignment": (_password, "TWITCH_TOKEN={v}"),
    "secret-in-env-list": (_password, "env:\n  - name: DB_PASSWORD\n    value: '{v}'"),
    "generic-secret-assignment-non-latin": (_password, "новый пароль: {v} (не пересылайте)"),
    "payment-card": (_card, "my card is {v} exp 04/29"),
    "iban": (_iban, "please wire to IBAN {v}"),
    "us-bank-routing-number": (_aba, "routing number {v} account 12345678"),
    "us-ssn": (_ssn, "her SSN is {v}"),
    "us-ssn-unformatted": (lambda r: _ssn(r).replace("-", ""), "SSN: {v} (from the HR form)"),
    "us-itin": (_itin, "ITIN {v} for the contractor"),
    "uk-national-insurance-number": (_nino, "NI number {v}"),
    "canada-sin": (_sin, "SIN {v}"),
    **TOKENS,
}

#: Texts that must not alert: examples, placeholders, references, near-misses, everyday ids.
HARD_NEGATIVES: tuple[str, ...] = (
    "the docs use AKIAIOSFODNN7EXAMPLE as the access key id",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "set SLACK_BOT_TOKEN=xoxb-your-token in your .env",
    "token: xoxb-XXXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX",
    "STRIPE_KEY=sk_live_XXXXXXXXXXXXXXXXXXXXXXXX",
    "stripe test key sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "api_key: ${API_KEY}",
    "api_key = <API_KEY>",
    "password: ********",
    "password = {{ secrets.DB_PASSWORD }}",
    "password = os.environ['DB_PASSWORD']",
    "secret = os.getenv('APP_SECRET')",
    "const token = process.env.GITHUB_TOKEN",
    "apiKey: process.env.STRIPE_SECRET_KEY,",
    "client_secret = settings.OAUTH_CLIENT_SECRET",
    "password=changeme",
    "password = 'your-password-here'",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----",
    "use the test card 4111 1111 1111 1111 in staging",
    "stripe test card 4242 4242 4242 4242",
    "card 4539 1488 0343 6468 fails the checksum",
    "order 1234567812345670 shipped today",
    "tracking number 1Z999AA10123456784",
    "ssn 000-12-3456 is not valid",
    "ssn 666-45-6789 is never issued",
    "ssn field is 9 digits, e.g. 000000000",
    "ticket 123456789 mentions the ssn form",
    "IBAN GB82 WEST 1234 5698 7654 32 is the registry example",
    "IBAN DE89 3704 0044 0532 0130 01 has a bad checksum",
    "request id 123e4567-e89b-12d3-a456-426614174000",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "commit 9b74c9897bac770ffc029102a200c5de3c1f7e2a",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "image digest sha256:5d7b3f5b8c2a1e0f9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e",
    "integrity sha512-9Z4Rf0WnY1s7sQ0Qd5yQK5b9p1z3m8Zx0h2nJ1vQd3k5lA8uQ9tY7bR6cV2xW3e1yF4gH5jK6mN7oP8qS9tU0v==",
    "ts 1700000000.123456 and epoch millis 1699999999999",
    "deployed at 2026-11-28T15:43:18Z build 20261128.4",
    "call me at +1 415 555 0132 or (415) 555-0133",
    "meeting id 842 1234 5678 passcode 123456",
    "version 3.14.2 released, see https://github.com/acme/app/releases/tag/v3.14.2",
    "pod api-7d9f8b6c5d-x2k4j restarted 3 times",
    "ping alice@example.com about it",
    "https://acme.slack.com/archives/C0123ABCD/p1700000000123456",
    "visit https://user@git.acme.io/repo (no password)",
    "postgres://localhost:5432/app",
    "redis://:@cache:6379/0",
    "password = 'password123'",
    "export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID",
    "token = getToken()",
    "eyJhbGciOi is how every JWT starts",
    "the key- prefix is used by mailgun keys",
    "phone 212-555-0198 ext 12",
    "Slack channel C0123456789 and user U0123456789",
    "hex color #ff00ff and rgba(255, 0, 255, 0.5)",
    "IP 10.0.12.7 and 2001:db8::ff00:42:8329",
    "lat 51.5074, long -0.1278",
    "Authorization: Bearer ${TOKEN}",
    "Authorization: Bearer <token>",
    "Authorization: Basic dXNlcjo=",
    "ISBN 978-3-16-148410-0",
    "invoice INV-2026-000123 total $1,234.56",
    # Identifiers named like secrets (gitleaks allowlists the same ones).
    "credential_id=9f3a0c77be12d4e1b7c2",
    "key_alias: prod-signing-2024",
    'public_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9xQmLr2bN7Yt4vWk"',
    "api_version: 2024-01-15-preview",
    "secret_name: prod/payments/db-password",
    "token_url: https://auth.acme.io/oauth2/token",
    "password_reset_url = https://acme.io/reset?u=42&t=9aF3kL0q",
    'csrf_token = "Xk92jfQ0aZ7Lm3Pq8RtY2vBn"',
    "secret_key_ref: name=payments-secrets",
    "client_secret_path: /etc/acme/client-secret.json",
    "credentials_file = ~/.aws/credentials-prod2",
    "api_key_id: 7c1e0b3a9f2d4e6a8b0c",
    "access_token_ttl: 3600s",
    "secret_version = projects/acme/secrets/db/versions/12",
    "auth_token_header = X-Acme-Token-2",
    # Numbers that are not cards: order ids, tracking numbers, timestamps (Luhn-valid ones too).
    "order #4539148803436467 shipped",
    "order id 3782 822463 10005 is on its way",
    "USPS tracking 9400 1118 9922 3456 7890 12",
    "FedEx tracking number 4539 1488 0343 6467",
    "epoch 1732812198123 and 17328121981234567",
    "timestamp 20261128154318123",
    "build 4539148803436467 passed",
    "USPS: 9400 1045 3613 7808 2992 40",
    # Command lines whose -p or --password is no password.
    "docker run -p 8080:80 -p 8443:443 nginx:1.27",
    "mysql -u root -p orders  (it prompts)",
    "echo $CI_REGISTRY_PASSWORD | docker login -u ci --password-stdin registry.acme.io",
    "docker login -u ci -p $CI_REGISTRY_PASSWORD $CI_REGISTRY",
    'curl -u "$JIRA_USER:$JIRA_TOKEN" https://acme.atlassian.net/rest/api/3/myself',
    "ssh -p 2222 deploy@bastion.acme.io",
    "redis-cli -h cache -a ${REDIS_PASSWORD} ping",
    "echo $PW | podman login -u ci --password-stdin quay.io",
    "restic backup --password-file /run/secrets/restic ~/work",
    "net user admin * /add",
    "net user guest /active:no",
    "sshpass -f ~/.ssh/pw ssh deploy@bastion",
    "htpasswd -c /etc/nginx/.htpasswd admin",
    # Config files and code whose secret-named keys hold no secret.
    "<password>{{ .Values.db.password }}</password>",
    "<username/>\n<password/>",
    "<password>${DB_PASSWORD}</password>",
    '<property name="password" value="${db.password}"/>',
    '<add key="DbPassword" value="&lt;your-password&gt;" />',
    'os.environ["DB_PASSWORD"] = os.environ["VAULT_DB_PASSWORD"]',
    'settings["password_policy"] = "StrictPolicy2024"',
    'os.Setenv("TOKEN_ID", "a1b2c3d4e5f6a7b8c9d0")',
    'System.setProperty("secret_arn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db")',
    "config.set('auth', 'password_file', '/etc/acme/pw.txt')",
    "the ARN is arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    'params.require(:user).permit("password", "password_confirmation")',
    'headers.set("X-Api-Key", "application/json")',
    "<passwordEncoder>bcryptPasswordEncoder</passwordEncoder>",
    "pass: in-progress",
    "bypass=Zx9mQ2vL7pR4sTq passthrough=enabled compass: NorthWest2024",
    "4111 1111 1111 1111 123",
    # Identifiers, and prose around the word password with no password in it.
    'password_hash_algorithm = "argon2id"',
    "token_sha256: 5f2b3c4d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819",
    "the password for the vault is in 1Password, ask Dana",
    "the password reset link is https://acme.io/reset?t=9aF3kL0q7Zx",
    "password for prod was rotated yesterday",
    "k8s client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUREekNDQWZlZ0F3SUJBZ0lVWkx3Tm9Ib1F4"
    "Q2t1M0FqbVhQZ0pkRnd3ZUpJd0RRWUpLb1pJaHZjTkFRRUxCUUF3RnpFVk1CTUdBMVVFQXd3TWEzVmlaWEp1WlhSbGN5MWpZVEFlRncweQ==",
)


def _grouped_card(rng: random.Random, prefix: str, length: int, groups: tuple[int, ...]) -> str:
    """A card number printed as its issuer prints it: Amex 4-6-5, Diners 4-6-4, with spaces or dashes."""
    number = _luhn_complete(prefix + _r(rng, DIGITS, length - len(prefix) - 1))
    separator = rng.choice([" ", "-"])
    parts, at = [], 0
    for size in groups:
        parts.append(number[at : at + size])
        at += size
    return separator.join(parts)


def _aws_secret(rng: random.Random) -> str:
    return _r(rng, ALNUM + "/+", 40)


#: A Twilio API key SID printed beside its secret: a value of its own (neither hit nor miss).
_TWILIO_KEY_SID = "SK" + "3c0a" * 8

#: Real-world layouts: the labels and shapes of the providers' own consoles, CLIs and downloads.
#: Each entry: detector, value generator, text builder (value, key id) -> text.
LAYOUTS: tuple[tuple[str, Callable[[random.Random], str], Callable[[str, str], str]], ...] = (
    (
        "payment-card",
        lambda r: _grouped_card(r, r.choice(["34", "37"]), 15, (4, 6, 5)),
        lambda v, k: f"Amex {v} exp 09/28",
    ),
    (
        "payment-card",
        lambda r: _grouped_card(r, r.choice(["36", "300", "305"]), 14, (4, 6, 4)),
        lambda v, k: f"diners card {v}, cvv on the back",
    ),
    ("payment-card", lambda r: _grouped_card(r, "4", 16, (4, 4, 4, 4)), lambda v, k: f"visa {v}"),
    ("aws-secret-access-key", _aws_secret, lambda v, k: f"Access key ID: {k}\nSecret access key: {v}"),
    ("aws-secret-access-key", _aws_secret, lambda v, k: f"Access key ID,Secret access key\n{k},{v}\n"),
    (
        "aws-secret-access-key",
        _aws_secret,
        lambda v, k: (
            f"User name,Password,Access key ID,Secret access key,Console login link\n"
            f"deploy,,{k},{v},https://123456789012.signin.aws.amazon.com/console"
        ),
    ),
    (
        "aws-secret-access-key",
        _aws_secret,
        lambda v, k: f"AWS Access Key ID [None]: {k}\nAWS Secret Access Key [None]: {v}",
    ),
    ("aws-secret-access-key", _aws_secret, lambda v, k: f'{{"AccessKeyId": "{k}", "SecretAccessKey": "{v}"}}'),
    (
        "aws-secret-access-key",
        _aws_secret,
        lambda v, k: f"[default]\naws_access_key_id = {k}\naws_secret_access_key = {v}",
    ),
    (
        "azure-storage-account-key",
        lambda r: _r(r, B64, 86) + "==",
        lambda v, k: (
            f'[\n  {{\n    "creationTime": "2026-01-02T10:00:00+00:00",\n    "keyName": "key1",\n'
            f'    "permissions": "FULL",\n    "value": "{v}"\n  }}\n]'
        ),
    ),
    (
        "twilio-auth-token",
        lambda r: _r(r, HEX, 32),
        lambda v, k: f"curl -u AC{'1f0e' * 8}:{v} https://api.twilio.com/2010-04-01/Accounts.json",
    ),
    # Found from outside (tests/quality/outside.py): more layouts people paste.
    ("twilio-auth-token", lambda r: _r(r, ALNUM, 32), lambda v, k: f"api key {_TWILIO_KEY_SID} secret {v}"),
    (
        "payment-card",
        lambda r: _grouped_card(r, "4", 16, (4, 4, 4, 4)).replace(" ", ".").replace("-", "."),
        lambda v, k: f"full number {v} 11/27",
    ),
    ("payment-card", lambda r: _grouped_card(r, "6011", 16, (4, 4, 4, 4)), lambda v, k: f"discover {v} 08/28"),
    ("aws-secret-access-key", _aws_secret, lambda v, k: f"the secret key is {v} (key id in the vault)"),
    ("generic-secret-assignment", lambda r: _r(r, HEX, 32), lambda v, k: f"SLACK_SIGNING_SECRET={v}"),
    ("generic-secret-assignment", lambda r: _r(r, HEX, 32), lambda v, k: f"Account SID: {k}\nAuth Token: {v}"),
    ("generic-secret-assignment", _password, lambda v, k: f"the wifi password for the office is {v}"),
    ("generic-secret-assignment", _password, lambda v, k: f"admin pw: {v}"),
    ("database-connection-string", _password, lambda v, k: f"REDIS_URL=redis://:{v}@cache.acme.internal:6379/0"),
    ("cli-password", _password, lambda v, k: f"mysql -h db.internal -u root -p'{v}' orders"),
    ("cli-password", _password, lambda v, k: f"docker login --username ci --password '{v}' ghcr.io"),
    ("cli-password", _password, lambda v, k: f"curl -u admin:{v} https://jenkins.acme.io/job/deploy/build"),
    (
        "private-key",
        lambda r: _pem(r, "RSA PRIVATE KEY").replace("\n", "\\n"),
        lambda v, k: f'private_key = "{v}"',
    ),
    # Second outside pass: subscripts, setters, XML and .NET/Spring config, command lines, short labels.
    ("aws-secret-access-key", _aws_secret, lambda v, k: f"os.environ['AWS_SECRET_ACCESS_KEY'] = '{v}'"),
    ("generic-secret-assignment", _password, lambda v, k: f'os.environ["DB_PASSWORD"] = "{v}"'),
    ("generic-secret-assignment", _password, lambda v, k: f'config[:password] = "{v}"'),
    ("generic-secret-assignment", _password, lambda v, k: f'os.Setenv("DB_PASSWORD", "{v}")'),
    ("generic-secret-assignment", _password, lambda v, k: f'System.setProperty("db.password", "{v}");'),
    ("generic-secret-assignment", _password, lambda v, k: f"config.set('auth', 'password', '{v}')"),
    ("generic-secret-assignment", _password, lambda v, k: f"<server><id>nexus</id><password>{v}</password></server>"),
    ("generic-secret-assignment", _password, lambda v, k: f'<entry key="db.password">{v}</entry>'),
    ("generic-secret-assignment", _password, lambda v, k: f'<add key="DbPassword" value="{v}" />'),
    ("generic-secret-assignment", _password, lambda v, k: f'<property name="password" value="{v}"/>'),
    ("generic-secret-assignment", _password, lambda v, k: f"user=acme pass={v}"),
    ("generic-secret-assignment", _password, lambda v, k: f"DB_USER=app\nDB_PASS={v}"),
    ("cli-password", _password, lambda v, k: f"--username app\n--password {v}"),
    ("cli-password", _password, lambda v, k: f"sshpass -p '{v}' ssh root@10.0.4.12"),
    ("cli-password", _password, lambda v, k: f"htpasswd -b /etc/nginx/.htpasswd admin {v}"),
    ("cli-password", _password, lambda v, k: f"net user svc_backup {v} /add"),
    ("payment-card", lambda r: _grouped_card(r, "4", 16, (4, 4, 4, 4)), lambda v, k: f"{v} 331 exp 09/28"),
    # Third outside pass (other providers): UK Maestro, a dotted SSN under its name, an IBAN typed in lowercase.
    ("payment-card", lambda r: _grouped_card(r, "6759", 16, (4, 4, 4, 4)), lambda v, k: f"maestro {v} exp 03/29"),
    ("us-ssn-unformatted", lambda r: _ssn(r).replace("-", "."), lambda v, k: f"SSN {v}"),
    ("iban", lambda r: _iban(r).replace(" ", "").lower(), lambda v, k: f"iban {v}"),
    (
        "twilio-auth-token",
        lambda r: _r(r, HEX, 32),
        lambda v, k: f"account sid AC{'1f0e' * 8} auth token {v}",
    ),
)


def positives(per_detector: int = 25, seed: int = 11) -> list[Planted]:
    rng = random.Random(seed)
    corpus: list[Planted] = []
    for detector, (make, template) in GENERATORS.items():
        for _ in range(per_detector):
            value = make(rng)
            corpus.append(Planted(text=template.format(v=value), detector=detector, value=value))
    for detector, make, build in LAYOUTS:
        for _ in range(per_detector):
            value, key_id = make(rng), samples.fake_aws_access_key_id(rng)
            text = build(value, key_id)
            also = tuple(side for side in (key_id, _TWILIO_KEY_SID) if side in text)
            corpus.append(Planted(text=text, detector=detector, value=value, also=also))
    return corpus
