"""Generated Slack-like chatter: the text the engine spends nearly all its time on.

Realistic noise matters for a benchmark: mentions, channel links, URLs, code, numbers, times,
ids, hashes and UUIDs, so the prefilter sees what it sees in production.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable

_WORDS = (
    "the deploy is done can you take a look at this when you have a minute thanks we should ship it "
    "today after standup the build failed again on main because of flaky tests I will rerun it "
    "lunch anyone meeting moved to tomorrow please review my pull request customer reported a bug "
    "in checkout page latency is up since the release rolling back now incident resolved postmortem "
    "doc is in the drive sounds good ok great nice lgtm ship it weekend plans on call handover "
    "dashboard metrics alert fired database migration ran fine cache hit rate dropped"
).split()

_TEMPLATES = (
    "{w} {w} {w} {w} {w}",
    "<@U{id}> {w} {w} {w}?",
    "{w} {w} in <#C{id}|{w}> {w} {w}",
    "see https://github.com/acme/{w}/pull/{n} {w} {w}",
    "{w} {w} at {h}:{m} {w}",
    "build {n} {w}: {sha}",
    "request id {uuid} {w} {w}",
    "```\n$ kubectl get pods -n {w}\n{w}-{hex6} 1/1 Running 0 {n}m\n```",
    "{w} {w} {w} :tada: :rocket:",
    "ticket OPS-{n} {w} {w} {w} {w} {w}",
    "version {n}.{m}.{h} {w} released on 2026-{mo}-{d}",
    "{w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w}",
    "price went from ${n}.{m} to ${n}.{h} {w}",
    "> {w} {w} {w}\n{w} {w}",
    # Longer posts: a paragraph, a stack trace, a config snippet.
    "{w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w} {w}. {w} {w} {w} {w} {w} {w} "
    "{w} {w} {w} {w} {w} {w} {w} {w}, {w} {w} {w} {w} {w} {w} {w} {w} {w} {w}.",
    '```\nTraceback (most recent call last):\n  File "/srv/app/{w}.py", line {n}, in handle\n'
    "    result = client.{w}(payload)\nTimeoutError: request {uuid} timed out after {n} ms\n```",
    "```yaml\nservice: {w}\nreplicas: {h}\nimage: registry.acme.io/{w}:{n}.{m}.{h}\nenv:\n  LOG_LEVEL: info\n"
    "  REGION: eu-west-1\n```",
)


class _Filler(dict[str, str]):
    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self._rng = rng

    def __missing__(self, key: str) -> str:
        rng = self._rng
        makers = {
            "w": lambda: rng.choice(_WORDS),
            "id": lambda: "".join(rng.choices(string.ascii_uppercase + string.digits, k=10)),
            "n": lambda: str(rng.randint(1, 9999)),
            "h": lambda: f"{rng.randint(0, 23):02d}",
            "m": lambda: f"{rng.randint(0, 59):02d}",
            "mo": lambda: f"{rng.randint(1, 12):02d}",
            "d": lambda: f"{rng.randint(1, 28):02d}",
            "sha": lambda: "".join(rng.choices("0123456789abcdef", k=40)),
            "hex6": lambda: "".join(rng.choices("0123456789abcdef", k=6)),
            "uuid": lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        }
        return makers[key]()

    def format_value(self, key: str) -> str:
        return self.__missing__(key)


def chatter(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - test data
    return [_fill(rng.choice(_TEMPLATES), rng) for _ in range(count)]


def _fill(template: str, rng: random.Random, filler: _Filler | None = None) -> str:
    # str.format would reuse one value per field name; every {w} here draws a new word.
    filler = _Filler(rng) if filler is None else filler
    out: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(filler.format_value(name))
    return "".join(out)


# Engineering-channel talk: the words secret scanners key on ("key", "token", "password",
# "secret", "credential", "auth"), identifiers named like secrets, references and placeholders.
_DENSE_TEMPLATES = (
    "rotated the {svc} api key this morning, the old key is revoked",
    "who owns the {svc} token? it expires in {n} days",
    "password reset emails are broken for {w} users again",
    "credential_id={hex20} was revoked by {w}",
    "key_alias: {svc}-signing-{n}",
    'public_key = "{b64}"',
    "api_version: 2024-{mo}-{d}",
    "secret_name: prod/{svc}/db-password",
    "kms key_id: arn:aws:kms:eu-west-1:{acct}:key/{uuid}",
    "export GITHUB_TOKEN=$(gh auth token) before running the script",
    "password: ${{DB_PASSWORD}} in the helm values, not the real one",
    "the access token TTL is {n} seconds, refresh tokens last {h} days",
    "token_url: https://auth.acme.io/oauth/token",
    "token_file: /var/run/secrets/{svc}/token",
    "auth_token_ttl = {n}",
    "secret_key_ref: name={svc}-secrets key=password",
    "csrf_token is missing from the {w} form",
    "key_id: {hex20} and key_version: {n}",
    "did anyone change the {svc} secret? {w} {w} fails with 401",
    "use `aws configure` and paste the access key and secret key from the console, never in Slack",
    "ssh key for the bastion is in 1password under {svc}",
    "api key auth is deprecated, move {svc} to OAuth client credentials",
    "```\nclient = Client(api_key=os.environ['{env}'], timeout={n})\n```",
    "```yaml\nauth:\n  token: ${{{env}}}\n  token_ttl: {n}\n  key_name: {svc}-{w}\n```",
    'password = getpass("password for {w}: ")',
    "order id {order} shipped, tracking 1Z{track}",
    "invoice {n}-{order} paid at {ts}",
    "deploy {sha} went out at {iso}, token refresh fixed",
    "secret scanning flagged {w}.py but it was a test fixture",
    "{w} {w} key {w} token {w} {w} password {w} secret {w}",
)


class _DenseFiller(_Filler):
    def format_value(self, key: str) -> str:
        rng = self._rng
        hexchars = "0123456789abcdef"
        makers: dict[str, Callable[[], str]] = {
            "svc": lambda: rng.choice(("stripe", "github", "slack", "aws", "datadog", "sentry", "okta", "vault")),
            "hex20": lambda: "".join(rng.choices(hexchars, k=20)),
            "b64": lambda: "".join(rng.choices(string.ascii_letters + string.digits + "+/", k=44)),
            "acct": lambda: "".join(rng.choices(string.digits, k=12)),
            "env": lambda: rng.choice(("API_KEY", "STRIPE_SECRET_KEY", "AUTH_TOKEN", "DB_PASSWORD")),
            "order": lambda: "".join(rng.choices(string.digits, k=16)),
            "track": lambda: "".join(rng.choices(string.ascii_uppercase + string.digits, k=16)),
            "ts": lambda: str(rng.randint(1_600_000_000_000, 1_800_000_000_000)),
            "iso": lambda: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
        }
        maker = makers.get(key)
        return maker() if maker else super().format_value(key)


def dense_chatter(count: int, seed: int = 1) -> list[str]:
    """Keyword-dense engineering chatter (no planted values): the hard case for a prefilter."""
    rng = random.Random(seed)  # noqa: S311 - test data
    out = []
    for _ in range(count):
        template = rng.choice(_DENSE_TEMPLATES) if rng.random() < 0.7 else rng.choice(_TEMPLATES)
        out.append(_fill(template, rng, _DenseFiller(rng)))
    return out
