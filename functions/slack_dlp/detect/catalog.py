"""The built-in detectors: an explicit list, specific before generic (order breaks overlap ties).

Patterns follow the providers' published token formats (and gitleaks' rules where those are
the best public reference). Values are confirmed by a validator wherever the format has one.

Of the upstream gitleaks rules (tests/data/gitleaks.toml, 222), every one whose format stands on
its own (a literal prefix of 3 or more characters, or a fixed structure) is a built-in, with
gitleaks' lengths and alphabets and its entropy floor or a stricter one (``PROVIDER_TOKENS`` and
the provider groups above it). Not ported, on purpose:

- 78 rules that find a value only after the provider's name (``cloudflare-api-key`` = 40
  characters after "cloudflare"; ``adafruit-api-key``, ``algolia-api-key``, ``asana-*``,
  ``bitbucket-client-*``, ``cloudflare-global-api-key``, ``codecov``, ``cohere``, ``coinbase``,
  ``confluent-*``, ``contentful``, ``discord-client-*``, ``dropbox-api-token``, ``fastly``,
  ``hubspot``, ``intercom``, ``jfrog-*``, ``launchdarkly``, ``linkedin-*``, ``lob-api-key``,
  ``looker-*``, ``mailgun-signing-key``, ``netlify``, ``plaid-*``, ``sendbird-*``, ``snyk``,
  ``sonar``, ``sumologic-*``, ``twitch``, ``twitter-*`` but the bearer token, ``yandex-access-token``,
  ``zendesk``… and the exchanges, CI and SaaS rules of the same shape): the generic assignment
  rule finds them under a secret's name (``CLOUDFLARE_API_KEY=…``, ``"confluent_secret": "…"``,
  ``TWITCH_ACCESS_TOKEN=``), not under a bare ``NAME_TOKEN=``; a rule with the provider's name is
  added where that misses a layout people paste (PagerDuty, Azure DevOps, Vercel, Twilio's
  "auth token").
- Public identifiers: ``flutterwave-public-key``, ``lob-pub-api-key``, ``mailgun-pub-key``,
  ``mapbox-api-token`` (``pk.``, meant for browsers), ``new-relic-browser-api-token``
  (``NRJS-``, in every page), ``new-relic-user-api-id``, client ids.
- Too short or too common to stand alone: the legacy ``s.`` + 24 of ``vault-service-token``, the
  bare 40 hex of ``sourcegraph-access-token`` (a git SHA), ``facebook-access-token``
  (``digits|…``), ``jwt-base64``, ``flutterwave-encryption-key`` (a prefix of the secret key).
- Covered otherwise: ``generic-api-key`` (the generic rule), ``curl-auth-*`` (``cli-password``,
  ``basic-auth-header``, ``bearer-token``), ``kubernetes-secret-yaml``, ``nuget-config-password``
  and ``hashicorp-tf-password`` (the generic rule's YAML, XML and HCL shapes),
  ``sidekiq-sensitive-url`` (``password-in-url``), ``pkcs12-file`` (a file name, not content).
"""

from __future__ import annotations

from slack_dlp.detect import validators as v
from slack_dlp.detect.allowlist import RuleAllowlist
from slack_dlp.detect.detector import FIRST_GROUP, Detector
from slack_dlp.model import Category, Confidence

SECRET = Category.SECRET
FINANCIAL = Category.FINANCIAL
PERSONAL = Category.PERSONAL
HIGH, MEDIUM, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

# A token ends where a token character does not follow: keeps us from matching inside longer blobs.
_END = r"(?![A-Za-z0-9_-])"
_START = r"(?<![A-Za-z0-9_-])"


#: Slack's formatting around a label, as the composer sends it: `*Password:* …`, `*Password*: …`,
#: `_password_: …`, `~token:~ …`. Before the separator (`_` is already a name character) and after
#: it, where a marker must be followed by a space (a value may itself start with `*` or `_`).
_MARK_BEFORE = r"[*~]{0,2}"
_MARK_AFTER = r"(?:[*_~]{1,2}[ \t])?"


def _kw(*words: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in words)


def _assigned(names: str, value: str) -> str:
    """``name = value`` / ``name: "value"`` / ``NAME=value`` with the value as group ``secret``."""
    return (
        rf"(?i:{names})[\w.-]{{0,20}}{_MARK_BEFORE}[\"']?\s*(?:[:=]|:=|=>|\s){_MARK_AFTER}\s*[\"'`]?"
        rf"(?P<secret>{value})(?![A-Za-z0-9/+=_-])"
    )


#: Names under which the generic rule looks for a value.
_GENERIC_NAMES = (
    r"(?i:pass(?:word|wd|phrase)|pwd|\bpw\b|secret|api[_ -]?key|apikey|api[_ -]?token|access[_ -]?token|"
    r"auth[_ -]?token|client[_ -]?secret|private[_ -]?key|credentials?|"
    # "password" in languages written in Latin-1 (German, Scandinavian, French, Spanish, Portuguese,
    # Dutch, Finnish, Czech, Hungarian); other scripts: NON_LATIN_PASSWORD_LABELS.
    r"passwort|passord|kennwort|mot[ _-]de[ _-]passe|contrase[ñÑn]a|senha|wachtwoord|l[öÖo]senord|"
    r"adgangskode|salasana|heslo|jelsz[óÓo])"
)


#: Words one of which a text holds if the generic rule can match in it.
_GENERIC_KEYWORDS = _kw(
    "pass", "pwd", "pw", "secret", "key", "token", "credential",
    "kennwort", "contrase", "senha", "wachtwoord", "senord", "adgangskode", "salasana", "heslo", "jelsz",
)  # fmt: skip
#: "is" after a password's name in those languages ("Das Passwort ist …", "la contraseña es …").
_IS_WORDS = r"(?:(?i:is|was)|(?i:ist|war|est|es|é|è|är|er)[ \t])"
#: "password" in scripts beyond Latin-1 (Polish, Russian, Ukrainian, Greek, Turkish, Japanese,
#: Chinese, Korean). The RE2 locators read texts as Latin-1, so these have a Python pattern of their
#: own, run only on texts that hold one of them.
NON_LATIN_PASSWORD_LABELS = ("hasło", "пароль", "парол", "κωδικός", "şifre", "パスワード", "密码", "密碼", "비밀번호")

#: Names that identify a secret rather than hold one (``credential_id``, ``key_alias``, ``api_version``,
#: ``secret_name``, ``token_url``…): assignments to them are not reported by the generic rule.
IDENTIFIER_SUFFIXES = (
    "id",
    "ids",
    "alias",
    "name",
    "names",
    "version",
    "ver",
    "url",
    "uri",
    "endpoint",
    "file",
    "path",
    "dir",
    "type",
    "kind",
    "length",
    "len",
    "size",
    "ttl",
    "ref",
    "count",
    "format",
    "arn",
    "region",
    "hash",
    "fingerprint",
    "label",
    "prefix",
    "suffix",
    "expiry",
    "expires",
    "expiration",
    "timeout",
    "policy",
    "store",
    "manager",
    "rotation",
    "reset",
    "field",
    "header",
    "param",
    "vault",
    "provider",
    "scope",
    "scopes",
    "algorithm",
    "algo",
    "alg",
    "mode",
    "method",
    "scheme",
    "strategy",
    "hint",
    "rule",
    "rules",
    "min",
    "max",
    "sha",
    "sha1",
    "sha256",
    "md5",
    "digest",
    "checksum",
    "etag",
    "enabled",
    "required",
)
IDENTIFIER_NAMES = (
    "public[_.-]?key",
    "public[_.-]?token",
    "csrf[_.-]?token",
    "xsrf[_.-]?token",
    "key[_.-]?id",
    "secretsmanager",  # an ARN's service (`arn:aws:secretsmanager:us-east-1:…`)
)

#: The generic rule's suppression, as data: a gitleaks-style allowlist on the whole match.
IDENTIFIER_ALLOWLIST = RuleAllowlist(
    description="identifiers named like secrets",
    regex_target="match",
    regexes=(
        r"(?i)^[\w.-]*?(?:[_.-](?:" + "|".join(IDENTIFIER_SUFFIXES) + r")|" + "|".join(IDENTIFIER_NAMES) + r")"
        r"[\"']?\]?\s*(?:[:=]|:=|=>|\s|,|>)",
    ),
)


