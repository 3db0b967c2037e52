from __future__ import annotations

import json

from slack_dlp.model import Category, Confidence, Finding, InspectionResult, MessageKind, MessageRef
from slack_dlp.slack.alerts import Severity, build_alert, fallback_permalink, severity

REF = MessageRef(team_id="T1", channel_id="C0ENG", ts="1700000000.000100", user_id="U0BOB", event_id="Ev1",
                 event_time=1700000000)  # fmt: skip


def _finding(detector: str = "github-pat", category: Category = Category.SECRET,
             confidence: Confidence = Confidence.HIGH, masked: str = "ghp_••••") -> Finding:  # fmt: skip
    return Finding(detector, category, 0, 40, confidence, masked, "ab" * 16, "GitHub personal access token")


def test_alert_names_the_kind_author_channel_time_and_links_to_the_message() -> None:
    result = InspectionResult(ref=REF, findings=(_finding(),))
    alert = build_alert(result, "https://acme.slack.com/archives/C0ENG/p1700000000000100")
    rendered = json.dumps([b.to_dict() for b in alert.blocks], ensure_ascii=False)
    assert "GitHub personal access token" in rendered
    assert "<@U0BOB>" in rendered and "<#C0ENG>" in rendered
    assert "<!date^1700000000^" in rendered
    assert "https://acme.slack.com/archives/C0ENG/p1700000000000100" in rendered
    assert "ghp_••••" in rendered
    assert "critical" in alert.text.lower()


def test_edits_are_called_out() -> None:
    edited = MessageRef(team_id="T1", channel_id="C1", ts="1.0", event_id="Ev2", kind=MessageKind.EDIT)
    alert = build_alert(InspectionResult(ref=edited, findings=(_finding(),)), "https://x")
    assert "edited message" in alert.text


def test_masked_values_cannot_inject_mrkdwn() -> None:
    result = InspectionResult(ref=REF, findings=(_finding(masked="<!channel>`••"),))
    rendered = json.dumps([b.to_dict() for b in build_alert(result, "https://x").blocks], ensure_ascii=False)
    assert "<!channel>" not in rendered


def test_severity_ranks_secrets_over_financial_over_personal() -> None:
    assert severity((_finding(),)) is Severity.CRITICAL
    assert severity((_finding(category=Category.FINANCIAL, confidence=Confidence.MEDIUM),)) is Severity.HIGH
    assert severity((_finding(category=Category.PERSONAL, confidence=Confidence.MEDIUM),)) is Severity.MEDIUM


def test_fallback_permalink_points_at_the_thread_reply() -> None:
    threaded = MessageRef(team_id="T1", channel_id="C1", ts="1700000001.000200", thread_ts="1700000000.000100")
    link = fallback_permalink(InspectionResult(ref=threaded, findings=(_finding(),)))
    assert link == "https://slack.com/archives/C1/p1700000001000200?thread_ts=1700000000.000100&cid=C1"
