"""Checks that turn a pattern match into a finding: checksums, structure, randomness.

Each validator takes the matched value and returns True when it is plausibly real. They are
pure functions so detectors can be declared as data and tested from tables.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import operator
import re
from collections import Counter
from collections.abc import Callable
from itertools import pairwise

from slack_dlp.detect.allowlist import is_known_example

Validator = Callable[[str], bool]

_NON_DIGITS = re.compile(r"\D")
_DIGIT = re.compile(r"\d")


def digits_of(value: str) -> str:
    return _NON_DIGITS.sub("", value)


_DOUBLED = str.maketrans("0123456789", "0246813579")  # each digit doubled, digits of the result summed


def luhn(value: str) -> bool:
    return _luhn_digits(digits_of(value))


def _luhn_digits(digits: str) -> bool:
    if len(digits) < 2:
        return False
    # From the right: digits in odd positions count as they are, the others doubled.
    kept, doubled = digits[::-1][0::2], digits[::-1][1::2].translate(_DOUBLED)
    if digits.isascii():  # ASCII digits: their sum is the sum of their bytes less 48 each (in C)
        return (sum(kept.encode()) + sum(doubled.encode()) - 48 * len(digits)) % 10 == 0
    return (sum(map(int, kept)) + sum(map(int, doubled))) % 10 == 0


# (issuer, lengths, prefix ranges as (low, high) over the first len(str(low)) digits)
_CARD_ISSUERS: tuple[tuple[str, tuple[int, ...], tuple[tuple[int, int], ...]], ...] = (
    ("visa", (13, 16, 19), ((4, 4),)),
    ("mastercard", (16,), ((51, 55), (2221, 2720))),
    ("amex", (15,), ((34, 34), (37, 37))),
    ("discover", (16, 19), ((6011, 6011), (644, 649), (65, 65), (622126, 622925))),
    ("jcb", (16, 17, 18, 19), ((3528, 3589),)),
    ("diners", (14, 16, 19), ((300, 305), (36, 36), (38, 39))),
    ("unionpay", (16, 17, 18, 19), ((62, 62),)),
    # Maestro (UK 6759, 6761-6763; 5018, 5020, 5038, 5893, 6304) at the lengths it issues.
    (
        "maestro",
        (16, 18, 19),
        ((5018, 5018), (5020, 5020), (5038, 5038), (5893, 5893), (6304, 6304), (6759, 6759), (6761, 6763)),
    ),
)


def card_issuer(value: str) -> str | None:
    """The card network whose number ranges and lengths ``value`` fits, or None."""
    digits = value if value.isdigit() else digits_of(value)
    if digits[:1] not in _ISSUER_FIRST_DIGITS:
        return None
    for issuer, lengths, ranges in _ISSUER_WIDTHS:
        if len(digits) not in lengths:
            continue
        for width, low, high in ranges:
            if low <= int(digits[:width]) <= high:
                return issuer
    return None


#: _CARD_ISSUERS with each range's width (its digits to compare) worked out once.
_ISSUER_WIDTHS = tuple(
    (issuer, lengths, tuple((len(str(low)), low, high) for low, high in ranges))
    for issuer, lengths, ranges in _CARD_ISSUERS
)
_ISSUER_FIRST_DIGITS = frozenset({str(low)[0] for _, _, ranges in _CARD_ISSUERS for low, _ in ranges})
#: The digits a card number can start with ("23456"), for patterns to pass over other digit runs.
CARD_FIRST_DIGITS = "".join(sorted(_ISSUER_FIRST_DIGITS))


def _progressions(length: int) -> frozenset[str]:
    """Every run of ``length`` digits that steps by a constant (mod 10): 1111…, 1234…, 9753…."""
    return frozenset(
        "".join(str((first + step * i) % 10) for i in range(length)) for first in range(10) for step in range(10)
    )


_PROGRESSIONS = {length: _progressions(length) for length in range(12, 19)}


def _all_same_or_sequential(digits: str) -> bool:
    runs = _PROGRESSIONS.get(len(digits))
    if runs is not None:
        return digits in runs
    if len(set(digits)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(digits)}
    return len(steps) == 1


def payment_card(value: str) -> bool:
    """A card number, or one followed by its security code (``4539 1488 0343 6467 331``: the pattern
    reads 19 digits; the number is the digits before the last group of 3 or 4)."""
    digits = digits_of(value)
    if _card_number(digits):
        return True
    code = _SECURITY_CODE.search(value)
    if code is None:
        return False
    head = digits[: -len(code.group(1))]
    return _card_number(head) and not is_known_example(head)


def _card_number(digits: str) -> bool:
    # The issuer's ranges first: most digit runs that are no card (timestamps, ids) fail there, cheaply.
    return card_issuer(digits) is not None and _luhn_digits(digits) and not _all_same_or_sequential(digits[:-1])


#: A last group of 3 or 4 digits after a separator: a CVV/CVC (4 for an Amex CID) typed after the number.
_SECURITY_CODE = re.compile(r"\d[ -](\d{3,4})$")


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``; random base64 is ~6, English words ~3.5."""
    if not value:
        return 0.0
    length = len(value)
    if length <= _SHORT:
        return _short_entropy(value, set(value))
    counts = list(Counter(value).values())
    return math.log2(length) - math.fsum(map(operator.mul, counts, map(math.log2, counts))) / length


