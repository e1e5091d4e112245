"""Store contract: part runs of a parent run (a split data job) — created with their parent,
listed by it, taken back while nobody holds them, their records shown with the parent's, and
their counters added to the parent's when it absorbs them."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rota.model.runs import Activity, Counters, Trigger
from rota.model.status import RunStatus
from rota.store import Store
from rota.store.base import RunFilter

if TYPE_CHECKING:
    from tests.contract.conftest import Ops


def parts_of(ops: Ops, parent_id: int, count: int) -> list[int]:
    request = replace(ops.new_run(), trigger=Trigger.PARENT, parent_id=parent_id)
    return [run.id for run in ops.store.enqueue_runs([request] * count, ops.now)]


def test_parts_know_their_parent_and_are_listed_by_it(store: Store, ops: Ops) -> None:
    ops.sync()
    parent = ops.start()
    ids = parts_of(ops, parent.run_id, 2)
    ops.enqueue(1)  # an unrelated run

    listed = store.list_runs(RunFilter(parent_id=parent.run_id))
    assert sorted(run.id for run in listed) == ids
    assert {(run.parent_id, run.trigger) for run in listed} == {(parent.run_id, Trigger.PARENT)}
    assert store.get_run(ids[0]).to_json()["parent_id"] == parent.run_id


def test_a_part_nobody_claimed_can_be_withdrawn_once(store: Store, ops: Ops) -> None:
    ops.sync()
    parent = ops.start()
    first, second = parts_of(ops, parent.run_id, 2)
    claimed = ops.claim(limit=1)
    assert [c.run_id for c in claimed] == [first]

    assert store.withdraw_run(first) is False  # a worker holds it
    assert store.withdraw_run(second) is True
    assert store.withdraw_run(second) is False
    assert [run.id for run in store.list_runs(RunFilter(parent_id=parent.run_id))] == [first]
    assert ops.claim() == []  # the withdrawn part is never claimed


def test_ended_runs_cannot_be_withdrawn(store: Store, ops: Ops) -> None:
    ops.sync()
    (run,) = ops.enqueue(1)
    store.request_cancel(run.id, "alice", ops.now)
    assert store.withdraw_run(run.id) is False
    assert store.get_run(run.id).status is RunStatus.CANCELED


def test_parent_records_include_its_parts_and_absorbed_counters_add_up(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    parent = ops.start()
    (part_id,) = parts_of(ops, parent.run_id, 1)
    (part,) = ops.claim()
    assert part.run_id == part_id
    ops.activity(parent, ops.records("inserted", prefix="p"))
    ops.activity(part, ops.records("updated", "inserted", failed=[1], prefix="c"))
    ops.finish(part)

    keys = [r.key for r in store.get_records(parent.run_id)]
    assert sorted(keys) == ["c0", "c1", "p0"]
    assert [r.key for r in store.get_records(part_id)] == ["c0", "c1"]
    assert [r.key for r in store.get_records(parent.run_id, failed_only=True)] == ["c1"]

    absorbed = store.get_run(part_id).counters
    ops.finish(parent, activity=Activity(absorbed=absorbed))
    ended = store.get_run(parent.run_id)
    assert ended.counters == Counters(processed=3, succeeded=2, failed=1, inserted=1, updated=1)
    assert ended.status is RunStatus.PARTIAL  # settled on its own and its parts' counters
    assert ended.data_changed
