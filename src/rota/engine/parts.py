"""Part runs: how a run started by a worker splits itself into runs other workers can take.

A part is an ordinary queued run of the same job version (trigger ``parent``, ``parent_id``
set), so it is claimed, leased, retried, canceled and reaped like any other run, on any worker
of any machine. The parent only creates, takes back, watches and adds up; what a part does is
the executor's business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

from rota.engine.reporter import StoreReporter
from rota.model.errors import ConflictError
from rota.model.params import JsonValue
from rota.model.runs import Claim, Counters, NewRun, Run, Trigger
from rota.store.base import RunFilter, Store

MAX_PARTS = 64


class StoreParts:
    """The :class:`rota.jobs.executors.base.RunParts` of one attempt."""

    def __init__(
        self,
        store: Store,
        claim: Claim,
        reporter: StoreReporter,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._claim = claim
        self._reporter = reporter
        self._clock = clock

    def start(self, params: Sequence[dict[str, JsonValue]]) -> list[int]:
        parent = self._store.get_run(self._claim.run_id)
        requests = [
            NewRun(
                job=parent.job,
                job_version=parent.job_version,
                tenant=parent.tenant,
                trigger=Trigger.PARENT,
                params=dict(p),
                priority=parent.priority,
                max_attempts=parent.max_attempts,
                triggered_by=f"run {parent.id}",
                run_as=parent.run_as,
                parent_id=parent.id,
            )
            for p in params
        ]
        return [run.id for run in self._store.enqueue_runs(requests, self._clock())]

    def withdraw(self, run_id: int) -> bool:
        return self._store.withdraw_run(run_id)

    def parts(self) -> list[Run]:
        found = self._store.list_runs(
            RunFilter(parent_id=self._claim.run_id, limit=MAX_PARTS * 100)
        )
        return sorted(found, key=lambda run: run.id)

    def cancel(self, run_id: int) -> None:
        with contextlib.suppress(ConflictError):  # it ended meanwhile
            self._store.request_cancel(run_id, f"run {self._claim.run_id}", self._clock())

    def absorb(self, counters: Counters) -> None:
        self._reporter.absorb(counters)
