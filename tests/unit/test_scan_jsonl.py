"""``slack-dlp scan --jsonl`` scans in batches and still answers line by line, in order."""

from __future__ import annotations

import io
import json
import random

import pytest

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp_tools.cli.common import UsageError
from slack_dlp_tools.cli.scan import _scan_jsonl
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
