"""Secrets handed to command-line tools and to environment lists, as people paste them from
runbooks and manifests; each beside near misses that name a secret without holding one."""

from __future__ import annotations

import pytest

from slack_dlp.detect.engine import DetectionEngine
from tests.quality.outside import Gen

G = Gen(31)
_PW, _HEX = G.password(), G.s("0123456789abcdef", 32)


#: (detector, text, value)
FOUND = [
    ("cli-password", f"aws secretsmanager create-secret --name prod/db --secret-string '{_PW}'", _PW),
    ("cli-password", f"az ad sp create-for-rbac --client-secret {_PW}", _PW),
    ("cli-password", f"datadog-agent run --api-key {_HEX}", _HEX),
    ("cli-password", f"vault login --token={_PW}", _PW),
    ("cli-password", f"./deploy.sh --db-password {_PW} --env prod", _PW),
    ("cli-password", f"aws ssm put-parameter --name /prod/db/password --value '{_PW}' --type SecureString", _PW),
    ("cli-password", f"gh secret set DB_PASSWORD --body '{_PW}'", _PW),
    ("cli-password", f"npm config set //registry.npmjs.org/:_authToken {_HEX}", _HEX),
    ("secret-in-env-list", f"env:\n  - name: DB_PASSWORD\n    value: {_PW}", _PW),
    ("secret-in-env-list", f'- name: API_TOKEN\n  value: "{_HEX}"', _HEX),
    ("secret-in-env-list", f'"environment": [{{"name": "DB_PASSWORD", "value": "{_PW}"}}]', _PW),
    # A token under a name of its own
    ("token-assignment", f"TWITCH_TOKEN={_HEX}", _HEX),
    ("token-assignment", f'bot_token: "{_PW}"', _PW),
    ("token-assignment", f"export VERCEL-TOKEN={_PW}", _PW),
    # A quoted JSON secret: its field is the finding, not the whole document
    ("generic-secret-assignment", f'--secret-string \'{{"password":"{_PW}"}}\'', _PW),
]


@pytest.mark.parametrize(("detector", "text", "value"), FOUND)
def test_secrets_on_command_lines_and_in_env_lists_are_found(
    engine: DetectionEngine, detector: str, text: str, value: str
) -> None:
    assert [(f.detector, text[f.start : f.end]) for f in engine.scan(text)] == [(detector, value)]


QUIET = [
    "echo $PW | docker login -u ci --password-stdin registry.acme.io",
    "kubectl create secret generic app --token-file ~/.kube/token",
    "datadog-agent run --api-key $DD_API_KEY",
    "aws secretsmanager get-secret-value --secret-id prod/db/password",
    'gh secret set DB_PASSWORD --body "$DB_PASSWORD"',
    "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db\n      key: password",
    "vault login --token=${{ secrets.VAULT_TOKEN }}",
    "aws ssm put-parameter --name /prod/db/password --value file://password.txt",
    "run the job with --token-ttl 3600 --secret-name prod-db",
    "csrf_token: 8f2a9c0e1b7d4f3a6e5c",
    'next_page_token = "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA"',
    "the session_token expired again, please re-login",
    "id_token: ${ID_TOKEN}",
]


@pytest.mark.parametrize("text", QUIET)
def test_their_near_misses_stay_quiet(engine: DetectionEngine, text: str) -> None:
    assert engine.scan(text) == []