def _short_entropy(value: str, distinct: set[str]) -> float:
    """``shannon_entropy`` of a value of at most _SHORT characters given its distinct characters
    (c * log2(c) from a table: the same floats, one lookup each)."""
    return math.log2(len(value)) - math.fsum(map(_C_LOG2_C.__getitem__, map(value.count, distinct))) / len(value)


_SHORT = 256
_C_LOG2_C = [0.0, *(operator.mul(c, math.log2(c)) for c in range(1, _SHORT + 1))]
_LOG2 = [0.0, *map(math.log2, range(1, _SHORT + 1))]
#: A bound decides only when it clears the threshold by more than ``shannon_entropy`` can be off
#: by rounding (its sums are exact to ~1e-15), so the answer is always the computed one's.
_BOUND_MARGIN = 1e-9


def entropy_reaches(value: str, bits: float, *, strictly: bool = False) -> bool:
    """``shannon_entropy(value) >= bits`` (``> bits`` when ``strictly``), mostly without counting.

    k distinct characters in n bound the entropy: at most log2(k) (all equally often), at least
    the entropy of the most uneven spread (one character n-k+1 times, each other once). Random
    tokens clear the floor from the lower bound and placeholders fail it from the upper one; only
    values between the bounds (and long ones, whose bounds are loose) have their characters counted.
    """
    length = len(value)
    if length > _SHORT or not length:
        entropy = shannon_entropy(value)
        return entropy > bits if strictly else entropy >= bits
    distinct = set(value)
    if _LOG2[len(distinct)] < bits - _BOUND_MARGIN:
        return False
    rest = length - len(distinct) + 1
    if _LOG2[length] - _C_LOG2_C[rest] / length > bits + _BOUND_MARGIN:
        return True
    entropy = _short_entropy(value, distinct)
    return entropy > bits if strictly else entropy >= bits


def entropy_at_least(bits: float) -> Validator:
    def check(value: str) -> bool:
        return entropy_reaches(value, bits)

    check.__name__ = f"entropy_at_least_{bits}"
    return check


