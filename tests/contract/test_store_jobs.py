"""Store contract: job definitions, and creating and reading runs."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from rota.model.errors import InvalidInputError, NotFoundError
from rota.model.runs import Counters, Progress, StatusChange, Trigger
from rota.model.status import RunStatus
from rota.store import RunFilter, Store, SyncResult

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

# -- sync_jobs, get_job, list_jobs -------------------------------------------------------------


def test_it_stores_a_new_job_as_version_1(store: Store, ops: Ops) -> None:
    job = ops.definition("a.job", description="first", tags=("nightly",))

    results = store.sync_jobs([job], ops.now)

    assert results == [SyncResult(job="a.job", version=1, change="new")]
    stored = store.get_job("a.job")
    assert stored.definition == job
    assert stored.version == 1
    assert stored.synced_at == ops.now
    assert not stored.removed


def test_it_leaves_an_unchanged_definition_at_its_version(store: Store, ops: Ops) -> None:
    job = ops.definition("a.job")
    store.sync_jobs([job], ops.now)

    results = store.sync_jobs([job], ops.later(60))

    assert results == [SyncResult(job="a.job", version=1, change="unchanged")]
    assert store.get_job("a.job").version == 1


def test_it_gives_a_changed_definition_the_next_version_and_keeps_the_old_one(
    store: Store, ops: Ops
) -> None:
    store.sync_jobs([ops.definition("a.job", description="first")], ops.now)

    results = store.sync_jobs([ops.definition("a.job", description="second")], ops.later(60))

    assert results == [SyncResult(job="a.job", version=2, change="changed")]
    current = store.get_job("a.job")
    assert (current.version, current.definition.description) == (2, "second")
    assert current.synced_at == ops.later(60)
    old = store.get_job("a.job", version=1)
    assert (old.version, old.definition.description) == (1, "first")
    assert store.get_job("a.job", version=2) == current


def test_it_marks_jobs_missing_from_a_full_sync_removed_and_hides_them(
    store: Store, ops: Ops
) -> None:
    store.sync_jobs([ops.definition("a.job"), ops.definition("b.job")], ops.now)
    run = ops.enqueue(1, "b.job")[0]

    results = store.sync_jobs([ops.definition("a.job")], ops.later(60), remove_missing=True)

    assert SyncResult(job="b.job", version=1, change="removed") in results
    assert SyncResult(job="a.job", version=1, change="unchanged") in results
    assert [j.id for j in store.list_jobs()] == ["a.job"]
    assert [(j.id, j.removed) for j in store.list_jobs(include_removed=True)] == [
        ("a.job", False),
        ("b.job", True),
    ]
    assert store.get_job("b.job").removed
    assert store.get_run(run.id).job == "b.job"


def test_it_keeps_jobs_missing_from_a_partial_sync(store: Store, ops: Ops) -> None:
    store.sync_jobs([ops.definition("a.job"), ops.definition("b.job")], ops.now)

    store.sync_jobs([ops.definition("a.job")], ops.later(60))

    assert [j.id for j in store.list_jobs()] == ["a.job", "b.job"]


def test_it_lists_jobs_ordered_by_id(store: Store, ops: Ops) -> None:
    store.sync_jobs([ops.definition(i) for i in ("c.job", "a.job", "b.job")], ops.now)

    assert [j.id for j in store.list_jobs()] == ["a.job", "b.job", "c.job"]


def test_it_raises_not_found_for_an_unknown_job_or_version(store: Store, ops: Ops) -> None:
    ops.sync("a.job")

    with pytest.raises(NotFoundError):
        store.get_job("nobody")
    with pytest.raises(NotFoundError):
        store.get_job("a.job", version=7)


# -- enqueue_runs, get_run, history --------------------------------------------------------------


def test_it_enqueues_runs_in_order_as_queued_runs(store: Store, ops: Ops) -> None:
    ops.sync()
    due = ops.later(3600)
    requests = [
        ops.new_run(params={"n": 1}),
        ops.new_run(params={"n": 2}, priority=5, due_at=due),
        ops.new_run(params={"n": 3}, tenant="acme"),
    ]

    runs = store.enqueue_runs(requests, ops.now)

    assert [r.params for r in runs] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert runs[0].id < runs[1].id < runs[2].id
    assert all(r.status is RunStatus.QUEUED for r in runs)
    assert [r.due_at for r in runs] == [ops.now, due, ops.now]
    assert [r.priority for r in runs] == [0, 5, 0]
    assert [r.tenant for r in runs] == ["default", "default", "acme"]
    first = runs[0]
    assert (first.job, first.job_version, first.trigger) == (ops.job, 1, Trigger.MANUAL)
    assert (first.attempt, first.max_attempts, first.triggered_by) == (0, 3, "alice")
    assert (first.created_at, first.queued_at) == (ops.now, ops.now)
    assert (first.started_at, first.finished_at, first.worker) == (None, None, None)
    assert first.counters == Counters()
    assert first.progress == Progress()
    assert (first.info, first.external_calls, first.data_changed) == ({}, [], False)
    assert not first.cancel_requested


def test_it_reads_back_exactly_the_runs_it_enqueued(store: Store, ops: Ops) -> None:
    ops.sync()
    runs = store.enqueue_runs(
        [ops.new_run(), ops.new_run(due_at=ops.later(90), params={"x": [1, "two", None]})],
        ops.now,
    )

    assert [store.get_run(r.id) for r in runs] == runs


def test_it_writes_a_history_row_for_each_enqueued_run(store: Store, ops: Ops) -> None:
    ops.sync()
    runs = ops.enqueue(2)

    for run in runs:
        assert store.get_history(run.id) == [
            StatusChange(
                run_id=run.id,
                from_status=None,
                to_status=RunStatus.QUEUED,
                at=ops.now,
                reason="manual",
                actor="alice",
            )
        ]


def test_it_enqueues_nothing_for_no_requests(store: Store, ops: Ops) -> None:
    assert store.enqueue_runs([], ops.now) == []
    assert store.count_runs() == 0


def test_it_raises_not_found_for_an_unknown_run(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_run(424242)
    with pytest.raises(NotFoundError):
        store.get_history(424242)
    with pytest.raises(NotFoundError):
        store.get_attempts(424242)
    with pytest.raises(NotFoundError):
        store.get_logs(424242)
    with pytest.raises(NotFoundError):
        store.get_records(424242)


def test_it_keeps_due_times_given_in_another_time_zone_as_the_same_instant(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    due = ops.later(3600).astimezone(timezone(timedelta(hours=-5)))
    run = ops.enqueue(1, due_at=due)[0]

    stored = store.get_run(run.id)
    assert stored.due_at == due
    assert stored.due_at.utcoffset() == timedelta(0)
    assert ops.claim(at=ops.later(3599)) == []
    assert [c.run_id for c in ops.claim(at=ops.later(3600))] == [run.id]


# -- list_runs, count_runs ---------------------------------------------------------------------


@pytest.fixture
def mixed_runs(store: Store, ops: Ops) -> dict[str, list[int]]:
    """Runs of two jobs and two tenants; one canceled, one running."""
    ops.sync("a.job")
    ops.sync("b.job")
    a = [r.id for r in ops.enqueue(3, "a.job")]
    b = [r.id for r in ops.enqueue(2, "b.job")]
    acme = [r.id for r in ops.enqueue(1, "b.job", tenant="acme", due_at=ops.later(60))]
    store.request_cancel(a[1], "alice", ops.now)
    claimed = ops.claim(limit=1)
    assert [c.run_id for c in claimed] == [a[0]]
    return {"a": a, "b": b, "acme": acme}


def test_it_lists_runs_newest_first(store: Store, mixed_runs: dict[str, list[int]]) -> None:
    listed = [r.id for r in store.list_runs(RunFilter())]

    assert listed == sorted(mixed_runs["a"] + mixed_runs["b"] + mixed_runs["acme"], reverse=True)


def test_it_filters_runs_by_job_status_and_tenant(
    store: Store, mixed_runs: dict[str, list[int]]
) -> None:
    a, b, acme = mixed_runs["a"], mixed_runs["b"], mixed_runs["acme"]

    assert [r.id for r in store.list_runs(RunFilter(job="a.job"))] == a[::-1]
    assert [r.id for r in store.list_runs(RunFilter(status=RunStatus.CANCELED))] == [a[1]]
    assert [r.id for r in store.list_runs(RunFilter(status=RunStatus.RUNNING))] == [a[0]]
    assert [r.id for r in store.list_runs(RunFilter(tenant="acme"))] == acme
    queued_b = RunFilter(job="b.job", status=RunStatus.QUEUED, tenant="default")
    assert [r.id for r in store.list_runs(queued_b)] == b[::-1]
    assert store.list_runs(RunFilter(job="nobody")) == []


def test_it_pages_through_runs_with_limit_and_before_id(
    store: Store, mixed_runs: dict[str, list[int]]
) -> None:
    everything = [r.id for r in store.list_runs(RunFilter())]
    pages: list[list[int]] = []
    before: int | None = None
    while True:
        page = [r.id for r in store.list_runs(RunFilter(limit=4, before_id=before))]
        if not page:
            break
        pages.append(page)
        before = page[-1]

    assert [len(p) for p in pages] == [4, 2]
    assert [i for p in pages for i in p] == everything


def test_it_refuses_a_limit_below_one(store: Store) -> None:
    with pytest.raises(InvalidInputError):
        store.list_runs(RunFilter(limit=0))


def test_it_counts_runs_in_total_and_by_status(
    store: Store, mixed_runs: dict[str, list[int]]
) -> None:
    assert store.count_runs() == 6
    assert store.count_runs(status=RunStatus.QUEUED) == 4
    assert store.count_runs(status=RunStatus.RUNNING) == 1
    assert store.count_runs(status=RunStatus.CANCELED) == 1
    assert store.count_runs(status=RunStatus.COMPLETED) == 0
