"""``next_due_time``: when an idle worker should look again."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.conftest import Ops

from rota.model.runs import NewRun, Trigger
from rota.store import Store


def request(ops: Ops, due_in: float) -> NewRun:
    stored = ops.store.get_job(ops.job)
    return NewRun(
        job=ops.job,
        job_version=stored.version,
        tenant=stored.definition.tenant,
        trigger=Trigger.SCHEDULE,
        params={},
        priority=0,
        max_attempts=1,
        due_at=ops.now + timedelta(seconds=due_in),
    )


def test_it_is_the_earliest_due_time_of_a_queued_run(store: Store, ops: Ops) -> None:
    ops.sync()
    assert store.next_due_time() is None
    store.enqueue_runs([request(ops, 30), request(ops, 5), request(ops, 60)], ops.now)
    assert store.next_due_time() == ops.later(5)


def test_running_and_ended_runs_do_not_count(store: Store, ops: Ops) -> None:
    ops.sync()
    store.enqueue_runs([request(ops, 0)], ops.now)
    claimed = store.claim_runs(ops.worker, 1, ops.lease_seconds, ops.later(1))
    assert len(claimed) == 1
    assert store.next_due_time() is None
