"""Two reporters racing on one result (a redelivery, overlapping backfills, a standard queue's
duplicate), each in its own group: the alert key is claimed before the post, so one posts it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3
import pytest

from slack_dlp import aws
from slack_dlp.alert_log import AlertRecord, DynamoDbAlertLog
from slack_dlp.config import Resources, Settings
from slack_dlp.dedup import IdempotencyDeduplicator
from slack_dlp.model import Category, Confidence, Finding, InspectionResult, MessageRef
from slack_dlp.report import AlertInProgress, Reporter, alert_key
from slack_dlp.slack.notifier import SlackNotifier
from slack_dlp.wiring import slack_notifier, triage_store
from slack_dlp.wiring.reporter import ALERT_DEDUP_SECONDS
from slack_dlp_tools.local.slack_standin import Fault, SlackStandIn
from tests.factories import FakeLambdaContext
from tests.integration.conftest import FakeStack


def _body(channel: str) -> str:
    ref = MessageRef(team_id="T1", channel_id=channel, ts="1700000000.000100", user_id="U0BOB", event_id="Ev1",
                     event_time=1700000000)  # fmt: skip
    finding = Finding("github-pat", Category.SECRET, 5, 45, Confidence.HIGH, "ghp_••••", "ab" * 16, "GitHub PAT")
    return InspectionResult(ref=ref, findings=(finding,)).to_json()


def _key(body: str) -> str:
    return alert_key(InspectionResult.from_json(body))


class Interleaved:
    """An invocation's alert log, through which a test slots another invocation's turn around its claim."""

    def __init__(self, log: DynamoDbAlertLog) -> None:
        self.log = log
        self.around_claim: Callable[[Callable[[], dict[str, AlertRecord]]], dict[str, AlertRecord]] | None = None

    def register_lambda_context(self, context: Any) -> None:
        self.log.register_lambda_context(context)

    def lookup(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        return self.log.lookup(keys)

    def claim(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        around, self.around_claim = self.around_claim, None
        return self.log.claim(keys) if around is None else around(lambda: self.log.claim(keys))

    def release(self, keys: Sequence[str]) -> None:
        self.log.release(keys)

    def mark(self, keys: Sequence[str], alert_ts: str, *, followed_up: bool) -> None:
        self.log.mark(keys, alert_ts, followed_up=followed_up)


class Posting(SlackNotifier):
    """The Slack adapter, running a test's step once while its first alert is being posted."""

    def __init__(self, notifier: SlackNotifier) -> None:
        self.__dict__.update(notifier.__dict__)
        self.while_posting: Callable[[], None] | None = None

    def _turn(self) -> None:
        turn, self.while_posting = self.while_posting, None
        if turn is not None:
            turn()

    def post_alert(self, result: InspectionResult, note: str = "") -> str:
        self._turn()
        return super().post_alert(result, note)

    def post_digest(self, results: list[InspectionResult], notes: Mapping[str, str] | None = None) -> str:
        self._turn()
        return super().post_digest(results, notes)


class Invocation:
    """One reporter container, wired as the function's (idempotency, alert log, audit, notices)."""

    def __init__(self, clock: Callable[[], float] = time.time, context: Any = None) -> None:
        settings, resources = Settings.from_env(), Resources.from_env()
        dynamodb = aws.client("dynamodb")
        self.log = Interleaved(DynamoDbAlertLog(dynamodb, resources.dedup_table, ALERT_DEDUP_SECONDS, clock=clock))
        self.slack = Posting(slack_notifier(settings, resources))
        self.reporter = Reporter(
            self.slack,
            dedup=IdempotencyDeduplicator(resources.dedup_table, ALERT_DEDUP_SECONDS, dynamodb),
            alerted=self.log,
            author_notice=settings.author_notice,
            audit=triage_store(settings, resources),
        )
        self.reporter.register_lambda_context(context or FakeLambdaContext())  # its time left: the claims' lease

    def report(self, records: dict[str, str]) -> dict[str, Exception | None]:
        return self.reporter.report_batch(list(records.items()))


def _posted(slack: SlackStandIn, channel: str) -> int:
    """How many alert messages name the channel's message."""
    return sum(f"<#{channel}>" in json.dumps(a["args"]["blocks"]) for a in slack.alerts())


def _claim_items() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName="dedup")["Items"]
    return [i for i in items if i["id"]["S"].startswith("reported#") and "claimed_by" in i]