#: ``token-assignment`` matches from the separator before "token", so its identifiers are looked
#: for on the line: a name that identifies a token (`csrf_token`, a listing's `next_page_token`,
#: `public_token`) right before the `_token`/`-token` it matched.
TOKEN_IDENTIFIER_ALLOWLIST = RuleAllowlist(
    description="names of tokens that identify, not authenticate",
    regex_target="line",
    regexes=(r"(?i)\b(?:csrf|xsrf|public|next|next[_-]?page|page|continuation|sync|cursor|pagination|id)[_-]token\b",),
)


#: The generic rule's shapes beyond `name = value`: a setter with the name quoted
#: (`Setenv("DB_PASSWORD", "…")`, `config.set('auth', 'password', '…')`), an XML attribute pair
#: (`key="DbPassword" value="…"`) or element (`<password>…<`, `key="db.password">…<`), and a
#: command's quoted name then quoted value (`dotnet user-secrets set "Db:Password" "…"`).
_QUOTED_OR_XML = r"[\"'](?:[ \t]*,[ \t]*[\"']|[ \t]+[\"']|[ \t]+(?i:value)[ \t]*=)|(?:[\"']|\b)>"
#: The short label `pass`/`DB_PASS`, right before its `=` or `:` (`passthrough`, `bypass` are words).
_SHORT_LABEL = rf"(?i:\bpass|_pass){_MARK_BEFORE}[\"']?\]?[ \t]*(?:[:=]|:=|=>){_MARK_AFTER}"

#: Those shapes also hold lists of names, header names, MIME types and class names
#: (`"password", "password_confirmation"`, `"X-Api-Key", "application/json"`,
#: `<passwordEncoder>bcryptPasswordEncoder<`, `pass: in-progress`): there a value of letters and
#: `_./-` alone whose capitals each start a word (camelCase, kebab-case) is a name, not a secret.
#: As data on the match (checked per candidate), not in the pattern (which runs over every text).
NAME_LIST_ALLOWLIST = RuleAllowlist(
    description="names, not values, in the setter, XML and pass shapes",
    regex_target="match",
    regexes=(
        rf"^(?:{_GENERIC_NAMES}[\w.-]{{0,20}}(?:{_QUOTED_OR_XML})|{_SHORT_LABEL})[ \t]*[\"'`]?"
        r"[A-Z]*[a-z_./-]*(?:[A-Z][a-z_./-]+)*[A-Z]?$",
    ),
)

CLOUD: tuple[Detector, ...] = (
    Detector(
        "aws-access-key-id",
        SECRET,
        "AWS access key ID",
        rf"{_START}(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{{16}}{_END}",
        _kw("akia", "asia", "abia", "acca", "a3t"),
    ),
    Detector(
        "aws-secret-access-key",
        SECRET,
        "AWS secret access key",
        # `aws_secret_access_key =` (also `os.environ['AWS_SECRET_ACCESS_KEY'] =`, `Setenv("…", "…")`),
        # the console's "Secret access key", the CLI's
        # "AWS Secret Access Key [None]:", JSON "SecretAccessKey", and the downloaded credentials
        # CSV (`Access key ID,Secret access key` then `AKIA…,<secret>`): a key id, then the secret.
        r"(?:(?i:aws|secret[ _.-]?access(?:[ _.-]?key)?|secret[ _.-]?key|secretaccesskey)[\w.-]{0,20}"
        rf"{_MARK_BEFORE}[\"']?\]?(?:[ \t]*\[[^\]\n]{{0,20}}\])?\s*(?:[:=]|:=|=>|\s|,){_MARK_AFTER}\s*"
        r"(?:(?i:is|was)[ \t]+)?[\"'`]?([A-Za-z0-9/+]{40})"
        r"(?![A-Za-z0-9/+=_-])"
        r"|(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z2-7]{16}[\"']?[ \t]*[,;|\t:][ \t]*[\"']?([A-Za-z0-9/+]{40})"
        r"(?![A-Za-z0-9/+=_-]))",
        _kw("aws", "secret", "akia", "asia"),
        v.aws_secret_key,
        secret_group=FIRST_GROUP,
    ),
    Detector(
        "aws-session-token",
        SECRET,
        "AWS session token",
        _assigned(r"aws_session_token|session_?token|x-amz-security-token", r"[A-Za-z0-9/+=]{100,}"),
        _kw("session", "security-token"),
        v.entropy_at_least(4.5),
    ),
    Detector("gcp-api-key", SECRET, "Google API key", rf"{_START}AIza[0-9A-Za-z_-]{{35}}{_END}", _kw("aiza")),
    Detector(
        "gcp-service-account-key",
        SECRET,
        "Google service account private key",
        r"\"private_key\"\s*:\s*\"(?P<secret>-----BEGIN PRIVATE KEY-----(?:\\n|[A-Za-z0-9+/=])"
        r"{64,}?-----END PRIVATE KEY-----(?:\\n)?)\"",
        _kw("private_key"),
    ),
    Detector(
        "gcp-oauth-access-token",
        SECRET,
        "Google OAuth access token",
        rf"{_START}ya29\.[0-9A-Za-z_-]{{30,}}{_END}",
        _kw("ya29."),
    ),
    Detector(
        "gcp-oauth-refresh-token",
        SECRET,
        "Google OAuth refresh token",
        # `gcloud auth print-refresh-token`, OAuth playground, `application_default_credentials.json`.
        rf"(?<![A-Za-z0-9_/:-])1//0[A-Za-z0-9_-]{{40,}}{_END}",
        _kw("1//0"),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "gcp-oauth-client-secret",
        SECRET,
        "Google OAuth client secret",
        rf"{_START}GOCSPX-[A-Za-z0-9_-]{{28}}{_END}",
        _kw("gocspx-"),
    ),
    Detector(
        "azure-storage-account-key",
        SECRET,
        "Azure storage account key",
        # Connection strings, `az storage account keys list` as JSON and as a table.
        r"(?:(?i:AccountKey)\s*=\s*([A-Za-z0-9+/]{86}==)"
        r"|\"keyName\":\s*\"key[12]\"[^{}]{0,200}?\"value\":\s*\"([A-Za-z0-9+/]{86}==)\""
        r"|\bkey[12]\s+(?i:full|read)\s+([A-Za-z0-9+/]{86}==))",
        _kw("accountkey", "keyname", "key1", "key2"),
        v.entropy_at_least(4.5),
        secret_group=FIRST_GROUP,
    ),
    Detector(
        "azure-sas-token",
        SECRET,
        "Azure shared access signature",
        r"(?:[?&]|\b)sv=\d{4}-\d{2}-\d{2}&[^\s\"']*?\bsig=(?P<secret>[A-Za-z0-9%+/=]{40,})",
        _kw("sig="),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "azure-connection-string",
        SECRET,
        "Azure Service Bus / Event Hubs / IoT connection string",
        r"Endpoint=sb://[\w.-]+/?;\s*SharedAccessKeyName=[^;\s]+;\s*SharedAccessKey="
        r"(?P<secret>[A-Za-z0-9+/]{43}=)",
        _kw("sharedaccesskey="),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "azure-ad-client-secret",
        SECRET,
        "Azure AD (Entra) client secret",
        rf"{_START}[a-zA-Z0-9_~.-]{{3}}\d[a-zA-Z0-9_~.-]Q~[a-zA-Z0-9_~.-]{{31,34}}{_END}",
        _kw("q~"),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "azure-devops-pat",
        SECRET,
        "Azure DevOps personal access token",
        # 52 characters of base32 under the names people and pipelines give it (AZURE_DEVOPS_PAT,
        # AZURE_DEVOPS_EXT_PAT, ADO_TOKEN, "azure devops token:", System.AccessToken), and the
        # 84-character format with its fixed `AZDO` signature, which needs no name.
        "(?:"
        + _assigned(
            r"(?:azure[_ -]?devops|\bado[_ -]|\bvsts|\bazdo)[\w -]{0,20}?(?:pat|token|key)|system\.accesstoken",
            r"[a-z2-7]{52}|[A-Za-z0-9]{84}",
        )
        + rf"|{_START}(?P<new>[A-Za-z0-9]{{76}}AZDO[A-Za-z0-9]{{4}}){_END}"
        # The docs' `echo $PAT | az devops login`, and a PAT as the user of a clone URL.
        r"|\becho[ \t]+[\"']?([a-z2-7]{52})[\"']?[ \t]*\|[ \t]*az[ \t]+devops[ \t]+login"
        r"|https://(?:[^\s:/@]{1,64}:)?([a-z2-7]{52})@dev\.azure\.com)",
        # Literal keywords, no pattern trigger: counted repetitions in the gate's DFA cost every text.
        _kw("devops", "ado_", "ado-", "ado ", "vsts", "azdo", "accesstoken", "dev.azure"),
        v.entropy_at_least(4.0),
        secret_group=FIRST_GROUP,
    ),
    Detector(
        "digitalocean-token",
        SECRET,
        "DigitalOcean token",
        rf"{_START}do[por]_v1_[a-f0-9]{{64}}{_END}",
        _kw("dop_v1_", "doo_v1_", "dor_v1_"),
    ),
    Detector("heroku-api-key", SECRET, "Heroku API key", rf"{_START}HRKU-[A-Za-z0-9_-]{{60}}{_END}", _kw("hrku-")),
    Detector(
        "heroku-api-key-legacy",
        SECRET,
        "Heroku API key (legacy UUID)",
        _assigned(
            r"heroku[\w-]{0,20}(?:key|token|secret)",
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ),
        _kw("heroku"),
        confidence=MEDIUM,
    ),
    Detector(
        "databricks-token",
        SECRET,
        "Databricks personal access token",
        rf"{_START}dapi[a-f0-9]{{32}}(?:-\d)?{_END}",
        _kw("dapi"),
    ),
    Detector(
        "snowflake-connection",
        SECRET,
        "Snowflake credentials in a connection string",
        r"snowflake://[^\s:/@]+:(?P<secret>[^\s@/]{4,})@[\w.-]+",
        _kw("snowflake://"),
        trigger=r"(?i)snowflake://",
    ),
)

