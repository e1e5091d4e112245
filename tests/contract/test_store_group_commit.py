"""finish_and_claim: handing in outcomes and taking new runs in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rota.model.runs import Outcome
from rota.model.status import RunStatus
from rota.store import Store

if TYPE_CHECKING:
    from tests.contract.conftest import Ops


def test_it_finishes_outcomes_and_claims_the_next_runs_at_once(store: Store, ops: Ops) -> None:
    ops.sync()
    first, second, third = ops.enqueue(3)
    claims = ops.claim(limit=1)
    outcome = Outcome(run_id=claims[0].run_id, token=claims[0].token, status=RunStatus.COMPLETED)

    written, more = store.finish_and_claim([outcome], ops.worker, 2, 30, ops.later(1))

    assert written == {first.id: True}
    assert store.get_run(first.id).status is RunStatus.COMPLETED
    assert [c.run_id for c in more] == [second.id, third.id]
    assert all(store.get_run(c.run_id).status is RunStatus.RUNNING for c in more)


def test_it_claims_even_when_an_outcome_was_fenced_off(store: Store, ops: Ops) -> None:
    ops.sync()
    first, second = ops.enqueue(2)
    claim = ops.claim(limit=1)[0]
    stale = Outcome(run_id=claim.run_id, token="not-the-token", status=RunStatus.COMPLETED)

    written, more = store.finish_and_claim([stale], ops.worker, 1, 30, ops.later(1))

    assert written == {first.id: False}
    assert store.get_run(first.id).status is RunStatus.RUNNING
    assert [c.run_id for c in more] == [second.id]


def test_it_only_finishes_when_asked_to_claim_nothing(store: Store, ops: Ops) -> None:
    ops.sync()
    ops.enqueue(2)
    claim = ops.claim(limit=1)[0]
    outcome = Outcome(run_id=claim.run_id, token=claim.token, status=RunStatus.FAILED)

    written, more = store.finish_and_claim([outcome], ops.worker, 0, 30, ops.later(1))

    assert written == {claim.run_id: True} and more == []
    assert store.count_runs(status=RunStatus.QUEUED) == 1
