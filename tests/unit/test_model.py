from __future__ import annotations

import json

import pytest

from slack_dlp.model import (
    Category,
    Confidence,
    Finding,
    InspectionItem,
    InspectionResult,
    MalformedMessage,
    MessageKind,
    MessageRef,
)

REF = MessageRef(team_id="T1", channel_id="C1", ts="1700000000.000100", user_id="U1", event_id="Ev1")
FINDING = Finding("github-pat", Category.SECRET, 3, 43, Confidence.HIGH, "ghp_••••", "f" * 32, "GitHub token")


def test_inspection_item_round_trips() -> None:
    item = InspectionItem(ref=REF, text="hello")
    assert InspectionItem.from_json(item.to_json()) == item


def test_result_round_trips_and_carries_no_text() -> None:
    result = InspectionResult(ref=REF, findings=(FINDING,))
    assert InspectionResult.from_json(result.to_json()) == result
    assert "text" not in json.loads(result.to_json())


def test_edits_are_distinct_items_from_the_original_message() -> None:
    edit = MessageRef(team_id="T1", channel_id="C1", ts=REF.ts, event_id="Ev2", kind=MessageKind.EDIT)
    assert edit.item_id != REF.item_id


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"v": 99, "ref": REF.to_dict(), "text": "x"}),
        json.dumps({"v": 1, "ref": {"team_id": "T1"}, "text": "x"}),
        json.dumps({"v": 1, "ref": REF.to_dict(), "text": 5}),
        json.dumps({"v": 1, "ref": {**REF.to_dict(), "kind": "weird"}, "text": "x"}),
    ],
)
def test_malformed_items_are_rejected(body: str) -> None:
    with pytest.raises(MalformedMessage):
        InspectionItem.from_json(body)


@pytest.mark.parametrize(
    "findings",
    [
        [],
        [{"detector": "x"}],
        [{**FINDING.to_dict(), "start": 9, "end": 2}],
        [{**FINDING.to_dict(), "category": "?"}],
    ],
)
def test_malformed_results_are_rejected(findings: list[dict[str, object]]) -> None:
    body = json.dumps({"v": 1, "ref": REF.to_dict(), "findings": findings})
    with pytest.raises(MalformedMessage):
        InspectionResult.from_json(body)


def test_alert_keys_tell_apart_files_shared_in_the_same_second_with_the_same_value() -> None:
    from slack_dlp.model import MessageKind
    from slack_dlp.report import alert_key

    def file_result(file_id: str) -> InspectionResult:
        ref = MessageRef(team_id="T1", channel_id="C1", ts="1700000000", kind=MessageKind.FILE, file_id=file_id)
        return InspectionResult(ref=ref, findings=(FINDING,))

    assert alert_key(file_result("F1")) != alert_key(file_result("F2"))
    assert alert_key(file_result("F1")) == alert_key(file_result("F1"))