CODE_HOSTING: tuple[Detector, ...] = (
    Detector(
        "github-pat",
        SECRET,
        "GitHub personal access token (classic)",
        rf"{_START}ghp_[0-9A-Za-z]{{36}}{_END}",
        _kw("ghp_"),
    ),
    Detector(
        "github-fine-grained-pat",
        SECRET,
        "GitHub fine-grained personal access token",
        rf"{_START}github_pat_[0-9A-Za-z]{{22}}_[0-9A-Za-z]{{59}}{_END}",
        _kw("github_pat_"),
    ),
    Detector(
        "github-oauth-token",
        SECRET,
        "GitHub OAuth access token",
        rf"{_START}gho_[0-9A-Za-z]{{36}}{_END}",
        _kw("gho_"),
    ),
    Detector(
        "github-app-token",
        SECRET,
        "GitHub App user-to-server / server-to-server token",
        rf"{_START}gh[us]_[0-9A-Za-z]{{36}}{_END}",
        _kw("ghu_", "ghs_"),
    ),
    Detector(
        "github-refresh-token",
        SECRET,
        "GitHub refresh token",
        rf"{_START}ghr_[0-9A-Za-z]{{36,76}}{_END}",
        _kw("ghr_"),
    ),
    Detector(
        "gitlab-token",
        SECRET,
        "GitLab access token",
        # Routable tokens end `.<2 + 7 base36>`; incoming-mail and feed tokens, runner registration
        # tokens (`GR1348941…`) and the session cookie as gitleaks has them.
        rf"{_START}(?:gl(?:pat|dt|ptt|rt|cbt|imt|agent|soat|ffct|oas|ft)-[0-9A-Za-z_-]{{20,300}}"
        rf"(?:\.[0-9a-z]{{9}})?|GR1348941[\w-]{{20}}|_gitlab_session=[0-9a-z]{{32}}){_END}",
        _kw(
            "glpat-",
            "gldt-",
            "glptt-",
            "glrt-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "glsoat-",
            "glffct-",
            "gloas-",
            "glft-",
            "gr1348941",
            "_gitlab_session",
        ),
    ),
    Detector(
        "bitbucket-app-password",
        SECRET,
        "Bitbucket / Atlassian app password",
        rf"{_START}ATBB[A-Za-z0-9_=.-]{{32}}{_END}",
        _kw("atbb"),
    ),
    Detector(
        "atlassian-api-token",
        SECRET,
        "Atlassian API token",
        rf"{_START}ATATT3[A-Za-z0-9_=-]{{186}}{_END}",
        _kw("atatt3"),
    ),
    Detector(
        "npm-token",
        SECRET,
        "npm access token",
        rf"{_START}npm_[A-Za-z0-9]{{36}}{_END}",
        _kw("npm_"),
    ),
    Detector(
        "pypi-token",
        SECRET,
        "PyPI upload token",
        rf"{_START}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{{50,}}{_END}",
        _kw("pypi-ageichlwas5vcmc"),
    ),
    Detector(
        "docker-hub-token",
        SECRET,
        "Docker Hub personal access token",
        rf"{_START}dckr_pat_[A-Za-z0-9_-]{{27}}{_END}",
        _kw("dckr_pat_"),
    ),
    Detector(
        "postman-api-key",
        SECRET,
        "Postman API key",
        rf"{_START}PMAK-[a-f0-9]{{24}}-[a-f0-9]{{34}}{_END}",
        _kw("pmak-"),
    ),
    Detector(
        "hashicorp-vault-token",
        SECRET,
        "HashiCorp Vault token",
        rf"{_START}hv[sbr]\.[A-Za-z0-9_-]{{24,}}{_END}",
        _kw("hvs.", "hvb.", "hvr."),
    ),
    Detector(
        "terraform-cloud-token",
        SECRET,
        "Terraform Cloud / HCP API token",
        rf"{_START}[A-Za-z0-9]{{14}}\.atlasv1\.[A-Za-z0-9_=-]{{60,70}}{_END}",
        _kw(".atlasv1."),
    ),
)

