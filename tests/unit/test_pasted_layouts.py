"""Layouts found by the outside-in check (tests/quality/outside.py): each gap fixed, each with its
near-miss that must stay quiet."""

from __future__ import annotations

import base64
import string

import pytest

from slack_dlp.detect import validators as v
from slack_dlp.detect.engine import DetectionEngine
from tests.quality.outside import Gen, group

G = Gen(7)


def _pem_b64(label: str) -> str:
    return base64.b64encode(G.rsa_pem(label).encode()).decode()


_DISCOVER, _VISA = G.card("discover"), G.card("visa")
_PW = [G.password() for _ in range(8)]
_HEX = [G.s("0123456789abcdef", 32) for _ in range(2)]
_SSH = G.openssh(lines=4)
_RSA = G.rsa_pem()
_B64_KEY = _pem_b64("RSA PRIVATE KEY")

#: (detector, text, value): the value is found by that detector.
FOUND = [
    ("payment-card", f"discover card {group(_DISCOVER, (4, 4, 4, 4))} 08/28", group(_DISCOVER, (4, 4, 4, 4))),
    ("payment-card", f"full number {group(_VISA, (4, 4, 4, 4), '.')} 11/27", group(_VISA, (4, 4, 4, 4), ".")),
    ("aws-secret-access-key", f"the secret key is {(s := G.aws_secret())} (id in the vault)", s),
    ("generic-secret-assignment", f"SLACK_SIGNING_SECRET={_HEX[0]}", _HEX[0]),
    ("twilio-auth-token", f"Account SID: AC{'0f' * 16}\nAuth Token: {_HEX[1]}", _HEX[1]),
    ("generic-secret-assignment", f"the wifi password for the office is {_PW[0]}", _PW[0]),
    ("generic-secret-assignment", f"admin pw: {_PW[1]}", _PW[1]),
    ("generic-secret-assignment", f"the root password was {_PW[0][::-1]} until yesterday", _PW[0][::-1]),
    ("generic-secret-assignment", f"api-token: {(t := G.s('ABCDEFGHabcdefgh0123456789', 40))}", t),
    ("twilio-auth-token", f"api key SK{'3c0a' * 8} secret {(t2 := G.s(string.ascii_letters, 32))}", t2),
    ("database-connection-string", f"REDIS_URL=redis://:{_PW[2]}@cache.acme.internal:6379/0", _PW[2]),
    ("cli-password", f"docker login -u ci-bot -p {_PW[3]} registry.acme.io", _PW[3]),
    ("cli-password", f"docker login --username ci --password '{_PW[4]}' ghcr.io", _PW[4]),
    ("cli-password", f"mysql -h db.internal -u root -p'{_PW[5]}' orders", _PW[5]),
    ("cli-password", f"curl -u admin:{_PW[6]} https://jenkins.acme.io/job/deploy/build", _PW[6]),
    ("cli-password", f"redis-cli -h cache -a {_PW[7]} ping", _PW[7]),
    # The body's first two lines (OpenSSH's first line alone is the same in every key)
    ("openssh-private-key-truncated", f"{_SSH}\n(cut off)", "\n".join(_SSH.split("\n")[1:3])),
    ("private-key", 'private_key = "' + _RSA.replace("\n", "\\n") + '"', _RSA.replace("\n", "\\n")),
    ("private-key-base64", f"    client-key-data: {_B64_KEY}\n    token: none", _B64_KEY),
    # Subscripts, setters, XML and .NET/Spring config, more command lines, short labels (second pass)
    ("aws-secret-access-key", f"os.environ['AWS_SECRET_ACCESS_KEY'] = '{(a := G.aws_secret())}'", a),
    ("generic-secret-assignment", f'os.environ["DB_PASSWORD"] = "{(p := G.password())}"', p),
    ("generic-secret-assignment", f'settings["password"] = "{(p2 := G.password())}"', p2),
    ("generic-secret-assignment", f'config[:password] = "{(p3 := G.password())}"', p3),
    ("generic-secret-assignment", f'os.Setenv("DB_PASSWORD", "{(p4 := G.password())}")', p4),
    ("generic-secret-assignment", f'System.setProperty("db.password", "{(p5 := G.password())}");', p5),
    ("generic-secret-assignment", f"config.set('auth', 'password', '{(p6 := G.password())}')", p6),
    ("generic-secret-assignment", f"<password>{(p7 := G.password())}</password>", p7),
    ("generic-secret-assignment", f'<entry key="db.password">{(p8 := G.password())}</entry>', p8),
    ("generic-secret-assignment", f'<add key="DbPassword" value="{(p9 := G.password())}" />', p9),
    ("generic-secret-assignment", f'<property name="password" value="{(q1 := G.password())}"/>', q1),
    ("generic-secret-assignment", 'os.Setenv("API_SECRET", "kTwbQFBQtiFMsNuKq")', "kTwbQFBQtiFMsNuKq"),
    ("generic-secret-assignment", f"pass={(q2 := G.password())}", q2),
    ("generic-secret-assignment", f"DB_PASS={(q3 := G.password())}", q3),
    ("cli-password", f"--password {(q4 := G.password())} --host db.internal", q4),
    ("cli-password", f"sshpass -p '{(q5 := G.password())}' ssh root@bastion", q5),
    ("cli-password", f"htpasswd -b .htpasswd admin {(q6 := G.password())}", q6),
    ("cli-password", f"htpasswd -nb admin {(q7 := G.password())}", q7),
    ("cli-password", f"net user svc_backup {(q8 := G.password())} /add", q8),
    # A card and its security code run together read as 19 digits: the number is what comes before it
    ("payment-card", f"{group(_VISA, (4, 4, 4, 4))} 331", f"{group(_VISA, (4, 4, 4, 4))} 331"),
]


