"""Labels and values as Slack's composer sends them: bold, italics, strike-through around the label
(`*Password:* …`) or the value (`*…*`), and values that end where their syntax ends them (a URL's
`&`): each found whole, nothing more. Each beside near misses."""

from __future__ import annotations

import pytest

from slack_dlp.detect.engine import DetectionEngine
from tests.quality.outside import Gen

G = Gen(11)
_PW, _AWS, _HEX = G.password(), G.aws_secret(), G.s("0123456789abcdef", 32)


#: (detector, text, value)
FOUND = [
    ("generic-secret-assignment", f"*Password:* {_PW}", _PW),
    ("generic-secret-assignment", f"*Password*: {_PW}", _PW),
    ("generic-secret-assignment", f"_db password_: {_PW}", _PW),
    ("generic-secret-assignment", f"~old password:~ {_PW}", _PW),
    ("generic-secret-assignment", f"• *user:* admin\n• *password:* {_PW}", _PW),
    ("generic-secret-assignment", f"*pass:* {_PW}", _PW),
    ("generic-secret-assignment", f"*API key*: {_HEX}", _HEX),
    ("aws-secret-access-key", f"*AWS Secret Access Key:* {_AWS}", _AWS),
    ("aws-session-token", f"*AWS_SESSION_TOKEN:* {(t := G.session_token())}", t),
    ("generic-secret-assignment", f"password: *{_PW}*", _PW),
    ("generic-secret-assignment", f"*password:* ~{_PW}~ (rotated)", _PW),
    ("generic-secret-assignment", f'dotnet user-secrets set "Db:Password" "{_PW}"', _PW),
    ("password-in-query", f"jdbc:mysql://db:3306/app?user=root&password={_PW}&useSSL=false", _PW),
    ("password-in-query", f"https://api.acme.io/v1/export?format=csv&api_key={_HEX}", _HEX),
    # A few words between the name and its colon, as people type them
    ("generic-secret-assignment", f"Password for prod db: {_PW}", _PW),
    ("generic-secret-assignment", f"the password for jenkins = {_PW}", _PW),
    ("generic-secret-assignment", f"API key for staging: {_HEX}", _HEX),
    ("generic-secret-assignment", f"Passwort für den Server: {_PW}", _PW),
]


@pytest.mark.parametrize(("detector", "text", "value"), FOUND)
def test_labels_in_slack_formatting_are_found(engine: DetectionEngine, detector: str, text: str, value: str) -> None:
    # WHEN a message whose label is bold, italic or struck through is scanned
    findings = engine.scan(text)
    # THEN the value is found whole by its detector
    assert [(f.detector, text[f.start : f.end]) for f in findings] == [(detector, value)]


QUIET = [
    "*Password:* reset link sent to your email",
    "*Password:* <your-password>",
    "*Password:* ********",
    "*password_policy:* at_least_twelve_characters",
    "*Token:* expired, ask #it-help",
    "*secret santa:* sign up by Friday",
    "https://acme.io/login?next=/home&password=reset",
    "https://acme.io/docs?api_key=YOUR_API_KEY&format=json",
    'say "password" "twice"',
    "Password for the server: see the vault",
    "password for prod: ask @ops in #infra",
    "password reset for alice: done, she can log in now",
    "secret santa for the team: sign up by Friday",
    "aws ssm get-parameter --name /prod/db/password --with-decryption: AccessDenied",
]


@pytest.mark.parametrize("text", QUIET)
def test_formatted_labels_without_a_secret_stay_quiet(engine: DetectionEngine, text: str) -> None:
    assert engine.scan(text) == []


@pytest.mark.parametrize("text", ["*SSN:* 536228794", "ssn `536228794`", 'ssn="536228794"', "*SSN*: 536.22.8794"])
def test_an_ssn_named_in_slack_formatting_is_found(engine: DetectionEngine, text: str) -> None:
    assert [f.detector for f in engine.scan(text)] == ["us-ssn-unformatted"]
