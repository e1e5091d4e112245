"""Retention: ``prune`` deletes ended runs with their rows, and old occurrences, in batches."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from rota.model.errors import NotFoundError
from rota.model.runs import LogLine, Run
from rota.model.schedules import ScheduleKind, ScheduleSpec
from rota.model.status import RunStatus
from rota.store import RunFilter, Store
from rota.store import schema as t
from rota.store.base import OccurrenceFilter, PruneResult

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

DAY = timedelta(days=1)


def gone(store: Store, run_id: int) -> bool:
    """The run and every row of it are gone (read behind the store's back: its getters
    refuse an unknown run)."""
    with pytest.raises(NotFoundError):
        store.get_run(run_id)
    engine: sa.Engine = store._engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        for table in (t.run_attempts, t.run_status_history, t.run_logs, t.run_records):
            query = sa.select(sa.func.count()).select_from(table)
            assert conn.execute(query.where(table.c.run_id == run_id)).scalar() == 0, table
    return True


def ended(ops: Ops, status: RunStatus, at: datetime, *, records: int = 0) -> Run:
    """A run that logged, recorded and ended ``status`` at ``at``."""
    claim = ops.start()
    activity = ops.records(*["inserted"] * records)
    activity.logs.append(LogLine(at=at, level="INFO", message="hello", attempt=claim.attempt))
    ops.activity(claim, activity, at=at)
    assert ops.finish(claim, status, at=at)
    return ops.store.get_run(claim.run_id)


def test_old_ended_runs_go_with_their_attempts_history_logs_and_records(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    completed = ended(ops, RunStatus.COMPLETED, ops.now, records=3)
    failed = ended(ops, RunStatus.FAILED, ops.now, records=1)
    canceled = ops.enqueue()[0]
    store.request_cancel(canceled.id, "alice", ops.now)

    result = store.prune(ops.now + DAY)

    assert result == PruneResult(
        runs=3, attempts=2, history=8, logs=2, records=4, occurrences=0, more=False
    )
    assert result.total == 19
    for run in (completed, failed, canceled):
        assert gone(store, run.id)
    assert store.count_runs() == 0
    assert store.prune(ops.now + DAY) == PruneResult()


def test_recent_and_unfinished_runs_are_kept(store: Store, ops: Ops) -> None:
    ops.sync()
    old = ended(ops, RunStatus.PARTIAL, ops.now)
    recent = ended(ops, RunStatus.COMPLETED, ops.later(3600))
    running = ops.start(at=ops.later(3600))
    queued = ops.enqueue()[0]
    pending = store.enqueue_runs([replace(ops.new_run(), waits_for=running.run_id)], ops.now)[0]
    assert pending.status is RunStatus.PENDING

    result = store.prune(ops.later(60))

    assert (result.runs, result.more) == (1, False)
    assert gone(store, old.id)
    kept = {r.id: r.status for r in store.list_runs(RunFilter(limit=100))}
    assert kept == {
        recent.id: RunStatus.COMPLETED,
        running.run_id: RunStatus.RUNNING,
        queued.id: RunStatus.QUEUED,
        pending.id: RunStatus.PENDING,
    }
    assert store.get_logs(recent.id) and store.get_history(recent.id)
    # Unfinished runs stay whatever their age.
    assert store.prune(ops.now + 365 * DAY).runs == 1
    assert sorted(r.status for r in store.list_runs(RunFilter(limit=100))) == sorted(
        [RunStatus.RUNNING, RunStatus.QUEUED, RunStatus.PENDING]
    )


def test_a_batch_takes_at_most_batch_runs_oldest_first_and_says_more_remain(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    # Ended newest first, so oldest-first is not id order.
    runs = [ended(ops, RunStatus.COMPLETED, ops.later(3600 * (5 - i))) for i in range(5)]
    oldest_first = [r.id for r in reversed(runs)]

    first = store.prune(ops.now + DAY, batch=2)
    assert (first.runs, first.more) == (2, True)
    assert all(gone(store, run_id) for run_id in oldest_first[:2])
    assert store.get_run(oldest_first[2]).status is RunStatus.COMPLETED

    second = store.prune(ops.now + DAY, batch=2)
    assert (second.runs, second.more) == (2, True)
    last = store.prune(ops.now + DAY, batch=2)
    assert (last.runs, last.more) == (1, False)
    assert store.count_runs() == 0


def test_exactly_batch_runs_left_is_not_more(store: Store, ops: Ops) -> None:
    ops.sync()
    for _ in range(2):
        ended(ops, RunStatus.COMPLETED, ops.now)

    assert store.prune(ops.now + DAY, batch=2) == PruneResult(
        runs=2, attempts=2, history=6, logs=2, more=False
    )


def test_a_run_a_pending_run_waits_for_is_kept(store: Store, ops: Ops) -> None:
    ops.sync()
    waited = ended(ops, RunStatus.COMPLETED, ops.now)
    pending = store.enqueue_runs([replace(ops.new_run(), waits_for=waited.id)], ops.now)[0]
    assert pending.status is RunStatus.PENDING

    assert store.prune(ops.now + DAY).runs == 0
    assert store.get_run(waited.id).status is RunStatus.COMPLETED

    store.request_cancel(pending.id, "alice", ops.now)
    assert store.prune(ops.now + DAY).runs == 2


def test_parts_stay_while_their_parent_runs_and_a_parent_while_a_part_runs(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    parent = ops.start()
    part = store.enqueue_runs([replace(ops.new_run(), parent_id=parent.run_id)], ops.now)[0]
    part_claim = ops.claim()[0]
    assert part_claim.run_id == part.id
    assert ops.finish(part_claim)

    assert store.prune(ops.now + DAY).runs == 0  # the part's parent is still running
    assert ops.finish(parent)
    assert store.prune(ops.now + DAY).runs == 2

    parent = ops.start()
    store.enqueue_runs([replace(ops.new_run(), parent_id=parent.run_id)], ops.now)
    assert ops.finish(parent, RunStatus.FAILED)
    assert store.prune(ops.now + DAY).runs == 0  # its part has not ended


def test_old_occurrences_are_pruned_in_batches(store: Store, ops: Ops) -> None:
    every_minute = ScheduleSpec(kind=ScheduleKind.INTERVAL, expression="60s")
    store.sync_jobs([ops.definition(ops.job, schedules=(every_minute,))], ops.now)
    for minute in (1, 2, 3):
        assert store.fire_due_schedules(ops.later(60 * minute))
    everything = OccurrenceFilter(limit=100)
    assert len(store.list_occurrences(everything)) == 3

    first = store.prune(ops.later(150), batch=1)
    assert (first.occurrences, first.more) == (1, True)
    second = store.prune(ops.later(150), batch=1)
    assert (second.occurrences, second.more) == (1, False)

    left = store.list_occurrences(everything)
    assert [o.nominal_time for o in left] == [ops.later(180)]
    assert store.prune(ops.later(150)) == PruneResult()
    # The runs the schedule started have not ended: they stay.
    assert store.count_runs() == len(store.list_runs(RunFilter(limit=100))) > 0


def test_a_batch_must_take_something(store: Store, ops: Ops) -> None:
    with pytest.raises(ValueError):
        store.prune(ops.now, batch=0)
