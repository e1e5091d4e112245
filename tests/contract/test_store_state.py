"""Store contract: a job's saved state (checkpoints), fenced and kept across attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rota.model.errors import LeaseLostError
from rota.model.status import RunStatus
from rota.store import Store

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

QUEUED, COMPLETED = RunStatus.QUEUED, RunStatus.COMPLETED
PARTIAL, FAILED = RunStatus.PARTIAL, RunStatus.FAILED

STATE = {"cursor": "2026-11-19T23:59:59Z", "ids": [1, 2, 3], "nested": {"a": None, "b": 1.5}}


def test_it_round_trips_job_state(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    assert store.load_state(ops.job, "default") is None

    store.save_state(claim.run_id, claim.token, STATE, ops.now)

    assert store.load_state(ops.job, "default") == STATE
    assert store.load_state(ops.job, "acme") is None
    assert store.load_state("other.job", "default") is None
    store.save_state(claim.run_id, claim.token, [1, "two"], ops.later(1))
    assert store.load_state(ops.job, "default") == [1, "two"]


def test_it_keeps_job_state_across_attempts(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    store.save_state(claim.run_id, claim.token, STATE, ops.now)
    assert ops.finish(claim, QUEUED, retry_at=ops.later(60))

    (retry,) = ops.claim(at=ops.later(60))

    assert retry.attempt == 2
    assert store.load_state(ops.job, "default") == STATE


def test_it_keeps_job_state_when_a_run_does_not_complete(store: Store, ops: Ops) -> None:
    for job_id in ("partial.job", "failed.job", "canceled.job"):
        ops.sync(job_id)
    partial, failed, canceled = (
        ops.start(job_id) for job_id in ("partial.job", "failed.job", "canceled.job")
    )
    for claim in (partial, failed, canceled):
        store.save_state(claim.run_id, claim.token, {"run": claim.run_id}, ops.now)

    assert ops.finish(partial, COMPLETED, activity=ops.records("inserted", "updated", failed=[1]))
    assert ops.finish(failed, FAILED)
    assert ops.finish(canceled, RunStatus.CANCELED)

    for job_id, claim, status in [
        ("partial.job", partial, PARTIAL),
        ("failed.job", failed, FAILED),
        ("canceled.job", canceled, RunStatus.CANCELED),
    ]:
        assert store.get_run(claim.run_id).status is status
        assert store.load_state(job_id, "default") == {"run": claim.run_id}


def test_it_clears_job_state_when_a_run_completes(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    store.save_state(claim.run_id, claim.token, STATE, ops.now)
    ops.sync("other.job")
    other = ops.start("other.job")
    store.save_state(other.run_id, other.token, {"mine": True}, ops.now)

    assert ops.finish(claim)

    assert store.load_state(ops.job, "default") is None
    assert store.load_state("other.job", "default") == {"mine": True}


def test_it_saves_no_state_for_a_lost_lease(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    store.save_state(claim.run_id, claim.token, STATE, ops.now)

    with pytest.raises(LeaseLostError):
        store.save_state(claim.run_id, "not-the-token", {"evil": True}, ops.later(1))

    assert store.load_state(ops.job, "default") == STATE
    assert ops.finish(claim, FAILED)
    with pytest.raises(LeaseLostError):
        store.save_state(claim.run_id, claim.token, {"late": True}, ops.later(2))
    assert store.load_state(ops.job, "default") == STATE
