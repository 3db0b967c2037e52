"""``slack-dlp scan --jsonl`` scans in batches and still answers line by line, in order."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp_tools.cli.common import UsageError, finding_row
from slack_dlp_tools.cli.scan import _json_document, _json_object, _json_value, _scan_jsonl
from slack_dlp_tools.local import samples

ENGINE = DetectionEngine(fingerprinter=Fingerprinter(b"jsonl-test-fingerprint-key-00000"))


def test_batches_keep_one_line_per_record_in_order() -> None:
    # GIVEN 25 records, every fifth holding a token, scanned in batches of 7
    rng = random.Random(4)
    records = [
        {"id": n, "text": f"msg {n} " + (samples.fake_github_pat(rng) if n % 5 == 0 else "nothing here")}
        for n in range(25)
    ]
    source = io.StringIO("\n".join(json.dumps(r) for r in records) + "\n\n")
    out = io.StringIO()
    # WHEN
    items, found = _scan_jsonl(ENGINE, source, out, batch_lines=7)
    # THEN one line per record, same order, findings exactly where the tokens are
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (items, found) == (25, 5)
    assert [line["id"] for line in lines] == list(range(25))
    assert [bool(line["findings"]) for line in lines] == [n % 5 == 0 for n in range(25)]
    assert lines[5]["findings"][0]["type"] == "github-pat"


@pytest.mark.parametrize("bad", ['{"id": 1}', "not json", '{"id": 2, "text": 3}', '{"text": "a"} {"text": "b"}'])
def test_a_bad_line_in_a_batch_is_named(bad: str) -> None:
    source = io.StringIO('{"id": 0, "text": "fine"}\n' + bad + "\n")
    with pytest.raises(UsageError, match="line 2"):
        _scan_jsonl(ENGINE, source, io.StringIO(), batch_lines=10)


ODD_STRINGS = ["", "plain", 'quo"te \\ back', "tab\tnew\nline\x00\x1f", "caf\u00e9 \u2022\u2026 \U0001f511", "\ud800"]


@pytest.mark.parametrize("value", [*ODD_STRINGS, 0, -7, 2**70, None, True, False, 1.5, [1, "a"], {"k": "v"}])
def test_json_values_are_written_as_json_dumps_writes_them(value: object) -> None:
    assert _json_value(value) == json.dumps(value)
    assert _json_object({"id": value, "masked": "ghp_\u2022\u2022\u2026"}) == json.dumps(
        {"id": value, "masked": "ghp_\u2022\u2022\u2026"}
    )


@pytest.mark.parametrize(
    "sections",
    [
        {},
        {"findings": []},
        {"findings": [], "not_inspected": []},
        {"findings": [{}], "not_inspected": [{"file": "a.zip", "reason": "zip_bomb", "detail": ""}]},
        {"findings": [{"type": s, "start": n, "masked": s} for n, s in enumerate(ODD_STRINGS)], "x": []},
        {"findings": [{"type": "t", "nested": [1, {"a": None}], "n": 1.5}]},  # not flat: json.dumps itself
        {"findings": [{"a%s": 1, "b": "x"}, {"a%s": "2", "b": "%d"}, {"a%s": 3, "b": ""}]},  # a column of both
        {"findings": [{"a": 1}, {"b": 2}, {}], "more": [{"c": "d"}]},  # objects with other keys
        {"findings": [{"a": 1}, {"a": True}]},  # true is not an integer here
        {"findings": [{"a": 1}, {"a": None}]},
    ],
)
def test_json_documents_are_written_as_json_dumps_indent_2_writes_them(sections: dict[str, Any]) -> None:
    assert _json_document(sections) == json.dumps(sections, indent=2)


def test_result_lines_are_the_lines_json_dumps_wrote() -> None:
    # GIVEN records with ids of every JSON kind, some holding values
    rng = random.Random(5)
    ids: list[object] = [1, "a\u00e9", None, 2.5, True, ["x"], {"n": 1}, 'q"']
    records = [{"id": i, "text": f"key {samples.fake_github_pat(rng)} and {n}" * (n % 2)} for n, i in enumerate(ids)]
    out = io.StringIO()
    # WHEN scanned
    _scan_jsonl(ENGINE, io.StringIO("".join(json.dumps(r) + "\n" for r in records)), out)
    # THEN each line is what json.dumps of the result gives
    expected = [
        json.dumps({"id": r["id"], "findings": [finding_row(f) for f in ENGINE.scan(str(r["text"]))]}) for r in records
    ]
    assert out.getvalue().splitlines() == expected
    assert sum('"github-pat"' in line for line in expected) == 4
