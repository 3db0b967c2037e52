from __future__ import annotations

import base64
import json
import math
import random
import string

import pytest

from slack_dlp.detect import validators as v


@pytest.mark.parametrize(
    ("number", "issuer"),
    [
        ("4539148803436467", "visa"),
        ("5425233430109903", "mastercard"),
        ("2223000048410010", "mastercard"),
        ("374245455400126", "amex"),
        ("6011000991300009", "discover"),
        ("3530111333300000", "jcb"),
        ("36227206271667", "diners"),
        ("6200000000000005", "unionpay"),
    ],
)
def test_card_issuers_and_luhn(number: str, issuer: str) -> None:
    assert v.card_issuer(number) == issuer
    assert v.luhn(number)


@pytest.mark.parametrize("number", ["4539148803436468", "1234567812345670", "9999999999999995", "4444444444444448"])
def test_invalid_cards_are_rejected(number: str) -> None:
    assert not v.payment_card(number)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("GB29NWBK60161331926819", True),
        ("GB29NWBK60161331926818", False),  # checksum
        ("DE8937040044053201300", False),  # length for DE
        ("XX89370400440532013000", False),  # unknown country
    ],
)
def test_iban_mod97_and_country_length(value: str, valid: bool) -> None:
    assert v.iban(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("536-22-1234", True), ("000-12-3456", False), ("666-12-3456", False), ("912-12-3456", False),
     ("536-00-1234", False), ("536-22-0000", False), ("078-05-1120", False)],
)  # fmt: skip
def test_ssn_rules(value: str, valid: bool) -> None:
    assert v.us_ssn(value) is valid


def test_aba_routing_checksum() -> None:
    assert v.aba_routing("011000015")
    assert not v.aba_routing("011000016")


def test_canadian_sin_luhn() -> None:
    assert v.canada_sin("130 692 544")
    assert not v.canada_sin("130 692 545")
    assert not v.canada_sin("046 454 286")  # 0xx numbers are never issued (fictitious example)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_jwt_requires_json_header_with_alg() -> None:
    token = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'sub': '1'})}.c2lnbmF0dXJlc2lnbmF0dXJl"
    assert v.jwt(token)
    assert not v.jwt(f"{_b64({'typ': 'JWT'})}.{_b64({'sub': '1'})}.c2lnbmF0dXJl")
    assert not v.jwt("eyJhbGciOi.eyJzdWIi.notbase64!!")


def test_entropy_separates_random_from_words() -> None:
    assert v.shannon_entropy("aaaaaaaa") == 0
    assert v.shannon_entropy("Xk9#mQ2$vL7@pR4!") > 3.5
    assert v.shannon_entropy("passwordpassword") < 3


def test_entropy_bounds_give_the_computed_answer() -> None:
    # Given values of every length and spread up to the short-value limit and beyond it, and
    # floors on either side of their entropy, at it exactly, and at log2 of their distinct count
    rng = random.Random(11)
    values = ["", "a", "ab", "aaaaaaab", "Xk9#mQ2$vL7@pR4!", "abcd" * 4, "x" * 300]
    for _ in range(400):
        alphabet = rng.choice(["ab", "abc", string.digits, string.ascii_letters + string.digits + "+/"])
        values.append("".join(rng.choices(alphabet, k=rng.randint(1, 300))))
    for value in values:
        entropy = v.shannon_entropy(value)
        distinct = max(1, len(set(value)))
        for bits in (entropy, entropy - 0.01, entropy + 0.01, math.log2(distinct), 3.5, 4.2, 4.5, 0.0):
            # Then the bounded check answers as comparing the computed entropy does
            assert v.entropy_reaches(value, bits) is (entropy >= bits), (value, bits)
            assert v.entropy_reaches(value, bits, strictly=True) is (entropy > bits), (value, bits)


def _pem(body: str, label: str = "RSA PRIVATE KEY") -> str:
    return f"-----BEGIN {label}-----{body}-----END {label}-----"


_KEY_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\n\t ", "\u2028", "\x0b\x0c"])
def test_private_key_body_may_be_broken_by_any_whitespace(newline: str) -> None:
    # Given a real-looking key body wrapped with one kind of whitespace (Unicode line separators too)
    wrapped = newline + newline.join(_KEY_BODY[i : i + 32] for i in range(0, len(_KEY_BODY), 32)) + newline
    # Then it validates, and a body with a character outside base64 does not
    assert v.pem_private_key(_pem(wrapped))
    assert not v.pem_private_key(_pem(wrapped.replace(_KEY_BODY[:4], "M!IE")))
    assert not v.pem_private_key(_pem(newline + "x" * 20 + newline))  # too short


def test_benign_counts_distinct_characters_over_the_whole_value() -> None:
    from slack_dlp.detect.allowlist import is_benign

    # Given long values whose first 48 characters repeat two letters
    repetitive = "ab" * 40
    varied_tail = "ab" * 24 + "Qm7Zr2Xk9Lp4Wn8Vt3Hs6Jd"
    # Then only the one that stays repetitive throughout is filler
    assert is_benign(repetitive)
    assert not is_benign(varied_tail)
    # And a value with many distinct characters early is judged on the rest as before
    assert not is_benign(_KEY_BODY)
    assert is_benign("${" + _KEY_BODY + "}")


def test_pem_parts_are_what_the_begin_end_regex_finds() -> None:
    import re

    # Given the lazy back-referencing regex the PEM check used, and texts made of BEGIN and END
    # lines of several labels (private or not), header lines, dashes and filler, in any order
    reference = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----(.*?)-----END \1-----", re.S)
    labels = ["RSA PRIVATE KEY", "PRIVATE KEY", "PGP PRIVATE KEY BLOCK", "RSA PUBLIC KEY", "X PRIVATE KEY BLOCK"]
    rng = random.Random(5)
    pieces = [f"-----BEGIN {label}-----" for label in labels] + [f"-----END {label}-----" for label in labels]
    pieces += ["abc", "\n", "Proc-Type: 4\n", "-", "--", " ", "MIIE"]
    found = 0
    for _ in range(5000):
        text = "".join(rng.choices(pieces, k=rng.randint(1, 7)))
        match = reference.search(text)
        # Then the label and body found with str.find are the regex's groups (or both find none)
        assert v.pem_label_and_body(text) == (match.groups() if match else None), text
        found += match is not None
    assert found > 100


@pytest.mark.parametrize("value", ["1Password", "Bitwarden", "KeePassXC", "LastPass.", "keychain"])
def test_a_password_manager_named_instead_of_the_password_is_benign(value: str) -> None:
    from slack_dlp.detect.allowlist import is_benign

    # Given "the password is 1Password": where it is kept, not the password
    assert is_benign(value)
    # And a password that only contains such a name is still one
    assert not is_benign(value.rstrip(".") + "-Zx9!q")