CHAT_AND_SAAS: tuple[Detector, ...] = (
    Detector(
        "slack-bot-token",
        SECRET,
        "Slack bot token",
        # Current tokens (team-bot-secret) and legacy ones (bot id, then the secret).
        rf"{_START}xoxb-(?:[0-9]{{10,13}}-[0-9]{{10,13}}-[A-Za-z0-9]{{20,34}}|[0-9]{{8,14}}-[A-Za-z0-9]{{18,26}}){_END}",
        _kw("xoxb-"),
    ),
    Detector(
        "slack-user-token",
        SECRET,
        "Slack user token",
        rf"{_START}xox[pe]-[0-9]{{10,13}}-[0-9]{{10,13}}-[0-9]{{10,13}}-[A-Za-z0-9]{{28,34}}{_END}",
        _kw("xoxp-", "xoxe-"),
    ),
    Detector(
        "slack-app-token",
        SECRET,
        "Slack app-level token",
        rf"{_START}xapp-\d-[A-Z0-9]{{9,12}}-\d{{10,13}}-[a-z0-9]{{64}}{_END}",
        _kw("xapp-"),
    ),
    Detector(
        "slack-config-token",
        SECRET,
        "Slack configuration / refresh token",
        # gitleaks: refresh `xoxe-1-` + 146, access `xoxe.xoxp-1-` + 163-166, letters of either case.
        rf"{_START}xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{{140,170}}{_END}",
        _kw("xoxe"),
    ),
    Detector(
        "slack-legacy-token",
        SECRET,
        "Slack legacy / workspace token",
        # gitleaks' legacy workspace tokens too: `xoxa-`/`xoxr-`, an optional digit, 8-48 characters.
        rf"{_START}(?:xox[aors]-(?:\d+-){{2,3}}[A-Za-z0-9]{{20,64}}|xox[ar]-(?:\d-)?[0-9a-zA-Z]{{8,48}}){_END}",
        _kw("xoxa-", "xoxo-", "xoxr-", "xoxs-"),
    ),
    Detector(
        "slack-webhook",
        SECRET,
        "Slack incoming webhook URL",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9+/]{43,56})",
        _kw("hooks.slack.com"),
    ),
    Detector(
        "discord-bot-token",
        SECRET,
        "Discord bot token",
        rf"{_START}[MNO][A-Za-z0-9_-]{{23,25}}\.[A-Za-z0-9_-]{{6}}\.[A-Za-z0-9_-]{{27,38}}{_END}",
        (),
        v.entropy_at_least(4.2),
        trigger=r"\.[A-Za-z0-9_-]{6}\.",
    ),
    Detector(
        "discord-webhook",
        SECRET,
        "Discord webhook URL",
        r"discord(?:app)?\.com/api/webhooks/\d{17,20}/(?P<secret>[A-Za-z0-9_-]{60,68})",
        _kw("discord"),
    ),
    Detector(
        "telegram-bot-token",
        SECRET,
        "Telegram bot token",
        rf"{_START}\d{{8,10}}:AA[0-9A-Za-z_-]{{33}}{_END}",
        _kw(":aa"),
    ),
    Detector(
        "microsoft-teams-webhook",
        SECRET,
        "Microsoft Teams incoming webhook",
        r"https://[\w-]+\.webhook\.office\.com/webhookb2/(?P<secret>[\w-]{36}@[\w-]{36}/IncomingWebhook/"
        r"[a-f0-9]{32}/[\w-]{36})",
        _kw("webhook.office.com"),
    ),
    Detector(
        "linear-api-key",
        SECRET,
        "Linear API key",
        rf"{_START}lin_api_[A-Za-z0-9]{{40}}{_END}",
        _kw("lin_api_"),
    ),
    Detector(
        "notion-token",
        SECRET,
        "Notion integration token",
        rf"{_START}(?:secret_[A-Za-z0-9]{{43}}|ntn_[0-9]{{11}}[A-Za-z0-9]{{35}}){_END}",
        _kw("secret_", "ntn_"),
        v.mixed_alnum,
    ),
    Detector(
        "openai-api-key",
        SECRET,
        "OpenAI API key",
        # Keys with the `T3BlbkFJ` marker, and project / service account / admin keys without it.
        rf"{_START}sk-(?:(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{{20,74}}T3BlbkFJ[A-Za-z0-9_-]{{20,74}}"
        rf"|(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{100,200}}){_END}",
        _kw("t3blbkfj", "sk-proj-", "sk-svcacct-", "sk-admin-"),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "anthropic-api-key",
        SECRET,
        "Anthropic API key",
        rf"{_START}sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{{93}}AA{_END}",
        _kw("sk-ant-"),
    ),
    Detector(
        "huggingface-token",
        SECRET,
        "Hugging Face access token / organization API token",
        rf"{_START}(?:hf_|api_org_)[A-Za-z]{{34}}{_END}",
        _kw("hf_", "api_org_"),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "sendgrid-api-key",
        SECRET,
        "SendGrid API key",
        rf"{_START}SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}{_END}",
        _kw("sg."),
    ),
    Detector(
        "mailgun-api-key",
        SECRET,
        "Mailgun API key",
        rf"{_START}key-[0-9a-f]{{32}}{_END}",
        _kw("key-"),
        v.mixed_alnum,
        MEDIUM,
    ),
    Detector(
        "mailchimp-api-key",
        SECRET,
        "Mailchimp API key",
        rf"{_START}[0-9a-f]{{32}}-us\d{{1,2}}{_END}",
        _kw("-us"),
        v.mixed_alnum,
        trigger=r"-us\d",
    ),
    Detector(
        "twilio-api-key",
        SECRET,
        "Twilio API key SID",
        rf"{_START}SK[0-9a-fA-F]{{32}}{_END}",
        _kw("sk"),
        v.mixed_alnum,
        MEDIUM,
        trigger=r"SK[0-9a-fA-F]{2}",
    ),
    Detector(
        "twilio-auth-token",
        SECRET,
        "Twilio auth token",
        # TWILIO_AUTH_TOKEN=…, the Account SID:auth token pair of `curl -u` / Basic auth, and an API
        # key SID followed by its secret (the console shows them together: `SK… secret …`).
        "(?:" + _assigned(r"twilio[\w-]{0,20}(?:auth|token|secret)", r"[0-9a-f]{32}") + ""
        r"|(?<![A-Za-z0-9])AC[0-9a-f]{32}:([0-9a-f]{32})(?![A-Za-z0-9])"
        # The console's pair as people copy it: `account sid AC… auth token <hex>` (no colon needed).
        r"|(?<![A-Za-z0-9])AC[0-9a-f]{32}(?![A-Za-z0-9])[^\n]{0,40}?(?:\n[^\n]{0,40}?)?(?i:auth[ _-]?token)"
        r"[\"']?[ \t]*[:=]?[ \t]*[\"'`]?([0-9a-f]{32})(?![A-Za-z0-9])"
        r"|(?<![A-Za-z0-9])SK[0-9a-fA-F]{32}[\"']?(?:[ \t]*[,:;|/][ \t]*|\s+)(?:(?i:secret|password)\s*[:=]?\s*)?"
        r"[\"']?([A-Za-z0-9]{32})(?![A-Za-z0-9]))",
        _kw("twilio", "ac", "sk"),
        v.token_like,
        secret_group=FIRST_GROUP,
        trigger=r"(?i:twilio)|AC[0-9a-f]{32}[:\s]|SK[0-9a-fA-F]{32}[\"']?[\s,:;|/]",
    ),
    Detector(
        "datadog-api-key",
        SECRET,
        "Datadog API / application key",
        _assigned(r"(?:datadog|dd)[_-]?(?:api|app|application)[_-]?key", r"[0-9a-f]{32}|[0-9a-f]{40}"),
        _kw("datadog", "dd_", "dd-"),
        v.mixed_alnum,
    ),
    Detector(
        "new-relic-key",
        SECRET,
        "New Relic API key",
        rf"{_START}NR(?:AK|JS|II|AA)-[A-Z0-9]{{27}}{_END}",
        _kw("nrak-", "nrjs-", "nrii-", "nraa-"),
    ),
    Detector(
        "sentry-token",
        SECRET,
        "Sentry auth token",
        rf"{_START}(?:sntrys_eyJ[A-Za-z0-9+/=_-]{{60,}}|sntryu_[a-f0-9]{{64}}){_END}",
        _kw("sntrys_", "sntryu_"),
    ),
    Detector(
        "okta-api-token",
        SECRET,
        "Okta API token",
        _assigned(r"okta[\w-]{0,20}(?:token|key|secret)|ssws", r"00[A-Za-z0-9_-]{40}"),
        _kw("okta", "ssws"),
    ),
    Detector(
        "pagerduty-api-key",
        SECRET,
        "PagerDuty API key / integration key",
        # REST API keys (20 characters, user keys start `u+`) and Events integration keys (32 hex)
        # under the name: PAGERDUTY_TOKEN=, "pagerduty token: …", PD_API_KEY=, `Token token=` (its header).
        "(?:"
        + _assigned(
            r"pager[_ -]?duty[\w -]{0,20}?(?:token|key)|\bpd[_-](?:api[_-]?)?(?:token|key)|routing[_-]?key",
            r"[A-Za-z0-9_+-]{20}|[0-9a-f]{32}",
        )
        + r"|(?i:authorization)[\"']?\s*:\s*[\"']?Token token=(?P<header>[A-Za-z0-9_+-]{20})(?![A-Za-z0-9_+-]))",
        _kw("pager", "pd_", "pd-", "routing", "token token="),
        v.password_like,
        secret_group=FIRST_GROUP,
    ),
    Detector(
        "vercel-token",
        SECRET,
        "Vercel access token",
        _assigned(r"vercel[\w -]{0,20}?(?:token|key)", r"[A-Za-z0-9]{24}"),
        _kw("vercel"),
        v.mixed_or_entropy(3.8),
    ),
    Detector(
        "shopify-token",
        SECRET,
        "Shopify access token / shared secret",
        rf"{_START}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{{32}}{_END}",
        _kw("shpat_", "shpca_", "shppa_", "shpss_"),
    ),
)


#: An alphanumeric run followed by `+`, `/` or `=` is a piece of a base64 blob (an image, a
#: certificate), not a token: for formats whose prefix base64 can produce (`cmVmd` is "ref").
_NOT_IN_BASE64 = r"(?![+/=])"