@pytest.mark.parametrize(("detector", "text", "value"), FOUND)
def test_pasted_layouts_are_found(engine: DetectionEngine, detector: str, text: str, value: str) -> None:
    # WHEN the message is scanned
    findings = engine.scan(text)
    # THEN the value is found by the detector meant for it
    assert [(f.detector, text[f.start : f.end]) for f in findings if f.detector == detector] == [(detector, value)]


QUIET = [
    "USPS: 9400 1045 3613 7808 2992 40",  # a Luhn-valid Diners-like tail inside a tracking number
    "docker run -p 8080:80 -p 8443:443 nginx:1.27",
    "mysql -u root -p orders",
    "psql --password --host=db.internal.acme.io --username=app",
    "echo $CI_REGISTRY_PASSWORD | docker login -u ci --password-stdin registry.acme.io",
    "docker login -u ci -p $CI_REGISTRY_PASSWORD $CI_REGISTRY",
    'curl -u "$JIRA_USER:$JIRA_TOKEN" https://acme.atlassian.net/rest/api/3/myself',
    "redis-cli -h cache -a ${REDIS_PASSWORD} ping",
    'password_hash_algorithm = "argon2id"',
    f"token_sha256: {'5f2b3c4d6e7f8091a2b3c4d5e6f70819' * 2}",
    "the password reset link is https://acme.io/reset?t=9aF3kL0q7Zx",
    "password for prod was rotated yesterday",
    "version 4615.4715.0828 and 4615.4715.0828.0627.1",
    "client-certificate-data: " + base64.b64encode(G.rsa_pem("CERTIFICATE").encode()).decode(),
    # Near misses of the second pass: templates, element docs, identifiers, switches, other words
    "<password>{{ .Values.pw }}</password>",
    "<password/>",
    "<password>${DB_PASSWORD}</password>",
    '<property name="password" value="${db.password}"/>',
    'os.environ["DB_PASSWORD"] = "<your-password>"',
    "os.environ['DB_PASSWORD'] = os.environ['VAULT_DB_PASSWORD']",
    'settings["password_policy"] = "StrictPolicy2024"',
    'config.set("auth", "password_file", "/etc/acme/pw.txt")',
    'os.Setenv("TOKEN_ID", "a1b2c3d4e5f6a7b8c9d0")',
    'fields = ["password", "username"]',
    "<password>changeme</password> <secret>****</secret>",
    "--password-file /run/secrets/db_password",
    "net user admin * /add",
    "net user administrator /active:yes",
    "htpasswd -B .htpasswd admin",
    "sshpass -f ~/.pw ssh root@bastion",
    "bypass=Zx9mQ2vL7pR4sTq passthrough=Zx9mQ2vL7pR4sTq",
    "$user->credentials->accessKeyId",
    "4111 1111 1111 1111 123",
    # Lists of names, header names, MIME types and class names in the setter and XML shapes
    'params.require(:user).permit("password", "password_confirmation")',
    'redact("password", "api_key", "access_token")',
    'headers.set("X-Api-Key", "application/json")',
    '<add key="ApiKeyHeaderName" value="X-Acme-Api-Key" />',
    "<passwordEncoder>bcryptPasswordEncoder</passwordEncoder>",
    '<property name="password" value="#{environment.DB_PASSWORD}"/>',
    "pass: in-progress, pass=first-round-review",
]


