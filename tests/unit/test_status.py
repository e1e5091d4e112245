"""Run status transitions: the TRANSITIONS table is the single source of truth."""

from __future__ import annotations

import itertools

import pytest

from rota.model.errors import ConflictError, RotaError
from rota.model.status import (
    TERMINAL,
    TRANSITIONS,
    RunStatus,
    can_transition,
    check_transition,
    sources_of,
)

ALL_PAIRS = list(itertools.product(RunStatus, RunStatus))
LEGAL = [(old, new) for old, new in ALL_PAIRS if new in TRANSITIONS[old]]
ILLEGAL = [(old, new) for old, new in ALL_PAIRS if new not in TRANSITIONS[old]]
ILLEGAL_FROM_LIVE = [(old, new) for old, new in ILLEGAL if old not in TERMINAL]
FROM_TERMINAL = [(old, new) for old, new in ALL_PAIRS if old in TERMINAL]


def _pair_id(pair: tuple[RunStatus, RunStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_it_has_a_transition_entry_for_every_status() -> None:
    assert set(TRANSITIONS) == set(RunStatus)


def test_it_lists_exactly_the_documented_legal_transitions() -> None:
    expected = {
        (RunStatus.PENDING, RunStatus.QUEUED),
        (RunStatus.PENDING, RunStatus.CANCELED),
        (RunStatus.QUEUED, RunStatus.RUNNING),
        (RunStatus.QUEUED, RunStatus.PENDING),
        (RunStatus.QUEUED, RunStatus.CANCELED),
        (RunStatus.RUNNING, RunStatus.QUEUED),
        (RunStatus.RUNNING, RunStatus.COMPLETED),
        (RunStatus.RUNNING, RunStatus.PARTIAL),
        (RunStatus.RUNNING, RunStatus.FAILED),
        (RunStatus.RUNNING, RunStatus.CANCELED),
    }
    assert set(LEGAL) == expected


def test_it_treats_exactly_completed_partial_failed_and_canceled_as_terminal() -> None:
    assert {s for s in RunStatus if s.terminal} == {
        RunStatus.COMPLETED,
        RunStatus.PARTIAL,
        RunStatus.FAILED,
        RunStatus.CANCELED,
    }
    assert frozenset(s for s in RunStatus if s.terminal) == TERMINAL


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=lambda s: s.value)
def test_it_gives_terminal_statuses_no_outgoing_transitions(status: RunStatus) -> None:
    assert TRANSITIONS[status] == frozenset()


@pytest.mark.parametrize("status", [s for s in RunStatus if not s.terminal], ids=lambda s: s.value)
def test_it_gives_every_live_status_a_way_to_be_canceled(status: RunStatus) -> None:
    assert can_transition(status, RunStatus.CANCELED)


@pytest.mark.parametrize("status", list(RunStatus), ids=lambda s: s.value)
def test_it_never_allows_a_status_to_transition_to_itself(status: RunStatus) -> None:
    assert not can_transition(status, status)


@pytest.mark.parametrize(("old", "new"), LEGAL, ids=[_pair_id(p) for p in LEGAL])
def test_it_allows_every_legal_transition(old: RunStatus, new: RunStatus) -> None:
    assert can_transition(old, new)
    check_transition(old, new)  # does not raise


@pytest.mark.parametrize(("old", "new"), ILLEGAL, ids=[_pair_id(p) for p in ILLEGAL])
def test_it_rejects_every_illegal_transition_with_a_conflict_error(
    old: RunStatus, new: RunStatus
) -> None:
    assert not can_transition(old, new)
    with pytest.raises(ConflictError) as info:
        check_transition(old, new)
    assert isinstance(info.value, RotaError)


@pytest.mark.parametrize(("old", "new"), FROM_TERMINAL, ids=[_pair_id(p) for p in FROM_TERMINAL])
def test_it_says_terminal_statuses_never_change_when_leaving_a_terminal_status(
    old: RunStatus, new: RunStatus
) -> None:
    with pytest.raises(ConflictError, match="terminal statuses never change") as info:
        check_transition(old, new)
    assert old.value in str(info.value)


@pytest.mark.parametrize(
    ("old", "new"), ILLEGAL_FROM_LIVE, ids=[_pair_id(p) for p in ILLEGAL_FROM_LIVE]
)
def test_it_names_both_statuses_when_rejecting_an_illegal_change_from_a_live_status(
    old: RunStatus, new: RunStatus
) -> None:
    with pytest.raises(ConflictError) as info:
        check_transition(old, new)
    message = str(info.value)
    assert f"{old.value} -> {new.value}" in message
    assert "terminal" not in message


@pytest.mark.parametrize("new", list(RunStatus), ids=lambda s: s.value)
def test_it_reports_as_sources_exactly_the_statuses_that_may_reach_a_status(
    new: RunStatus,
) -> None:
    expected = frozenset(old for old in RunStatus if can_transition(old, new))
    assert sources_of(new) == expected


def test_it_reports_the_concrete_sources_of_each_status() -> None:
    assert sources_of(RunStatus.PENDING) == {RunStatus.QUEUED}
    assert sources_of(RunStatus.QUEUED) == {RunStatus.PENDING, RunStatus.RUNNING}
    assert sources_of(RunStatus.RUNNING) == {RunStatus.QUEUED}
    for outcome in (RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED):
        assert sources_of(outcome) == {RunStatus.RUNNING}
    assert sources_of(RunStatus.CANCELED) == {
        RunStatus.PENDING,
        RunStatus.QUEUED,
        RunStatus.RUNNING,
    }


@pytest.mark.parametrize("new", list(RunStatus), ids=lambda s: s.value)
def test_it_never_reports_a_terminal_status_as_a_source(new: RunStatus) -> None:
    assert not (sources_of(new) & TERMINAL)


def test_it_uses_the_lowercase_value_as_the_string_form_of_a_status() -> None:
    for status in RunStatus:
        assert str(status) == status.value == status.name.lower()
        assert RunStatus(status.value) is status
