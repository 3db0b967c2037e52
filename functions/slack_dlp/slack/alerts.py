"""Block Kit alerts: what was found, where, by whom — masked, never the value or the message text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from slack_dlp.model import Category, Confidence, Finding, InspectionResult, MessageKind, MessageRef
from slack_dlp.slack.actions import ACKNOWLEDGE, DELETE, FALSE_POSITIVE, TRIAGE_BLOCK_ID, TriageTarget

_MAX_LISTED_FINDINGS = 10


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


_SEVERITY_ICON = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.HIGH: ":warning:",
    Severity.MEDIUM: ":large_orange_diamond:",
    Severity.LOW: ":information_source:",
}


def severity(findings: tuple[Finding, ...]) -> Severity:
    """Secrets are worst (they grant access now), then financial, then personal data."""
    best = Severity.LOW
    order = list(Severity)
    for finding in findings:
        if finding.category is Category.SECRET:
            level = Severity.CRITICAL if finding.confidence is Confidence.HIGH else Severity.HIGH
        elif finding.category is Category.FINANCIAL:
            level = Severity.HIGH if finding.confidence is not Confidence.LOW else Severity.MEDIUM
        else:
            level = Severity.MEDIUM if finding.confidence is not Confidence.LOW else Severity.LOW
        if order.index(level) < order.index(best):
            best = level
    return best


@dataclass(frozen=True)
class Alert:
    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Slack mrkdwn control characters, and backticks that would end a code span."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def triage_buttons(result: InspectionResult, suffix: str = "", *, can_delete: bool = False) -> ActionsBlock:
    masked = {f.fingerprint: f.masked for f in result.findings}
    fingerprints = tuple(sorted(masked))
    target = TriageTarget(
        team_id=result.ref.team_id,
        item_id=result.ref.item_id,
        fingerprints=fingerprints,
        channel_id=result.ref.channel_id,
        ts=result.ref.ts,
        masked=tuple(masked[f] for f in fingerprints),
        enterprise_id=result.ref.enterprise_id,
    ).to_value()
    buttons = [
        ButtonElement(text="Acknowledge", action_id=ACKNOWLEDGE, value=target, style="primary"),
        ButtonElement(text="False positive", action_id=FALSE_POSITIVE, value=target),
    ]
    if can_delete:
        buttons.append(ButtonElement(text="Delete message", action_id=DELETE, value=target, style="danger"))
    return ActionsBlock(block_id=TRIAGE_BLOCK_ID + suffix, elements=buttons)


def build_alert(
    result: InspectionResult,
    permalink: str,
    *,
    interactive: bool = True,
    can_delete: bool = False,
    response_note: str = "",
) -> Alert:
    ref = result.ref
    if ref.is_smoke_test:
        return smoke_test_alert(result)
    level = severity(result.findings)
    kinds = Counter(f.description or f.detector for f in result.findings)
    summary = ", ".join(f"{name} ×{count}" if count > 1 else name for name, count in kinds.most_common())
    author = _author(ref)
    when = f"<!date^{ref.event_time}^{{date_short_pretty}} {{time}}|{ref.ts}>" if ref.event_time else ref.ts
    what = "an edited message" if ref.kind is MessageKind.EDIT else "a message"
    if ref.kind is MessageKind.FILE:
        what = f"the file `{escape(ref.file_name)}` ({escape(ref.file_where)})"

    lines = [
        f"• *{escape(f.description or f.detector)}* `{escape(f.masked)}` — {f.category.value}, "
        f"{f.confidence.value} confidence"
        for f in result.findings[:_MAX_LISTED_FINDINGS]
    ]
    if len(result.findings) > _MAX_LISTED_FINDINGS:
        lines.append(f"…and {len(result.findings) - _MAX_LISTED_FINDINGS} more")

    blocks: list[Block] = [
        HeaderBlock(text=f"{_SEVERITY_ICON[level]} Sensitive data in Slack ({level.value})"[:150]),
        SectionBlock(
            text=MarkdownTextObject(text=f"*{escape(summary)}* found in {what} by {author} in <#{ref.channel_id}>."),
            fields=[
                MarkdownTextObject(text=f"*Severity*\n{level.value}"),
                MarkdownTextObject(text=f"*Posted*\n{when}"),
                MarkdownTextObject(text=f"*Author*\n{author}"),
                MarkdownTextObject(text=f"*Channel*\n<#{ref.channel_id}>"),
                *([MarkdownTextObject(text=f"*Workspace*\n`{escape(ref.team_id)}`")] if ref.enterprise_id else []),
            ],
        ),
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000])),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"<{permalink}|{'Open the file' if ref.kind is MessageKind.FILE else 'View the message'}>"
            )
        ),
        *([ContextBlock(elements=[MarkdownTextObject(text=response_note)])] if response_note else []),
        *([triage_buttons(result, can_delete=can_delete)] if interactive else []),
        DividerBlock(),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"slack-dlp · {result.provider} · {len(result.findings)} finding(s) · "
                    f"ref `{escape(ref.item_id)}`"
                )
            ]
        ),
    ]
    text = f"{level.value.capitalize()}: {summary} found in {what} in <#{ref.channel_id}>"
    return Alert(text=text[:3000], blocks=blocks)


#: A digest stays well under Slack's 50 blocks per message: 3 blocks per result, 10 results.
MAX_DIGEST_RESULTS = 10


def build_digest(
    results: list[tuple[InspectionResult, str]],
    *,
    interactive: bool = True,
    can_delete: bool = False,
    notes: Mapping[str, str] | None = None,
) -> Alert:
    """Several results in one message: under a burst, one post instead of one per result keeps the
    alert channel within Slack's one-message-a-second limit and readable."""
    levels = [severity(r.findings) for r, _ in results]
    worst = min(levels, key=list(Severity).index)
    blocks: list[Block] = [
        HeaderBlock(text=f"{_SEVERITY_ICON[worst]} Sensitive data in {len(results)} Slack messages ({worst.value})"),
    ]
    for index, ((result, permalink), level) in enumerate(zip(results, levels, strict=True)):
        ref = result.ref
        kinds = Counter(f.description or f.detector for f in result.findings)
        summary = ", ".join(f"{name} ×{count}" if count > 1 else name for name, count in kinds.most_common())
        author = _author(ref)
        masked = " ".join(f"`{escape(f.masked)}`" for f in result.findings[:_MAX_LISTED_FINDINGS])
        edit = " (edited)" if ref.kind is MessageKind.EDIT else ""
        if ref.kind is MessageKind.FILE:
            edit = f" in file `{escape(ref.file_name)}` ({escape(ref.file_where)})"
        note = SMOKE_TEST_NOTE if ref.is_smoke_test else (notes or {}).get(ref.item_id, "")
        edit += f" · _{note}_" if note else ""
        edit += f" · workspace `{escape(ref.team_id)}`" if ref.enterprise_id else ""
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"{_SEVERITY_ICON[level]} *{escape(summary)}*{edit} by {author} in <#{ref.channel_id}> "
                    f"· <{permalink}|view> · {masked}"[:3000]
                )
            )
        )
        if interactive and not ref.is_smoke_test:
            blocks.append(triage_buttons(result, suffix=f":{index}", can_delete=can_delete))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"slack-dlp · digest of {len(results)} alerts")]))
    text = f"{worst.value.capitalize()}: sensitive data in {len(results)} messages"
    return Alert(text=text, blocks=blocks)


