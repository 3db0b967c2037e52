"""Values written with the typography keyboards and word processors substitute (curly quotes,
no-break spaces) are found whole, at their offsets in the text as written."""

from __future__ import annotations

import pytest

from slack_dlp.detect.engine import DetectionEngine, as_typed
from tests.quality.outside import Gen

_PW = Gen(41).password()


WRITTEN = [
    f"password: \u201c{_PW}\u201d",  # iOS smart punctuation, Word's autocorrect
    f"export DB_PASSWORD=\u201c{_PW}\u201d",
    f"api_key = \u2018{_PW}\u2019",
    f"password:\u00a0{_PW}",  # a no-break space from Slack's composer or a web page
    f"Das Passwort ist \u201e{_PW}\u201c",
]


@pytest.mark.parametrize("text", WRITTEN)
def test_values_in_typographic_quotes_are_found_whole_where_they_are(engine: DetectionEngine, text: str) -> None:
    # WHEN a text written with typographic quotes or spaces is scanned
    findings = engine.scan(text)
    # THEN the value is found without its quotes, at its offsets in the text as written
    assert [text[f.start : f.end] for f in findings] == [_PW]
    # AND its fingerprint is the one of the same value typed plainly
    assert findings[0].fingerprint == engine.scan(f"password: '{_PW}'")[0].fingerprint


def test_a_long_text_is_read_the_same_way(engine: DetectionEngine) -> None:
    text = "filler line\n" * 3000 + f"password: \u201c{_PW}\u201d\n" + "more filler\n" * 3000
    [finding] = engine.scan_large(text, chunk_chars=4096)
    assert text[finding.start : finding.end] == _PW


def test_only_typography_is_replaced_one_character_for_one() -> None:
    written = "caf\u00e9 \u201cquoted\u201d it\u2019s\u00a0here \u2014 \u5bc6\u7801"
    typed = as_typed(written)
    assert typed == 'caf\u00e9 "quoted" it\'s here \u2014 \u5bc6\u7801'
    assert len(typed) == len(written)
    ascii_text = "plain"
    assert as_typed(ascii_text) is ascii_text