def _token(
    id_: str,
    description: str,
    body: str,
    keywords: tuple[str, ...],
    validator: v.Validator | None = None,
    *,
    trigger: str | None = None,
) -> Detector:
    """A token recognised by its own literal prefix or structure, standing alone (no label needed)."""
    return Detector(id_, SECRET, description, rf"{_START}(?:{body}){_END}", keywords, validator, trigger=trigger)


#: Providers' tokens with a prefix or structure of their own: ported from the upstream gitleaks
#: rules (what was not, and why: the module docstring) and a few gitleaks lacks (Supabase, Groq,
#: Figma, Replicate, Adafruit `aio_`). Their keywords are literal: a pattern trigger's counted
#: repetitions in the gate's DFA cost every text, not only the texts that hold a token.
PROVIDER_TOKENS: tuple[Detector, ...] = (
    _token(
        "1password-token",
        "1Password secret key / service account token",
        r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}"
        r"|ops_eyJ[A-Za-z0-9+/]{250,}={0,3}",
        _kw("a3-", "ops_eyj"),
        v.entropy_at_least(3.8),
        # `a3-` ends many a UUID's group: case-sensitive, with its shape, it does not.
        trigger=r"A3-[A-Z0-9]{6}-|ops_eyJ",
    ),
    _token("adafruit-io-key", "Adafruit IO key", r"aio_[A-Za-z0-9]{28}", _kw("aio_"), v.entropy_at_least(3.5)),
    _token("adobe-client-secret", "Adobe client secret", r"p8e-[A-Za-z0-9]{32}", _kw("p8e-"), v.mixed_alnum),
    _token(
        "age-secret-key",
        "age encryption secret key",
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        _kw("age-secret-key-1"),
        v.entropy_at_least(3.5),
    ),
    _token(
        "airtable-pat",
        "Airtable personal access token",
        r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}",
        _kw("pat"),
        v.entropy_at_least(3.5),
    ),
    _token(
        "alibaba-access-key-id",
        "Alibaba Cloud AccessKey ID",
        r"LTAI[A-Za-z0-9]{20}",
        _kw("ltai"),
        v.mixed_or_entropy(3.8),
    ),
    _token(
        "artifactory-token",
        "JFrog Artifactory API key / reference token",
        rf"(?:AKCp[A-Za-z0-9]{{69}}|cmVmd[A-Za-z0-9]{{59}}){_NOT_IN_BASE64}",
        _kw("akcp", "cmvmd"),
        v.entropy_at_least(4.5),
    ),
    _token(
        "authress-access-key",
        "Authress service client access key",
        r"(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_-][A-Za-z0-9-]{10,32}"
        r"\.[A-Za-z0-9+/_=-]{30,120}",
        _kw(".acc_", ".acc-"),
        v.entropy_at_least(3.5),
    ),
    _token(
        "aws-bedrock-api-key",
        "Amazon Bedrock API key",
        r"ABSK[A-Za-z0-9+/]{109,269}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{20,}={0,2}",
        _kw("absk", "bedrock-api-key-"),
        v.entropy_at_least(4.0),
    ),
    _token(
        "aws-mws-auth-token",
        "Amazon MWS auth token",
        r"amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        _kw("amzn.mws."),
    ),
    _token(
        "clickhouse-cloud-key",
        "ClickHouse Cloud API secret key",
        rf"4b1d[A-Za-z0-9]{{38}}{_NOT_IN_BASE64}",
        _kw("4b1d"),
        v.token_like,
    ),
    _token("clojars-token", "Clojars deploy token", r"(?i:CLOJARS_[a-z0-9]{60})", _kw("clojars_"), v.mixed_alnum),
    _token(
        "cloudflare-origin-ca-key",
        "Cloudflare Origin CA key",
        r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}",
        _kw("v1.0-"),
        v.entropy_at_least(3.0),
    ),
    _token(
        "defined-networking-token",
        "Defined Networking (Nebula) API token",
        r"(?i:dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52})",
        _kw("dnkey-"),
        v.entropy_at_least(3.5),
    ),
    _token(
        "doppler-token",
        "Doppler token (personal, service, CLI, service account, SCIM, audit)",
        r"dp\.(?:pt|st|ct|sa|scim|audit)\.(?:[A-Za-z0-9_-]{1,40}\.)?[A-Za-z0-9]{40,44}",
        _kw("dp.pt.", "dp.st.", "dp.ct.", "dp.sa.", "dp.scim.", "dp.audit."),
        v.entropy_at_least(3.5),
    ),
    _token(
        "dropbox-token",
        "Dropbox access token (short-lived `sl.`, long-lived)",
        rf"sl\.(?:u\.)?[A-Za-z0-9_=-]{{130,}}|[A-Za-z0-9]{{11}}AAAAAAAAAA[A-Za-z0-9_=-]{{43}}{_NOT_IN_BASE64}",
        _kw("sl.", "aaaaaaaaaa"),
        v.entropy_at_least(4.0),
    ),
    _token(
        "duffel-token",
        "Duffel API token",
        r"duffel_(?:test|live)_[A-Za-z0-9_=-]{43}",
        _kw("duffel_"),
        v.entropy_at_least(3.5),
    ),
    _token(
        "dynatrace-token",
        "Dynatrace API token",
        r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}",
        _kw("dt0c01."),
        v.entropy_at_least(4.0),
    ),
    _token(
        "easypost-token",
        "EasyPost API key (production, test)",
        r"EZ[AT]K[A-Za-z0-9]{54}",
        _kw("ezak", "eztk"),
        v.mixed_alnum,
    ),
    _token(
        "facebook-page-token",
        "Facebook page / user access token",
        rf"EAA[MC][A-Za-z0-9]{{100,}}{_NOT_IN_BASE64}",
        _kw("eaam", "eaac"),
        v.entropy_at_least(4.0),
    ),
    _token(
        "figma-token",
        "Figma personal access token",
        r"figd_[A-Za-z0-9_-]{38,44}",
        _kw("figd_"),
        v.entropy_at_least(4.0),
    ),
    _token("flutterwave-secret-key", "Flutterwave secret key", r"FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X", _kw("flwseck")),
    _token(
        "flyio-token",
        "Fly.io access token",
        r"fo1_[\w-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3}",
        _kw("fo1_", "fm1", "fm2_"),
        v.entropy_at_least(4.0),
    ),
    _token("frameio-token", "Frame.io API token", r"fio-u-[A-Za-z0-9_=-]{64}", _kw("fio-u-"), v.entropy_at_least(3.5)),
    _token(
        "grafana-token",
        "Grafana service account token / Cloud token / API key",
        r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,3}|eyJrIjoi[A-Za-z0-9]{70,400}={0,3}",
        _kw("glsa_", "glc_", "eyjrijoi"),
        v.entropy_at_least(3.5),
    ),
    _token("groq-api-key", "Groq API key", r"gsk_[A-Za-z0-9]{52}", _kw("gsk_"), v.entropy_at_least(4.0)),
    _token(
        "harness-token",
        "Harness personal / service account token",
        r"(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}",
        _kw("pat.", "sat."),
        v.entropy_at_least(3.5),
    ),
    _token("infracost-token", "Infracost API token", r"ico-[A-Za-z0-9]{32}", _kw("ico-"), v.entropy_at_least(3.5)),
    _token(
        "intra42-client-secret",
        "42 Intra client secret",
        r"s-s4t2(?:ud|af)-[a-f0-9]{64}",
        _kw("s-s4t2"),
    ),
    _token(
        "maxmind-license-key",
        "MaxMind license key",
        r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk",
        _kw("_mmk"),
        v.entropy_at_least(4.0),
    ),
    _token(
        "octopus-deploy-api-key",
        "Octopus Deploy API key",
        r"API-[A-Z0-9]{26}",
        _kw("api-"),
        v.mixed_or_entropy(3.8),
    ),
    _token("openshift-token", "OpenShift user token", r"sha256~[\w-]{43}", _kw("sha256~"), v.entropy_at_least(3.5)),
    _token("perplexity-api-key", "Perplexity API key", r"pplx-[A-Za-z0-9]{48}", _kw("pplx-"), v.entropy_at_least(4.0)),
    _token(
        "planetscale-token",
        "PlanetScale service token / OAuth token / password",
        r"pscale_(?:tkn|oauth|pw)_[\w=.-]{32,64}",
        _kw("pscale_"),
        v.entropy_at_least(3.5),
    ),
    _token("prefect-api-key", "Prefect API key", r"pnu_[A-Za-z0-9]{36}", _kw("pnu_"), v.entropy_at_least(3.5)),
    _token("pulumi-access-token", "Pulumi access token", r"pul-[a-f0-9]{40}", _kw("pul-"), v.entropy_at_least(3.0)),
    _token("readme-api-key", "ReadMe API key", r"rdme_[a-z0-9]{70}", _kw("rdme_"), v.entropy_at_least(3.5)),
    _token("replicate-api-token", "Replicate API token", r"r8_[A-Za-z0-9]{37}", _kw("r8_"), v.entropy_at_least(4.0)),
    _token("rubygems-api-key", "RubyGems API key", r"rubygems_[a-f0-9]{48}", _kw("rubygems_"), v.entropy_at_least(3.0)),
    _token("scalingo-token", "Scalingo API token", r"tk-us-[\w-]{48}", _kw("tk-us-"), v.entropy_at_least(3.5)),
    _token(
        "sendinblue-api-key",
        "Brevo (Sendinblue) API / SMTP key",
        r"x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}",
        _kw("xkeysib-", "xsmtpsib-"),
    ),
    _token(
        "settlemint-token",
        "SettleMint access token",
        r"sm_(?:aat|pat|sat)_[A-Za-z0-9]{16}",
        _kw("sm_aat_", "sm_pat_", "sm_sat_"),
        v.entropy_at_least(3.0),
    ),
    _token("shippo-api-token", "Shippo API token", r"shippo_(?:live|test)_[a-fA-F0-9]{40}", _kw("shippo_")),
    _token(
        "sourcegraph-token",
        "Sourcegraph access token",
        r"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}",
        _kw("sgp_"),
        v.entropy_at_least(3.0),
    ),
    _token(
        "supabase-token",
        "Supabase personal access token / secret key",
        r"sbp_[a-f0-9]{40}|sb_secret_[A-Za-z0-9_-]{20,64}",
        _kw("sbp_", "sb_secret_"),
        v.entropy_at_least(3.0),
    ),
    _token(
        "twitter-bearer-token",
        "X (Twitter) app bearer token",
        rf"A{{22}}[A-Za-z0-9%]{{80,100}}{_NOT_IN_BASE64}",
        _kw("aaaaaaaaaa"),
        v.entropy_at_least(3.5),
    ),
    _token(
        "typeform-token",
        "Typeform personal access token",
        r"tfp_[A-Za-z0-9_.=-]{59}",
        _kw("tfp_"),
        v.entropy_at_least(3.5),
    ),
    _token(
        "yandex-api-key",
        "Yandex Cloud API key",
        rf"AQVN[A-Za-z0-9_-]{{35,38}}{_NOT_IN_BASE64}",
        _kw("aqvn"),
        v.entropy_at_least(3.5),
    ),
)

