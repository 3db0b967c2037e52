"""The fault matrix (the same one ``make chaos`` prints): nothing lost, nothing duplicated, poison alone
in its dead-letter queue, no planted value in the logs or the audit trail."""

from __future__ import annotations

import pytest

from slack_dlp_tools.chaos import Outcome, render, run_matrix


@pytest.fixture(scope="module")
def matrix() -> dict[str, Outcome]:
    return {outcome.scenario: outcome for outcome in run_matrix(messages=10)}


def test_no_fault_loses_or_duplicates_an_alert(matrix: dict[str, Outcome]) -> None:
    print("\n" + render(list(matrix.values())))
    for outcome in matrix.values():
        assert (outcome.lost, outcome.duplicated) == (0, 0), outcome
        assert outcome.alerted == outcome.planted == 12
        assert outcome.dead_lettered == 0, outcome  # only poison may end in a DLQ
        assert outcome.audit_missing == 0
        assert outcome.leaked == 0
        assert outcome.refused_files == 1  # the bomb, recorded with its reason
        assert not outcome.notes, outcome.notes


def test_every_fault_really_happened(matrix: dict[str, Outcome]) -> None:
    for name, outcome in matrix.items():
        if name == "no fault":
            assert outcome.retried == 0
        elif "invalid_auth" in name or "channel_not_found" in name:
            assert outcome.redriven == outcome.planted  # parked while Slack refused, redriven once fixed
        else:
            assert outcome.retried > 0, name


def test_a_poison_record_in_each_queue_goes_to_its_dlq_alone(matrix: dict[str, Outcome]) -> None:
    poisoned = matrix["poison record in each queue"]
    assert poisoned.poison_dead_lettered == 3
    assert poisoned.alerted == poisoned.planted