def mixed_alnum(value: str) -> bool:
    """Random tokens mix letters and digits; words and numbers alone do not."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha


def mixed_or_entropy(bits: float) -> Validator:
    """``mixed_alnum``, or at least ``bits`` of entropy without a digit (a short random token of
    letters only: 20 random letters have ~4 bits a character, English words ~3.5)."""

    def check(value: str) -> bool:
        return mixed_alnum(value) or entropy_reaches(value, bits)

    check.__name__ = f"mixed_or_entropy_{bits}"
    return check


#: ``mixed_alnum``, or random enough without a digit (a 32-character secret of letters only).
token_like = mixed_or_entropy(4.0)


def jwt(value: str) -> bool:
    """Header and payload are base64url JSON objects and the header names an algorithm."""
    parts = value.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_b64url(parts[0]))
        payload = json.loads(_b64url(parts[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header and isinstance(payload, dict)


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----")
_PEM_HEADER_LINE = re.compile(r"^[A-Za-z-]+: .*$", re.M)
_BASE64 = re.compile(r"[A-Za-z0-9+/=]+")


def pem_label_and_body(value: str) -> tuple[str, str] | None:
    """The label and body of the first BEGIN line whose END line (same label) follows, the body
    up to the first such END: ``-----BEGIN (LABEL)-----(.*?)-----END \\1-----`` (dot-all), found
    with ``str.find`` instead of a lazy group that tries the END line at every character."""
    begin = _PEM_BEGIN.search(value)
    while begin is not None:
        end = value.find(f"-----END {begin.group(1)}-----", begin.end())
        if end >= 0:
            return begin.group(1), value[begin.end() : end]
        begin = _PEM_BEGIN.search(value, begin.start() + 1)
    return None


def pem_private_key(value: str) -> bool:
    """A BEGIN/END pair of the same label around a body of real base64 (not a placeholder)."""
    parts = pem_label_and_body(value)
    if parts is None:
        return False
    label, body = parts
    if "\\" in body:  # a key pasted as one string, its line breaks escaped ("…\\nMIIE…\\n")
        body = body.replace("\\r", "").replace("\\n", "\n")
    if ": " in body:  # a header line needs one
        body = _PEM_HEADER_LINE.sub("", body)
    body = "".join(body.split())  # every whitespace character out (re's \s is str.isspace)
    if label.startswith("PGP"):
        body = body.split("=")[0] if "=" in body[-6:] else body
    if len(body) < 40 or not _BASE64.fullmatch(body):
        return False
    try:
        base64.b64decode(body + "=" * (-len(body) % 4), validate=False)
    except (ValueError, binascii.Error):
        return False
    return entropy_reaches(body, 4.5, strictly=True)


def base64_private_key(value: str) -> bool:
    """Base64 of a PEM private key (kubeconfig ``client-key-data``): decodes to a BEGIN line naming
    a private key, then a body random enough for a key. A paste cut short still counts."""
    usable = len(value.rstrip("=")) // 4 * 4
    try:
        decoded = base64.b64decode(value[:usable], validate=True).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    begin = _PEM_BEGIN.match(decoded)
    if begin is None:
        return False
    body = "".join(decoded[begin.end() :].split("-----END")[0].split())
    return len(body) >= 40 and entropy_reaches(body[:1024], 4.5, strictly=True)


def aws_secret_key(value: str) -> bool:
    return entropy_reaches(value, 4.2)


# Country -> IBAN length (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban(value: str) -> bool:
    compact = re.sub(r"[\s-]", "", value).upper()
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is None or len(compact) != expected or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return int(numeric) % 97 == 1


def us_ssn(value: str) -> bool:
    """SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000; no known fakes."""
    digits = digits_of(value)
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in {"078051120", "219099999", "123456789"} and len(set(digits)) > 2


def us_itin(value: str) -> bool:
    """IRS ITIN: starts with 9, group 50-65, 70-88, 90-92 or 94-99."""
    digits = digits_of(value)
    if len(digits) != 9 or digits[0] != "9":
        return False
    group = int(digits[3:5])
    return 50 <= group <= 65 or 70 <= group <= 88 or 90 <= group <= 92 or 94 <= group <= 99


def aba_routing(value: str) -> bool:
    digits = digits_of(value)
    if len(digits) != 9 or int(digits[:2]) not in (*range(0, 13), *range(21, 33), *range(61, 73), 80):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0 and len(set(digits)) > 2


def canada_sin(value: str) -> bool:
    digits = digits_of(value)
    return len(digits) == 9 and digits[0] not in "08" and luhn(digits) and len(set(digits)) > 2


_NINO_BAD_PREFIXES = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def uk_nino(value: str) -> bool:
    compact = re.sub(r"\s", "", value).upper()
    return compact[:2] not in _NINO_BAD_PREFIXES and len(set(compact[2:8])) > 1


def password_like(value: str) -> bool:
    """A typed password or secret: long enough, two or more character classes, and random enough
    for its length (short random strings cannot reach the entropy of long ones)."""
    if len(value) < 8:
        return False
    classes = (
        (value.upper() != value)  # a lowercase letter
        + (value.lower() != value)  # an uppercase letter
        + (_DIGIT.search(value) is not None)
        + (not value.isalnum())
    )
    if len(value) >= _HEX_MIN and _HEX.fullmatch(value):
        # Hex has 16 symbols: a random 32-character hex secret (a signing secret, a Twilio token)
        # has ~3.5 bits a character, below the floor for other alphabets. Shorter hex (16
        # characters) is an id more often than a secret (``credential_id=…``): the usual floor.
        return classes >= 2 and entropy_reaches(value, _HEX_FLOOR)
    if classes >= 3:  # letters of both cases and digits or symbols: a person's password ("Quartz99#Qaiafrit")
        return entropy_reaches(value, min(3.0, 0.75 * math.log2(len(value))))
    return classes >= 2 and entropy_reaches(value, min(3.5, 0.8 * math.log2(len(value))))


_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_HEX_MIN = 24
_HEX_FLOOR = 3.0


def basic_auth(value: str) -> bool:
    """Base64 of ``user:password`` with a password that is not empty."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep) and bool(user) and len(password) >= 4 and decoded.isprintable()


def generic_secret(value: str) -> bool:
    """``password_like``, at most 128 characters (longer runs are data, not a typed secret), and no
    URL (``password reset link is https://…``: a secret is never a web address)."""
    return len(value) <= 128 and "://" not in value and password_like(value)
