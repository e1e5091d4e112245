"""Shortcuts for the steps a contract test takes before the one it checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from rota.model.jobs import JobDefinition, JobKind, RetryPolicy, StoredJob
from rota.model.params import JsonValue
from rota.model.runs import Activity, Claim, NewRun, Outcome, RecordResult, Run, Trigger
from rota.model.status import RunStatus
from rota.store import Store

JOB = "sync.customers"
WORKER = "worker-1"
LEASE_SECONDS = 30.0


def definition(job_id: str = JOB, **fields: Any) -> JobDefinition:
    return JobDefinition(
        id=job_id,
        kind=JobKind.PYTHON,
        spec={"entrypoint": "jobs.customers:sync"},
        **fields,
    )


def records(*actions: str, failed: Sequence[int] = (), prefix: str = "k") -> Activity:
    """An activity with one record per action; positions in ``failed`` carry an error."""
    return Activity(
        records=[
            RecordResult(key=f"{prefix}{i}", action=action, error="boom" if i in failed else None)
            for i, action in enumerate(actions)
        ]
    )


class Ops:
    """A test's view of the store, with defaults for everything that does not matter."""

    job = JOB
    worker = WORKER
    lease_seconds = LEASE_SECONDS
    definition = staticmethod(definition)
    records = staticmethod(records)

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now

    def later(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)

    def sync(self, job_id: str = JOB, **fields: Any) -> StoredJob:
        self.store.sync_jobs([definition(job_id, **fields)], self.now)
        return self.store.get_job(job_id)

    def idempotent_job(self, job_id: str = JOB, max_worker_losses: int = 3) -> StoredJob:
        return self.sync(
            job_id, idempotent=True, retry=RetryPolicy(max_worker_losses=max_worker_losses)
        )

    def new_run(
        self,
        job_id: str = JOB,
        *,
        priority: int = 0,
        due_at: datetime | None = None,
        tenant: str = "default",
        params: dict[str, JsonValue] | None = None,
        max_attempts: int = 3,
    ) -> NewRun:
        return NewRun(
            job=job_id,
            job_version=1,
            tenant=tenant,
            trigger=Trigger.MANUAL,
            params=params if params is not None else {"day": "2026-11-19"},
            priority=priority,
            max_attempts=max_attempts,
            triggered_by="alice",
            due_at=due_at,
        )

    def enqueue(self, count: int = 1, job_id: str = JOB, **fields: Any) -> list[Run]:
        requests = [self.new_run(job_id, **fields) for _ in range(count)]
        return self.store.enqueue_runs(requests, self.now)

    def claim(
        self, limit: int = 100, *, at: datetime | None = None, worker: str = WORKER
    ) -> list[Claim]:
        return self.store.claim_runs(worker, limit, self.lease_seconds, at or self.now)

    def start(self, job_id: str = JOB, *, at: datetime | None = None, **fields: Any) -> Claim:
        """Enqueue one run and claim it (the store must hold nothing else that is due)."""
        run = self.enqueue(1, job_id, **fields)[0]
        claims = self.claim(at=at)
        assert [c.run_id for c in claims] == [run.id]
        return claims[0]

    def activity(self, claim: Claim, activity: Activity, *, at: datetime | None = None) -> None:
        self.store.record_activity(claim.run_id, claim.token, activity, at or self.now)

    def finish(
        self,
        claim: Claim,
        status: RunStatus = RunStatus.COMPLETED,
        *,
        at: datetime | None = None,
        **fields: Any,
    ) -> bool:
        outcome = Outcome(run_id=claim.run_id, token=claim.token, status=status, **fields)
        return self.store.finish_runs([outcome], at or self.now)[claim.run_id]

    def statuses(self, run_id: int) -> list[tuple[RunStatus | None, RunStatus]]:
        return [(c.from_status, c.to_status) for c in self.store.get_history(run_id)]


@pytest.fixture
def ops(store: Store, now: datetime) -> Ops:
    return Ops(store, now)
