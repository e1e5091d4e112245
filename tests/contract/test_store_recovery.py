"""Store contract: recovering runs of lost workers, worker registration and wake-ups."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from rota.model.errors import LeaseLostError
from rota.model.runs import Counters, LeaseState, NewRun, StatusChange, Trigger
from rota.model.status import RunStatus
from rota.store import ReapResult, Store, open_store

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

QUEUED, RUNNING, FAILED = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FAILED
EXPIRED = 31.0
"""Seconds after a claim at which its lease (``ops.lease_seconds``) has run out."""

# -- reap_expired --------------------------------------------------------------------------------


def test_it_leaves_runs_with_a_live_lease_alone(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    before = store.get_run(claim.run_id)

    assert store.reap_expired(ops.later(29)) == []
    assert store.reap_expired(ops.later(30)) == []

    assert store.get_run(claim.run_id) == before
    assert store.extend_leases(ops.worker, {claim.run_id: claim.token}, 30, ops.later(30)) == {
        claim.run_id: LeaseState.HELD
    }


def test_it_fails_an_expired_run_of_a_non_idempotent_job(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()

    results = store.reap_expired(ops.later(EXPIRED))

    assert results == [ReapResult(run_id=claim.run_id, job=ops.job, requeued=False)]
    run = store.get_run(claim.run_id)
    assert (run.status, run.reason, run.finished_at) == (FAILED, "worker lost", ops.later(EXPIRED))
    assert run.error is not None
    assert run.error.type == "WorkerLost"
    assert run.lease_expires_at is None
    (attempt,) = store.get_attempts(claim.run_id)
    assert (attempt.finished_at, attempt.outcome) == (ops.later(EXPIRED), "worker lost")
    assert store.get_history(claim.run_id)[2:] == [
        StatusChange(
            run_id=claim.run_id,
            from_status=RUNNING,
            to_status=FAILED,
            at=ops.later(EXPIRED),
            reason="worker lost",
            actor="reaper",
        )
    ]
    assert ops.claim(at=ops.later(EXPIRED)) == []
    assert store.reap_expired(ops.later(3600)) == []


def test_it_requeues_an_expired_run_of_an_idempotent_job(store: Store, ops: Ops) -> None:
    ops.idempotent_job()
    claim = ops.start()

    results = store.reap_expired(ops.later(EXPIRED))

    assert results == [ReapResult(run_id=claim.run_id, job=ops.job, requeued=True)]
    run = store.get_run(claim.run_id)
    assert (run.status, run.finished_at, run.lease_expires_at) == (QUEUED, None, None)
    assert run.due_at <= ops.later(EXPIRED)
    assert ops.statuses(claim.run_id) == [(None, QUEUED), (QUEUED, RUNNING), (RUNNING, QUEUED)]
    assert store.get_attempts(claim.run_id)[0].outcome == "worker lost"
    (again,) = ops.claim(at=ops.later(EXPIRED), worker="worker-2")
    assert (again.run_id, again.attempt) == (claim.run_id, 2)
    assert again.attempt <= again.max_attempts
    assert store.reap_expired(ops.later(EXPIRED + 1)) == []


def test_it_fails_an_idempotent_run_once_it_lost_too_many_workers(store: Store, ops: Ops) -> None:
    ops.idempotent_job(max_worker_losses=1)
    first = ops.start()
    assert [r.requeued for r in store.reap_expired(ops.later(EXPIRED))] == [True]
    second_claim_at = ops.later(EXPIRED + 1)
    (second,) = ops.claim(at=second_claim_at)

    results = store.reap_expired(ops.later(EXPIRED + 1 + EXPIRED))

    assert results == [ReapResult(run_id=first.run_id, job=ops.job, requeued=False)]
    assert second.attempt == 2
    run = store.get_run(first.run_id)
    assert (run.status, run.reason) == (FAILED, "worker lost")
    assert ops.statuses(first.run_id) == [
        (None, QUEUED),
        (QUEUED, RUNNING),
        (RUNNING, QUEUED),
        (QUEUED, RUNNING),
        (RUNNING, FAILED),
    ]


def test_it_fails_an_idempotent_run_at_once_when_no_worker_loss_is_allowed(
    store: Store, ops: Ops
) -> None:
    ops.idempotent_job(max_worker_losses=0)
    claim = ops.start()

    assert store.reap_expired(ops.later(EXPIRED)) == [
        ReapResult(run_id=claim.run_id, job=ops.job, requeued=False)
    ]
    assert store.get_run(claim.run_id).status is FAILED


def test_it_either_requeues_or_fails_each_reaped_run_never_both(store: Store, ops: Ops) -> None:
    ops.idempotent_job("safe.job", max_worker_losses=1)
    ops.sync("unsafe.job")
    ops.enqueue(3, "safe.job")
    ops.enqueue(3, "unsafe.job")
    claims = ops.claim()
    late = ops.start("safe.job", at=ops.later(20))

    results = store.reap_expired(ops.later(EXPIRED))

    assert sorted(r.run_id for r in results) == sorted(c.run_id for c in claims)
    for result in results:
        run = store.get_run(result.run_id)
        after_claim = ops.statuses(result.run_id)[2:]
        if result.requeued:
            assert (result.job, run.status, after_claim) == (
                "safe.job",
                QUEUED,
                [(RUNNING, QUEUED)],
            )
        else:
            assert (result.job, run.status, after_claim) == (
                "unsafe.job",
                FAILED,
                [(RUNNING, FAILED)],
            )
    assert store.get_run(late.run_id).status is RUNNING
    assert store.reap_expired(ops.later(EXPIRED)) == []


def test_it_reaps_no_more_runs_than_the_limit(store: Store, ops: Ops) -> None:
    ops.sync()
    ops.enqueue(3)
    ops.claim()

    assert len(store.reap_expired(ops.later(EXPIRED), limit=2)) == 2
    assert len(store.reap_expired(ops.later(EXPIRED), limit=2)) == 1


def test_it_fences_the_lost_worker_out_after_reaping(store: Store, ops: Ops) -> None:
    ops.idempotent_job()
    claim = ops.start()
    store.reap_expired(ops.later(EXPIRED))

    with pytest.raises(LeaseLostError):
        ops.activity(claim, ops.records("inserted"))
    with pytest.raises(LeaseLostError):
        store.save_state(claim.run_id, claim.token, {"late": True}, ops.later(EXPIRED))
    assert not ops.finish(claim, at=ops.later(EXPIRED))
    assert store.get_run(claim.run_id).status is QUEUED
    assert store.load_state(ops.job, "default") is None


def test_it_drops_the_lost_attempts_records_after_its_last_checkpoint(
    store: Store, ops: Ops
) -> None:
    ops.idempotent_job()
    claim = ops.start()
    ops.activity(claim, ops.records("inserted", "updated", prefix="a"))
    store.save_state(claim.run_id, claim.token, {"page": 1}, ops.later(1))
    ops.activity(claim, ops.records("inserted", "deleted", failed=[1], prefix="b"), at=ops.later(2))

    assert [r.requeued for r in store.reap_expired(ops.later(EXPIRED))] == [True]

    assert [r.key for r in store.get_records(claim.run_id)] == ["a0", "a1"]
    assert store.get_run(claim.run_id).counters == Counters(
        processed=2, succeeded=2, inserted=1, updated=1
    )
    assert store.load_state(ops.job, "default") == {"page": 1}
    (resumed,) = ops.claim(at=ops.later(EXPIRED))
    ops.activity(resumed, ops.records("inserted", prefix="c"), at=ops.later(EXPIRED))
    assert resumed.attempt == 2
    assert [(r.key, r.attempt) for r in store.get_records(claim.run_id)] == [
        ("a0", 1),
        ("a1", 1),
        ("c0", 2),
    ]
    assert store.get_run(claim.run_id).counters.processed == 3


def test_it_drops_all_records_of_a_lost_attempt_without_a_checkpoint(
    store: Store, ops: Ops
) -> None:
    ops.idempotent_job()
    claim = ops.start()
    ops.activity(claim, ops.records("inserted", "failed", "updated"))

    store.reap_expired(ops.later(EXPIRED))

    assert store.get_records(claim.run_id) == []
    assert store.get_run(claim.run_id).counters == Counters()


def test_it_keeps_records_of_earlier_attempts_when_an_attempt_is_lost(
    store: Store, ops: Ops
) -> None:
    ops.idempotent_job()
    first = ops.start()
    ops.activity(first, ops.records("inserted", prefix="first"))
    store.save_state(first.run_id, first.token, {"done": 1}, ops.now)
    assert ops.finish(first, QUEUED, retry_at=ops.later(10))
    (second,) = ops.claim(at=ops.later(10))
    ops.activity(second, ops.records("updated", prefix="second"), at=ops.later(11))

    store.reap_expired(ops.later(10 + EXPIRED))

    assert [r.key for r in store.get_records(first.run_id)] == ["first0"]
    assert store.get_run(first.run_id).counters == Counters(processed=1, succeeded=1, inserted=1)


def test_it_ignores_a_checkpoint_saved_by_another_run_of_the_job(store: Store, ops: Ops) -> None:
    ops.idempotent_job()
    earlier = ops.start()
    ops.activity(earlier, ops.records("inserted", prefix="e"))
    store.save_state(earlier.run_id, earlier.token, {"page": 9}, ops.now)
    assert ops.finish(earlier, RunStatus.FAILED)
    lost = ops.start(at=ops.later(1))
    ops.activity(lost, ops.records("inserted", "updated", prefix="l"), at=ops.later(2))

    store.reap_expired(ops.later(1 + EXPIRED))

    assert store.get_records(lost.run_id) == []
    assert store.get_run(lost.run_id).counters == Counters()
    assert [r.key for r in store.get_records(earlier.run_id)] == ["e0"]


# -- workers -----------------------------------------------------------------------------------


def test_it_registers_heartbeats_and_stops_workers(store: Store, ops: Ops) -> None:
    store.register_worker(ops.worker, "host-1", 4242, 8, ops.now)
    store.register_worker("worker-2", "host-2", 4243, 2, ops.now)

    store.worker_heartbeat(ops.worker, ops.later(10))
    store.worker_heartbeat("never-registered", ops.later(10))
    assert store.extend_leases(ops.worker, {}, 30, ops.later(20)) == {}
    store.stop_worker(ops.worker, ops.later(30))
    store.stop_worker("never-registered", ops.later(30))


# -- wait_for_runs -----------------------------------------------------------------------------


def _timed_wait(store: Store, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    woken = store.wait_for_runs(timeout)
    return woken, time.monotonic() - started


def test_it_wakes_a_waiter_once_runs_were_enqueued(store: Store, ops: Ops) -> None:
    ops.sync()
    ops.enqueue()

    woken, waited = _timed_wait(store, 10)

    assert woken
    assert waited < 5


def test_it_wakes_a_waiting_thread_when_another_thread_enqueues(store: Store, ops: Ops) -> None:
    ops.sync()
    # Workers wait in a loop; the first wait sets up what later waits block on (LISTEN).
    assert not store.wait_for_runs(0.01)
    outcome: list[tuple[bool, float]] = []
    waiter = threading.Thread(target=lambda: outcome.append(_timed_wait(store, 10)))
    waiter.start()

    ops.enqueue()
    waiter.join(timeout=15)

    assert not waiter.is_alive()
    assert outcome[0][0]
    assert outcome[0][1] < 5


def test_it_times_out_waiting_when_nothing_was_enqueued(store: Store) -> None:
    woken, waited = _timed_wait(store, 0.05)

    assert not woken
    assert waited >= 0.04


@pytest.mark.postgres
def test_it_wakes_a_waiting_postgresql_store_when_another_store_enqueues(
    postgres_database: str, now: datetime
) -> None:
    waiting, enqueuing = open_store(postgres_database), open_store(postgres_database)
    try:
        # The first wait starts listening (workers wait in a loop, between claims).
        assert not waiting.wait_for_runs(0.01)
        outcome: list[tuple[bool, float]] = []
        waiter = threading.Thread(target=lambda: outcome.append(_timed_wait(waiting, 10)))
        waiter.start()

        enqueuing.enqueue_runs(
            [
                NewRun(
                    job="a.job",
                    job_version=1,
                    tenant="default",
                    trigger=Trigger.API,
                    params={},
                    priority=0,
                    max_attempts=1,
                )
            ],
            now,
        )
        waiter.join(timeout=15)

        assert not waiter.is_alive()
        assert outcome[0][0]
        assert outcome[0][1] < 5
        assert not waiting.wait_for_runs(0.05)
    finally:
        waiting.close()
        enqueuing.close()


# -- cancel requests and records across re-queues -----------------------------------------------


def test_it_never_starts_a_run_again_once_its_cancel_was_requested(store: Store, ops: Ops) -> None:
    ops.idempotent_job()
    ops.enqueue(3)
    retried, reaped, released = ops.claim()
    for claim in (retried, reaped, released):
        store.request_cancel(claim.run_id, "bob", ops.later(1))
    store.extend_leases(ops.worker, {retried.run_id: retried.token}, 600, ops.later(2))
    store.extend_leases(ops.worker, {released.run_id: released.token}, 600, ops.later(2))

    # The job failed before it noticed the request, the worker died, the worker shut down.
    assert ops.finish(retried, QUEUED, at=ops.later(3), retry_at=ops.later(10))
    assert [r.run_id for r in store.reap_expired(ops.later(EXPIRED))] == [reaped.run_id]
    assert store.release_runs(ops.worker, {released.run_id: released.token}, ops.later(EXPIRED))

    assert ops.claim(at=ops.later(3600), worker="worker-2") == []
    statuses = {
        "retried": store.get_run(retried.run_id).status,
        "reaped": store.get_run(reaped.run_id).status,
        "released": store.get_run(released.run_id).status,
    }
    assert all(status.terminal for status in statuses.values()), statuses


def test_it_drops_a_released_attempts_records_after_its_last_checkpoint(
    store: Store, ops: Ops
) -> None:
    ops.idempotent_job()
    claim = ops.start()
    ops.activity(claim, ops.records("inserted", prefix="a"))
    store.save_state(claim.run_id, claim.token, {"page": 1}, ops.later(1))
    ops.activity(claim, ops.records("inserted", prefix="b"), at=ops.later(2))

    assert store.release_runs(ops.worker, {claim.run_id: claim.token}, ops.later(3)) == 1

    assert [r.key for r in store.get_records(claim.run_id)] == ["a0"]
    assert store.get_run(claim.run_id).counters == Counters(processed=1, succeeded=1, inserted=1)


def test_it_drops_a_failed_attempts_records_after_its_checkpoint_when_retrying_it(
    store: Store, ops: Ops
) -> None:
    ops.idempotent_job()
    first = ops.start()
    ops.activity(first, ops.records("inserted", prefix="kept"))
    store.save_state(first.run_id, first.token, {"done": 1}, ops.now)
    ops.activity(first, ops.records("inserted", "updated", prefix="redo"))

    assert ops.finish(first, QUEUED, retry_at=ops.later(10))

    assert [r.key for r in store.get_records(first.run_id)] == ["kept0"]
    assert store.get_run(first.run_id).counters == Counters(processed=1, succeeded=1, inserted=1)
