"""The shared SQLAlchemy Core implementation of :class:`Store`.

Dialect differences (connection set-up, transaction start, wake-ups) live in the subclasses
``SqliteStore`` and ``PostgresStore``; everything here is plain Core that both run.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rota.model.access import NewAuditEntry
from rota.model.errors import (
    ConflictError,
    InvalidInputError,
    LeaseLostError,
    NotFoundError,
    StoreUnavailableError,
)
from rota.model.jobs import JobDefinition, JobKind, StoredJob
from rota.model.params import JsonValue
from rota.model.resources import ResourceClaim
from rota.model.runs import (
    COUNTER_NAMES,
    Activity,
    Attempt,
    Claim,
    Counters,
    LeaseState,
    LogLine,
    NewRun,
    Outcome,
    Progress,
    RecordResult,
    Run,
    RunError,
    StatusChange,
    Trigger,
    counters_for,
    new_lease_token,
    settle,
)
from rota.model.status import RunStatus, check_transition
from rota.model.workers import WorkerInfo, worker_state
from rota.store import schema as t
from rota.store.base import ReapResult, RunFilter, Store, SyncResult
from rota.store.sql_access import SqlAccessOps
from rota.store.sql_hooks import SqlHookOps
from rota.store.sql_metrics import SqlMetricsOps
from rota.store.sql_notifications import SqlNotificationOps
from rota.store.sql_processes import SqlProcessOps
from rota.store.sql_resources import SqlResourceOps
from rota.store.sql_retention import SqlRetentionOps
from rota.store.sql_schedules import SqlScheduleOps
from rota.store.sql_secrets import SqlSecretOps

RUNNING = RunStatus.RUNNING.value
QUEUED = RunStatus.QUEUED.value
PENDING = RunStatus.PENDING.value
_WAKE_AFTER_COMMIT = "rota_wake_after_commit"


class SqlStore(
    SqlAccessOps,
    SqlHookOps,
    SqlMetricsOps,
    SqlNotificationOps,
    SqlProcessOps,
    SqlResourceOps,
    SqlRetentionOps,
    SqlScheduleOps,
    SqlSecretOps,
    Store,
):
    """Core queries shared by the SQLite and PostgreSQL stores."""

    def __init__(self, write_engine: Engine, read_engine: Engine | None = None) -> None:
        self._engine = write_engine
        self._read_engine = read_engine or write_engine
        self._wakeup = threading.Event()
        self._schedule_wakeup = threading.Event()
        self._definitions: dict[str, JobDefinition] = {}
        """Parsed definitions by fingerprint (a fingerprint names one immutable definition)."""

    def _parsed(self, fingerprint: str, body: dict[str, Any]) -> JobDefinition:
        definition = self._definitions.get(fingerprint)
        if definition is None:
            definition = self._definitions[fingerprint] = JobDefinition.from_json(body)
        return definition

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        woken = False
        with _translated_errors(), self._engine.begin() as conn:
            try:
                yield conn
            finally:
                # A connection the database dropped refuses even this: the error that dropped
                # it is the one to report, and nothing was committed to wake anyone for.
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    woken = bool(conn.info.pop(_WAKE_AFTER_COMMIT, False))
        if woken:
            self._wakeup.set()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with _translated_errors(), self._read_engine.connect() as conn:
            yield conn

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()
        if self._read_engine is not self._engine:
            self._read_engine.dispose()

    def upgrade(self) -> None:
        from rota.store.migrate import upgrade

        upgrade(self._engine)

    def _notify_new_runs(self, conn: Connection) -> None:
        """Tell waiting workers that runs were queued; in-process by default, after the commit
        (a worker woken earlier would look before the runs are visible and go back to sleep)."""
        conn.info[_WAKE_AFTER_COMMIT] = True

    def wait_for_runs(self, timeout: float) -> bool:
        woken = self._wakeup.wait(timeout)
        self._wakeup.clear()
        return woken

    # -- jobs --------------------------------------------------------------------------------

    def sync_jobs(
        self,
        definitions: Sequence[JobDefinition],
        now: datetime,
        *,
        remove_missing: bool = False,
        origin: str = "project",
    ) -> list[SyncResult]:
        for _ in range(3):
            try:
                return self._sync_jobs(definitions, now, remove_missing, origin)
            except sa.exc.IntegrityError:
                continue  # another process synced the same jobs at the same moment: re-read
        return self._sync_jobs(definitions, now, remove_missing, origin)

    def _sync_jobs(
        self,
        definitions: Sequence[JobDefinition],
        now: datetime,
        remove_missing: bool,
        origin: str,
    ) -> list[SyncResult]:
        results: list[SyncResult] = []
        with self._write() as conn:
            every = {r.id: r for r in conn.execute(sa.select(t.jobs)).all()}
            current = {i: r for i, r in every.items() if r.origin == origin or r.removed}
            taken = {i for i, r in every.items() if r.origin != origin and not r.removed}
            clashes = [d for d in definitions if d.id in taken]
            if clashes:
                # Neither face may silently replace a job the other one owns.
                first = clashes[0].id
                raise ConflictError(
                    f"job {first!r} is already defined through {every[first].origin!r}: "
                    "choose another id or remove that job first"
                )
            for definition in definitions:
                fingerprint = definition.fingerprint
                body = definition.to_json()
                row = current.get(definition.id)
                if row is not None and row.fingerprint == fingerprint and not row.removed:
                    results.append(
                        SyncResult(job=definition.id, version=row.version, change="unchanged")
                    )
                    continue
                if row is not None and row.fingerprint == fingerprint:
                    version, change = row.version, "changed"
                else:
                    version = (row.version + 1) if row is not None else 1
                    change = "new" if row is None else "changed"
                    conn.execute(
                        sa.insert(t.job_versions).values(
                            job_id=definition.id,
                            version=version,
                            fingerprint=fingerprint,
                            definition=body,
                            created_at=now,
                        )
                    )
                values = {
                    "origin": origin,
                    "tenant": definition.tenant,
                    "kind": definition.kind.value,
                    "version": version,
                    "fingerprint": fingerprint,
                    "definition": body,
                    "synced_at": now,
                    "removed": False,
                }
                if row is None:
                    conn.execute(sa.insert(t.jobs).values(id=definition.id, **values))
                else:
                    conn.execute(
                        sa.update(t.jobs).where(t.jobs.c.id == definition.id).values(**values)
                    )
                results.append(SyncResult(job=definition.id, version=version, change=change))
            removed_jobs = (
                [j for j in current if j not in {d.id for d in definitions}]
                if remove_missing
                else []
            )
            self._sync_schedules_in(conn, definitions, removed_jobs, now)
            self._sync_triggers_in(conn, definitions, removed_jobs, now)
            if remove_missing:
                given = {d.id for d in definitions}
                for job_id, row in current.items():
                    if job_id not in given and not row.removed:
                        conn.execute(
                            sa.update(t.jobs)
                            .where(t.jobs.c.id == job_id)
                            .values(removed=True, synced_at=now)
                        )
                        results.append(
                            SyncResult(job=job_id, version=row.version, change="removed")
                        )
        return results

    def remove_job(self, job_id: str, now: datetime) -> None:
        with self._write() as conn:
            row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
            if row is None or row.removed:
                raise NotFoundError("job", job_id)
            conn.execute(
                sa.update(t.jobs).where(t.jobs.c.id == job_id).values(removed=True, synced_at=now)
            )
            self._sync_schedules_in(conn, [], [job_id], now)
            self._sync_triggers_in(conn, [], [job_id], now)

    def _current_job_in(self, conn: Connection, job_id: str) -> StoredJob:
        """The job a run started by the engine (a process step, an event) would run: refused
        like a manual start when it is unknown, removed or inactive."""
        row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
        if row is None:
            raise NotFoundError("job", job_id)
        if row.removed:
            raise ConflictError(f"job {job_id!r} is no longer defined in the project")
        definition = self._parsed(row.fingerprint, row.definition)
        if not definition.active:
            raise ConflictError(f"job {job_id!r} is inactive")
        return StoredJob(definition=definition, version=row.version, synced_at=row.synced_at)

    def get_job(self, job_id: str, version: int | None = None) -> StoredJob:
        with self._read() as conn:
            row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
            if row is None:
                raise NotFoundError("job", job_id)
            if version is None or version == row.version:
                return StoredJob(
                    definition=self._parsed(row.fingerprint, row.definition),
                    version=row.version,
                    synced_at=row.synced_at,
                    removed=row.removed,
                    origin=row.origin,
                )
            old = conn.execute(
                sa.select(t.job_versions).where(
                    t.job_versions.c.job_id == job_id, t.job_versions.c.version == version
                )
            ).first()
            if old is None:
                raise NotFoundError("job version", f"{job_id}@{version}")
            return _stored_job(old.definition, old.version, old.created_at, row.removed, row.origin)

    def list_jobs(self, *, include_removed: bool = False) -> list[StoredJob]:
        query = sa.select(t.jobs).order_by(t.jobs.c.id)
        if not include_removed:
            query = query.where(t.jobs.c.removed == sa.false())
        with self._read() as conn:
            return [
                _stored_job(r.definition, r.version, r.synced_at, r.removed, r.origin)
                for r in conn.execute(query).all()
            ]

    # -- runs: creating and reading ----------------------------------------------------------

    def enqueue_runs(
        self,
        requests: Sequence[NewRun],
        now: datetime,
        *,
        audit: Callable[[list[Run]], Sequence[NewAuditEntry]] | None = None,
    ) -> list[Run]:
        if not requests:
            return []
        with self._write() as conn:
            runs = self._enqueue_in(conn, requests, now)
            if audit is not None:
                self._audit_in(conn, audit(runs), now)
            return runs

    def _enqueue_in(self, conn: Connection, requests: Sequence[NewRun], now: datetime) -> list[Run]:
        requests = [self._resolve_after(conn, r) for r in requests]
        rows = [_new_run_row(r, now) for r in requests]
        ids = self._insert_runs(conn, rows)
        conn.execute(
            _INSERT_HISTORY,
            [
                {
                    "run_id": run_id,
                    "from_status": None,
                    "to_status": row["status"],
                    "at": now,
                    "reason": r.trigger.value,
                    "actor": r.triggered_by,
                }
                for run_id, r, row in zip(ids, requests, rows, strict=True)
            ],
        )
        runs = []
        existing = self._defined_resources(
            conn, [c.name for r in requests if r.waits_for is None for c in r.resources]
        )
        for run_id, request, row in zip(ids, requests, rows, strict=True):
            if row["status"] == QUEUED:
                waiting = self._claim_resources_in(
                    conn, run_id, request.job, request.priority, request.resources, now, existing
                )
                if waiting is not None:
                    self._wait_for_resources(conn, run_id, waiting, now)
                    runs.append((run_id, {**row, "status": PENDING, "waiting": waiting}))
                    continue
                if request.process:
                    self._start_process_in(conn, run_id, now)
            runs.append((run_id, row))
        self._notify_new_runs(conn)
        if any(r.process for r in requests):
            return [self._get_run_in(conn, run_id) for run_id, _ in runs]
        return [_run_from_row({**row, "id": run_id}) for run_id, row in runs]

    def _resolve_after(self, conn: Connection, request: NewRun) -> NewRun:
        """``after: [Y]``: a run waits for the newest unfinished run of Y, if there is one."""
        if not request.after or request.waits_for is not None:
            return request
        r = t.runs
        newest = conn.execute(
            sa.select(sa.func.max(r.c.id)).where(
                r.c.job_id.in_(request.after),
                r.c.status.in_([RunStatus.PENDING.value, QUEUED, RUNNING]),
            )
        ).scalar()
        return replace(request, waits_for=newest) if newest is not None else request

    def _wait_for_resources(
        self, conn: Connection, run_id: int, waiting: dict[str, JsonValue], now: datetime
    ) -> None:
        conn.execute(
            sa.update(t.runs)
            .where(t.runs.c.id == run_id)
            .values(status=RunStatus.PENDING.value, queued_at=None, waiting=waiting)
        )
        self._history(
            conn, run_id, RunStatus.QUEUED, RunStatus.PENDING, now, str(waiting["reason"]), None
        )

    def _queued_in(self, conn: Connection, run_id: int, now: datetime) -> None:
        """A pending run was just queued: a process run starts its steps instead of waiting
        for a worker."""
        kind = conn.execute(
            sa.select(t.jobs.c.kind)
            .select_from(t.runs.join(t.jobs, t.jobs.c.id == t.runs.c.job_id))
            .where(t.runs.c.id == run_id)
        ).scalar()
        if kind == JobKind.PROCESS.value:
            self._start_process_in(conn, run_id, now)

    def _insert_runs(self, conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
        """Insert runs and return their ids in order (both dialects support RETURNING)."""
        return [r[0] for r in conn.execute(_INSERT_RUNS, rows).all()]

    def get_run(self, run_id: int) -> Run:
        with self._read() as conn:
            return self._get_run_in(conn, run_id)

    def _get_run_in(self, conn: Connection, run_id: int) -> Run:
        row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError("run", run_id)
        run = _run_from_row(row._mapping)
        steps = self._process_steps_in(conn, run)
        return replace(run, steps=steps) if steps else run

    def list_runs(self, run_filter: RunFilter) -> list[Run]:
        if run_filter.limit < 1:
            raise InvalidInputError("limit", "must be at least 1")
        query = sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(run_filter.limit)
        if run_filter.job is not None:
            query = query.where(t.runs.c.job_id == run_filter.job)
        if run_filter.status is not None:
            query = query.where(t.runs.c.status == run_filter.status.value)
        if run_filter.tenant is not None:
            query = query.where(t.runs.c.tenant == run_filter.tenant)
        if run_filter.tenants is not None:
            query = query.where(t.runs.c.tenant.in_(sorted(run_filter.tenants)))
        if run_filter.trigger is not None:
            query = query.where(t.runs.c.trigger == run_filter.trigger)
        if run_filter.since is not None:
            query = query.where(t.runs.c.created_at >= run_filter.since)
        if run_filter.before_id is not None:
            query = query.where(t.runs.c.id < run_filter.before_id)
        if run_filter.parent_id is not None:
            query = query.where(t.runs.c.parent_id == run_filter.parent_id)
        with self._read() as conn:
            return [_run_from_row(r._mapping) for r in conn.execute(query).all()]

    def count_runs(self, *, status: RunStatus | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(t.runs)
        if status is not None:
            query = query.where(t.runs.c.status == status.value)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def next_due_time(self) -> datetime | None:
        query = sa.select(sa.func.min(t.runs.c.due_at)).where(t.runs.c.status == QUEUED)
        with self._read() as conn:
            value: datetime | None = conn.execute(query).scalar()
        return value

    def _require_run(self, conn: Connection, run_id: int) -> None:
        if conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)).first() is None:
            raise NotFoundError("run", run_id)

    def get_attempts(self, run_id: int) -> list[Attempt]:
        with self._read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                sa.select(t.run_attempts)
                .where(t.run_attempts.c.run_id == run_id)
                .order_by(t.run_attempts.c.attempt)
            ).all()
        return [
            Attempt(
                run_id=r.run_id,
                number=r.attempt,
                worker=r.worker_id,
                started_at=r.started_at,
                finished_at=r.finished_at,
                outcome=r.outcome,
                error=RunError.from_json(r.error),
            )
            for r in rows
        ]

    def get_history(self, run_id: int) -> list[StatusChange]:
        h = t.run_status_history
        with self._read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(sa.select(h).where(h.c.run_id == run_id).order_by(h.c.id)).all()
        return [
            StatusChange(
                run_id=r.run_id,
                from_status=RunStatus(r.from_status) if r.from_status else None,
                to_status=RunStatus(r.to_status),
                at=r.at,
                reason=r.reason,
                actor=r.actor,
            )
            for r in rows
        ]

    def get_logs(self, run_id: int, *, after: int = 0, limit: int = 1000) -> list[LogLine]:
        lg = t.run_logs
        query = (
            sa.select(lg)
            .where(lg.c.run_id == run_id, lg.c.id > after)
            .order_by(lg.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(query).all()
        return [
            LogLine(at=r.at, level=r.level, message=r.message, attempt=r.attempt, seq=r.id)
            for r in rows
        ]

    def get_records(
        self, run_id: int, *, failed_only: bool = False, after: int = 0, limit: int = 10_000
    ) -> list[RecordResult]:
        rr = t.run_records
        parts = sa.select(t.runs.c.id).where(t.runs.c.parent_id == run_id)
        query = (
            sa.select(rr)
            .where(sa.or_(rr.c.run_id == run_id, rr.c.run_id.in_(parts)), rr.c.id > after)
            .order_by(rr.c.id)
            .limit(limit)
        )
        if failed_only:
            query = query.where(sa.or_(rr.c.error.is_not(None), rr.c.action == "failed"))
        with self._read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(query).all()
        return [
            RecordResult(
                key=r.key, action=r.action, error=r.error, attempt=r.attempt, seq=r.id, row=r.row
            )
            for r in rows
        ]

    # -- runs: the engine's operations -------------------------------------------------------

    def claim_runs(
        self, worker_id: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[Claim]:
        if limit < 1:
            return []
        r = t.runs
        with self._read() as conn:
            # A cheap read first: idle workers polling must not queue up for the write lock.
            due = sa.select(r.c.id).where(r.c.status == QUEUED, r.c.due_at <= now).limit(1)
            if conn.execute(due).first() is None:
                return []
        with self._write() as conn:
            return self._claim_in(conn, worker_id, limit, lease_seconds, now)

    def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker_id: str,
        limit: int,
        lease_seconds: float,
        now: datetime,
    ) -> tuple[dict[int, bool], list[Claim]]:
        with self._write() as conn:
            written = self._finish_in(conn, outcomes, now)
            claims = self._claim_in(conn, worker_id, limit, lease_seconds, now) if limit > 0 else []
        return written, claims

    def _claim_in(
        self, conn: Connection, worker_id: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[Claim]:
        lease_until = now + timedelta(seconds=lease_seconds)
        rows = conn.execute(_CLAIMABLE, {"b_now": now, "b_limit": limit}).all()
        if not rows:
            return []
        claims = [
            Claim(
                run_id=row.id,
                job=row.job_id,
                job_version=row.job_version,
                params=row.params,
                attempt=row.attempt + 1,
                max_attempts=row.max_attempts,
                token=new_lease_token(),
                lease_expires_at=lease_until,
                tenant=row.tenant,
                trigger=Trigger(row.trigger),
            )
            for row in rows
        ]
        conn.execute(
            _CLAIM,
            [
                {
                    "b_id": c.run_id,
                    "b_attempt": c.attempt,
                    "b_token": c.token,
                    "b_lease": lease_until,
                    "b_worker": worker_id,
                    "b_now": now,
                }
                for c in claims
            ],
        )
        conn.execute(
            _INSERT_ATTEMPT,
            [
                {
                    "run_id": c.run_id,
                    "attempt": c.attempt,
                    "worker_id": worker_id,
                    "started_at": now,
                }
                for c in claims
            ],
        )
        conn.execute(
            _INSERT_HISTORY,
            [
                {
                    "run_id": c.run_id,
                    "from_status": QUEUED,
                    "to_status": RUNNING,
                    "at": now,
                    "reason": f"attempt {c.attempt}",
                    "actor": worker_id,
                }
                for c in claims
            ],
        )
        return claims

    def extend_leases(
        self, worker_id: str, tokens: Mapping[int, str], lease_seconds: float, now: datetime
    ) -> dict[int, LeaseState]:
        r = t.runs
        with self._write() as conn:
            conn.execute(
                sa.update(t.workers).where(t.workers.c.id == worker_id).values(heartbeat_at=now)
            )
            if not tokens:
                return {}
            conn.execute(
                sa.update(r)
                .where(
                    r.c.id == sa.bindparam("rid"),
                    r.c.lease_token == sa.bindparam("token"),
                    r.c.status == RUNNING,
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds)),
                [{"rid": run_id, "token": token} for run_id, token in tokens.items()],
            )
            rows = conn.execute(
                sa.select(r.c.id, r.c.lease_token, r.c.status, r.c.cancel_requested_at).where(
                    r.c.id.in_(list(tokens))
                )
            ).all()
        found = {row.id: row for row in rows}
        states: dict[int, LeaseState] = {}
        for run_id, token in tokens.items():
            row = found.get(run_id)
            if row is None or row.status != RUNNING or row.lease_token != token:
                states[run_id] = LeaseState.LOST
            elif row.cancel_requested_at is not None:
                states[run_id] = LeaseState.CANCEL_REQUESTED
            else:
                states[run_id] = LeaseState.HELD
        return states

    def cancel_requests(self, tokens: Mapping[int, str]) -> set[int]:
        if not tokens:
            return set()
        r = t.runs
        with self._read() as conn:
            rows = conn.execute(
                sa.select(r.c.id, r.c.lease_token).where(
                    r.c.id.in_(list(tokens)), r.c.cancel_requested_at.is_not(None)
                )
            ).all()
        return {row.id for row in rows if tokens.get(row.id) == row.lease_token}

    def _fenced_attempt(self, conn: Connection, run_id: int, token: str) -> Any:
        return conn.execute(_FENCED, {"b_id": run_id, "b_token": token}).first()

    def record_activity(self, run_id: int, token: str, activity: Activity, now: datetime) -> None:
        with self._write() as conn:
            held = self._fenced_attempt(conn, run_id, token)
            if held is None:
                raise LeaseLostError(f"run {run_id}: lease lost; activity not written")
            self._apply_activity(conn, run_id, held.attempt, activity, now)

    def _apply_activity(
        self, conn: Connection, run_id: int, attempt: int, activity: Activity, now: datetime
    ) -> Counters:
        """Write ``activity``; returns the counter delta of its record results."""
        delta = activity.absorbed or Counters()
        if activity.empty():
            return delta
        r = t.runs
        values: dict[str, Any] = {}
        if activity.records:
            self._insert_records(
                conn,
                [
                    (run_id, attempt, rec.key, rec.action, rec.error, rec.row)
                    for rec in activity.records
                ],
            )
            kinds = Counter((rec.action, rec.error is not None) for rec in activity.records)
            for (action, failed), count in kinds.items():
                one = counters_for(action, failed)
                delta = delta + Counters(*(getattr(one, n) * count for n in COUNTER_NAMES))
        values.update(
            {n: getattr(r.c, n) + getattr(delta, n) for n in COUNTER_NAMES if getattr(delta, n)}
        )
        if delta.changed_data:
            values["data_changed"] = True
        if activity.logs:
            conn.execute(
                sa.insert(t.run_logs),
                [
                    {
                        "run_id": run_id,
                        "attempt": attempt,
                        "at": line.at,
                        "level": line.level,
                        "message": line.message,
                    }
                    for line in activity.logs
                ],
            )
        if activity.progress is not None:
            values["progress_done"] = activity.progress.done
            values["progress_total"] = activity.progress.total
            values["progress_message"] = activity.progress.message
        if activity.info is not None or activity.external_calls:
            current = conn.execute(
                sa.select(r.c.info, r.c.external_calls).where(r.c.id == run_id)
            ).one()
            if activity.info is not None:
                values["info"] = {**(current.info or {}), **activity.info}
            if activity.external_calls:
                values["external_calls"] = [
                    *(current.external_calls or []),
                    *activity.external_calls,
                ]
        if values:
            conn.execute(sa.update(r).where(r.c.id == run_id).values(**values))
        return delta

    def _insert_records(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Record results (run_id, attempt, key, action, error, row) as plain tuples: an
        import reports one per record, and building SQLAlchemy parameters per row cost more
        than the insert itself."""
        conn.exec_driver_sql(_INSERT_RECORDS[self._engine.dialect.paramstyle], rows)

    def finish_runs(self, outcomes: Sequence[Outcome], now: datetime) -> dict[int, bool]:
        with self._write() as conn:
            return self._finish_in(conn, outcomes, now)

    def _finish_in(
        self, conn: Connection, outcomes: Sequence[Outcome], now: datetime
    ) -> dict[int, bool]:
        written: dict[int, bool] = {}
        for outcome in outcomes:
            held = self._fenced_attempt(conn, outcome.run_id, outcome.token)
            if held is None:
                written[outcome.run_id] = False
                continue
            delta = Counters()
            if outcome.activity is not None:
                delta = self._apply_activity(
                    conn, outcome.run_id, held.attempt, outcome.activity, now
                )
            status, reason = outcome.status, outcome.reason
            if status is RunStatus.COMPLETED:
                status = settle(Counters(*(getattr(held, name) for name in COUNTER_NAMES)) + delta)
            elif status is RunStatus.QUEUED and held.cancel_requested_at is not None:
                status, reason = RunStatus.CANCELED, "canceled (no retry)"
            check_transition(RunStatus.RUNNING, status)
            values: dict[str, Any] = {
                "b_id": outcome.run_id,
                "b_status": status.value,
                "b_reason": reason,
                "b_error": outcome.error.to_json() if outcome.error else None,
            }
            if status is RunStatus.QUEUED:
                # The retry resumes from the last checkpoint: drop what it will redo.
                self._rollback_to_checkpoint(
                    conn, outcome.run_id, held.attempt, held.job_id, held.tenant
                )
                conn.execute(_REQUEUE, {**values, "b_due": outcome.retry_at or now, "b_now": now})
            else:
                conn.execute(_END, {**values, "b_now": now, "b_result": outcome.result})
            self._end_attempt(conn, outcome.run_id, held.attempt, now, status.value, outcome.error)
            self._history(conn, outcome.run_id, RunStatus.RUNNING, status, now, reason, None)
            if status is RunStatus.COMPLETED and held.has_state:
                # Only this run's checkpoint: another run of the job may have saved a newer one.
                conn.execute(
                    _CLEAR_STATE,
                    {"b_job": held.job_id, "b_tenant": held.tenant, "b_id": outcome.run_id},
                )
            written[outcome.run_id] = True
        if any(o.status is RunStatus.QUEUED for o in outcomes):
            self._notify_new_runs(conn)
        return written

    def _end_attempt(
        self,
        conn: Connection,
        run_id: int,
        attempt: int,
        now: datetime,
        outcome: str,
        error: RunError | None,
    ) -> None:
        conn.execute(
            _END_ATTEMPT,
            {
                "b_id": run_id,
                "b_attempt": attempt,
                "b_now": now,
                "b_outcome": outcome,
                "b_error": error.to_json() if error else None,
            },
        )

    def _history(
        self,
        conn: Connection,
        run_id: int,
        old: RunStatus | None,
        new: RunStatus,
        now: datetime,
        reason: str | None,
        actor: str | None,
    ) -> None:
        """Write one status change; a run that ended releases the pending runs waiting for it."""
        conn.execute(
            _INSERT_HISTORY,
            {
                "run_id": run_id,
                "from_status": old.value if old else None,
                "to_status": new.value,
                "at": now,
                "reason": reason,
                "actor": actor,
            },
        )
        if new.terminal:
            self._ended_in(conn, run_id, new, now)

    def _ended_in(self, conn: Connection, run_id: int, status: RunStatus, now: datetime) -> None:
        """Everything a run's end sets off, in the transaction that ends it, so none of it is
        lost or done twice whatever dies afterwards: runs waiting for it are queued, its
        resources pass to the next waiters, its process advances, event triggers fire."""
        r = t.runs
        ended = conn.execute(
            sa.select(r.c.job_id, r.c.parent_id, r.c.step, r.c.holds).where(r.c.id == run_id)
        ).one()
        waiters = conn.execute(
            sa.select(r.c.id, r.c.job_id, r.c.priority, r.c.waiting).where(
                r.c.waits_for == run_id, r.c.status == RunStatus.PENDING.value
            )
        ).all()
        for waiter in waiters:
            self._release_waiter(conn, waiter, run_id, now)
        if ended.holds:
            self._release_in(conn, run_id, now)
        if ended.step is not None and ended.parent_id is not None:
            self._advance_process_in(conn, ended.parent_id, now)
        self._fire_events_in(conn, run_id, ended.job_id, status, now)
        self._notify_ended_in(conn, run_id, status, now)
        if waiters:
            self._notify_new_runs(conn)

    def _release_waiter(self, conn: Connection, waiter: Any, ended: int, now: datetime) -> None:
        """A run waiting for ``ended`` moves on: to its resources if it claims any (they were
        put aside while it waited), else to the queue."""
        r = t.runs
        claims = [ResourceClaim.from_json(c) for c in (waiter.waiting or {}).get("claims", ())]
        conn.execute(
            sa.update(r)
            .where(r.c.id == waiter.id)
            .values(status=QUEUED, queued_at=now, due_at=now, waiting=None)
        )
        self._history(
            conn, waiter.id, RunStatus.PENDING, RunStatus.QUEUED, now, f"run {ended} ended", None
        )
        waiting = self._claim_resources_in(
            conn, waiter.id, waiter.job_id, waiter.priority, claims, now
        )
        if waiting is not None:
            self._wait_for_resources(conn, waiter.id, waiting, now)
        else:
            self._queued_in(conn, waiter.id, now)

    def release_runs(
        self, worker_id: str, tokens: Mapping[int, str], now: datetime, *, interrupted: bool = True
    ) -> int:
        r = t.runs
        released = 0
        with self._write() as conn:
            for run_id, token in tokens.items():
                held = self._fenced_attempt(conn, run_id, token)
                if held is None:
                    continue
                released += 1
                if held.cancel_requested_at is not None:
                    reason = "canceled (worker shutdown)"
                    self._end_held(conn, run_id, held.attempt, now, RunStatus.CANCELED, reason)
                    continue
                definition = self._definition_in(conn, held.job_id, held.job_version)
                if interrupted and not (definition is not None and definition.idempotent):
                    # Stopped mid-way: a non-idempotent run must not run again by itself.
                    error = RunError("Interrupted", "stopped mid-run at worker shutdown")
                    self._end_held(
                        conn, run_id, held.attempt, now, RunStatus.FAILED, "worker shutdown", error
                    )
                    continue
                self._rollback_to_checkpoint(conn, run_id, held.attempt, held.job_id, held.tenant)
                conn.execute(
                    sa.update(r)
                    .where(r.c.id == run_id)
                    .values(
                        status=QUEUED,
                        attempt=r.c.attempt - 1,
                        lease_token=None,
                        lease_expires_at=None,
                        worker_id=None,
                        queued_at=now,
                        due_at=now,
                    )
                )
                conn.execute(
                    sa.delete(t.run_attempts).where(
                        t.run_attempts.c.run_id == run_id, t.run_attempts.c.attempt == held.attempt
                    )
                )
                self._history(
                    conn,
                    run_id,
                    RunStatus.RUNNING,
                    RunStatus.QUEUED,
                    now,
                    "worker shutdown",
                    worker_id,
                )
            if released:
                self._notify_new_runs(conn)
        return released

    def _end_held(
        self,
        conn: Connection,
        run_id: int,
        attempt: int,
        now: datetime,
        status: RunStatus,
        reason: str,
        error: RunError | None = None,
        actor: str | None = None,
    ) -> None:
        """End a running run outside its worker (cancel requested, worker lost, shutdown)."""
        conn.execute(
            _END,
            {
                "b_id": run_id,
                "b_status": status.value,
                "b_reason": reason,
                "b_error": error.to_json() if error else None,
                "b_result": None,
                "b_now": now,
            },
        )
        self._end_attempt(conn, run_id, attempt, now, reason, error)
        self._history(conn, run_id, RunStatus.RUNNING, status, now, reason, actor)

    def request_cancel(self, run_id: int, actor: str | None, now: datetime) -> Run:
        with self._write() as conn:
            self._cancel_in(conn, run_id, actor, now)
        return self.get_run(run_id)

    def withdraw_run(self, run_id: int) -> bool:
        r = t.runs
        with self._write() as conn:
            gone = conn.execute(
                sa.delete(r).where(r.c.id == run_id, r.c.status == QUEUED, r.c.attempt == 0)
            ).rowcount
            if gone:
                h = t.run_status_history
                conn.execute(sa.delete(h).where(h.c.run_id == run_id))
        return bool(gone)

    def _cancel_in(
        self,
        conn: Connection,
        run_id: int,
        actor: str | None,
        now: datetime,
        reason: str = "canceled",
    ) -> None:
        r = t.runs
        row = conn.execute(sa.select(r.c.status).where(r.c.id == run_id)).first()
        if row is None:
            raise NotFoundError("run", run_id)
        status = RunStatus(row.status)
        if status.terminal:
            raise ConflictError(f"run {run_id} already ended {status.value}; nothing to cancel")
        if status is RunStatus.RUNNING:
            conn.execute(
                sa.update(r)
                .where(r.c.id == run_id, r.c.cancel_requested_at.is_(None))
                .values(cancel_requested_at=now, cancel_requested_by=actor)
            )
            if self._is_process_run(conn, run_id):
                self._cancel_process_in(conn, run_id, actor, now)
            return
        check_transition(status, RunStatus.CANCELED)
        conn.execute(
            sa.update(r)
            .where(r.c.id == run_id)
            .values(
                status=RunStatus.CANCELED.value,
                finished_at=now,
                reason=reason,
                cancel_requested_at=now,
                cancel_requested_by=actor,
            )
        )
        self._history(conn, run_id, status, RunStatus.CANCELED, now, reason, actor)

    def reap_expired(self, now: datetime, limit: int = 100) -> list[ReapResult]:
        r = t.runs
        results: list[ReapResult] = []
        with self._write() as conn:
            rows = conn.execute(
                sa.select(
                    r.c.id,
                    r.c.job_id,
                    r.c.job_version,
                    r.c.attempt,
                    r.c.max_attempts,
                    r.c.worker_losses,
                    r.c.worker_id,
                    r.c.tenant,
                    r.c.cancel_requested_at,
                )
                .where(r.c.status == RUNNING, r.c.lease_expires_at < now)
                .order_by(r.c.lease_expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                error = RunError("WorkerLost", f"worker {row.worker_id} stopped heartbeating")
                if row.cancel_requested_at is not None:
                    reason = "canceled (worker lost)"
                    self._end_held(conn, row.id, row.attempt, now, RunStatus.CANCELED, reason)
                    results.append(ReapResult(run_id=row.id, job=row.job_id, requeued=False))
                    continue
                definition = self._definition_in(conn, row.job_id, row.job_version)
                idempotent = definition is not None and definition.idempotent
                losses_allowed = definition.retry.max_worker_losses if definition else 0
                requeue = idempotent and row.worker_losses < losses_allowed
                if not requeue:
                    self._end_held(
                        conn,
                        row.id,
                        row.attempt,
                        now,
                        RunStatus.FAILED,
                        "worker lost",
                        error,
                        "reaper",
                    )
                    results.append(ReapResult(run_id=row.id, job=row.job_id, requeued=False))
                    continue
                self._end_attempt(conn, row.id, row.attempt, now, "worker lost", error)
                self._rollback_to_checkpoint(conn, row.id, row.attempt, row.job_id, row.tenant)
                reason = "worker lost; re-queued (idempotent)"
                conn.execute(
                    sa.update(r)
                    .where(r.c.id == row.id)
                    .values(
                        status=QUEUED,
                        queued_at=now,
                        due_at=now,
                        worker_losses=row.worker_losses + 1,
                        worker_id=None,
                        # A lost attempt is not the job's failure: it does not use up a retry.
                        max_attempts=row.max_attempts + 1,
                        reason=reason,
                        lease_token=None,
                        lease_expires_at=None,
                    )
                )
                self._history(
                    conn, row.id, RunStatus.RUNNING, RunStatus.QUEUED, now, reason, "reaper"
                )
                results.append(ReapResult(run_id=row.id, job=row.job_id, requeued=True))
            if any(res.requeued for res in results):
                self._notify_new_runs(conn)
        return results

    def _definition_in(self, conn: Connection, job_id: str, version: int) -> JobDefinition | None:
        v = t.job_versions
        row = conn.execute(
            sa.select(v.c.definition).where(v.c.job_id == job_id, v.c.version == version)
        ).first()
        return JobDefinition.from_json(row.definition) if row else None

    def _rollback_to_checkpoint(
        self, conn: Connection, run_id: int, attempt: int, job_id: str, tenant: str
    ) -> None:
        """Drop the lost attempt's record results written after its last checkpoint, so a
        resumed run counts each record once, then recount the run's counters from its rows."""
        s, rr, r = t.job_state, t.run_records, t.runs
        state = conn.execute(
            sa.select(s.c.run_id, s.c.record_mark).where(s.c.job_id == job_id, s.c.tenant == tenant)
        ).first()
        mark = state.record_mark if state is not None and state.run_id == run_id else 0
        conn.execute(
            sa.delete(rr).where(rr.c.run_id == run_id, rr.c.attempt == attempt, rr.c.id > mark)
        )
        counters = Counters()
        for action, failed, n in conn.execute(
            sa.select(rr.c.action, rr.c.error.is_not(None), sa.func.count())
            .where(rr.c.run_id == run_id)
            .group_by(rr.c.action, rr.c.error.is_not(None))
        ).all():
            one = counters_for(action, bool(failed))
            counters = counters + Counters(*(getattr(one, name) * n for name in COUNTER_NAMES))
        conn.execute(sa.update(r).where(r.c.id == run_id).values(**counters.to_json()))

    # -- job state ---------------------------------------------------------------------------

    def save_state(self, run_id: int, token: str, state: JsonValue, now: datetime) -> None:
        s = t.job_state
        with self._write() as conn:
            held = self._fenced_attempt(conn, run_id, token)
            if held is None:
                raise LeaseLostError(f"run {run_id}: lease lost; state not saved")
            mark = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(t.run_records.c.id), 0)).where(
                    t.run_records.c.run_id == run_id
                )
            ).scalar_one()
            values = {
                "state": state,
                "run_id": run_id,
                "attempt": held.attempt,
                "record_mark": mark,
                "updated_at": now,
            }
            updated = conn.execute(
                sa.update(s)
                .where(s.c.job_id == held.job_id, s.c.tenant == held.tenant)
                .values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(sa.insert(s).values(job_id=held.job_id, tenant=held.tenant, **values))

    def load_state(self, job_id: str, tenant: str) -> JsonValue:
        s = t.job_state
        with self._read() as conn:
            row = conn.execute(
                sa.select(s.c.state).where(s.c.job_id == job_id, s.c.tenant == tenant)
            ).first()
        return row.state if row is not None else None

    # -- workers -----------------------------------------------------------------------------

    def register_worker(
        self,
        worker_id: str,
        hostname: str,
        pid: int,
        concurrency: int,
        now: datetime,
        *,
        version: str | None = None,
    ) -> None:
        w = t.workers
        values = {
            "hostname": hostname,
            "pid": pid,
            "concurrency": concurrency,
            "started_at": now,
            "heartbeat_at": now,
            "stopped_at": None,
            "version": version[:32] if version else None,
        }
        with self._write() as conn:
            row = conn.execute(sa.select(w.c.stopped_at).where(w.c.id == worker_id)).first()
            if row is None:
                conn.execute(sa.insert(w).values(id=worker_id, **values))
            elif row.stopped_at is None:
                raise ConflictError(f"worker id {worker_id!r} is in use by a running worker")
            else:  # the same id started again after a clean stop
                conn.execute(sa.update(w).where(w.c.id == worker_id).values(**values))

    def list_workers(
        self,
        now: datetime,
        lease_seconds: float,
        *,
        include_stopped: bool = True,
        limit: int = 200,
    ) -> list[WorkerInfo]:
        w, r = t.workers, t.runs
        query = sa.select(w).order_by(w.c.started_at.desc(), w.c.id.desc()).limit(limit)
        if not include_stopped:
            query = query.where(w.c.stopped_at.is_(None))
        with self._read() as conn:
            rows = conn.execute(query).all()
            held: dict[str, list[int]] = {row.id: [] for row in rows}
            if held:
                for run_id, worker_id in conn.execute(
                    sa.select(r.c.id, r.c.worker_id)
                    .where(r.c.status == RUNNING, r.c.worker_id.in_(list(held)))
                    .order_by(r.c.id)
                ):
                    held[worker_id].append(run_id)
        return [
            WorkerInfo(
                id=row.id,
                hostname=row.hostname,
                pid=row.pid,
                version=row.version,
                concurrency=row.concurrency,
                started_at=row.started_at,
                heartbeat_at=row.heartbeat_at,
                stopped_at=row.stopped_at,
                state=worker_state(row.heartbeat_at, row.stopped_at, now, lease_seconds),
                running=held[row.id],
            )
            for row in rows
        ]

    def worker_heartbeat(self, worker_id: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                sa.update(t.workers).where(t.workers.c.id == worker_id).values(heartbeat_at=now)
            )

    def stop_worker(self, worker_id: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                sa.update(t.workers).where(t.workers.c.id == worker_id).values(stopped_at=now)
            )


# Statements of the hot paths, built once: building a Core statement costs more than running
# it on SQLite (measured: ~0.3 ms each, ten per finished run). Parameters are b_-prefixed
# because SQLAlchemy reserves column names for the SET clause.
_r, _a, _s = t.runs, t.run_attempts, t.job_state
_INSERT_RUNS = sa.insert(_r).returning(_r.c.id, sort_by_parameter_order=True)
_INSERT_HISTORY = sa.insert(t.run_status_history)
_INSERT_ATTEMPT = sa.insert(_a)
_CLAIMABLE = (
    sa.select(
        _r.c.id,
        _r.c.job_id,
        _r.c.job_version,
        _r.c.params,
        _r.c.attempt,
        _r.c.max_attempts,
        _r.c.tenant,
        _r.c.trigger,
    )
    .where(_r.c.status == QUEUED, _r.c.due_at <= sa.bindparam("b_now", type_=t.UtcDateTime))
    .order_by(_r.c.priority.desc(), _r.c.due_at, _r.c.id)
    .limit(sa.bindparam("b_limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    sa.update(_r)
    .where(_r.c.id == sa.bindparam("b_id"), _r.c.status == QUEUED)
    .values(
        status=RUNNING,
        attempt=sa.bindparam("b_attempt"),
        lease_token=sa.bindparam("b_token"),
        lease_expires_at=sa.bindparam("b_lease", type_=t.UtcDateTime),
        worker_id=sa.bindparam("b_worker"),
        started_at=sa.func.coalesce(_r.c.started_at, sa.bindparam("b_now", type_=t.UtcDateTime)),
        reason=None,
    )
)
_HAS_STATE = (
    sa.exists()
    .where(
        _s.c.job_id == _r.c.job_id,
        _s.c.tenant == _r.c.tenant,
        sa.or_(_s.c.run_id == _r.c.id, _s.c.run_id.is_(None)),
    )
    .label("has_state")
)
_FENCED = sa.select(
    _r.c.id,
    _r.c.attempt,
    _r.c.job_id,
    _r.c.tenant,
    _r.c.max_attempts,
    _r.c.cancel_requested_at,
    _r.c.job_version,
    *(_r.c[name] for name in COUNTER_NAMES),
    _HAS_STATE,
).where(
    _r.c.id == sa.bindparam("b_id"),
    _r.c.lease_token == sa.bindparam("b_token"),
    _r.c.status == RUNNING,
)
_END = (
    sa.update(_r)
    .where(_r.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        reason=sa.bindparam("b_reason"),
        error=sa.bindparam("b_error", type_=t.Json),
        result=sa.bindparam("b_result", type_=t.Json),
        finished_at=sa.bindparam("b_now", type_=t.UtcDateTime),
        lease_token=None,
        lease_expires_at=None,
    )
)
_REQUEUE = (
    sa.update(_r)
    .where(_r.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        reason=sa.bindparam("b_reason"),
        error=sa.bindparam("b_error", type_=t.Json),
        due_at=sa.bindparam("b_due", type_=t.UtcDateTime),
        queued_at=sa.bindparam("b_now", type_=t.UtcDateTime),
        worker_id=None,
        lease_token=None,
        lease_expires_at=None,
    )
)
_END_ATTEMPT = (
    sa.update(_a)
    .where(_a.c.run_id == sa.bindparam("b_id"), _a.c.attempt == sa.bindparam("b_attempt"))
    .values(
        finished_at=sa.bindparam("b_now", type_=t.UtcDateTime),
        outcome=sa.bindparam("b_outcome"),
        error=sa.bindparam("b_error", type_=t.Json),
    )
)
_CLEAR_STATE = sa.delete(_s).where(
    _s.c.job_id == sa.bindparam("b_job"),
    _s.c.tenant == sa.bindparam("b_tenant"),
    sa.or_(_s.c.run_id == sa.bindparam("b_id"), _s.c.run_id.is_(None)),
)


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Database failures become :class:`StoreUnavailableError` with a next step."""
    try:
        yield
    except (
        sa.exc.OperationalError,
        sa.exc.ProgrammingError,
        sa.exc.InterfaceError,
        sa.exc.PendingRollbackError,
    ) as exc:
        text = str(getattr(exc, "orig", None) or exc)
        if "no such table" in text or ("does not exist" in text and "relation" in text):
            raise StoreUnavailableError(
                "the database has no Rota schema yet (or an old one): run `rota db upgrade`"
            ) from exc
        raise StoreUnavailableError(f"database error: {text}") from exc


_RECORD_COLUMNS = '(run_id, attempt, "key", action, error, "row")'
_INSERT_RECORDS = {
    "qmark": f"INSERT INTO run_records {_RECORD_COLUMNS} VALUES (?, ?, ?, ?, ?, ?)",
    "format": f"INSERT INTO run_records {_RECORD_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s)",
    "pyformat": f"INSERT INTO run_records {_RECORD_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s)",
}


def _stored_job(
    body: dict[str, Any], version: int, synced_at: datetime, removed: bool, origin: str
) -> StoredJob:
    return StoredJob(
        definition=JobDefinition.from_json(body),
        version=version,
        synced_at=synced_at,
        removed=removed,
        origin=origin,
    )


def _new_run_row(request: NewRun, now: datetime) -> dict[str, Any]:
    return {
        "job_id": request.job,
        "job_version": request.job_version,
        "tenant": request.tenant,
        "trigger": request.trigger.value,
        "triggered_by": request.triggered_by,
        "run_as": request.run_as,
        "params": request.params,
        "status": RunStatus.PENDING.value if request.waits_for else QUEUED,
        "priority": request.priority,
        "created_at": now,
        "queued_at": None if request.waits_for else now,
        "due_at": request.due_at or now,
        "started_at": None,
        "finished_at": None,
        "attempt": 0,
        "max_attempts": request.max_attempts,
        "worker_losses": 0,
        "progress_done": 0,
        "progress_total": None,
        "progress_message": None,
        **dict.fromkeys(COUNTER_NAMES, 0),
        "info": {},
        "result": None,
        "error": None,
        "reason": None,
        "external_calls": [],
        "data_changed": False,
        "retry_of": request.retry_of,
        "cancel_requested_at": None,
        "cancel_requested_by": None,
        "worker_id": None,
        "lease_token": None,
        "lease_expires_at": None,
        "schedule_id": request.schedule_id,
        "scheduled_for": request.scheduled_for,
        "waits_for": request.waits_for,
        "parent_id": request.parent_id,
        "step": request.step,
        # Claims wait aside while the run waits for another run: only a run ready to start
        # competes for resources, so a waiting one blocks nobody.
        "waiting": (
            {"claims": [c.to_json() for c in request.resources]}
            if request.waits_for and request.resources
            else None
        ),
        "holds": False,
    }


def _run_from_row(row: Mapping[Any, Any]) -> Run:
    return Run(
        id=row["id"],
        job=row["job_id"],
        job_version=row["job_version"],
        tenant=row["tenant"],
        trigger=Trigger(row["trigger"]),
        triggered_by=row["triggered_by"],
        run_as=row["run_as"],
        params=row["params"],
        status=RunStatus(row["status"]),
        priority=row["priority"],
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        due_at=row["due_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        progress=Progress(row["progress_done"], row["progress_total"], row["progress_message"]),
        counters=Counters(**{n: row[n] for n in COUNTER_NAMES}),
        info=row["info"] or {},
        result=row["result"],
        error=RunError.from_json(row["error"]),
        reason=row["reason"],
        external_calls=row["external_calls"] or [],
        data_changed=bool(row["data_changed"]),
        retry_of=row["retry_of"],
        cancel_requested=row["cancel_requested_at"] is not None,
        worker=row["worker_id"],
        lease_expires_at=row["lease_expires_at"],
        schedule_id=row["schedule_id"],
        scheduled_for=row["scheduled_for"],
        waits_for=row["waits_for"],
        parent_id=row["parent_id"],
        step=row["step"],
        waiting=_shown_waiting(row["waiting"]),
    )


def _shown_waiting(waiting: dict[str, Any] | None) -> dict[str, JsonValue] | None:
    if not waiting or "claims" in waiting:
        return None
    return waiting
