"""The google provider against the local emulator (real HTTP, Google's wire format, real limits)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping

import pytest

from slack_dlp.detect.engine import DetectionEngine, Fingerprinter
from slack_dlp.dlp.base import DlpError
from slack_dlp.dlp.google import GoogleDlpClient, GoogleDlpConfig, HttpResult
from slack_dlp_tools.local import samples
from slack_dlp_tools.local.dlp_emulator import DlpEmulator, max_in_window

KEY = Fingerprinter(b"google-dlp-test-fingerprint-0000")
RNG = random.Random(21)


@pytest.fixture
def emulator() -> Iterator[DlpEmulator]:
    with DlpEmulator(requests_per_second=1000, max_rows=100) as dlp:
        yield dlp


def _client(endpoint: str, **config: object) -> GoogleDlpClient:
    return GoogleDlpClient(GoogleDlpConfig(project="acme", endpoint=endpoint, **config), fingerprinter=KEY)  # type: ignore[arg-type]


def _texts(count: int) -> list[str]:
    texts = [f"standup note {i}" for i in range(count)]
    texts[0] = f"{samples.fake_card_number(RNG)} is my card"  # row 0, offset 0: both omitted on the wire
    texts[count // 2] = f"ssn 536-22-1234 and {samples.fake_card_number(RNG)}"
    texts[-1] = f"visa {samples.fake_card_number(RNG)}"
    return texts


def test_a_batch_is_one_table_request_and_findings_map_back_to_their_rows(emulator: DlpEmulator) -> None:
    texts = _texts(100)
    outcomes = _client(emulator.endpoint).inspect(texts)
    assert emulator.state.accepted == 1 and emulator.state.rows == 100
    expected = DetectionEngine(fingerprinter=KEY).scan_many(texts)
    for outcome, local in zip(outcomes, expected, strict=True):
        assert not isinstance(outcome, DlpError)
        assert [(f.start, f.end) for f in outcome] == [(f.start, f.end) for f in local]
    assert outcomes[0][0].start == 0
    assert outcomes[0][0].detector == "gcp.credit-card-number"
    assert outcomes[0][0].fingerprint == expected[0][0].fingerprint
    assert texts[0][:4] in outcomes[0][0].masked and texts[0] not in outcomes[0][0].masked


def test_requests_over_the_size_limit_are_split_before_sending(emulator: DlpEmulator) -> None:
    texts = _texts(40)
    outcomes = _client(emulator.endpoint, max_request_bytes=2_000).inspect(texts)
    assert emulator.state.accepted > 1
    assert emulator.state.rows == 40
    assert all(not isinstance(o, DlpError) for o in outcomes)
    assert sum(len(o) for o in outcomes if not isinstance(o, DlpError)) == 4


def test_a_request_the_api_rejects_as_too_large_is_split_and_retried() -> None:
    with DlpEmulator(requests_per_second=1000, max_rows=10) as small:
        texts = _texts(100)
        outcomes = _client(small.endpoint).inspect(texts)
        assert small.state.bad_requests >= 1  # the 100-row request was refused
        assert small.state.rows == 100  # and every row was inspected after splitting
        assert all(not isinstance(o, DlpError) for o in outcomes)
        assert sum(len(o) for o in outcomes if not isinstance(o, DlpError)) == 4


def test_an_api_accepting_fewer_rows_than_configured_costs_refused_requests_once_not_every_batch() -> None:
    # GIVEN a client configured for 100 rows per request, and an API that accepts 25
    with DlpEmulator(requests_per_second=1000, max_rows=25) as small:
        client = _client(small.endpoint)
        # WHEN it inspects four batches of 100
        for _ in range(4):
            outcomes = client.inspect(_texts(100))
            assert all(not isinstance(o, DlpError) for o in outcomes)
        # THEN only the first batch spent refused requests (100 and 50 rows); later ones go as 25s
        assert small.state.bad_requests == 3
        assert small.state.accepted - small.state.bad_requests == 4 * 4
        assert small.state.rows == 400


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = self.refusals = 0

    def acquire(self) -> float:
        self.acquired += 1
        return 0.0

    def throttled(self) -> None:
        self.refusals += 1


@pytest.mark.parametrize(
    ("status", "status_name", "refusals"),
    [(429, "RESOURCE_EXHAUSTED", 1), (503, "UNAVAILABLE", 0)],  # an outage is no quota: the rate stays
)
def test_a_refusal_for_quota_tells_the_limiter_to_slow_down(status: int, status_name: str, refusals: int) -> None:
    limiter = CountingLimiter()
    transport = _fake(status, {"error": {"code": status, "status": status_name, "message": "no"}})
    client = GoogleDlpClient(GoogleDlpConfig(project="acme"), fingerprinter=KEY, limiter=limiter, transport=transport)  # type: ignore[arg-type]
    assert all(isinstance(o, DlpError) and o.retryable for o in client.inspect(["a", "b"]))
    assert (limiter.acquired, limiter.refusals) == (1, refusals)


def test_quota_exceeded_fails_the_items_retryably_with_retry_after() -> None:
    with DlpEmulator(requests_per_second=1) as strict:
        client = _client(strict.endpoint)
        client.inspect(["first"])
        [outcome] = client.inspect(["second"])
        assert isinstance(outcome, DlpError)
        assert outcome.retryable and outcome.retry_after is not None and outcome.retry_after >= 1
        assert "RESOURCE_EXHAUSTED" in str(outcome)


def _fake(status: int, body: object, headers: Mapping[str, str] | None = None) -> object:
    def transport(url: str, data: bytes, sent: Mapping[str, str], timeout: float) -> HttpResult:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return HttpResult(status, raw, headers or {})

    return transport


def _broken(error: type[OSError]) -> object:
    def transport(url: str, data: bytes, sent: Mapping[str, str], timeout: float) -> HttpResult:
        raise error("simulated")

    return transport


@pytest.mark.parametrize(
    ("transport", "retryable"),
    [
        (_fake(503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "try later"}}), True),
        (_fake(500, b"<html>oops</html>"), True),
        (_broken(TimeoutError), True),
        (_broken(ConnectionRefusedError), True),
        (_fake(403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}), False),
    ],
)
def test_push_back_fails_every_item_of_the_request(transport: object, retryable: bool) -> None:
    client = GoogleDlpClient(GoogleDlpConfig(project="acme"), fingerprinter=KEY, transport=transport)  # type: ignore[arg-type]
    outcomes = client.inspect(["a", "b", "c"])
    assert all(isinstance(o, DlpError) and o.retryable is retryable for o in outcomes)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        {"unexpected": True},
        {"result": {"findings": [{"infoType": {"name": "PASSWORD"}, "location": {"codepointRange": {"end": "999"}}}]}},
        {"result": {"findings": [{"infoType": {"name": "PASSWORD"}, "location": {
            "codepointRange": {"end": "1"},
            "contentLocations": [{"recordLocation": {"tableLocation": {"rowIndex": "7"}}}]}}]}},
    ],
)  # fmt: skip
def test_malformed_responses_fail_loudly_never_report_clean(body: object) -> None:
    client = GoogleDlpClient(GoogleDlpConfig(project="acme"), fingerprinter=KEY, transport=_fake(200, body))  # type: ignore[arg-type]
    assert all(isinstance(o, DlpError) for o in client.inspect(["abc", "def"]))


def test_credentials_add_a_bearer_token_and_none_sends_no_authorization() -> None:
    seen: list[Mapping[str, str]] = []

    def transport(url: str, data: bytes, sent: Mapping[str, str], timeout: float) -> HttpResult:
        seen.append(sent)
        return HttpResult(200, b'{"result": {}}', {})

    GoogleDlpClient(GoogleDlpConfig(project="acme"), fingerprinter=KEY, transport=transport).inspect(["x"])
    GoogleDlpClient(
        GoogleDlpConfig(project="acme"), fingerprinter=KEY, transport=transport, token=lambda: "ya29.token"
    ).inspect(["x"])
    assert "Authorization" not in seen[0]
    assert seen[1]["Authorization"] == "Bearer ya29.token"


def test_request_lists_info_types_and_likelihood_and_no_unknown_fields(emulator: DlpEmulator) -> None:
    client = _client(emulator.endpoint, info_types=("CREDIT_CARD_NUMBER",), min_likelihood="LIKELY")
    body = json.loads(client.request_body(["x"]))
    assert set(body) == {"item", "inspectConfig"}
    assert body["inspectConfig"]["infoTypes"] == [{"name": "CREDIT_CARD_NUMBER"}]
    assert body["inspectConfig"]["minLikelihood"] == "LIKELY"
    assert emulator.state.bad_requests == 0


def test_emulator_enforces_a_sliding_window_not_calendar_seconds() -> None:
    with DlpEmulator(requests_per_second=3) as strict:
        for t in (0.5, 0.6, 0.7):
            assert strict.state.admit(t) is None
        assert strict.state.admit(1.2) is not None  # 4 in (0.2, 1.2] although a new calendar second began
        assert strict.state.admit(1.51) is None
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