PAYMENTS: tuple[Detector, ...] = (
    Detector(
        "stripe-secret-key",
        SECRET,
        "Stripe live secret / restricted key",
        rf"{_START}(?:sk|rk)_live_[0-9A-Za-z]{{24,247}}{_END}",
        _kw("sk_live_", "rk_live_"),
    ),
    Detector(
        "stripe-test-key",
        SECRET,
        "Stripe test-mode secret key",
        rf"{_START}(?:sk|rk)_test_[0-9A-Za-z]{{24,247}}{_END}",
        _kw("sk_test_", "rk_test_"),
        confidence=LOW,
    ),
    Detector(
        "stripe-webhook-secret",
        SECRET,
        "Stripe webhook signing secret",
        rf"{_START}whsec_[A-Za-z0-9]{{32,}}{_END}",
        _kw("whsec_"),
    ),
    Detector(
        "square-token",
        SECRET,
        "Square access token / OAuth secret",
        rf"{_START}(?:sq0atp-[0-9A-Za-z_-]{{22}}|sq0csp-[0-9A-Za-z_-]{{43}}|EAAA[A-Za-z0-9_-]{{60}}){_END}",
        _kw("sq0atp-", "sq0csp-", "eaaa"),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "braintree-access-token",
        SECRET,
        "PayPal Braintree access token",
        r"access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}",
        _kw("access_token$"),
    ),
)