def _author(ref: MessageRef) -> str:
    """A person is mentioned; an app or webhook is named by its bot id (B0123...)."""
    if ref.bot_id:
        return f"an app (bot `{escape(ref.bot_id)}`)" + (f" as <@{ref.user_id}>" if ref.user_id else "")
    return f"<@{ref.user_id}>" if ref.user_id else "unknown user"


SMOKE_TEST_NOTE = "slack-dlp smoke test: a synthetic event, not a leak. Nothing to do."


def smoke_test_alert(result: InspectionResult) -> Alert:
    """What ``slack-dlp smoke`` makes the reporter post: proof that alerts arrive, no buttons."""
    masked = " ".join(f"`{escape(f.masked)}`" for f in result.findings[:_MAX_LISTED_FINDINGS])
    blocks: list[Block] = [
        HeaderBlock(text=":white_check_mark: slack-dlp smoke test"),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{SMOKE_TEST_NOTE}\nThe pipeline verified, inspected and reported a generated test value "
                f"({masked}) sent by `slack-dlp smoke`: alerts reach this channel."
            )
        ),
        ContextBlock(elements=[MarkdownTextObject(text=f"slack-dlp · {result.provider} · ref `{escape(result.id)}`")]),
    ]
    return Alert(text=SMOKE_TEST_NOTE, blocks=blocks)


def fallback_permalink(result: InspectionResult) -> str:
    """Slack's archive link; it redirects to the message for anyone who can see it."""
    ref = result.ref
    if ref.file_link:
        return ref.file_link
    link = f"https://slack.com/archives/{ref.channel_id}/p{ref.ts.replace('.', '')}"
    if ref.thread_ts and ref.thread_ts != ref.ts:
        link += f"?thread_ts={ref.thread_ts}&cid={ref.channel_id}"
    return link
