"""What looks like a secret but is not: documented examples, placeholders, references.

An alert channel full of ``xoxb-your-token`` gets muted within a week, so every detector's
candidates pass through these checks before they become findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: Values published in vendor documentation and test suites.
KNOWN_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "ASIAIOSFODNN7EXAMPLE",
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        # Card networks' and payment processors' public test numbers.
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4000056655665556",
        "5555555555554444",
        "5105105105105100",
        "5200828282828210",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "6011000990139424",
        "3530111333300000",
        "3566002020360505",
        "30569309025904",
        "38520000023237",
        "6200000000000005",
        # IBAN registry examples.
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
    }
)

_FILLER_WORDS = "example|placeholder|dummy|redacted|changeme|change_me|sample|foobar|notreal|not_a_real|replace_?me"
_WEAK_VALUES = (
    "password|passwd|pass|pwd|secret|user|username|token|apikey|api_key|key|value|string|null|none|nil|true|false"
    "|undefined|hunter2|letmein|admin|root|test|testing"
)
_PLACEHOLDER_ALTERNATIVES = (
    r"(?-i:X{5,}|x{5,})",  # XXXXX / xxxxx masks
    r"\*{3,}|•{3,}|\.\.\.|…",  # other masks and ellipses
    r"your[_-]?(?:own[_-]?)?(?:token|key|secret|password|api|pass|app|bot|user|id)",
    rf"(?:^|[^a-z0-9])(?:{_FILLER_WORDS})",  # a filler word at a token boundary…
    rf"(?:{_FILLER_WORDS})(?:[^a-z0-9]|$)",  # …on either side
    r"<[^>]{1,40}>|[$#]\{[^}]*\}|\{\{[^}]*\}\}|%\([a-z_]+\)s",  # template syntax (`#{…}`: Spring EL, Ruby)
    r"^\$[a-z_][a-z0-9_]*$",  # a shell variable
    rf"^(?:{_WEAK_VALUES})\d{{0,3}}$",  # a word that names the value instead of being it
)
_REFERENCE_ALTERNATIVES = (
    r"os\.environ|os\.getenv|getenv\(|process\.env|env\[|env\.|environ\[",
    r"secrets\.[a-z_]|ssm:|vault:|\{\{\s*secrets|system\.getenv|config\[|settings\.",
    r"^\$\(?|^%[a-z_]+%$",
    # Where the secret is kept, named instead of it ("the password is 1Password", "pwd: Bitwarden").
    r"^(?:1password|lastpass|bitwarden|vaultwarden|keepass(?:xc)?|dashlane|keychain|nordpass|passbolt)\.?$",
)


class _Alternation:
    """Case-insensitive alternation on RE2: one C call per value, linear even over a long PEM block."""

    def __init__(self, alternatives: tuple[str, ...]) -> None:
        pattern = "(?i)(?:" + "|".join(alternatives) + ")"
        try:
            from slack_dlp.detect.fastre2 import Re2Pattern

            self.compiled: Any = Re2Pattern(pattern)
        except ImportError:  # pragma: no cover - re2 is a pinned dependency
            self.compiled = re.compile(pattern)

    def search(self, value: str) -> bool:
        return bool(self.compiled.search(value))


def _compile(alternatives: tuple[str, ...]) -> _Alternation:
    return _Alternation(alternatives)


_PLACEHOLDER = _compile(_PLACEHOLDER_ALTERNATIVES)
_ENV_REFERENCE = _compile(_REFERENCE_ALTERNATIVES)

_SEQUENCES = ("0123456789", "1234567890", "abcdefghij", "qwertyuiop")
#: Longest value that can be a known example with separators (one between every two characters).
_LONGEST_GROUPED = 2 * max(map(len, KNOWN_EXAMPLES))


_SEPARATORS = re.compile(r"[\s-]")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_ALNUM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_HEAD = 48


def is_known_example(value: str) -> bool:
    return value in KNOWN_EXAMPLES or _SEPARATORS.sub("", value) in KNOWN_EXAMPLES


def looks_like_placeholder(value: str) -> bool:
    """Template syntax, masks, obvious filler, or a value built from one repeated character."""
    if _PLACEHOLDER.search(value):
        return True
    core = _NOT_ALNUM.sub("", value)
    if core and len(set(core.lower())) <= 2:
        return True
    lowered = core.lower()
    return any(seq in lowered for seq in _SEQUENCES) and len(set(lowered)) < 12


def is_reference(value: str) -> bool:
    """Code that reads a secret from somewhere instead of containing it."""
    return bool(_ENV_REFERENCE.search(value))


_BENIGN = _compile(_PLACEHOLDER_ALTERNATIVES + _REFERENCE_ALTERNATIVES)
#: Its compiled pattern's own search (one Python call per value, not two).
_BENIGN_SEARCH = _BENIGN.compiled.search


def is_benign(value: str) -> bool:
    """A documented example, a placeholder or a reference (one RE2 call for the patterns of both)."""
    if value in KNOWN_EXAMPLES or _BENIGN_SEARCH(value):
        return True
    # Distinct letters and digits matter only below 12: a head that already has 12 decides it without
    # lowercasing and hashing a long value (a private key) character by character.
    distinct = len(_ALNUM_CHARS.intersection(value[:_HEAD].lower()))
    if distinct < 12 and len(value) > _HEAD:
        distinct = len(_ALNUM_CHARS.intersection(value.lower()))
    if 0 < distinct <= 2:
        return True
    if distinct < 12:
        core = _NOT_ALNUM.sub("", value).lower()
        if any(seq in core for seq in _SEQUENCES):
            return True
    # Grouped examples ("4111 1111 1111 1111"): at most one separator between characters.
    return (
        len(value) <= _LONGEST_GROUPED
        and (" " in value or "-" in value)
        and _SEPARATORS.sub("", value) in KNOWN_EXAMPLES
    )


class AllowlistError(ValueError):
    """An allowlist definition is unusable; raised at load time."""


_TARGETS = ("secret", "match", "line")


def _re2_or(patterns: tuple[str, ...], *, literal: bool = False) -> Any:
    """One RE2 program for a list of regexes (or, with ``literal``, of case-insensitive words).

    Stopwords become one automaton this way, not one regex each: the upstream gitleaks
    configuration has over a thousand of them.
    """
    if not patterns:
        return None
    import re2

    from slack_dlp.detect.fastre2 import Re2Pattern

    if literal:
        # Sorted, so RE2 factors shared prefixes into a trie: unsorted, its DFA grows a state per
        # word combination and a fresh value cost 25-160 µs against 3 µs (1,446 upstream stopwords).
        source = "(?i)(?:" + "|".join(re.escape(p) for p in sorted(patterns)) + ")"
    else:
        source = "|".join(f"(?:{p})" for p in patterns)
    try:
        return Re2Pattern(source)
    except re2.error as error:
        raise AllowlistError(f"allowlist regex does not compile: {error}") from None


@dataclass(frozen=True)
class RuleAllowlist:
    """gitleaks' allowlist semantics, for rules and configurations alike.

    ``regexes`` are tested against the secret, the whole match or the whole line
    (``regex_target``); ``stopwords`` are looked for (case-insensitive substrings) in the secret;
    ``paths`` against the name of the file being scanned (never true for a chat message).
    ``condition`` OR: any check that is present allows the finding; AND: every present check must.
    ``commits`` never hold in chat, so an AND allowlist with commits never allows anything.
    """

    regexes: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    regex_target: str = "secret"
    condition: str = "OR"
    commits: tuple[str, ...] = ()
    description: str = ""
    _regex: Any = field(init=False, repr=False, compare=False)
    _stopwords: Any = field(init=False, repr=False, compare=False)
    _paths: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.regex_target not in _TARGETS:
            raise AllowlistError(f"regexTarget must be one of {', '.join(_TARGETS)}, not {self.regex_target!r}")
        if self.condition not in ("OR", "AND"):
            raise AllowlistError(f"condition must be OR or AND, not {self.condition!r}")
        if not (self.regexes or self.stopwords or self.paths or self.commits):
            raise AllowlistError("an allowlist needs at least one of regexes, stopwords, paths, commits")
        object.__setattr__(self, "_regex", _re2_or(self.regexes))
        object.__setattr__(self, "_stopwords", _re2_or(tuple({w.lower() for w in self.stopwords}), literal=True))
        object.__setattr__(self, "_paths", _re2_or(self.paths))

    @property
    def applies_to_content(self) -> bool:
        """False for allowlists that only name commits or paths (nothing to test in a finding)."""
        return bool(self.regexes or self.stopwords) or self.condition == "AND"

    def allows_path(self, path: str) -> bool:
        """True when every finding in the file ``path`` is allowed (OR allowlists with paths)."""
        return self.condition == "OR" and bool(path) and self._paths is not None and self._paths.search(path)

    def allows(self, secret: str, match: str, line: str, path: str = "") -> bool:
        target = {"secret": secret, "match": match, "line": line}[self.regex_target]
        regex_hit = self._regex is not None and bool(target) and self._regex.search(target)
        stopword_hit = self._stopwords is not None and bool(secret) and self._stopwords.search(secret)
        if self.condition == "OR":
            return regex_hit or stopword_hit or self.allows_path(path)
        checks = []
        if self.commits:
            checks.append(False)  # chat has no commits
        if self.paths:
            checks.append(bool(path) and self._paths.search(path))
        if self.regexes:
            checks.append(regex_hit)
        if self.stopwords:
            checks.append(stopword_hit)
        return all(checks)


class MergedAllowlists:
    """A rule's allowlists as few checks: ``any(a.allows(...) for a in allowlists)`` with one RE2
    program per target.

    An OR allowlist allows a finding when its regexes hit its target, a stopword is in the secret
    or its paths match the file, so the OR allowlists together allow it when the union of their
    secret regexes hits the secret, of their stopwords the secret, of their match regexes the
    match, of their line regexes the line, or of their paths the file name: up to five RE2 calls
    whatever the number of allowlists (the upstream gitleaks configuration gives its generic rule
    five allowlists, seven programs). AND allowlists keep their own check.
    """

    __slots__ = ("_and", "_line", "_match", "_paths", "_secret", "_stopwords", "needs_line", "needs_match")

    def __init__(self, allowlists: tuple[RuleAllowlist, ...]) -> None:
        ors = [a for a in allowlists if a.condition == "OR"]
        regexes: dict[str, list[str]] = {target: [] for target in _TARGETS}
        for allowlist in ors:
            regexes[allowlist.regex_target].extend(allowlist.regexes)
        # Stopwords keep their own automaton: in one program with the secret regexes, fresh values
        # cost 9-10 µs against 1.5 + 4 (the DFA's states multiply).
        self._stopwords = _re2_or(tuple({w.lower() for a in ors for w in a.stopwords}), literal=True)
        self._secret = _re2_or(tuple(regexes["secret"]))
        self._match = _re2_or(tuple(regexes["match"]))
        self._line = _re2_or(tuple(regexes["line"]))
        self._paths = _re2_or(tuple(p for a in ors for p in a.paths))
        self._and = tuple(a for a in allowlists if a.condition == "AND")
        self.needs_match = self._match is not None or bool(self._and)
        self.needs_line = self._line is not None or bool(self._and)

    def allows(self, secret: str, match: str, line: str, path: str = "") -> bool:
        """``match``/``line`` are only read when ``needs_match``/``needs_line``."""
        if secret and (
            (self._secret is not None and self._secret.search(secret))
            or (self._stopwords is not None and self._stopwords.search(secret))
        ):
            return True
        if match and self._match is not None and self._match.search(match):
            return True
        if line and self._line is not None and self._line.search(line):
            return True
        if path and self._paths is not None and self._paths.search(path):
            return True
        return any(a.allows(secret, match, line, path) for a in self._and)