@pytest.mark.parametrize("text", QUIET)
def test_their_near_misses_stay_quiet(engine: DetectionEngine, text: str) -> None:
    assert engine.scan(text) == []


def test_base64_private_key_wants_a_private_key_inside() -> None:
    # Given base64 of a private key, of a certificate, and a private key cut short mid-paste
    key, cert = _pem_b64("PRIVATE KEY"), _pem_b64("CERTIFICATE")
    # Then only the private keys validate, whole or cut
    assert v.base64_private_key(key) and v.base64_private_key(key[:203])
    assert not v.base64_private_key(cert)
    assert not v.base64_private_key(base64.b64encode(b"-----BEGIN RSA PRIVATE KEY-----\n" + b"A" * 90).decode())


def test_hex_secrets_have_a_floor_of_their_own() -> None:
    # Given random 32-character hex (below the 3.5-bit floor of other alphabets) and hex that repeats
    assert v.password_like("332ba797dd04c349d351913dbf2b0d41")
    assert not v.password_like("abababababab1212abababababab1212")
    # And a URL is never a typed secret
    assert not v.generic_secret("https://acme.io/reset?t=9aF3kL0q7Zx")


def test_a_key_pasted_as_one_string_validates() -> None:
    # Given a PEM key whose line breaks are escaped (a JSON, HCL or .env value)
    escaped = _RSA.replace("\n", "\\n")
    # Then it validates as the key itself does, and an escaped placeholder does not
    assert v.pem_private_key(escaped) and v.pem_private_key(_RSA)
    assert not v.pem_private_key("-----BEGIN RSA PRIVATE KEY-----\\n...\\n-----END RSA PRIVATE KEY-----")


def test_token_like_takes_random_letters_without_digits() -> None:
    assert v.token_like("KvjGpBiyeSdrrkrRkSSQuWWoLaeZSHDa")
    assert not v.token_like("abcdefabcdefabcdefabcdefabcdefab")


def test_a_card_with_its_security_code_validates_by_the_number() -> None:
    # Given a card number followed by a 3-digit CVV, and an Amex followed by its 4-digit CID
    visa, amex = group(_VISA, (4, 4, 4, 4)), group(G.card("amex"), (4, 6, 5))
    # Then the number decides, not the 19 digits; a test card or a wrong number with a code does not
    assert v.payment_card(f"{visa} 331") and v.payment_card(f"{amex} 7719")
    assert not v.payment_card("4111 1111 1111 1111 123")
    assert not v.payment_card(f"{visa[:-1]}{(int(visa[-1]) + 1) % 10} 331")
