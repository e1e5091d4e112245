"""Process runs and event triggers in the SQL store: both act in the transaction that ends a
run, so a step starts exactly once after the steps it needs, and a trigger fires exactly once
per ended run, whatever process dies at whatever moment.

The rules of a process (what starts, what is skipped, the derived status) are the pure
:mod:`rota.processes.plan`; this module only stores its answers. A ``process_steps`` row per
(process run, step) is written before the step's run is created: its primary key is what makes
"started at most once" hold even when two transactions advance one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rota.model.errors import ConflictError, InvalidInputError, NotFoundError
from rota.model.jobs import JobDefinition, JobKind, StoredJob
from rota.model.params import JsonValue
from rota.model.runs import COUNTER_NAMES, NewRun, ProcessStep, Run, Trigger
from rota.model.status import RunStatus
from rota.model.triggers import TAG_PREFIX, EventTrigger
from rota.processes.expressions import render
from rota.processes.plan import StepState, advance
from rota.processes.spec import ProcessSpec
from rota.store import schema as t
from rota.store.sql_internals import SqlInternals

ACTIVE = (RunStatus.PENDING.value, RunStatus.QUEUED.value, RunStatus.RUNNING.value)


class SqlProcessOps(SqlInternals):
    """Mixed into :class:`rota.store.sql.SqlStore`."""

    # -- processes ---------------------------------------------------------------------------

    def _start_process_in(self, conn: Connection, run_id: int, now: datetime) -> None:
        r = t.runs
        retry_of = conn.execute(sa.select(r.c.retry_of).where(r.c.id == run_id)).scalar()
        conn.execute(
            sa.update(r)
            .where(r.c.id == run_id)
            .values(status=RunStatus.RUNNING.value, started_at=now, attempt=1)
        )
        self._history(
            conn, run_id, RunStatus.QUEUED, RunStatus.RUNNING, now, "process started", None
        )
        if retry_of is not None:
            self._keep_completed_steps(conn, run_id, retry_of, now)
        self._advance_process_in(conn, run_id, now)

    def _keep_completed_steps(self, conn: Connection, run_id: int, old: int, now: datetime) -> None:
        """A rerun keeps the steps that completed in the run it reruns (their runs stay
        theirs) when everything they need is kept too; the others run again, so a report
        after a failed load reports the new load."""
        s, r = t.process_steps, t.runs
        completed = {
            row.step: row
            for row in conn.execute(
                sa.select(s.c.step, s.c.job_id, s.c.run_id)
                .join(r, r.c.id == s.c.run_id)
                .where(s.c.process_run_id == old, r.c.status == RunStatus.COMPLETED.value)
            ).all()
        }
        job_id, version = conn.execute(
            sa.select(r.c.job_id, r.c.job_version).where(r.c.id == run_id)
        ).one()
        kept: list[Any] = []
        for step in self._process_spec_in(conn, job_id, version).steps:
            row = completed.get(step.name)
            if row is not None and all(n in {k.step for k in kept} for n in step.needs):
                kept.append(row)
        if kept:
            conn.execute(
                sa.insert(s),
                [
                    {
                        "process_run_id": run_id,
                        "step": row.step,
                        "job_id": row.job_id,
                        "state": "kept",
                        "run_id": row.run_id,
                        "reason": f"completed in run {row.run_id}",
                        "at": now,
                    }
                    for row in kept
                ],
            )

    def _advance_process_in(self, conn: Connection, process_run_id: int, now: datetime) -> None:
        """Start, skip or fail the steps that became decidable; end the process when all are
        decided. Loops because a step that cannot be started (unknown job, bad parameters)
        is a decision the pure plan learns on its next call."""
        r = t.runs
        query = sa.select(
            r.c.status,
            r.c.job_id,
            r.c.job_version,
            r.c.params,
            r.c.cancel_requested_at,
            r.c.tenant,
            r.c.run_as,
            r.c.priority,
        ).where(r.c.id == process_run_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()  # one advance of a process at a time
        for _ in range(1000):
            proc = conn.execute(query).one()
            if proc.status != RunStatus.RUNNING.value:
                return
            spec = self._process_spec_in(conn, proc.job_id, proc.job_version)
            states = self._step_states_in(conn, process_run_id)
            plan = advance(spec, proc.params, states, canceled=proc.cancel_requested_at is not None)
            for name, reason in plan.skip:
                self._decide_step(conn, process_run_id, spec, name, "skipped", reason, now)
            for name, reason in plan.fail:
                self._decide_step(conn, process_run_id, spec, name, "failed", reason, now)
            refused = False
            requests: list[tuple[str, NewRun]] = []
            for start in plan.start:
                self._decide_step(conn, process_run_id, spec, start.name, "started", None, now)
                try:
                    stored = self._current_job_in(conn, start.job)
                    values = stored.definition.params.validate(start.params, now=now)
                except (InvalidInputError, NotFoundError, ConflictError) as exc:
                    self._set_step(conn, process_run_id, start.name, "failed", None, str(exc))
                    refused = True
                    continue
                request = _with(
                    self._step_request(proc, process_run_id, start.name), stored, values
                )
                extra = spec.step(start.name).resources
                if extra:
                    claims = {c.name: c for c in request.resources} | {c.name: c for c in extra}
                    request = replace(request, resources=tuple(sorted(claims.values())))
                requests.append((start.name, request))
            # One batch: a fan-out of a hundred steps is one insert, not a hundred.
            runs = self._enqueue_in(conn, [r for _, r in requests], now) if requests else []
            for (name, _), run in zip(requests, runs, strict=True):
                self._set_step(conn, process_run_id, name, "started", run.id, None)
            if refused or plan.start:
                continue  # ask again: a refused start is a failure, and a step may end at once
            if plan.status is not None:
                self._end_process(conn, process_run_id, plan.status, now)
            return

    def _process_spec_in(self, conn: Connection, job_id: str, version: int) -> ProcessSpec:
        """The parsed steps of a process version, parsed once per fingerprint: a process is
        advanced every time one of its steps ends."""
        v = t.job_versions
        row = conn.execute(
            sa.select(v.c.fingerprint, v.c.definition).where(
                v.c.job_id == job_id, v.c.version == version
            )
        ).first()
        if row is None or row.definition.get("kind") != JobKind.PROCESS.value:
            raise ConflictError(f"job {job_id!r} version {version} is not a process")
        cache: dict[str, ProcessSpec] = self.__dict__.setdefault("_process_specs", {})
        spec = cache.get(row.fingerprint)
        if spec is None:
            steps = row.definition.get("spec", {}).get("steps")
            assert isinstance(steps, list)
            spec = cache[row.fingerprint] = ProcessSpec.from_json(steps)
        return spec

    def _step_states_in(self, conn: Connection, process_run_id: int) -> dict[str, StepState]:
        s, r = t.process_steps, t.runs
        rows = conn.execute(
            sa.select(s.c.step, s.c.state, s.c.run_id, s.c.reason, r.c.status, r.c.info, r.c.result)
            .select_from(s.outerjoin(r, r.c.id == s.c.run_id))
            .where(s.c.process_run_id == process_run_id)
        ).all()
        states: dict[str, StepState] = {}
        for row in rows:
            if row.state == "skipped":
                states[row.step] = StepState(skipped=True, reason=row.reason)
            elif row.state == "failed":
                states[row.step] = StepState(status=RunStatus.FAILED, reason=row.reason)
            elif row.run_id is None:  # being started by this transaction
                states[row.step] = StepState(status=RunStatus.QUEUED)
            else:
                states[row.step] = StepState(
                    status=RunStatus(row.status),
                    run_id=row.run_id,
                    info=row.info or {},
                    result=row.result,
                )
        return states

    def _decide_step(
        self,
        conn: Connection,
        process_run_id: int,
        spec: ProcessSpec,
        name: str,
        state: str,
        reason: str | None,
        now: datetime,
    ) -> None:
        conn.execute(
            sa.insert(t.process_steps).values(
                process_run_id=process_run_id,
                step=name,
                job_id=spec.step(name).job,
                state=state,
                run_id=None,
                reason=reason,
                at=now,
            )
        )

    def _set_step(
        self,
        conn: Connection,
        process_run_id: int,
        name: str,
        state: str,
        run_id: int | None,
        reason: str | None,
    ) -> None:
        s = t.process_steps
        conn.execute(
            sa.update(s)
            .where(s.c.process_run_id == process_run_id, s.c.step == name)
            .values(state=state, run_id=run_id, reason=reason)
        )

    def _step_request(self, proc: Any, process_run_id: int, step: str) -> NewRun:
        return NewRun(
            job=proc.job_id,  # replaced by _with
            job_version=proc.job_version,
            tenant=proc.tenant,
            trigger=Trigger.PROCESS,
            params={},
            priority=proc.priority,
            max_attempts=1,
            triggered_by=f"process run {process_run_id}",
            run_as=proc.run_as,
            parent_id=process_run_id,
            step=step,
        )

    def _end_process(
        self,
        conn: Connection,
        process_run_id: int,
        status: RunStatus,
        now: datetime,
    ) -> None:
        r = t.runs
        sums = conn.execute(
            sa.select(*(sa.func.coalesce(sa.func.sum(r.c[n]), 0) for n in COUNTER_NAMES)).where(
                r.c.parent_id == process_run_id, r.c.step.is_not(None)
            )
        ).one()
        states = self._step_states_in(conn, process_run_id)
        failed = [
            n for n, s in states.items() if s.status in (RunStatus.FAILED, RunStatus.CANCELED)
        ]
        if status is RunStatus.CANCELED:
            reason = "canceled"
        elif failed:
            reason = f"step {', '.join(failed)} failed"
        elif status is RunStatus.PARTIAL:
            reason = "some steps ended partial"
        else:
            reason = "all steps ended"
        summary: dict[str, JsonValue] = {
            name: ("skipped" if s.skipped else s.status.value if s.status else None)
            for name, s in states.items()
        }
        conn.execute(
            sa.update(r)
            .where(r.c.id == process_run_id)
            .values(
                status=status.value,
                finished_at=now,
                reason=reason,
                result={"steps": summary},
                data_changed=bool(sums[4] or sums[5] or sums[6]),
                **{n: int(v) for n, v in zip(COUNTER_NAMES, sums, strict=True)},
            )
        )
        self._history(conn, process_run_id, RunStatus.RUNNING, status, now, reason, None)

    def _cancel_process_in(
        self, conn: Connection, process_run_id: int, actor: str | None, now: datetime
    ) -> None:
        """Canceling a process cancels its active steps; steps not started are skipped."""
        r = t.runs
        active = conn.execute(
            sa.select(r.c.id).where(
                r.c.parent_id == process_run_id, r.c.step.is_not(None), r.c.status.in_(ACTIVE)
            )
        ).all()
        for (step_run,) in active:
            self._cancel_in(conn, step_run, actor, now, "process canceled")
        self._advance_process_in(conn, process_run_id, now)

    def _is_process_run(self, conn: Connection, run_id: int) -> bool:
        kind = conn.execute(
            sa.select(t.jobs.c.kind)
            .select_from(t.runs.join(t.jobs, t.jobs.c.id == t.runs.c.job_id))
            .where(t.runs.c.id == run_id)
        ).scalar()
        return kind == JobKind.PROCESS.value

    def _process_steps_in(self, conn: Connection, run: Run) -> tuple[ProcessStep, ...]:
        if not self._is_process_run(conn, run.id):
            return ()
        spec = self._process_spec_in(conn, run.job, run.job_version)
        s, r = t.process_steps, t.runs
        rows = {
            row.step: row
            for row in conn.execute(
                sa.select(s.c.step, s.c.state, s.c.run_id, s.c.reason, r.c.status)
                .select_from(s.outerjoin(r, r.c.id == s.c.run_id))
                .where(s.c.process_run_id == run.id)
            ).all()
        }
        steps = []
        for step in spec.steps:
            row = rows.get(step.name)
            steps.append(
                ProcessStep(
                    name=step.name,
                    job=step.job,
                    state=row.state if row else "waiting",
                    run_id=row.run_id if row else None,
                    status=RunStatus(row.status) if row and row.status else None,
                    reason=row.reason if row else None,
                    needs=step.needs,
                )
            )
        return tuple(steps)

    # -- event triggers ----------------------------------------------------------------------

    def _sync_triggers_in(
        self,
        conn: Connection,
        definitions: Sequence[JobDefinition],
        removed: Sequence[str],
        now: datetime,
    ) -> None:
        """The synced jobs' triggers replace theirs; removed jobs' triggers stop firing."""
        e = t.event_triggers
        targets = [d.id for d in definitions] + list(removed)
        if targets:
            conn.execute(sa.delete(e).where(e.c.target_job.in_(targets)))
        rows = [
            {
                "id": trigger.id,
                "source_job": trigger.source,
                "target_job": trigger.target,
                "spec": trigger.to_json(),
                "removed": False,
                "synced_at": now,
            }
            for d in definitions
            for trigger in d.triggers
        ]
        if rows:
            conn.execute(sa.insert(e), rows)

    def list_triggers(self) -> list[EventTrigger]:
        e = t.event_triggers
        with self._read() as conn:
            rows = conn.execute(
                sa.select(e.c.spec).where(sa.not_(e.c.removed)).order_by(e.c.target_job, e.c.id)
            ).all()
        return [EventTrigger.from_json(row.spec) for row in rows]

    def _fire_events_in(
        self, conn: Connection, run_id: int, job_id: str, status: RunStatus, now: datetime
    ) -> None:
        e, r = t.event_triggers, t.runs
        rows = conn.execute(
            sa.select(e.c.spec).where(
                sa.not_(e.c.removed),
                sa.or_(e.c.source_job == job_id, e.c.source_job.like(f"{TAG_PREFIX}%")),
            )
        ).all()
        if not rows:
            return
        ended = conn.execute(sa.select(r).where(r.c.id == run_id)).one()
        triggers = [EventTrigger.from_json(row.spec) for row in rows]
        if any(trigger.tag for trigger in triggers):
            definition = self._definition_in(conn, job_id, ended.job_version)
            tags = set(definition.tags) if definition else set()
        else:
            tags = set()
        scope: dict[str, JsonValue] = {
            "run": {
                "id": run_id,
                "job": job_id,
                "status": status.value,
                "params": ended.params,
                "info": ended.info or {},
                "result": ended.result,
                "counters": {n: ended._mapping[n] for n in COUNTER_NAMES},
            }
        }
        for trigger in triggers:
            if status not in trigger.statuses:
                continue
            if trigger.tag is not None and trigger.tag not in tags:
                continue
            if trigger.tag is None and trigger.source != job_id:
                continue
            try:
                stored = self._current_job_in(conn, trigger.target)
                params = render(trigger.params, scope)
                assert isinstance(params, dict)
                values = stored.definition.params.validate(params, now=now)
            except (InvalidInputError, NotFoundError, ConflictError) as exc:
                conn.execute(
                    sa.insert(t.run_logs).values(
                        run_id=run_id,
                        attempt=ended.attempt,
                        at=now,
                        level="ERROR",
                        message=f"event trigger {trigger.id}: {trigger.target} not started: {exc}",
                    )
                )
                continue
            request = NewRun(
                job=trigger.target,
                job_version=stored.version,
                tenant=stored.definition.tenant,
                trigger=Trigger.EVENT,
                params=values,
                priority=stored.definition.priority,
                max_attempts=stored.definition.retry.max_attempts,
                triggered_by=f"run {run_id}",
                run_as=self._service_account_in(conn, stored.definition.tenant),
            )
            self._enqueue_in(conn, [_with(request, stored, values)], now)


def _with(request: NewRun, stored: StoredJob, values: dict[str, JsonValue]) -> NewRun:
    """A request for the job's current version, with what its definition says it holds."""
    definition = stored.definition
    return replace(
        request,
        job=definition.id,
        job_version=stored.version,
        params=values,
        max_attempts=definition.retry.max_attempts,
        resources=definition.resource_claims(),
        after=definition.after,
        process=definition.kind is JobKind.PROCESS,
    )