KEYS_AND_PASSWORDS: tuple[Detector, ...] = (
    Detector(
        "private-key",
        SECRET,
        "Private key (PEM / OpenSSH / PGP)",
        r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----[\s\S]{40,20000}?-----END \1-----",
        _kw("private key"),
        v.pem_private_key,
    ),
    Detector(
        "openssh-private-key-truncated",
        SECRET,
        "OpenSSH private key (header and body, no END line)",
        # An OpenSSH key's first body line is a fixed header (the same in every key of a type):
        # the value is it and the next line, random enough together. Apart from the generic
        # truncated rule, so that only texts holding an OpenSSH key pay for the longer match.
        r"-----BEGIN OPENSSH PRIVATE KEY-----\s*(?P<secret>b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/=]{40,}"
        r"(?:\s{1,2}|\\n)[A-Za-z0-9+/=]{16,})",
        _kw("openssh private key"),
        v.entropy_at_least(4.5),
        MEDIUM,
        trigger=r"BEGIN OPENSSH PRIVATE KEY",
    ),
    Detector(
        "private-key-truncated",
        SECRET,
        "Private key (header and body, no END line)",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----\s*(?:[A-Za-z-]+: [^\n]*\n\s*)*"
        r"[A-Za-z0-9+/=]{64,}",
        _kw("private key"),
        v.entropy_at_least(4.5),
        MEDIUM,
    ),
    Detector(
        "private-key-base64",
        SECRET,
        "Private key, base64-encoded PEM (kubeconfig client-key-data, Helm values, CI variables)",
        # base64 of "-----BEGIN " is "LS0tLS1CRUdJTi"; the validator decodes it and wants PRIVATE KEY.
        rf"{_START}LS0tLS1CRUdJTi[A-Za-z0-9+/]{{100,}}={{0,2}}(?![A-Za-z0-9+/=])",
        _kw("ls0tls1crudjti"),
        v.base64_private_key,
    ),
    Detector(
        "cli-password",
        SECRET,
        "Password on a command line (docker login -p, mysql -p…, curl -u user:pass, --password, sshpass -p,"
        " htpasswd -b, net user)",
        r"(?:\bdocker[ \t]+login\b[^\n|;&]{0,120}?[ \t](?:-p|--password)(?:=|[ \t]+)"
        r"|\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n|;&]{0,120}?[ \t]-p"
        r"|\bcurl\b[^\n|;&]{0,200}?[ \t](?:-u|--user)(?:=|[ \t]+)[\"']?[^\s:\"']{1,64}:"
        r"|\bredis-cli\b[^\n|;&]{0,120}?[ \t]-a[ \t]+"
        r"|\bsshpass\b[^\n|;&]{0,60}?[ \t]-p[ \t]*"
        # htpasswd -b[c] [FILE] USER PASSWORD (-nb: no file); net user NAME PASSWORD [/add]
        r"|\bhtpasswd\b[^\n|;&]{0,60}?[ \t]-[A-Za-z]*b[A-Za-z]*[ \t]+(?:[^\s-]\S*[ \t]+)?[^\s-]\S*[ \t]+"
        r"|\b(?i:net)[ \t]+(?i:user)[ \t]+[^\s/*]\S*[ \t]+"
        # Long options named for a secret (`--password`, `--db-password`, `--client-secret`,
        # `--secret-string`, `--api-key`, `--vault-token`; not `--password-stdin`, `--token-file`), a
        # value for a parameter named like one (`aws ssm put-parameter --name /prod/db/password
        # --value …`), `gh secret set NAME --body …`, `npm config set …:_authToken …`.
        r"|(?:(?m:^)|[ \t])--(?:[\w-]{0,20}[-_])?(?i:password|passwd|secret|secret-string|client-secret|api-key"
        r"|apikey|access-token|auth-token|token)(?:=|[ \t]+)"
        r"|[ \t]--name[= \t]+[^\s]*(?i:password|secret|token|api[_-]?key)[^\s]*[^\n]{0,80}?[ \t]--value(?:=|[ \t]+)"
        r"|\bgh[ \t]+secret[ \t]+set\b[^\n|;&]{0,80}?[ \t](?:-b|--body)(?:=|[ \t]+)"
        r"|\bnpm[ \t]+config[ \t]+set[ \t]+[^\s]*(?i:_authtoken|_password)[ \t=]+)"
        # A value never starts with "-" (`psql --password --host=…` prompts for it) or "/" (`net user
        # NAME /delete` is a switch).
        # A quoted JSON document is left to the rules that read its fields.
        r"(?:'([^'\n{][^'\n]{5,127})'|\"([^\"\n{][^\"\n]{5,127})\"|([^\s\"'`|;/{-][^\s\"'`|;]{5,127}))",
        _kw("docker", "mysql", "mariadb", "curl", "redis-cli", "--password", "sshpass", "htpasswd", "net"),
        v.generic_secret,  # a URL (`--value file://…`) is where a secret is, not one
        secret_group=FIRST_GROUP,
        trigger=r"(?i)\bdocker[ \t]+login\b|\bmysql|\bmariadb\b|\bcurl\b|\bredis-cli\b"
        r"|--[\w-]*(?:pass|secret|key|token)|--name[= \t]+[^\s]*(?:pass|secret|token|key)|\bgh[ \t]+secret\b"
        r"|\bsshpass\b|\bhtpasswd\b|\bnet[ \t]+user\b|\bnpm[ \t]+config\b",
    ),
    Detector(
        "putty-private-key",
        SECRET,
        "PuTTY private key (.ppk)",
        # The `Private-Lines: N` block of a version 2 or 3 key file (the public lines are public).
        r"PuTTY-User-Key-File-[23]:[^\n]*\n(?:[^\n]*\n){0,40}?Private-Lines:[ \t]*\d+[ \t]*\r?\n"
        r"(?P<secret>[A-Za-z0-9+/=]{16,}(?:\r?\n[A-Za-z0-9+/=]{4,}(?![^\r\n]))*)",
        _kw("putty-user-key-file-"),
        v.entropy_at_least(4.0),
    ),
    Detector(
        "netrc-password",
        SECRET,
        "Password in a .netrc / _netrc file (machine … login … password …)",
        # One line or one token a line; `login`/`account` in any order before the password.
        r"\bmachine[ \t]+[^\s]+(?:\s+(?:login|account)[ \t]+[^\s]+){0,2}\s+password[ \t]+(?P<secret>[^\s]+)",
        _kw("machine"),
        v.password_like,
    ),
    Detector(
        "docker-config-auth",
        SECRET,
        'Registry credentials in a Docker config.json (`"auth": base64 of user:password`)',
        r"\"auth\"\s*:\s*\"(?P<secret>[A-Za-z0-9+/]{8,}={0,2})\"",
        _kw('"auth"'),
        v.basic_auth,
    ),
    Detector(
        "jwt",
        SECRET,
        "JSON Web Token",
        rf"{_START}eyJ[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{16,}}{_END}",
        _kw("eyj"),
        v.jwt,
        MEDIUM,
    ),
    Detector(
        "basic-auth-header",
        SECRET,
        "HTTP Basic authorization credentials",
        r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:basic)\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
        _kw("basic"),
        v.basic_auth,
    ),
    Detector(
        "bearer-token",
        SECRET,
        "Bearer token in an Authorization header",
        r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:bearer)\s+(?P<secret>[A-Za-z0-9._~+/-]{20,}=*)",
        _kw("bearer"),
        v.password_like,
        MEDIUM,
    ),
    Detector(
        "database-connection-string",
        SECRET,
        "Database connection string with password",
        r"(?i:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|oracle|"
        r"cockroachdb|clickhouse|neo4j(?:\+s)?|jdbc:[a-z]+)://[^\s:/@]{0,64}:(?P<secret>[^\s@/]{3,128})@"
        r"[\w.-]+",
        _kw("://"),
        trigger=r"://[^\s:/@]*:[^\s@/]+@",
    ),
    Detector(
        "password-in-url",
        SECRET,
        "Password in a URL",
        r"(?i:https?|ftps?|sftp|ssh|smtps?|imaps?|ldaps?)://[^\s:/@]{0,64}:(?P<secret>[^\s@/]{3,128})@[\w.-]+",
        _kw("://"),
        trigger=r"://[^\s:/@]*:[^\s@/]+@",
    ),
    Detector(
        "password-in-query",
        SECRET,
        "Password or secret in a URL's query string",
        # `jdbc:mysql://db/app?user=root&password=…&useSSL=false`: a parameter ends at `&`, where the
        # generic rule (a password may hold `&`) would read on into the next parameter.
        r"[?&](?i:password|passwd|pwd|pass|secret|client_secret|api_?key|access_token|auth_token)="
        r"(?P<secret>[^\s&;#\"'`<>]{8,})",
        _kw("pass", "pwd", "secret", "key", "token"),
        v.generic_secret,
        MEDIUM,
        trigger=r"[?&](?i:pass|pwd|secret|client_secret|api_?key|access_token|auth_token)",
    ),
    Detector(
        "generic-secret-assignment",
        SECRET,
        "Password or secret assigned in code or config",
        # No look-around: the pattern runs on RE2 as it is (the value class stops at a delimiter).
        # Names as code writes them and as people type them ("Auth Token:", "admin pw:"),
        # subscripts (`os.environ["DB_PASSWORD"] =`, `config[:password] =`), setters with the name
        # quoted, XML elements and attributes, the short label `pass` (see _QUOTED_OR_XML and
        # _SHORT_LABEL), and "the wifi password for the office is …" (a few words between a
        # password and its value); labels in Slack's bold, italics or strike-through (_MARK_BEFORE/AFTER).
        rf"(?:{_GENERIC_NAMES}[\w.-]{{0,20}}{_MARK_BEFORE}"
        rf"(?:[\"']?\]?(?:[ \t]*(?:[:=]|:=|=>){_MARK_AFTER}|[ \t]+{_IS_WORDS})|{_QUOTED_OR_XML})"
        rf"|{_SHORT_LABEL}"
        # A few words between the name and "is" or a colon: "the password for the office is …",
        # "Password for prod db: …", "Passwort für den Server: …", "API key for staging = …".
        # Words, not options (`--value`), and a colon before a space, not a URL's (`file://…`).
        r"|(?i:password|passwd|passwort|kennwort|\bpw|secret|api[_ -]?key)\b"
        r"(?:[ \t]+[\w'.\xc0-\xff][\w'./\xc0-\xff-]*){1,4}?(?:[ \t]+(?i:is|was|ist|war)\b[ \t]*:?|[ \t]*[:=][ \t]))"
        r"[ \t]*[\"'`]?"
        # A value in Slack's bold or strike-through (`*…*`, `~…~`) is the value without the markers.
        r"[*~]?(?P<secret>[^\s\"'`,;()<>]{7,}[^\s\"'`,;()<>*~])",
        _GENERIC_KEYWORDS,
        v.generic_secret,
        MEDIUM,
        allowlists=(IDENTIFIER_ALLOWLIST, NAME_LIST_ALLOWLIST),
        generic=True,
    ),
    Detector(
        "token-assignment",
        SECRET,
        "Token assigned under a name of its own (TWITCH_TOKEN=, bot_token:)",
        # `NAME_TOKEN = value` where no more specific rule knows the token's format. A rule of its own,
        # matched from the separator before "token" (a name before it, in the generic rule or here,
        # made every dense text a tenth slower); the names that identify rather than hold a token
        # (`csrf_token`, `next_page_token`, `token_id`) are allowlisted on the line.
        r"[_-](?i:token)[\"']?\]?[ \t]*(?:[:=]|:=|=>)[ \t]*[\"'`]?(?P<secret>[^\s\"'`,;()<>]{8,})",
        _kw("token"),
        v.generic_secret,
        MEDIUM,
        allowlists=(TOKEN_IDENTIFIER_ALLOWLIST,),
        trigger=r"(?i)[_-]token[\"']?\]?[ \t]*(?:[:=]|=>)",
        generic=True,
    ),
    Detector(
        "secret-in-env-list",
        SECRET,
        "Secret in an environment list (Kubernetes, ECS, Compose: a name, then its value)",
        # `- name: DB_PASSWORD` then `value: …` on the next line; `{"name": "DB_PASSWORD", "value": "…"}`.
        # A rule of its own, gated on `value:`: as a shape of the generic rule it made that rule's
        # program slower on every text (and a gate with counted repetitions slows the gate's).
        rf"(?i:name)[\"']?[ \t]*:[ \t]*[\"']?[\w.-]{{0,30}}?{_GENERIC_NAMES}[\w.-]{{0,20}}[\"']?[ \t]*(?:,|\r?\n)"
        r"[ \t]*[\"']?(?i:value)[\"']?[ \t]*:[ \t]*[\"'`]?(?P<secret>[^\s\"'`,;()<>]{8,})",
        _kw("name"),
        v.generic_secret,
        MEDIUM,
        allowlists=(IDENTIFIER_ALLOWLIST,),
        trigger=r"(?i)\bvalue[\"']?[ \t]*:",
        generic=True,
    ),
    Detector(
        "generic-secret-assignment-non-latin",
        SECRET,
        "Password under a label in another script (пароль, パスワード, 密码, hasło…)",
        # A label, a colon (also the full-width one of Chinese and Japanese) or "=", and a value of
        # printable ASCII (what keyboards type for a password; the script's own text ends it).
        # On RE2 over the text as it is (UTF-8, Unicode case folding), and run only on texts that
        # hold a label: the Latin-1 locators cannot see these scripts.
        rf"(?i:{'|'.join(NON_LATIN_PASSWORD_LABELS)})[\w.-]{{0,12}}[ \t\x{{3000}}]*(?:[:=\x{{ff1a}}]|:=)"
        r"[ \t\x{3000}]*[\"'`\x{300c}\x{201c}]?(?P<secret>[!#-&*+\-./0-9:=?-Z\[\]^_a-z{|}~]{8,})",
        _kw(*NON_LATIN_PASSWORD_LABELS),
        v.generic_secret,
        MEDIUM,
        engine="re2",
        # The batch gate sees these scripts as NUL (see fastre2.as_latin1): two in a row, or the
        # one letter of "hasło" and "şifre" beyond Latin-1; texts are then checked for a label.
        trigger=r"\x00\x00|(?i:has)\x00o|\x00(?i:ifre)",
        generic=True,
    ),
)

