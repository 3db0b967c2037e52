"""An outside-in labeled set: Slack messages as people paste them, written without the catalog.

Each case is a message and the values a security engineer expects flagged (``expect``), plus
values it may flag without being wrong (``may``: an access key id beside its secret, a Twilio
account SID beside its token). Every value is generated (structurally valid: checksums, issuer
ranges, mod-97, base62 CRCs), never real. ``cases(seed)`` builds the set; other seeds give other
values in the same layouts.

Decisions a reader may disagree with, stated once:
- published test card numbers (``4242 4242 4242 4242``, ``4111 1111 1111 1111``) and documented
  examples (``AKIAIOSFODNN7EXAMPLE``, the registry's example IBANs) are not sensitive: quiet;
- placeholders (``<your-token>``, ``${SECRET}``, ``xxxx``, ``changeme``, ``********``) are quiet:
  ``changeme`` is the word templates ship, not a chosen secret;
- Stripe publishable keys (``pk_live_``) are public by design: quiet;
- a private key cut off after some lines of its body is still a leak: flagged; a bare BEGIN line
  is not;
- an access key id alone (``AKIA…``) is flagged by every scanner and is named so in ``may`` where
  its secret is the real leak.

Run ``python -m tests.quality.outside`` (with ``PYTHONPATH=functions:tools``) to measure the
documented CLI on it: ``slack-dlp scan --jsonl``, ``slack-dlp scan FILE…``, and both again with
``--rules tests/data/gitleaks.toml``.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tests.quality.providers import PUTTY_FILE, TOKENS

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class Case:
    category: str
    text: str
    expect: tuple[str, ...] = ()
    may: tuple[str, ...] = field(default=())

    def spans(self, values: tuple[str, ...]) -> list[tuple[int, int]]:
        """Where each value is (a ``may`` value can occur more than once: every occurrence)."""
        found = []
        for value in values:
            start = self.text.find(value)
            while start >= 0:
                found.append((start, start + len(value)))
                start = self.text.find(value, start + 1)
        return found


class Gen:
    """Structurally valid fake values from one seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def digits(self, n: int) -> str:
        return str(self.rng.randint(1, 9)) + self.s(string.digits, n - 1)

    # -- secrets ---------------------------------------------------------------------------------
    def aws_id(self, prefix: str = "AKIA") -> str:
        return prefix + self.s(BASE32, 16)

    def aws_secret(self) -> str:
        while True:
            value = self.s(B64, 40)
            if "/" in value or "+" in value:
                return value

    def session_token(self) -> str:
        return "IQoJb3JpZ2luX2VjE" + self.s(B64, 340) + "="

    def base62_crc(self, prefix: str, n: int = 30) -> str:
        body = self.s(ALNUM, n)
        crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
        digits = ""
        while crc:
            crc, rest = divmod(crc, 62)
            digits = B62[rest] + digits
        return prefix + body + digits.rjust(6, "0")

    def github_pat(self) -> str:
        return "github_pat_11" + self.s(string.ascii_uppercase + string.digits, 20) + "_" + self.s(ALNUM, 59)

    def glpat(self) -> str:
        return "glpat-" + self.s(ALNUM + "-_", 20)

    def slack_bot(self) -> str:
        return f"xoxb-{self.digits(12)}-{self.digits(13)}-{self.s(ALNUM, 24)}"

    def slack_user(self) -> str:
        return f"xoxp-{self.digits(12)}-{self.digits(12)}-{self.digits(13)}-{self.s(HEX, 32)}"

    def slack_app(self) -> str:
        return f"xapp-1-A{self.s(string.ascii_uppercase + string.digits, 10)}-{self.digits(13)}-{self.s(HEX, 64)}"

    def slack_webhook(self) -> str:
        up = string.ascii_uppercase + string.digits
        return f"https://hooks.slack.com/services/T{self.s(up, 10)}/B{self.s(up, 10)}/{self.s(ALNUM, 24)}"

    def stripe(self, prefix: str, n: int = 99) -> str:
        return prefix + "51" + self.s(ALNUM, n - 2)

    def sendgrid(self) -> str:
        return "SG." + self.s(B64URL, 22) + "." + self.s(B64URL, 43)

    def pypi(self) -> str:
        return "pypi-AgEIcHlwaS5vcmcCJD" + self.s(B64URL, 160)

    def openai(self) -> str:
        return "sk-proj-" + self.s(B64URL, 74) + "T3BlbkFJ" + self.s(B64URL, 74)

    def openai_legacy(self) -> str:
        return "sk-" + self.s(ALNUM, 20) + "T3BlbkFJ" + self.s(ALNUM, 20)

    def anthropic(self) -> str:
        return "sk-ant-api03-" + self.s(B64URL, 93) + "AA"

    def jwt(self, claims: dict[str, object] | None = None) -> str:
        def enc(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        header = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = claims or {"sub": self.digits(8), "name": "Dana Ortiz", "iat": 1717000000 + self.rng.randint(0, 9999)}
        return f"{header}.{enc(json.dumps(payload).encode())}.{enc(self.rng.randbytes(32))}"

    def password(self) -> str:
        words = ["Falcon", "river", "Orbit", "maple", "Quartz", "tundra", "Cobalt", "pepper"]
        return self.rng.choice(words) + self.s(string.digits, 2) + self.rng.choice("!#%&*-_.") + self.s(ALNUM, 8)

    def b64_block(self, n_bytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(n_bytes)).decode()

    def azure_key(self) -> str:
        return self.b64_block(64)

    def pem_body(self, prefix: str, n_bytes: int) -> list[str]:
        body = prefix + self.b64_block(n_bytes)
        return [body[i : i + 64] for i in range(0, len(body), 64)]

    def rsa_pem(self, label: str = "RSA PRIVATE KEY", lines: int | None = None) -> str:
        prefix = (
            "MIIEpAIBAAKCAQEA" if label == "RSA PRIVATE KEY" else "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ"
        )
        body = self.pem_body(prefix, 1180)
        if lines is not None:
            return "\n".join([f"-----BEGIN {label}-----", *body[:lines]])
        return "\n".join([f"-----BEGIN {label}-----", *body, f"-----END {label}-----"])

    def ec_pem(self) -> str:
        body = self.pem_body("MHcCAQEEI", 110)
        return "\n".join(["-----BEGIN EC PRIVATE KEY-----", *body, "-----END EC PRIVATE KEY-----"])

    def openssh(self, lines: int | None = None) -> str:
        body = self.pem_body("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", 300)
        if lines is not None:
            body = body[:lines]
            return "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *body])
        return "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *body, "-----END OPENSSH PRIVATE KEY-----"])

    def pgp(self) -> str:
        body = self.pem_body("lQdGBGX", 900)
        crc = "=" + self.s(B64, 4)
        return "\n".join(
            ["-----BEGIN PGP PRIVATE KEY BLOCK-----", "", *body, crc, "-----END PGP PRIVATE KEY BLOCK-----"]
        )

    # -- personal and financial ------------------------------------------------------------------
    def luhn(self, prefix: str, length: int) -> str:
        while True:
            partial = prefix + self.s(string.digits, length - len(prefix) - 1)
            total = 0
            for i, ch in enumerate(reversed(partial)):
                d = int(ch)
                if i % 2 == 0:
                    d = d * 2 - 9 if d > 4 else d * 2
                total += d
            number = partial + str((10 - total % 10) % 10)
            if len(set(number[len(prefix) :])) > 3:
                return number

    def card(self, issuer: str) -> str:
        prefix, length = {
            "visa": (self.rng.choice(["4", "45", "49"]), 16),
            "mc": (str(self.rng.randint(51, 55)), 16),
            "mc2": (str(self.rng.randint(2221, 2720)), 16),
            "amex": (self.rng.choice(["34", "37"]), 15),
            "discover": (self.rng.choice(["6011", "65", "644"]), 16),
            "diners": (self.rng.choice(["36", "300", "305", "38"]), 14),
            "jcb": (str(self.rng.randint(3528, 3589)), 16),
        }[issuer]
        return self.luhn(prefix, length)

    def ssn(self) -> str:
        area = self.rng.choice([n for n in range(1, 900) if n != 666])
        return f"{area:03d}-{self.rng.randint(1, 99):02d}-{self.rng.randint(1, 9999):04d}"

    def iban(self, country: str) -> str:
        up = string.ascii_uppercase
        bban = {
            "DE": lambda: self.s(string.digits, 18),
            "GB": lambda: self.rng.choice(["NWBK", "BARC", "LOYD", "HBUK"]) + self.s(string.digits, 14),
            "FR": lambda: self.s(string.digits, 10) + self.s(up + string.digits, 11) + self.s(string.digits, 2),
            "ES": lambda: self.s(string.digits, 20),
            "IT": lambda: self.s(up, 1) + self.s(string.digits, 10) + self.s(string.digits, 12),
            "NL": lambda: self.rng.choice(["ABNA", "INGB", "RABO"]) + self.s(string.digits, 10),
            "CH": lambda: self.s(string.digits, 5) + self.s(string.digits, 12),
            "PL": lambda: self.s(string.digits, 24),
            "BE": lambda: self.s(string.digits, 12),
        }[country]()
        numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
        return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def group(value: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(value[at : at + size])
        at += size
    return sep.join(parts)


def iban_print(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def cases(seed: int = 15) -> list[Case]:
    """The whole labeled set for one seed."""
    g = Gen(seed)
    out: list[Case] = []
    for build in BUILDERS:
        out.extend(build(g))
    for case in out:
        for value in case.expect:
            assert case.text.count(value) == 1, (case.category, value)
    return out


Builder = Callable[[Gen], Iterator[Case]]
BUILDERS: list[Builder] = []


def builder(fn: Builder) -> Builder:
    BUILDERS.append(fn)
    return fn


# -- AWS ---------------------------------------------------------------------------------------------
@builder
def aws(g: Gen) -> Iterator[Case]:
    c = "aws"
    kid, sec = g.aws_id(), g.aws_secret()
    yield Case(
        c,
        f"copied from the console for the new ci user:\nAccess key ID\n{kid}\nSecret access key\n{sec}",
        (sec,),
        (kid,),
    )
    kid, sec = g.aws_id(), g.aws_secret()
    yield Case(
        c,
        "```\n$ aws configure\nAWS Access Key ID [None]: "
        f"{kid}\nAWS Secret Access Key [None]: {sec}\nDefault region name [None]: eu-west-1\n"
        "Default output format [None]: json\n```",
        (sec,),
        (kid,),
    )
    kid, sec, kid2, sec2 = g.aws_id(), g.aws_secret(), g.aws_id(), g.aws_secret()
    yield Case(
        c,
        f"my ~/.aws/credentials, why does the prod profile fail?\n```\n[default]\naws_access_key_id = {kid}\n"
        f"aws_secret_access_key = {sec}\n\n[prod]\naws_access_key_id={kid2}\naws_secret_access_key={sec2}\n"
        "region=us-east-1\n```",
        (sec, sec2),
        (kid, kid2),
    )
    kid, sec = g.aws_id(), g.aws_secret()
    yield Case(
        c,
        f"here's the csv it downloaded\nUser name,Password,Access key ID,Secret access key,Console login link\n"
        f"deploy-bot,,{kid},{sec},https://123456789012.signin.aws.amazon.com/console",
        (sec,),
        (kid,),
    )
    kid, sec = g.aws_id(), g.aws_secret()
    yield Case(c, f"Access key ID,Secret access key\n{kid},{sec}", (sec,), (kid,))
    kid, sec, tok = g.aws_id("ASIA"), g.aws_secret(), g.session_token()
    yield Case(
        c,
        'assume-role output, works for me:\n```\n{\n    "Credentials": {\n'
        f'        "AccessKeyId": "{kid}",\n        "SecretAccessKey": "{sec}",\n'
        f'        "SessionToken": "{tok}",\n        "Expiration": "2026-11-29T19:22:10+00:00"\n    }},\n'
        '    "AssumedRoleUser": {\n        "AssumedRoleId": "AROA3XFRBF23EXAMPLE12:ci",\n'
        '        "Arn": "arn:aws:sts::123456789012:assumed-role/ci/ci"\n    }\n}\n```',
        (sec, tok),
        (kid,),
    )
    kid, sec = g.aws_id(), g.aws_secret()
    yield Case(
        c,
        '$ aws iam create-access-key --user-name deploy-bot\n{\n    "AccessKey": {\n        "UserName": "deploy-bot",\n'
        f'        "AccessKeyId": "{kid}",\n        "Status": "Active",\n        "SecretAccessKey": "{sec}",\n'
        '        "CreateDate": "2026-11-29T18:01:44+00:00"\n    }\n}',
        (sec,),
        (kid,),
    )
    kid, sec, tok = g.aws_id("ASIA"), g.aws_secret(), g.session_token()
    yield Case(
        c,
        f"export AWS_ACCESS_KEY_ID={kid}\nexport AWS_SECRET_ACCESS_KEY={sec}\nexport AWS_SESSION_TOKEN={tok}",
        (sec, tok),
        (kid,),
    )
    kid = g.aws_id()
    yield Case(c, f"which user owns {kid}? CloudTrail shows it calling s3:ListBuckets", (kid,))
    sec = g.aws_secret()
    yield Case(c, f"the secret key is {sec} (key id in the vault note)", (sec,))
    kid, sec = g.aws_id(), g.aws_secret()
    yield Case(c, f"Access key: {kid}\nSecret key: {sec}", (sec,), (kid,))
    kid, sec = g.aws_id(), g.aws_secret()
    yield Case(
        c,
        f'boto3.client("s3", aws_access_key_id="{kid}", aws_secret_access_key="{sec}")  # TODO move to env',
        (sec,),
        (kid,),
    )


@builder
def gcp_azure(g: Gen) -> Iterator[Case]:
    key = g.rsa_pem("PRIVATE KEY")
    escaped = key.replace("\n", "\\n") + "\\n"
    body = key.splitlines()[3]
    kid = g.s(HEX, 40)
    yield Case(
        "gcp",
        '```\n{\n  "type": "service_account",\n  "project_id": "acme-prod-4411",\n'
        f'  "private_key_id": "{kid}",\n  "private_key": "{escaped}",\n'
        '  "client_email": "ci-deployer@acme-prod-4411.iam.gserviceaccount.com",\n  "client_id": "10473926612409862231",\n'
        '  "auth_uri": "https://accounts.google.com/o/oauth2/auth",\n  "token_uri": "https://oauth2.googleapis.com/token"\n}\n```',
        (body,),
        (kid,),
    )
    api = "AIza" + g.s(B64URL, 35)
    yield Case("gcp", f"maps key for the staging site: {api}", (api,))
    key = g.azure_key()
    yield Case(
        "azure",
        f"DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey={key};EndpointSuffix=core.windows.net",
        (key,),
    )
    key = g.azure_key()
    yield Case(
        "azure",
        f'"ConnectionStrings": {{ "Storage": "DefaultEndpointsProtocol=https;AccountName=acmeassets;AccountKey={key}" }}',
        (key,),
    )
    sig = g.b64_block(32).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    yield Case(
        "azure",
        "download link for the export (expires friday): <https://acmeassets.blob.core.windows.net/exports/q3.csv?"
        f"sv=2022-11-02&amp;ss=b&amp;srt=o&amp;sp=r&amp;se=2026-12-04T17:00:00Z&amp;st=2026-11-29T09:00:00Z&amp;spr=https&amp;sig={sig}>",
        (sig,),
    )
    sig = g.b64_block(32).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    yield Case(
        "azure",
        "SAS token: ?sv=2023-01-03&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=2027-01-01T00:00:00Z"
        f"&st=2026-11-01T00:00:00Z&spr=https&sig={sig}",
        (sig,),
    )
    secret = g.s(ALNUM + "~._-", 40)
    yield Case(
        "azure", f"AZURE_CLIENT_ID=3f1c2d4e-8b7a-4c6d-9e0f-1a2b3c4d5e6f\nAZURE_CLIENT_SECRET={secret}", (secret,)
    )


@builder
def code_hosts(g: Gen) -> Iterator[Case]:
    t = g.base62_crc("ghp_")
    yield Case("github", f"use my token for now: {t}", (t,))
    t = g.github_pat()
    yield Case("github", f"```\ngit clone https://x-access-token:{t}@github.com/acme/infra.git\n```", (t,))
    t = g.base62_crc("gho_")
    yield Case("github", f"gh auth status says\n  ✓ Token: {t}\n  ✓ Token scopes: 'gist', 'read:org', 'repo'", (t,))
    t = g.base62_crc("ghs_")
    yield Case(
        "github", f'installation token from the app: {{"token":"{t}","expires_at":"2026-11-29T19:40:00Z"}}', (t,)
    )
    t = g.base62_crc("ghu_")
    yield Case("github", f"GITHUB_TOKEN={t}", (t,))
    t = g.github_pat()
    yield Case("github", f"fine-grained one scoped to acme/api: `{t}`", (t,))
    t = g.glpat()
    yield Case("gitlab", f"the deploy token for gitlab: {t} (read_registry only)", (t,))
    t = g.glpat()
    yield Case(
        "gitlab",
        f'curl --header "PRIVATE-TOKEN: {t}" "https://gitlab.example.com/api/v4/projects"',
        (t,),
    )
    t = "glrt-" + g.s(ALNUM + "-_", 20)
    yield Case("gitlab", f"gitlab-runner register --url https://gitlab.com --token {t}", (t,))


@builder
def slack(g: Gen) -> Iterator[Case]:
    c = "slack"
    t = g.slack_bot()
    yield Case(c, f"SLACK_BOT_TOKEN={t}\nSLACK_SIGNING_SECRET={(s := g.s(HEX, 32))}", (t, s))
    t = g.slack_user()
    yield Case(c, f"testing with my user token `{t}` sorry will rotate", (t,))
    t = g.slack_app()
    yield Case(c, f"socket mode needs the app-level token: {t}", (t,))
    w = g.slack_webhook()
    yield Case(c, f"alerts go to <{w}>", (w.rsplit("/", 1)[1],))
    w = g.slack_webhook()
    yield Case(
        c,
        f"curl -X POST -H 'Content-type: application/json' --data '{{\"text\":\"deploy done\"}}' {w}",
        (w.rsplit("/", 1)[1],),
    )
    t = g.slack_bot()
    yield Case(c, f'client = WebClient(token="{t}")', (t,))


@builder
def payments_and_messaging(g: Gen) -> Iterator[Case]:
    t = g.stripe("sk_live_")
    yield Case("stripe", f"STRIPE_SECRET_KEY={t}", (t,))
    t = g.stripe("rk_live_")
    yield Case("stripe", f"restricted key for the reporting job: {t}", (t,))
    t = "sk_live_" + g.s(ALNUM, 24)
    yield Case("stripe", f"old integration still uses {t}, can we roll it?", (t,))
    t = "whsec_" + g.s(ALNUM, 32)
    yield Case("stripe", f"webhook signing secret: {t}", (t,))
    sid, tok = "AC" + g.s(HEX, 32), g.s(HEX, 32)
    yield Case("twilio", f"Account SID: {sid}\nAuth Token: {tok}", (tok,), (sid,))
    sid, tok = "AC" + g.s(HEX, 32), g.s(HEX, 32)
    yield Case("twilio", f"TWILIO_ACCOUNT_SID={sid}\nTWILIO_AUTH_TOKEN={tok}", (tok,), (sid,))
    ksid, ksec = "SK" + g.s(HEX, 32), g.s(ALNUM, 32)
    yield Case("twilio", f"api key {ksid} secret {ksec}", (ksec,), (ksid,))
    sid, tok = "AC" + g.s(HEX, 32), g.s(HEX, 32)
    yield Case(
        "twilio",
        f"curl -X POST https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json -u {sid}:{tok}",
        (tok,),
        (sid,),
    )
    t = g.sendgrid()
    yield Case("sendgrid", f"SENDGRID_API_KEY='{t}'", (t,))
    t = g.sendgrid()
    yield Case("sendgrid", f"sendgrid key for marketing {t}", (t,))


@builder
def registries_and_ai(g: Gen) -> Iterator[Case]:
    t = g.base62_crc("npm_")
    yield Case("npm-pypi", f"```\n//registry.npmjs.org/:_authToken={t}\n```", (t,))
    t = g.base62_crc("npm_")
    yield Case("npm-pypi", f"NPM_TOKEN {t}", (t,))
    t = g.pypi()
    yield Case("npm-pypi", f"```\n[pypi]\n  username = __token__\n  password = {t}\n```", (t,))
    t = g.pypi()
    yield Case("npm-pypi", f"twine upload -u __token__ -p {t} dist/*", (t,))
    t = g.openai()
    yield Case("ai", f"OPENAI_API_KEY={t}", (t,))
    t = g.openai_legacy()
    yield Case("ai", f'openai.api_key = "{t}"', (t,))
    t = g.anthropic()
    yield Case("ai", f"x-api-key: {t}", (t,))
    t = g.anthropic()
    yield Case("ai", f"here's the claude key for the hackathon {t}", (t,))
    t = "hf_" + g.s(string.ascii_letters, 34)
    yield Case("ai", f"huggingface-cli login --token {t}", (t,))


@builder
def tokens_and_urls(g: Gen) -> Iterator[Case]:
    t = g.jwt()
    yield Case("jwt", f"this JWT fails validation, any idea? {t}", (t,))
    t = g.jwt({"iss": "https://auth.acme.io/", "sub": "auth0|" + g.s(HEX, 24), "aud": "api", "exp": 1764450000})
    yield Case("jwt", f"```\nAuthorization: Bearer {t}\n```", (t,))
    t = g.jwt()
    yield Case("jwt", f'curl -H "Authorization: Bearer {t}" https://api.acme.io/v2/me', (t,))
    t = g.s(ALNUM, 40)
    yield Case("cli-auth", f'curl -sS -H "Authorization: Bearer {t}" https://api.internal.acme.io/v1/jobs', (t,))
    pw = g.password()
    basic = base64.b64encode(f"svc-reporting:{pw}".encode()).decode()
    yield Case("cli-auth", f"Authorization: Basic {basic}", (basic,))
    pw = g.password()
    yield Case("cli-auth", f"curl -u admin:{pw} https://jenkins.acme.io/job/deploy/build", (pw,))
    pw = g.password()
    yield Case("cli-auth", f"docker login -u ci-bot -p {pw} registry.acme.io", (pw,))
    pw = g.password()
    yield Case("cli-auth", f"docker login --username ci --password '{pw}' ghcr.io", (pw,))
    pw = g.password()
    yield Case("cli-auth", f"mysql -h db.internal -u root -p'{pw}' orders", (pw,))
    pw = g.password()
    yield Case("db-url", f"DATABASE_URL=postgres://app:{pw}@db.prod.acme.internal:5432/orders", (pw,))
    pw = g.password()
    yield Case("db-url", f"can't connect: postgresql://reporting:{pw}@10.0.3.17/analytics?sslmode=require", (pw,))
    pw = g.s(ALNUM, 18)
    yield Case("db-url", f"mongodb+srv://admin:{pw}@cluster0.ab1cd.mongodb.net/test?retryWrites=true&w=majority", (pw,))
    pw = g.s(ALNUM, 24)
    yield Case("db-url", f"REDIS_URL=redis://:{pw}@cache.acme.internal:6379/0", (pw,))
    pw = g.password()
    yield Case("db-url", f"spring.datasource.url=jdbc:mysql://db:3306/shop?user=shop&password={pw}", (pw,))
    pw = g.s(ALNUM, 20)
    yield Case("db-url", f"amqp://guest:{pw}@rabbit.acme.internal:5672/", (pw,))


@builder
def env_and_logs(g: Gen) -> Iterator[Case]:
    db, jwt_s, key = g.password(), g.s(HEX, 64), g.s(HEX, 128)
    yield Case(
        "env-file",
        "here's my .env\n```\nNODE_ENV=production\nPORT=8080\nDB_HOST=db.acme.internal\nDB_USER=app\n"
        f"DB_PASSWORD={db}\nJWT_SECRET={jwt_s}\nSECRET_KEY_BASE={key}\nLOG_LEVEL=info\n```",
        (db, jwt_s, key),
    )
    pw, api = g.password(), g.s(ALNUM, 32)
    yield Case("env-file", f"POSTGRES_PASSWORD={pw}\nMAILGUN_API_KEY=key-{api}", (pw, api))
    pw = g.password()
    yield Case("env-file", f'  password: "{pw}"\n  username: svc_backup', (pw,))
    pw = g.password()
    yield Case("env-file", f"the wifi password for the office is {pw}", (pw,))
    pw = g.password()
    yield Case("env-file", f"admin pw: {pw}", (pw,))
    pw = g.password()
    yield Case("env-file", f"password = “{pw}”  (pasted from Notes)", (pw,))
    pw = g.password()
    yield Case(
        "json-log",
        '{"level":"info","ts":"2026-11-29T18:02:11Z","msg":"login attempt","user":"jdoe",'
        f'"password":"{pw}","ip":"10.2.3.4"}}',
        (pw,),
    )
    tok = g.s(ALNUM, 40)
    yield Case(
        "json-log",
        '2026-11-29 18:03:12,551 DEBUG request headers={"Host": "api.acme.io", '
        f'"X-Api-Key": "{tok}", "Accept": "application/json"}}',
        (tok,),
    )
    pw = g.password()
    yield Case("json-log", f"ERROR auth failed for user=svc_etl password={pw} host=db7", (pw,))
    secret = g.s(ALNUM, 32)
    yield Case(
        "json-log",
        f'{{"client_id": "web-portal", "client_secret": "{secret}", "grant_type": "client_credentials"}}',
        (secret,),
    )


@builder
def kubernetes(g: Gen) -> Iterator[Case]:
    pw = g.password()
    b64pw = base64.b64encode(pw.encode()).decode()
    tok = g.s(ALNUM, 32)
    b64tok = base64.b64encode(tok.encode()).decode()
    yield Case(
        "k8s",
        "```\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db-creds\ntype: Opaque\ndata:\n"
        f"  username: YXBw\n  password: {b64pw}\n  api-token: {b64tok}\n```",
        (b64pw, b64tok),
    )
    pw = g.password()
    yield Case(
        "k8s",
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: smtp\nstringData:\n  SMTP_PASSWORD: {pw}\n",
        (pw,),
    )
    pem = g.rsa_pem()
    keydata = base64.b64encode(pem.encode()).decode()
    tok = g.jwt({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ci:deployer"})
    yield Case(
        "k8s",
        "kubeconfig for the cluster:\n```\napiVersion: v1\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n"
        "  name: prod\nusers:\n- name: deployer\n  user:\n"
        f"    client-key-data: {keydata}\n    token: {tok}\n```",
        (keydata, tok),
    )
    pw = g.password()
    yield Case("k8s", f"kubectl create secret generic api --from-literal=password={pw}", (pw,))


@builder
def private_keys(g: Gen) -> Iterator[Case]:
    c = "private-key"
    key = g.rsa_pem()
    yield Case(c, f"```\n{key}\n```", (key.splitlines()[2],))
    key = g.rsa_pem("PRIVATE KEY")
    yield Case(c, key, (key.splitlines()[2],))
    key = g.ec_pem()
    yield Case(c, f"the EC key for the signer:\n{key}", (key.splitlines()[1],))
    key = g.openssh()
    yield Case(c, f"id_ed25519 from the bastion:\n```\n{key}\n```", (key.splitlines()[2],))
    key = g.pgp()
    yield Case(c, key, (key.splitlines()[3],))
    key = g.rsa_pem(lines=6)
    yield Case(c, f"slack cut it off but:\n{key}\n...", (key.splitlines()[1],))
    key = g.openssh(lines=4)
    yield Case(c, f"{key}\n(truncated)", (key.splitlines()[2],))
    key = g.rsa_pem()
    yield Case(c, 'private_key = "' + key.replace("\n", "\\n") + '"', (key.splitlines()[2],))


# -- personal data -----------------------------------------------------------------------------------
@builder
def cards(g: Gen) -> Iterator[Case]:
    c = "card"
    n = g.card("visa")
    yield Case(c, f"card {group(n, (4, 4, 4, 4))} exp 09/28 cvv 331", (group(n, (4, 4, 4, 4)),))
    n = g.card("visa")
    yield Case(c, f"pls refund {group(n, (4, 4, 4, 4), '-')}, customer called", (group(n, (4, 4, 4, 4), "-"),))
    n = g.card("visa")
    yield Case(c, f"Visa ending — full number {group(n, (4, 4, 4, 4), '.')} 11/27", (group(n, (4, 4, 4, 4), "."),))
    n = g.card("mc")
    yield Case(c, f"Mastercard: {group(n, (4, 4, 4, 4))}\nExp: 03/29\nCVC: 804", (group(n, (4, 4, 4, 4)),))
    n = g.card("mc2")
    yield Case(c, f"new corporate card {group(n, (4, 4, 4, 4))} expires 2029-07", (group(n, (4, 4, 4, 4)),))
    n = g.card("mc2")
    yield Case(c, f"charged to {n} last night", (n,))
    n = g.card("amex")
    yield Case(c, f"Amex {group(n, (4, 6, 5))} exp 0427 CID 7719", (group(n, (4, 6, 5)),))
    n = g.card("amex")
    yield Case(c, f"AMEX: {group(n, (4, 6, 5), '-')}", (group(n, (4, 6, 5), "-"),))
    n = g.card("discover")
    yield Case(c, f"discover card {group(n, (4, 4, 4, 4))} 08/28", (group(n, (4, 4, 4, 4)),))
    n = g.card("diners")
    yield Case(c, f"Diners Club {group(n, (4, 6, 4))} valid thru 05/27", (group(n, (4, 6, 4)),))
    n = g.card("jcb")
    yield Case(c, f"JCB {group(n, (4, 4, 4, 4), '-')}", (group(n, (4, 4, 4, 4), "-"),))
    n = g.card("visa")
    yield Case(c, f"cc#{n} exp 1/30", (n,))
    n = g.card("mc")
    yield Case(
        c,
        f"card number: {n[:4]} {n[4:8]} {n[8:12]} {n[12:]}  security code 220",
        (f"{n[:4]} {n[4:8]} {n[8:12]} {n[12:]}",),
    )


@builder
def ssns(g: Gen) -> Iterator[Case]:
    c = "ssn"
    s = g.ssn()
    yield Case(c, f"SSN: {s}", (s,))
    s = g.ssn()
    yield Case(c, f"employee onboarding - ssn {s.replace('-', '')}, start date 12/1", (s.replace("-", ""),))
    s = g.ssn()
    yield Case(c, f"Social Security Number {s}\nDOB 04/12/1988", (s,))
    s = g.ssn()
    yield Case(c, f"her SSN is {s.replace('-', ' ')}", (s.replace("-", " "),))
    s = g.ssn()
    yield Case(c, f"W-2 shows SSN#{s} for Jordan", (s,))


@builder
def ibans(g: Gen) -> Iterator[Case]:
    c = "iban"
    for country in ("DE", "GB", "FR", "ES", "IT", "NL", "CH", "PL", "BE"):
        iban = g.iban(country)
        yield Case(c, f"please wire the deposit to IBAN {iban_print(iban)}, BIC on the invoice", (iban_print(iban),))
    for country in ("DE", "GB", "NL", "ES"):
        iban = g.iban(country)
        yield Case(c, f"iban={iban}", (iban,))
    iban = g.iban("FR")
    yield Case(
        c, f"Bank details:\nAccount holder: M. Laurent\nIBAN: {iban_print(iban)}\nBIC: BNPAFRPPXXX", (iban_print(iban),)
    )


# -- hard negatives ----------------------------------------------------------------------------------
@builder
def negatives(g: Gen) -> Iterator[Case]:
    n = "neg-ids"
    yield Case(n, f"request id {g.s(HEX, 8)}-{g.s(HEX, 4)}-4{g.s(HEX, 3)}-a{g.s(HEX, 3)}-{g.s(HEX, 12)} failed again")
    yield Case(n, f"reverted {g.s(HEX, 40)}, cherry-pick {g.s(HEX, 7)} instead")
    yield Case(n, f"image: ghcr.io/acme/api@sha256:{g.s(HEX, 64)}")
    yield Case(n, f"trace_id={g.s(HEX, 32)} span_id={g.s(HEX, 16)}")
    yield Case(n, f"Order #112-{g.digits(7)}-{g.digits(7)} shipped, invoice INV-2026-{g.s(string.digits, 6)}")
    yield Case(n, f"UPS tracking 1Z{g.s(string.ascii_uppercase + string.digits, 16)}")
    yield Case(n, f"FedEx tracking number {g.digits(12)}, the other box is {g.digits(15)}")
    yield Case(
        n,
        f"USPS: 9400 1{g.s(string.digits, 3)} {g.s(string.digits, 4)} {g.s(string.digits, 4)} {g.s(string.digits, 4)} {g.s(string.digits, 2)}",
    )
    yield Case(
        n,
        f"created_at 1764437{g.s(string.digits, 6)} (epoch ms), ts 1764437{g.s(string.digits, 3)}.{g.s(string.digits, 6)}",
    )
    yield Case(n, f"call me at +1 (415) 555-{g.s(string.digits, 4)} or +44 20 7946 {g.s(string.digits, 4)}")
    yield Case(
        n,
        f"host 10.{g.rng.randint(0, 255)}.{g.rng.randint(0, 255)}.{g.rng.randint(1, 254)} mac 3c:22:fb:{g.s(HEX, 2)}:{g.s(HEX, 2)}:{g.s(HEX, 2)} ipv6 fe80::1ff:fe23:4567:890a",
    )
    yield Case(n, "bumped terraform to 1.9.8 and the aws provider to v5.76.0-rc.1")
    yield Case(
        n, f"Jira PLAT-{g.s(string.digits, 4)}, PR #{g.s(string.digits, 5)}, build 2026112918{g.s(string.digits, 4)}"
    )
    yield Case(
        n,
        f'<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk{g.s(B64, 60)}AAAAAElFTkSuQmCC">',
    )
    yield Case(n, f"sha256sum release.tar.gz\n{g.s(HEX, 64)}  release.tar.gz")
    yield Case(n, f'"integrity": "sha512-{g.b64_block(64)}"')
    yield Case(n, f"IMEI {g.luhn('35', 15)} on the lost phone")
    yield Case(n, "ISBN 978-0-306-40615-7, the book from the reading group")
    yield Case(n, f"Account number ending 4821, routing on file; case {g.digits(10)}")
    yield Case(n, f"slack ts {g.digits(10)}.{g.s(string.digits, 6)} thread_ts {g.digits(10)}.{g.s(string.digits, 6)}")
    yield Case(n, f"invoice total $12,480.00 for PO 4500{g.s(string.digits, 6)}")
    yield Case(n, f"order {g.digits(16)} placed 2026-11-29")


@builder
def negatives_secrets(g: Gen) -> Iterator[Case]:
    n = "neg-examples"
    yield Case(n, "the docs use AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, copy the format")
    yield Case(
        n, "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    )
    yield Case(n, "test with 4242 4242 4242 4242, any future date and any CVC (Stripe test card)")
    yield Case(n, "use the test Visa 4111 1111 1111 1111 and the test Mastercard 5555 5555 5555 4444 in staging")
    yield Case(n, "Amex test number 3782 822463 10005")
    yield Case(n, "example IBAN from the spec: DE89 3704 0044 0532 0130 00, GB82 WEST 1234 5698 7654 32")
    yield Case(n, "publishable key is fine to share: pk_live_51" + g.s(ALNUM, 97))
    yield Case(
        n,
        "```\n$ aws configure list\n      Name                    Value             Type    Location\n"
        "access_key     ****************7QHA shared-credentials-file\nsecret_key     ****************Jd9x shared-credentials-file\n```",
    )
    n = "neg-placeholders"
    yield Case(n, "SLACK_BOT_TOKEN=&lt;your-token&gt;\nSLACK_SIGNING_SECRET=&lt;signing-secret&gt;")
    yield Case(n, "password: ${DB_PASSWORD}\napi_key: ${{ secrets.API_KEY }}")
    yield Case(n, "token = xxxxxxxxxxxxxxxxxxxxxxxx")
    yield Case(n, "default creds are admin / changeme, you must change them on first login")
    yield Case(n, "password=changeme")
    yield Case(n, 'STRIPE_SECRET_KEY="sk_live_..."  # fill in')
    yield Case(n, "Authorization: Bearer <token>")
    yield Case(n, "export GITHUB_TOKEN=$(gh auth token)")
    yield Case(n, 'db_password = os.environ["DB_PASSWORD"]')
    yield Case(n, "password: ********  (redacted)")
    yield Case(n, "secret: {{ vault_smtp_password }}")
    yield Case(n, "postgres://user:password@localhost:5432/db  <- the template in the README")
    yield Case(n, "xoxb-your-bot-token-here")
    n = "neg-identifiers"
    yield Case(n, f"token_id={g.s(HEX, 20)}\nkey_name: prod-signing-2026")
    yield Case(n, "secret_arn=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf")
    yield Case(n, "password_policy:\n  min_length: 14\n  require_symbols: true")
    yield Case(
        n,
        f'kms_key_id = "arn:aws:kms:eu-west-1:123456789012:key/{g.s(HEX, 8)}-{g.s(HEX, 4)}-{g.s(HEX, 4)}-{g.s(HEX, 4)}-{g.s(HEX, 12)}"',
    )
    yield Case(n, f"api_key_header: X-API-Key\napi_key_id: {g.s(ALNUM, 20)}")
    yield Case(n, f"credential_id={g.s(HEX, 20)}")
    yield Case(n, f"secret_version: {g.s(HEX, 32)}")
    yield Case(n, "token_endpoint: https://auth.acme.io/oauth/token")
    yield Case(n, f"signing_key_fingerprint: SHA256:{g.s(B64, 43)}")
    yield Case(n, 'password_hash_algorithm = "argon2id"\nsession_key_prefix = "sess_"')
    n = "neg-public"
    pub = "AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + g.s(B64, 360)
    yield Case(n, f"add my key please: ssh-rsa {pub} dana@laptop")
    yield Case(n, f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{g.s(B64, 43)} ci@runner")
    yield Case(
        n,
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
        + g.s(B64, 40)
        + "\n-----END PUBLIC KEY-----",
    )
    yield Case(
        n,
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa"
        + g.s(B64, 40)
        + "\n-----END CERTIFICATE-----",
    )
    yield Case(n, "the key starts with -----BEGIN RSA PRIVATE KEY----- but the file is empty after that")
    yield Case(n, f'public_key = "{g.s(B64, 44)}"')


# -- second pass: code, config files and command lines ----------------------------------------------
#: category -> messages with a password in them (``{pw}``).
PASSWORD_LAYOUTS: dict[str, tuple[str, ...]] = {
    "code-config": (
        'conftest.py has os.environ["DB_PASSWORD"] = "{pw}" hardcoded, fix pls',
        '```\nsettings["password"] = "{pw}"\nsettings["host"] = "db7.internal"\n```',
        'config[:password] = "{pw}"  # rails console, prod',
        '```go\nos.Setenv("DB_PASSWORD", "{pw}")\n```',
        'System.setProperty("db.password", "{pw}");',
        "config.set('auth', 'password', '{pw}')\nconfig.write(f)",
        "settings.xml for the mirror:\n```\n<server>\n  <id>nexus</id>\n  <username>deploy</username>\n"
        "  <password>{pw}</password>\n</server>\n```",
        '<entry key="db.user">app</entry>\n<entry key="db.password">{pw}</entry>',
        'app.config:\n<appSettings>\n  <add key="DbUser" value="svc_app" />\n  <add key="DbPassword" value="{pw}" />'
        "\n</appSettings>",
        '<bean id="ds">\n  <property name="password" value="{pw}"/>\n</bean>',
        "ftp login for the vendor: user=acme pass={pw}",
        "DB_HOST=db7.internal\nDB_USER=app\nDB_PASS={pw}",
    ),
    "cli-more": (
        "pg_restore args:\n--username app\n--password {pw}",
        "sshpass -p '{pw}' ssh root@10.0.4.12 uptime",
        "htpasswd -b /etc/nginx/.htpasswd admin {pw}",
        "on the jump box: net user svc_backup {pw} /add",
    ),
}


@builder
def code_and_config(g: Gen) -> Iterator[Case]:
    sec = g.aws_secret()
    yield Case("code-config", f"in the test setup:\n```\nos.environ['AWS_SECRET_ACCESS_KEY'] = '{sec}'\n```", (sec,))
    for category, layouts in PASSWORD_LAYOUTS.items():
        for layout in layouts:
            pw = g.password()
            yield Case(category, layout.format(pw=pw), (pw,))
    n = g.card("visa")
    yield Case("card", f"{group(n, (4, 4, 4, 4))} 331 exp 09/28", (group(n, (4, 4, 4, 4)),))
    n = g.card("mc")
    yield Case("card", f"card {group(n, (4, 4, 4, 4))} cvv 804", (group(n, (4, 4, 4, 4)),))


@builder
def negatives_config(g: Gen) -> Iterator[Case]:
    n = "neg-config"
    yield Case(n, "```\n<password>{{ .Values.db.password }}</password>\n<username/>\n<password/>\n```")
    yield Case(n, "<password>${DB_PASSWORD}</password>\n<secret>changeme</secret>")
    yield Case(n, '<property name="password" value="${db.password}"/>')
    yield Case(n, '<add key="DbPassword" value="&lt;your-password&gt;" />')
    yield Case(n, 'os.environ["DB_PASSWORD"] = os.environ["VAULT_DB_PASSWORD"]')
    yield Case(n, 'settings["password_policy"] = "StrictPolicy2024"\nsettings["password_min_length"] = "14"')
    yield Case(n, f'os.Setenv("TOKEN_ID", "{g.s(HEX, 20)}")\nos.Setenv("KEY_ALIAS", "prod-signing-2026")')
    yield Case(n, 'System.setProperty("secret_arn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db")')
    yield Case(n, "config.set('auth', 'password_file', '/etc/acme/pw.txt')")
    yield Case(n, "the ARN is arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf")
    yield Case(n, 'FILTERED_PARAMS = ("password", "password_confirmation", "secret_token", "access_token")')
    yield Case(n, 'req.headers.set("X-Api-Key", "application/json")')
    yield Case(n, '<bean id="auth">\n  <passwordEncoder>bcryptPasswordEncoder</passwordEncoder>\n</bean>')
    yield Case(n, "code review: first pass: in-progress")
    yield Case(n, "echo $PW | podman login -u ci --password-stdin quay.io")
    yield Case(n, "restic backup --password-file /run/secrets/restic ~/work")
    yield Case(n, "net user admin * /add\nnet user guest /active:no")
    yield Case(n, "sshpass -f ~/.ssh/pw ssh deploy@bastion")
    yield Case(n, "htpasswd -c /etc/nginx/.htpasswd admin  (it prompts)")
    yield Case(n, "bypass=true passthrough=enabled compass: north")
    yield Case(n, "did it pass: yes, the second pass=done")
    yield Case(n, f"order {g.digits(16)} 331 units")


# -- third pass: other providers' tokens, as their consoles, CLIs and config files show them ------------
#: detector -> a message holding its value as ``{v}`` (values from tests/quality/providers.py).
PROVIDER_LAYOUTS: dict[str, str] = {
    "1password-token": "Secret Key: {v}  (from the Emergency Kit PDF)",
    "adafruit-io-key": '```\nADAFRUIT_IO_USERNAME = "dana"\nADAFRUIT_IO_KEY = "{v}"\n```',
    "adobe-client-secret": "Adobe Developer Console > OAuth Server-to-Server\nClient secret: {v}",
    "age-secret-key": "sops age key file:\n```\n{v}\n```",
    "airtable-pat": 'curl https://api.airtable.com/v0/meta/bases -H "Authorization: Bearer {v}"',
    "alibaba-access-key-id": "[default]\naccess_key_id = {v}\nregion = cn-hangzhou",
    "artifactory-token": "X-JFrog-Art-Api: {v}",
    "authress-access-key": "AUTHRESS_KEY={v}",
    "aws-bedrock-api-key": "export AWS_BEARER_TOKEN_BEDROCK={v}",
    "aws-mws-auth-token": "MWSAuthToken={v}&SellerId=A2EUQ1WTGCTBG2",
    "clickhouse-cloud-key": "Key ID: 0LdZ7xYmQ\nKey secret: {v}",
    "clojars-token": "CLOJARS_PASSWORD={v} lein deploy clojars",
    "cloudflare-origin-ca-key": "CF_API_KEY for origin certs: `{v}`",
    "defined-networking-token": "curl -H 'Authorization: Bearer {v}' https://api.defined.net/v1/hosts",
    "doppler-token": "doppler configure set token {v} --scope /app",
    "dropbox-token": "Generated access token:\n{v}",
    "duffel-token": "Authorization: Bearer {v}",
    "dynatrace-token": "DT_API_TOKEN={v}",
    "easypost-token": "EasyPost::Client.new(api_key: '{v}')",
    "facebook-page-token": "graph api explorer gave me {v} for the page",
    "figma-token": "figma personal access token (expires in 90 days): {v}",
    "flutterwave-secret-key": "FLW_SECRET_KEY={v}",
    "flyio-token": "fly tokens create deploy output:\nFlyV1 {v}",
    "frameio-token": "frameio token = {v}",
    "grafana-token": "```yaml\ngrafana:\n  url: https://acme.grafana.net\n  token: {v}\n```",
    "groq-api-key": 'client = Groq(api_key="{v}")',
    "harness-token": "HARNESS_PLATFORM_API_KEY={v}",
    "infracost-token": "infracost configure set api_key {v}",
    "intra42-client-secret": "SECRET={v}",
    "maxmind-license-key": "GeoIP.conf\nAccountID 123456\nLicenseKey {v}\nEditionIDs GeoLite2-City",
    "octopus-deploy-api-key": "OCTOPUS_CLI_API_KEY={v}",
    "openshift-token": "Your API token is\n{v}",
    "perplexity-api-key": "curl https://api.perplexity.ai/chat/completions -H 'Authorization: Bearer {v}'",
    "planetscale-token": "PLANETSCALE_SERVICE_TOKEN={v}",
    "prefect-api-key": 'PREFECT_API_KEY="{v}"',
    "pulumi-access-token": "pulumi login, paste the token: {v}",
    "readme-api-key": "rdme openapi --key={v}",
    "replicate-api-token": "export REPLICATE_API_TOKEN={v}",
    "rubygems-api-key": "~/.gem/credentials\n---\n:rubygems_api_key: {v}",
    "scalingo-token": "SCALINGO_API_TOKEN={v}",
    "sendinblue-api-key": "api-key: {v}",
    "settlemint-token": "SETTLEMINT_ACCESS_TOKEN={v}",
    "shippo-api-token": 'shippo.config.api_key = "{v}"',
    "sourcegraph-token": "src login https://sourcegraph.acme.io --token {v}",
    "supabase-token": "SUPABASE_ACCESS_TOKEN={v} supabase link --project-ref abcd",
    "twitter-bearer-token": "Bearer Token\n{v}",
    "typeform-token": "typeform token for the survey sync: {v}",
    "yandex-api-key": "yc config set token... no, the api key: {v}",
    "gcp-oauth-refresh-token": "$ gcloud auth print-refresh-token\n{v}",
    "azure-devops-pat": "echo {v} | az devops login --organization https://dev.azure.com/acme\n"
    "(that was my azure devops token, rotating)",
    "pagerduty-api-key": "pagerduty token: {v}",
    "vercel-token": "vercel deploy --prod --token {v}",
    "netrc-password": "~/.netrc\n```\nmachine github.com\n  login dana\n  password {v}\n```",
    "docker-config-auth": 'cat ~/.docker/config.json\n{{\n\t"auths": {{\n\t\t"ghcr.io": {{\n\t\t\t"auth": "{v}"\n\t\t}}\n\t}}\n}}',
    "putty-private-key": PUTTY_FILE,
}


@builder
def other_providers(g: Gen) -> Iterator[Case]:
    c = "other providers"
    for detector, layout in PROVIDER_LAYOUTS.items():
        value = TOKENS[detector][0](g.rng)
        yield Case(c, layout.format(v=value), (value,))
    sid, tok = "AC" + g.s(HEX, 32), g.s(HEX, 32)
    yield Case(c, f"account sid {sid} auth token {tok}", (tok,), (sid,))
    n = g.luhn("6759", 16)
    yield Case("card", f"maestro {group(n, (4, 4, 4, 4))} valid to 04/29", (group(n, (4, 4, 4, 4)),))
    s = g.ssn().replace("-", ".")
    yield Case("ssn", f"SSN {s}", (s,))
    iban = g.iban("NL").lower()
    yield Case("iban", f"iban {iban}", (iban,))


@builder
def negatives_providers(g: Gen) -> Iterator[Case]:
    n = "neg-providers"
    yield Case(n, "SUPABASE_ACCESS_TOKEN=sbp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    yield Case(n, "grafana tokens look like glsa_<32 chars>_<8 hex>, never commit one")
    yield Case(n, "REPLICATE_API_TOKEN=r8_******************************")
    yield Case(n, "GROQ_API_KEY=gsk_... (from console.groq.com)")
    yield Case(n, "the figd_ prefix means a figma PAT; ours expired")
    yield Case(
        n, f"bumped to 1.{g.rng.randint(10, 40)}.{g.s(string.digits, 4)} and node {g.s(string.digits, 3)}.22.8794"
    )
    yield Case(
        n,
        f"host 10.{g.rng.randint(0, 255)}.87.94 since 2026.11.29, build {g.s(string.digits, 3)}.22.{g.s(string.digits, 4)}",
    )
    yield Case(n, "the machine learning team needs a login and a password manager")
    yield Case(n, '{"auths": {"ghcr.io": {"auth": "${DOCKER_AUTH}"}}}')
    yield Case(n, f"pulumi stack output url: https://app.pulumi.com/acme/api/{g.s(HEX, 8)}")
    yield Case(n, f"the ticket is OPS-{g.s(string.digits, 4)}, API-GATEWAYINTEGRATIONRESPONSE is the resource")
    yield Case(n, f"PagerDuty incident #{g.s(string.digits, 6)} resolved, service id P{g.s(string.ascii_uppercase, 6)}")
    yield Case(n, "ssl.create_default_context() and openssl.cnf both need the path")
    yield Case(n, f"maestro order {g.digits(16)} shipped")


# -- measuring through the CLI -----------------------------------------------------------------------
def score(labeled: list[Case], found: list[list[tuple[int, int]]]) -> dict[str, list[int]]:
    """category -> [expected, hit, missed, false alarms]."""
    table: dict[str, list[int]] = {}
    for case, spans in zip(labeled, found, strict=True):
        row = table.setdefault(case.category, [0, 0, 0, 0])
        want, ok = case.spans(case.expect), case.spans(case.expect + case.may)
        for start, end in want:
            row[0] += 1
            hit = any(s < end and start < e for s, e in spans)
            row[1 if hit else 2] += 1
        row[3] += sum(1 for s, e in spans if not any(s < o_end and o_start < e for o_start, o_end in ok))
    return table


def _measure() -> None:  # pragma: no cover - a report for people, run by hand
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    labeled = cases()
    cli = [sys.executable, "-m", "slack_dlp_tools.cli", "scan", "--exit-zero"]
    with tempfile.TemporaryDirectory() as tmp:
        lines = "\n".join(json.dumps({"id": i, "text": c.text}) for i, c in enumerate(labeled)) + "\n"
        paths = []
        for i, case in enumerate(labeled):
            path = Path(tmp, f"m{i:03d}.txt")
            path.write_text(case.text, encoding="utf-8")
            paths.append(str(path))
        for extra in ([], ["--rules", "tests/data/gitleaks.toml"]):
            run = subprocess.run(
                [*cli, "--jsonl", "-", *extra], input=lines, capture_output=True, text=True, check=True, env=os.environ
            )
            rows = [json.loads(line) for line in run.stdout.splitlines()]
            jsonl = [[(f["start"], f["end"]) for f in row["findings"]] for row in rows]
            run = subprocess.run([*cli, "--json", *extra, *paths], capture_output=True, text=True, check=True)
            by_file: dict[str, list[tuple[int, int]]] = {p: [] for p in paths}
            for f in json.loads(run.stdout)["findings"]:
                by_file[f["file"]].append((f["start"], f["end"]))
            files = [by_file[p] for p in paths]
            for mode, found in (("scan --jsonl", jsonl), ("scan FILE…", files)):
                print(f"\n{mode} {' '.join(extra)}")
                print(f"{'category':18} {'values':>6} {'hit':>4} {'miss':>4} {'false':>5}")
                table = score(labeled, found)
                for category, (want, hit, miss, false) in table.items():
                    print(f"{category:18} {want:6} {hit:4} {miss:4} {false:5}")
                totals = [sum(r[i] for r in table.values()) for i in range(4)]
                print(f"{'TOTAL':18} {totals[0]:6} {totals[1]:4} {totals[2]:4} {totals[3]:5}")
                if "-v" in sys.argv:
                    for case, spans in zip(labeled, found, strict=True):
                        ok = case.spans(case.expect + case.may)
                        for start, end in case.spans(case.expect):
                            if not any(s < end and start < e for s, e in spans):
                                print("  MISS", case.category, repr(case.text[max(0, start - 40) : end + 10]))
                        for s, e in spans:
                            if not any(s < o_end and o_start < e for o_start, o_end in ok):
                                print("  FALSE", case.category, repr(case.text[max(0, s - 40) : e + 10]))


if __name__ == "__main__":
    _measure()
