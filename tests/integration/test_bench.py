"""`slack-dlp bench` end to end at a small size: behaviour only (the figures are the benchmark's job)."""

from __future__ import annotations

from slack_dlp_tools.local.bench import BenchConfig, run


def test_a_backlog_drains_through_separate_processes_without_loss_or_rejection() -> None:
    # GIVEN 1,500 messages, 4 worker processes, a strict API of 5 requests/s and 100 rows
    # (a wide limiter margin: this test shares two cores with the rest of the suite)
    report = run(BenchConfig(items=1_500, workers=4, requests_per_second=5, margin_ms=150, timeout=120))
    # THEN every message was inspected once, none was lost, the API never refused a request,
    # and no second ever held more than the quota
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["rejected"] == 0
    assert report["max_requests_in_any_second"] <= 5
    assert report["requests"] == 15
    assert report["mean_rows_per_request"] == 100


def test_an_api_stricter_than_the_settings_slows_the_pipeline_down_but_loses_nothing() -> None:
    # GIVEN a pipeline left at 10 requests/s of 100 rows, against an API allowing 2 of 25
    report = run(
        BenchConfig(
            items=400,
            workers=4,
            requests_per_second=10,
            api_requests_per_second=2,
            api_max_rows=25,
            margin_ms=150,
            timeout=120,
        )
    )
    # THEN every message was inspected once, after retries: none lost, none in the dead-letter queue,
    # and the API's own limit was never exceeded in any second
    assert report["lost"] == 0
    assert report["dead_lettered"] == 0
    assert report["duplicates"] == 0
    assert report["max_requests_in_any_second"] <= 2
    assert report["rejected"] > 0  # it did push back