FINANCIAL_DATA: tuple[Detector, ...] = (
    Detector(
        "iban",
        FINANCIAL,
        "International Bank Account Number",
        # Capitals as banks print it; any case after the word IBAN (`iban nl91abna0417164300`).
        r"(?<![A-Za-z0-9])(?:[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}"
        r"|(?i:iban)[ \t]*[:=#]?[ \t]*(?P<secret>[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}))(?![A-Za-z0-9])",
        (),
        v.iban,
        context_up=_kw("iban", "bank", "wire", "transfer", "account"),
        trigger=r"\b[A-Z]{2}\d\d ?[A-Z0-9]{4} ?\d{4}|(?i:iban)[ \t:=#]*[A-Za-z]{2}\d\d",
    ),
    Detector(
        "payment-card",
        FINANCIAL,
        "Payment card number",
        # 13-19 digits, a space or dash between any two; the first digit is one an issuer's range
        # can start with, so epoch timestamps and most order ids never reach the validator.
        # A slash ends no card: "… 1212 08/28" is a number then its expiry, not 18 digits. Dots
        # separate only the issuers' 4-4-4-4 grouping (other dotted digits are versions, amounts).
        # A number that starts after a group of four digits is the tail of a longer one (USPS tracking).
        rf"(?<![A-Za-z0-9.-])(?<!\d{{4}}[ -])(?:[{v.CARD_FIRST_DIGITS}](?:[ -]?\d){{12,18}}"
        rf"|[{v.CARD_FIRST_DIGITS}]\d{{3}}\.\d{{4}}\.\d{{4}}\.\d{{4}})(?![A-Za-z0-9/-]|\.\d)",
        (),
        v.payment_card,
        MEDIUM,
        context_up=_kw(
            "card", "visa", "mastercard", "amex", "credit", "debit", "cvv", "cvc", "exp", "payment", "billing"
        ),
        context_down=_kw("order", "invoice", "tracking", "ticket", "build", "version", "phone", "account id"),
        # Any grouping: 4-4-4-4, Amex 4-6-5, Diners 4-6-4. Any first digit: in the gate's DFA, a
        # first digit among others would make it track every start in a run of digits (slower).
        trigger=r"\d(?:[ -]?\d){12}|\d{4}\.\d{4}\.\d{4}\.\d",
    ),
    Detector(
        "us-bank-routing-number",
        FINANCIAL,
        "US bank routing (ABA) number",
        r"\b(?i:routing|aba|rtn|transit)[\w #:.-]{0,20}?(?P<secret>(?<!\d)\d{9}(?!\d))",
        _kw("routing", "aba", "rtn", "transit"),
        v.aba_routing,
        MEDIUM,
        trigger=r"(?i)\b(?:routing|aba|rtn|transit)\b",
    ),
)

PERSONAL_DATA: tuple[Detector, ...] = (
    Detector(
        "us-ssn",
        PERSONAL,
        "US Social Security number",
        r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])",
        (),
        v.us_ssn,
        MEDIUM,
        context_up=_kw("ssn", "social security", "ss#"),
        context_down=_kw("phone", "tel", "fax", "call"),
        trigger=r"\d\d\d[- ]\d\d[- ]\d\d\d\d",
    ),
    Detector(
        "us-ssn-unformatted",
        PERSONAL,
        "US Social Security number (digits only or dotted, named as such)",
        # `SSN 536.22.8794`: dots only under the name (alone, dotted digits are versions and IPs).
        # Between the name and the number, Slack's formatting and quotes too (`*SSN:* …`, `` `…` ``).
        r"\b(?i:ssn|social security(?: number| no\.?| #)?|ss#)[\w #:.*~`=\"'-]{0,20}?"
        r"(?P<secret>(?<![\d.])(?:\d{9}|\d{3}\.\d{2}\.\d{4})(?![\d.]))",
        _kw("ssn", "social security", "ss#"),
        v.us_ssn,
        HIGH,
        trigger=r"(?i)(?:ssn|social security|ss#)",
    ),
    Detector(
        "us-itin",
        PERSONAL,
        "US Individual Taxpayer Identification Number",
        r"(?<![\d-])9\d{2}[- ]\d{2}[- ]\d{4}(?![\d-])",
        (),
        v.us_itin,
        MEDIUM,
        context_up=_kw("itin", "taxpayer", "tax id"),
        context_down=_kw("phone", "tel", "fax", "call"),
        trigger=r"9\d\d[- ]\d\d[- ]\d\d\d\d",
    ),
    Detector(
        "uk-national-insurance-number",
        PERSONAL,
        "UK National Insurance number",
        r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])",
        (),
        v.uk_nino,
        MEDIUM,
        context_up=_kw("national insurance", "nino", "ni number", "ni no"),
        trigger=r"[A-Z]{2} ?\d\d ?\d\d ?\d\d ?[A-D]",
    ),
    Detector(
        "canada-sin",
        PERSONAL,
        "Canadian Social Insurance Number",
        r"\b(?i:sin|social insurance)[\w #:.-]{0,20}?(?P<secret>(?<!\d)\d{3}[- ]?\d{3}[- ]?\d{3}(?!\d))",
        _kw("sin", "social insurance"),
        v.canada_sin,
        MEDIUM,
        trigger=r"(?i)\b(?:sin|social insurance)\b",
    ),
    Detector(
        "email-address",
        PERSONAL,
        "Email address",
        r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])",
        _kw("@"),
        confidence=LOW,
        enabled_by_default=False,
    ),
    Detector(
        "phone-number",
        PERSONAL,
        "Phone number",
        r"(?<![\w+])\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}(?!\w)",
        (),
        confidence=LOW,
        enabled_by_default=False,
        trigger=r"\d{3}[ .-]?\d{3,4}[ .-]?\d{3,4}",
    ),
)

BUILTIN_DETECTORS: tuple[Detector, ...] = (
    *CLOUD,
    *CODE_HOSTING,
    *CHAT_AND_SAAS,
    *PROVIDER_TOKENS,
    *PAYMENTS,
    *KEYS_AND_PASSWORDS,
    *FINANCIAL_DATA,
    *PERSONAL_DATA,
)
