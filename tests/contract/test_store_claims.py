"""Store contract: claiming runs, leases, releasing and canceling them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from rota.model.errors import ConflictError, NotFoundError
from rota.model.runs import Attempt, LeaseState, StatusChange
from rota.model.status import RunStatus
from rota.store import Store

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

QUEUED, RUNNING = RunStatus.QUEUED, RunStatus.RUNNING

# -- claim_runs --------------------------------------------------------------------------------


def test_it_claims_by_priority_then_due_time_then_id(store: Store, ops: Ops) -> None:
    ops.sync()
    low_late = ops.enqueue(1, due_at=ops.later(-60))[0]
    low_early = ops.enqueue(1, due_at=ops.later(-120))[0]
    high_now = ops.enqueue(1, priority=5)[0]
    high_early = ops.enqueue(1, priority=5, due_at=ops.later(-60))[0]
    low_early_too = ops.enqueue(1, due_at=ops.later(-120))[0]
    negative = ops.enqueue(1, priority=-3, due_at=ops.later(-999))[0]

    one_at_a_time = [c.run_id for _ in range(7) for c in ops.claim(limit=1)]

    assert one_at_a_time == [
        high_early.id,
        high_now.id,
        low_early.id,
        low_early_too.id,
        low_late.id,
        negative.id,
    ]


def test_it_claims_the_first_runs_in_claim_order_when_limited(store: Store, ops: Ops) -> None:
    ops.sync()
    runs = ops.enqueue(4)
    urgent = ops.enqueue(1, priority=10)[0]

    claimed = ops.claim(limit=2)

    assert {c.run_id for c in claimed} == {urgent.id, runs[0].id}


def test_it_does_not_claim_runs_due_in_the_future(store: Store, ops: Ops) -> None:
    ops.sync()
    run = ops.enqueue(1, due_at=ops.later(3600))[0]

    assert ops.claim() == []
    assert ops.claim(at=ops.later(3599)) == []
    assert [c.run_id for c in ops.claim(at=ops.later(3600))] == [run.id]


def test_it_claims_no_more_than_the_limit(store: Store, ops: Ops) -> None:
    ops.sync()
    ops.enqueue(5)

    assert len(ops.claim(limit=3)) == 3
    assert len(ops.claim(limit=3)) == 2
    assert ops.claim(limit=3) == []
    assert ops.claim(limit=0) == []


def test_it_starts_attempt_1_with_a_lease_when_claiming(store: Store, ops: Ops) -> None:
    ops.sync()
    run = ops.enqueue(1, params={"day": "2026-11-19"}, tenant="acme")[0]

    (claim,) = ops.claim(at=ops.later(5))

    assert (claim.run_id, claim.job, claim.job_version) == (run.id, ops.job, 1)
    assert (claim.params, claim.tenant) == ({"day": "2026-11-19"}, "acme")
    assert (claim.attempt, claim.max_attempts) == (1, 3)
    assert claim.token
    assert claim.lease_expires_at == ops.later(5 + ops.lease_seconds)
    running = store.get_run(run.id)
    assert (running.status, running.attempt, running.worker) == (RUNNING, 1, ops.worker)
    assert running.started_at == ops.later(5)
    assert running.lease_expires_at == claim.lease_expires_at
    assert store.get_attempts(run.id) == [
        Attempt(
            run_id=run.id,
            number=1,
            worker=ops.worker,
            started_at=ops.later(5),
            finished_at=None,
            outcome=None,
            error=None,
        )
    ]
    assert store.get_history(run.id)[-1] == StatusChange(
        run_id=run.id,
        from_status=QUEUED,
        to_status=RUNNING,
        at=ops.later(5),
        reason="attempt 1",
        actor=ops.worker,
    )


def test_it_gives_each_claim_a_different_token(store: Store, ops: Ops) -> None:
    ops.sync()
    ops.enqueue(3)

    assert len({c.token for c in ops.claim()}) == 3


def test_it_does_not_hand_out_a_claimed_run_again(store: Store, ops: Ops) -> None:
    ops.sync()
    ops.enqueue(3)
    first = ops.claim(limit=2)

    second = ops.claim(worker="worker-2")

    assert len(second) == 1
    assert second[0].run_id not in {c.run_id for c in first}
    assert ops.claim(worker="worker-3", at=ops.later(10)) == []


class _Rounds:
    """Claimers that claim at the same moment, round after round, until all find nothing."""

    def __init__(self, claimers: int) -> None:
        self.barrier = threading.Barrier(claimers, timeout=30)
        self.found_nothing: dict[str, bool] = {}

    def claim_until_empty(self, store: Store, worker: str, ops: Ops) -> list[int]:
        claimed: list[int] = []
        try:
            while True:
                self.barrier.wait()
                batch = store.claim_runs(worker, 7, ops.lease_seconds, ops.now)
                claimed.extend(c.run_id for c in batch)
                self.found_nothing[worker] = not batch
                self.barrier.wait()
                if all(self.found_nothing.values()):
                    return claimed
        except BaseException:
            self.barrier.abort()
            raise


def test_it_never_hands_one_run_to_two_concurrent_claimers(
    store: Store, ops: Ops, open_peer: Callable[[], Store]
) -> None:
    ops.sync()
    ids = {r.id for r in store.enqueue_runs([ops.new_run() for _ in range(200)], ops.now)}
    # Two threads share the store object; two more use another one, like another node.
    peer = open_peer()
    claimers = [store, store, peer, peer]
    rounds = _Rounds(len(claimers))

    with ThreadPoolExecutor(len(claimers)) as pool:
        futures = [
            pool.submit(rounds.claim_until_empty, claimer, f"worker-{i}", ops)
            for i, claimer in enumerate(claimers)
        ]
        per_worker = [f.result(timeout=60) for f in futures]

    claimed = [run_id for ids_of_one in per_worker for run_id in ids_of_one]
    assert len(claimed) == len(set(claimed)), "a run was claimed twice"
    assert set(claimed) == ids
    assert store.count_runs(status=RUNNING) == 200
    sample = sorted(ids)[::40]
    assert all(len(store.get_attempts(run_id)) == 1 for run_id in sample)


# -- extend_leases, cancel_requests --------------------------------------------------------------


def test_it_extends_a_held_lease(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    store.register_worker(ops.worker, "host-1", 1234, 4, ops.now)

    states = store.extend_leases(ops.worker, {claim.run_id: claim.token}, 60, ops.later(20))

    assert states == {claim.run_id: LeaseState.HELD}
    assert store.get_run(claim.run_id).lease_expires_at == ops.later(80)
    assert store.reap_expired(ops.later(75)) == []


def test_it_reports_a_lease_lost_for_a_wrong_token_or_an_unknown_run(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    claim = ops.start()

    states = store.extend_leases(
        ops.worker, {claim.run_id: "not-the-token", 999_999: "x"}, 60, ops.now
    )

    assert states == {claim.run_id: LeaseState.LOST, 999_999: LeaseState.LOST}


def test_it_does_not_extend_a_lease_for_a_wrong_token(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()

    store.extend_leases(ops.worker, {claim.run_id: "not-the-token"}, 600, ops.later(20))

    assert store.get_run(claim.run_id).lease_expires_at == claim.lease_expires_at


def test_it_reports_a_lease_lost_once_the_run_was_reaped(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    assert len(store.reap_expired(ops.later(ops.lease_seconds + 1))) == 1

    states = store.extend_leases(ops.worker, {claim.run_id: claim.token}, 60, ops.later(40))

    assert states == {claim.run_id: LeaseState.LOST}
    assert store.get_run(claim.run_id).status is RunStatus.FAILED


def test_it_reports_a_lease_lost_once_the_run_was_reclaimed(store: Store, ops: Ops) -> None:
    ops.idempotent_job()
    first = ops.start()
    assert [r.requeued for r in store.reap_expired(ops.later(31))] == [True]
    (second,) = ops.claim(at=ops.later(32), worker="worker-2")

    states = store.extend_leases(ops.worker, {first.run_id: first.token}, 60, ops.later(33))

    assert states == {first.run_id: LeaseState.LOST}
    assert store.extend_leases("worker-2", {second.run_id: second.token}, 60, ops.later(33)) == {
        second.run_id: LeaseState.HELD
    }


def test_it_tells_the_worker_of_a_cancel_request(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    other = ops.start()
    tokens = {claim.run_id: claim.token, other.run_id: other.token}
    assert store.cancel_requests(tokens) == set()

    store.request_cancel(claim.run_id, "alice", ops.later(5))

    assert store.extend_leases(ops.worker, tokens, 60, ops.later(10)) == {
        claim.run_id: LeaseState.CANCEL_REQUESTED,
        other.run_id: LeaseState.HELD,
    }
    assert store.cancel_requests(tokens) == {claim.run_id}
    assert store.cancel_requests({claim.run_id: "not-the-token"}) == set()
    assert store.cancel_requests({}) == set()


# -- release_runs ------------------------------------------------------------------------------


def test_it_releases_held_runs_back_to_the_queue_without_charging_an_attempt(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    claim = ops.start()

    released = store.release_runs(
        ops.worker, {claim.run_id: claim.token}, ops.later(10), interrupted=False
    )

    assert released == 1
    run = store.get_run(claim.run_id)
    assert (run.status, run.attempt, run.lease_expires_at) == (QUEUED, 0, None)
    assert store.get_attempts(claim.run_id) == []
    assert ops.statuses(claim.run_id) == [(None, QUEUED), (QUEUED, RUNNING), (RUNNING, QUEUED)]
    (again,) = ops.claim(at=ops.later(10), worker="worker-2")
    assert (again.run_id, again.attempt) == (claim.run_id, 1)
    assert again.token != claim.token


def test_it_releases_nothing_for_a_wrong_token(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()

    assert store.release_runs(ops.worker, {claim.run_id: "not-the-token"}, ops.later(10)) == 0
    assert store.get_run(claim.run_id).status is RUNNING
    assert store.release_runs(ops.worker, {}, ops.later(10)) == 0


# -- request_cancel ------------------------------------------------------------------------------


def test_it_cancels_a_queued_run_at_once(store: Store, ops: Ops) -> None:
    ops.sync()
    run = ops.enqueue()[0]

    canceled = store.request_cancel(run.id, "bob", ops.later(5))

    assert canceled.status is RunStatus.CANCELED
    assert canceled.finished_at == ops.later(5)
    assert canceled.cancel_requested
    assert store.get_run(run.id) == canceled
    assert store.get_history(run.id)[-1] == StatusChange(
        run_id=run.id,
        from_status=QUEUED,
        to_status=RunStatus.CANCELED,
        at=ops.later(5),
        reason="canceled",
        actor="bob",
    )
    assert ops.claim(at=ops.later(10)) == []


def test_it_flags_a_running_run_for_its_worker_instead_of_ending_it(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    history = store.get_history(claim.run_id)

    flagged = store.request_cancel(claim.run_id, "bob", ops.later(5))

    assert (flagged.status, flagged.cancel_requested) == (RUNNING, True)
    assert store.get_history(claim.run_id) == history
    assert ops.finish(claim, RunStatus.CANCELED, reason="canceled", at=ops.later(6))
    assert store.get_run(claim.run_id).status is RunStatus.CANCELED
    assert ops.statuses(claim.run_id)[-1] == (RUNNING, RunStatus.CANCELED)


def test_it_refuses_to_cancel_an_ended_run(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    assert ops.finish(claim)
    queued = ops.enqueue()[0]
    store.request_cancel(queued.id, None, ops.now)

    with pytest.raises(ConflictError):
        store.request_cancel(claim.run_id, "bob", ops.later(5))
    with pytest.raises(ConflictError):
        store.request_cancel(queued.id, "bob", ops.later(5))
    assert store.get_run(claim.run_id).status is RunStatus.COMPLETED
    assert ops.statuses(claim.run_id)[-1] == (RUNNING, RunStatus.COMPLETED)
    with pytest.raises(NotFoundError):
        store.request_cancel(424242, "bob", ops.now)


def test_it_fails_an_interrupted_run_of_a_non_idempotent_job_instead_of_releasing_it(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    claim = ops.start()

    assert store.release_runs(ops.worker, {claim.run_id: claim.token}, ops.later(10)) == 1

    run = store.get_run(claim.run_id)
    assert (run.status, run.reason) == (RunStatus.FAILED, "worker shutdown")
    assert ops.claim(at=ops.later(11)) == []


def test_it_releases_an_interrupted_run_of_an_idempotent_job(store: Store, ops: Ops) -> None:
    ops.idempotent_job()
    claim = ops.start()

    assert store.release_runs(ops.worker, {claim.run_id: claim.token}, ops.later(10)) == 1

    assert store.get_run(claim.run_id).status is QUEUED
    assert [c.run_id for c in ops.claim(at=ops.later(11))] == [claim.run_id]