def test_a_reporter_that_claims_while_another_posts_the_result_posts_the_rest_and_retries_that_one(
    stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN the same result in two groups: alone in invocation A, beside another result in B's digest
    a, b = Invocation(), Invocation()
    shared, other = _body("C0SHARED"), _body("C0OTHER")

    # WHEN both look it up before either claims, and B claims both keys while A is posting it
    def b_claims_while_a_posts(claim: Callable[[], dict[str, AlertRecord]]) -> dict[str, AlertRecord]:
        taken: dict[str, AlertRecord] = {}
        a.slack.while_posting = lambda: taken.update(claim())
        assert a.report({"a1": shared}) == {"a1": None}
        return taken

    b.log.around_claim = b_claims_while_a_posts
    outcomes = b.report({"b1": shared, "b2": other})

    # THEN B's claim is partial: it posts the other result, and fails the shared one for SQS to retry
    assert outcomes["b2"] is None
    assert isinstance(outcomes["b1"], AlertInProgress)
    assert 1 <= outcomes["b1"].retry_after <= FakeLambdaContext().get_remaining_time_in_millis() / 1000 + 1
    assert _posted(slack, "C0SHARED") == 1 and _posted(slack, "C0OTHER") == 1
    assert _claim_items() == []  # each claim became a record of its post
    # AND when SQS delivers it again (in yet another group), B finds it alerted and posts nothing
    assert b.report({"b1": shared, "b3": _body("C0NEW")}) == {"b1": None, "b3": None}
    assert _posted(slack, "C0SHARED") == 1 and len(slack.alerts()) == 3
    notices = [c for c in slack.calls_of("chat.postEphemeral") if c["args"]["channel"] == "C0SHARED"]
    assert len(notices) == 1


def test_a_reporter_whose_claim_loses_to_a_posted_alert_does_only_its_unfinished_steps(
    stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN the same result in two groups, and Slack rate-limiting the author notice for 30 s
    a, b = Invocation(), Invocation()
    shared, other = _body("C0SHARED"), _body("C0OTHER")
    slack.add_fault(Fault(method="chat.postEphemeral", error="ratelimited", count=1, retry_after=30))
    first: dict[str, Exception | None] = {}

    # WHEN both look it up and find nothing, and A posts it (its notice failing) before B claims
    def a_posts_first(claim: Callable[[], dict[str, AlertRecord]]) -> dict[str, AlertRecord]:
        first.update(a.report({"a1": shared}))
        return claim()

    b.log.around_claim = a_posts_first
    outcomes = b.report({"b1": shared, "b2": other})

    # THEN the result is posted once (by A), and B, finding A's post recorded, sends the notice A could not
    assert _posted(slack, "C0SHARED") == 1 and _posted(slack, "C0OTHER") == 1
    assert first["a1"] is not None and outcomes == {"b1": None, "b2": None}
    sent = [c for c in slack.calls_of("chat.postEphemeral") if c.get("ok", True)]
    assert sorted(c["args"]["channel"] for c in sent) == ["C0OTHER", "C0SHARED"]
    # AND A's redelivery finds every step done
    assert a.report({"a1": shared}) == {"a1": None}
    assert _posted(slack, "C0SHARED") == 1 and len(slack.calls_of("chat.postEphemeral")) == 3


def test_a_failed_post_releases_its_claims_so_the_next_delivery_posts_at_once(
    stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN a digest whose post Slack refuses with an error worth retrying
    a, b = Invocation(), Invocation()
    slack.add_fault(Fault(method="chat.postMessage", error="internal_error", count=1))
    outcomes = a.report({"a1": _body("C0ONE"), "a2": _body("C0TWO")})
    assert all(outcomes.values()) and slack.alerts() == []
    # THEN its claims are gone, and another invocation posts one of them at once, well within the lease
    assert _claim_items() == []
    assert b.report({"b1": _body("C0TWO")}) == {"b1": None}
    assert _posted(slack, "C0TWO") == 1


class Killed(BaseException):
    """The invocation ends mid-post (its timeout): nothing of it runs after this."""


class EndingSoon(FakeLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 12_000


def test_the_claim_of_an_invocation_killed_mid_post_is_taken_over_once_its_lease_ends(
    stack: FakeStack, slack: SlackStandIn
) -> None:
    # GIVEN an invocation killed while posting a result it claimed, 12 s before its timeout
    now = [time.time()]
    a, b = Invocation(lambda: now[0], EndingSoon()), Invocation(lambda: now[0])
    shared = _body("C0SHARED")

    def killed() -> None:
        raise Killed

    a.slack.while_posting = killed
    with pytest.raises(Killed):
        a.report({"a1": shared})
    [claim] = _claim_items()
    assert set(claim) == {"id", "expiration", "claimed_by"}  # the alert key, a lease, a random token: no value
    # WHEN SQS delivers the result again in another group before the lease ends, then after
    now[0] += 11
    outcomes = b.report({"b1": shared, "b2": _body("C0OTHER")})
    assert isinstance(outcomes["b1"], AlertInProgress) and outcomes["b2"] is None
    assert _posted(slack, "C0SHARED") == 0
    now[0] += 2
    # THEN the second delivery takes the claim over and posts it
    assert b.report({"b1": shared, "b3": _body("C0NEW")}) == {"b1": None, "b3": None}
    assert _posted(slack, "C0SHARED") == 1


def test_claims_are_all_or_none_per_key_and_a_release_deletes_only_its_own(stack: FakeStack) -> None:
    now = [time.time()]
    dynamodb = boto3.client("dynamodb")
    a, b = (DynamoDbAlertLog(dynamodb, "dedup", 3600, clock=lambda: now[0], lease_seconds=30) for _ in "ab")
    # GIVEN keys claimed by A, one of them posted
    assert a.claim(["k1", "k2"]) == {}
    a.mark(["k2"], "1700000000.000200", followed_up=False)
    # WHEN B claims them with a new one: it gets the new key only, and learns what holds the others
    lost = b.claim(["k1", "k2", "k3"])
    assert lost.keys() == {"k1", "k2"} and lost["k2"] == AlertRecord("1700000000.000200", False)
    assert lost["k1"].pending and 30 <= lost["k1"].retry_after <= 31  # what is left of A's lease
    found = b.lookup(["k1", "k2", "k3"])
    assert {key: record.pending for key, record in found.items()} == {"k1": True, "k2": False, "k3": True}
    # AND once A's lease ran out, B takes k1 over; A's late release leaves B's claim alone
    now[0] += 31
    assert b.claim(["k1"]) == {}
    a.release(["k1"])
    assert a.lookup(["k1"])["k1"].pending
    b.release(["k1", "k3"])
    assert a.lookup(["k1", "k2", "k3"]) == {"k2": AlertRecord("1700000000.000200", False)}
