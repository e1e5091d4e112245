"""Runs: settling a status from counters, counter arithmetic, time formatting, activity."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.model.errors import InvalidInputError
from rota.model.runs import (
    COUNTER_NAMES,
    DATA_CHANGING_ACTIONS,
    RECORD_ACTIONS,
    Activity,
    Counters,
    LogLine,
    NewRun,
    Progress,
    RecordResult,
    Run,
    RunError,
    Trigger,
    check_aware,
    counters_for,
    iso,
    settle,
)
from rota.model.status import RunStatus, check_transition

pure = settings(database=None, deadline=None)

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

counters_strategy = st.builds(
    Counters, **{name: st.integers(min_value=0, max_value=10**6) for name in COUNTER_NAMES}
)


# -- settle ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counters", "expected"),
    [
        (Counters(), RunStatus.COMPLETED),
        (Counters(processed=5, succeeded=5), RunStatus.COMPLETED),
        (Counters(processed=5, succeeded=3, failed=2), RunStatus.PARTIAL),
        (Counters(processed=5, succeeded=4, failed=1), RunStatus.PARTIAL),
        (Counters(processed=5, failed=5), RunStatus.FAILED),
        (Counters(processed=1, failed=1), RunStatus.FAILED),
    ],
    ids=["nothing", "no-failures", "some-failures", "one-failure", "all-failed", "single-failed"],
)
def test_it_settles_a_run_from_its_failed_record_count(
    counters: Counters, expected: RunStatus
) -> None:
    assert settle(counters) is expected


@pure
@given(counters_strategy)
def test_it_always_settles_to_a_status_a_running_run_may_reach(counters: Counters) -> None:
    status = settle(counters)
    assert status in {RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED}
    check_transition(RunStatus.RUNNING, status)


@pure
@given(st.integers(min_value=1, max_value=1000), st.data())
def test_it_settles_partial_exactly_when_some_but_not_all_records_failed(
    processed: int, data: st.DataObject
) -> None:
    failed = data.draw(st.integers(min_value=0, max_value=processed))
    status = settle(Counters(processed=processed, failed=failed, succeeded=processed - failed))
    if failed == 0:
        assert status is RunStatus.COMPLETED
    elif failed == processed:
        assert status is RunStatus.FAILED
    else:
        assert status is RunStatus.PARTIAL


# -- counters_for ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(RECORD_ACTIONS - {"failed"}))
def test_it_counts_a_successful_record_as_processed_succeeded_and_its_action(action: str) -> None:
    delta = counters_for(action, failed=False)
    own = {action: 1} if action in COUNTER_NAMES else {}  # ``exported`` has no counter of its own
    expected = Counters(processed=1, succeeded=1, **own)
    assert delta == expected


@pytest.mark.parametrize("action", [*sorted(RECORD_ACTIONS), "custom"])
def test_it_counts_a_failed_record_as_processed_and_failed_only(action: str) -> None:
    assert counters_for(action, failed=True) == Counters(processed=1, failed=1)


def test_it_counts_an_unknown_successful_action_as_processed_and_succeeded_only() -> None:
    assert counters_for("archived", failed=False) == Counters(processed=1, succeeded=1)


def test_it_counts_a_record_whose_action_is_failed_as_failed_even_without_an_error() -> None:
    assert counters_for("failed", failed=False) == Counters(processed=1, failed=1)


@pytest.mark.parametrize("action", sorted(DATA_CHANGING_ACTIONS))
def test_it_marks_data_as_changed_for_inserts_updates_and_deletes(action: str) -> None:
    assert counters_for(action, failed=False).changed_data
    assert not counters_for(action, failed=True).changed_data


@pytest.mark.parametrize("action", ["unchanged", "skipped", "custom"])
def test_it_does_not_mark_data_as_changed_for_other_actions(action: str) -> None:
    assert not counters_for(action, failed=False).changed_data


# -- Counters ----------------------------------------------------------------------------------


def test_it_lists_counter_names_in_field_order() -> None:
    # The store builds Counters positionally from COUNTER_NAMES, so the orders must agree.
    assert tuple(f.name for f in dataclasses.fields(Counters)) == COUNTER_NAMES


def test_it_adds_counters_field_by_field() -> None:
    a = Counters(processed=3, succeeded=2, failed=1, inserted=2)
    b = Counters(processed=4, succeeded=4, updated=1, deleted=2, unchanged=1, skipped=1)
    assert a + b == Counters(
        processed=7,
        succeeded=6,
        failed=1,
        skipped=1,
        inserted=2,
        updated=1,
        deleted=2,
        unchanged=1,
    )


def test_it_serializes_counters_with_every_name() -> None:
    data = Counters(processed=2, failed=1).to_json()
    assert list(data) == list(COUNTER_NAMES)
    assert data["processed"] == 2
    assert data["failed"] == 1
    assert sum(data.values()) == 3


@pure
@given(counters_strategy, counters_strategy, counters_strategy)
def test_it_adds_counters_commutatively_and_associatively(
    a: Counters, b: Counters, c: Counters
) -> None:
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert a + Counters() == a
    for name in COUNTER_NAMES:
        assert getattr(a + b, name) == getattr(a, name) + getattr(b, name)


@pure
@given(st.lists(st.tuples(st.sampled_from([*RECORD_ACTIONS, "other"]), st.booleans())))
def test_it_keeps_processed_equal_to_succeeded_plus_failed(
    results: list[tuple[str, bool]],
) -> None:
    total = Counters()
    for action, failed in results:
        total = total + counters_for(action, failed)
    assert total.processed == len(results) == total.succeeded + total.failed
    assert total.failed == sum(failed or action == "failed" for action, failed in results)


# -- iso ---------------------------------------------------------------------------------------


def test_it_formats_none_as_none() -> None:
    assert iso(None) is None


def test_it_formats_a_utc_time_with_a_z() -> None:
    assert iso(T0) == "2024-01-02T03:04:05Z"


def test_it_converts_other_offsets_to_utc_before_formatting() -> None:
    at = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert iso(at) == "2024-01-02T03:04:05Z"
    west = datetime(2024, 1, 1, 22, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    assert iso(west) == "2024-01-02T03:30:00Z"


def test_it_keeps_microseconds_when_formatting() -> None:
    assert iso(T0.replace(microsecond=123456)) == "2024-01-02T03:04:05.123456Z"


@pure
@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.builds(
            timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
        ),
    )
)
def test_it_formats_any_aware_time_as_the_same_instant_ending_in_z(at: datetime) -> None:
    text = iso(at)
    assert text is not None
    assert text.endswith("Z")
    assert "+" not in text
    assert datetime.fromisoformat(text) == at


# -- Activity ----------------------------------------------------------------------------------


def _log(message: str) -> LogLine:
    return LogLine(at=T0, level="info", message=message)


def _record(key: str) -> RecordResult:
    return RecordResult(key=key, action="inserted")


def test_it_reports_a_new_activity_as_empty() -> None:
    assert Activity().empty()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"logs": [LogLine(at=T0, level="info", message="hi")]},
        {"records": [RecordResult(key="k", action="inserted")]},
        {"progress": Progress()},
        {"info": {"a": 1}},
        {"external_calls": [{"url": "https://example.invalid"}]},
    ],
    ids=["logs", "records", "progress", "info", "external_calls"],
)
def test_it_reports_an_activity_with_anything_in_it_as_not_empty(kwargs: dict[str, Any]) -> None:
    assert not Activity(**kwargs).empty()


def test_it_reports_an_activity_with_only_empty_info_as_empty() -> None:
    assert Activity(info={}).empty()


def test_it_merges_activities_appending_lists_in_order() -> None:
    first = Activity(logs=[_log("a")], records=[_record("1")], external_calls=[{"n": 1}])
    second = Activity(
        logs=[_log("b"), _log("c")], records=[_record("2")], external_calls=[{"n": 2}]
    )
    first.merge(second)
    assert [line.message for line in first.logs] == ["a", "b", "c"]
    assert [r.key for r in first.records] == ["1", "2"]
    assert first.external_calls == [{"n": 1}, {"n": 2}]


def test_it_takes_the_latest_progress_when_merging() -> None:
    activity = Activity(progress=Progress(done=1))
    activity.merge(Activity(progress=Progress(done=5, total=10)))
    assert activity.progress == Progress(done=5, total=10)


def test_it_keeps_progress_when_merging_an_activity_without_progress() -> None:
    activity = Activity(progress=Progress(done=1))
    activity.merge(Activity())
    assert activity.progress == Progress(done=1)


def test_it_merges_info_with_later_keys_winning() -> None:
    activity = Activity(info={"a": 1, "b": 2})
    activity.merge(Activity(info={"b": 3, "c": 4}))
    assert activity.info == {"a": 1, "b": 3, "c": 4}


def test_it_takes_info_when_merging_into_an_activity_without_info() -> None:
    activity = Activity()
    activity.merge(Activity(info={"a": 1}))
    assert activity.info == {"a": 1}
    activity.merge(Activity())
    assert activity.info == {"a": 1}


def test_it_leaves_the_merged_activity_unchanged() -> None:
    info = {"b": 2}
    other = Activity(logs=[_log("b")], info=info)
    Activity(logs=[_log("a")], info={"a": 1}).merge(other)
    assert [line.message for line in other.logs] == ["b"]
    assert other.info == {"b": 2}
    assert info == {"b": 2}


def test_it_stays_empty_after_merging_two_empty_activities() -> None:
    activity = Activity()
    activity.merge(Activity())
    assert activity.empty()


def test_it_does_not_share_lists_between_new_activities() -> None:
    a, b = Activity(), Activity()
    a.logs.append(_log("x"))
    assert b.logs == []


# -- smaller value types -----------------------------------------------------------------------


def test_it_rejects_a_naive_time_naming_the_field() -> None:
    with pytest.raises(InvalidInputError) as info:
        check_aware("due_at", datetime(2024, 1, 1))
    assert info.value.field == "due_at"
    assert "naive" in info.value.reason
    check_aware("due_at", None)
    check_aware("due_at", T0)


def test_it_rejects_a_new_run_due_at_a_naive_time() -> None:
    kwargs: dict[str, Any] = {
        "job": "j",
        "job_version": 1,
        "tenant": "default",
        "trigger": Trigger.MANUAL,
        "params": {},
        "priority": 0,
        "max_attempts": 1,
    }
    assert NewRun(**kwargs, due_at=T0).due_at == T0
    with pytest.raises(InvalidInputError) as info:
        NewRun(**kwargs, due_at=datetime(2024, 1, 1))
    assert info.value.field == "due_at"


def test_it_round_trips_a_run_error_through_json() -> None:
    error = RunError("ValueError", "bad", "Traceback ...")
    assert RunError.from_json(error.to_json()) == error
    assert RunError.from_json(None) is None
    assert RunError.from_json({}) is None


def _run(**overrides: Any) -> Run:
    values: dict[str, Any] = {
        "id": 7,
        "job": "j",
        "job_version": 2,
        "tenant": "default",
        "trigger": Trigger.CATCH_UP,
        "triggered_by": None,
        "run_as": None,
        "params": {"n": 1},
        "status": RunStatus.COMPLETED,
        "priority": 0,
        "created_at": T0,
        "queued_at": T0,
        "due_at": T0,
        "started_at": T0 + timedelta(seconds=1),
        "finished_at": T0 + timedelta(seconds=3.5),
        "attempt": 1,
        "max_attempts": 1,
        "progress": Progress(done=2, total=2),
        "counters": Counters(processed=2, succeeded=2),
        "info": {},
        "result": None,
        "error": None,
        "reason": None,
        "external_calls": [],
        "data_changed": False,
        "retry_of": None,
        "cancel_requested": False,
        "worker": None,
        "lease_expires_at": None,
    }
    values.update(overrides)
    return Run(**values)


@pytest.mark.parametrize("status", list(RunStatus), ids=str)
def test_it_offers_a_manual_retry_only_for_ended_runs_that_did_not_complete(
    status: RunStatus,
) -> None:
    expected = status in {RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.CANCELED}
    assert _run(status=status).retryable is expected


def test_it_measures_duration_from_start_to_finish() -> None:
    assert _run().duration == 2.5
    assert _run(started_at=None, finished_at=None).duration is None


def test_it_writes_run_times_in_utc_with_a_z() -> None:
    data = _run(started_at=None, finished_at=None).to_json()
    assert data["created_at"] == "2024-01-02T03:04:05Z"
    assert data["started_at"] is None
    assert data["trigger"] == "catch-up"
    assert data["status"] == "completed"
    assert data["counters"]["processed"] == 2
    assert data["retryable"] is False
