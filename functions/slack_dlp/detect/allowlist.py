"""What looks like a secret but is not: documented examples, placeholders, references.

An alert channel full of ``xoxb-your-token`` gets muted within a week, so every detector's
candidates pass through these checks before they become findings.
"""

from __future__ import annotations

import re
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
    r"<[^>]{1,40}>|\$\{[^}]*\}|\{\{[^}]*\}\}|%\([a-z_]+\)s",  # template syntax
    r"^\$[a-z_][a-z0-9_]*$",  # a shell variable
    rf"^(?:{_WEAK_VALUES})\d{{0,3}}$",  # a word that names the value instead of being it
)
_REFERENCE_ALTERNATIVES = (
    r"os\.environ|os\.getenv|getenv\(|process\.env|env\[|env\.|environ\[",
    r"secrets\.[a-z_]|ssm:|vault:|\{\{\s*secrets|system\.getenv|config\[|settings\.",
    r"^\$\(?|^%[a-z_]+%$",
)


def _compile(alternatives: tuple[str, ...]) -> Any:
    """Case-insensitive alternation, on RE2 where available: one linear pass even over a long PEM block."""
    pattern = "(?i)(?:" + "|".join(alternatives) + ")"
    try:
        import re2

        return re2.compile(pattern)
    except ImportError:  # pragma: no cover - re2 is a pinned dependency
        return re.compile(pattern)


_PLACEHOLDER = _compile(_PLACEHOLDER_ALTERNATIVES)
_ENV_REFERENCE = _compile(_REFERENCE_ALTERNATIVES)

_SEQUENCES = ("0123456789", "1234567890", "abcdefghij", "qwertyuiop")


def is_known_example(value: str) -> bool:
    return value in KNOWN_EXAMPLES or re.sub(r"[\s-]", "", value) in KNOWN_EXAMPLES


def looks_like_placeholder(value: str) -> bool:
    """Template syntax, masks, obvious filler, or a value built from one repeated character."""
    if _PLACEHOLDER.search(value):
        return True
    core = re.sub(r"[^A-Za-z0-9]", "", value)
    if core and len(set(core.lower())) <= 2:
        return True
    lowered = core.lower()
    return any(seq in lowered for seq in _SEQUENCES) and len(set(lowered)) < 12


def is_reference(value: str) -> bool:
    """Code that reads a secret from somewhere instead of containing it."""
    return bool(_ENV_REFERENCE.search(value))


def is_benign(value: str) -> bool:
    return is_known_example(value) or looks_like_placeholder(value) or is_reference(value)
