"""Metrics queries of the SQL store: a handful of aggregates, whatever the number of runs.

Each figure is one ``GROUP BY`` the database computes (the duration histogram included, with
one ``SUM(CASE ...)`` per bucket), so a scrape costs the same with a hundred runs or a million,
and any process sees the numbers of every worker on every machine.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from rota.model.metrics import (
    DURATION_BUCKETS,
    DURATION_STATUSES,
    LATENESS_WINDOW,
    STOPPED_WORKER_WINDOW,
    DurationStats,
    JobKey,
    MetricsSnapshot,
    QueueStats,
    RunCount,
    ScheduleLateness,
    WorkerMetrics,
)
from rota.model.status import RunStatus
from rota.model.workers import worker_state
from rota.store import schema as t
from rota.store.sql_internals import SqlInternals

DEFAULT_LEASE_SECONDS = 30.0
"""The default of the ``lease_seconds`` setting: a worker silent for longer is ``dead``."""


def seconds_between(
    dialect: str, later: ColumnElement[datetime], earlier: ColumnElement[datetime]
) -> ColumnElement[float]:
    """``later - earlier`` in seconds, exact to the microsecond on both databases.

    PostgreSQL subtracts ``timestamptz`` values and reads the epoch of the interval. SQLite keeps
    ``UtcDateTime`` as text (``YYYY-MM-DD HH:MM:SS.ffffff``); ``julianday`` would lose
    microseconds to floating point and put a run of exactly one second in the wrong bucket, so
    whole seconds come from ``strftime('%s')`` and the microseconds from the text itself.
    """
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", later - earlier), sa.Float)

    def whole(value: ColumnElement[datetime]) -> ColumnElement[int]:
        return sa.cast(sa.func.strftime("%s", value), sa.Integer)

    def micros(value: ColumnElement[datetime]) -> ColumnElement[int]:
        return sa.cast(sa.func.substr(value, 21, 6), sa.Integer)

    return sa.cast(
        (whole(later) - whole(earlier)) + (micros(later) - micros(earlier)) / 1_000_000.0,
        sa.Float,
    )


class SqlMetricsOps(SqlInternals):
    def metrics_snapshot(
        self, now: datetime, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> MetricsSnapshot:
        with self._read() as conn:
            return MetricsSnapshot(
                at=now,
                jobs=_jobs(conn),
                run_counts=_run_counts(conn),
                durations=_durations(conn),
                queues=_queues(conn, now),
                lateness=_lateness(conn, now),
                workers=_workers(conn, now, lease_seconds),
            )


def _jobs(conn: Connection) -> tuple[JobKey, ...]:
    j = t.jobs
    rows = conn.execute(sa.select(j.c.tenant, j.c.id).where(j.c.removed.is_(False)))
    return tuple(sorted(JobKey(tenant, job_id) for tenant, job_id in rows))


def _run_counts(conn: Connection) -> tuple[RunCount, ...]:
    r = t.runs
    query = (
        sa.select(r.c.tenant, r.c.job_id, r.c.status, sa.func.count())
        .group_by(r.c.tenant, r.c.job_id, r.c.status)
        .order_by(r.c.tenant, r.c.job_id, r.c.status)
    )
    return tuple(
        RunCount(tenant, job_id, RunStatus(status), int(runs))
        for tenant, job_id, status, runs in conn.execute(query)
    )


def _durations(conn: Connection) -> tuple[DurationStats, ...]:
    r = t.runs
    seconds = seconds_between(conn.dialect.name, r.c.finished_at, r.c.started_at)
    buckets = [
        sa.func.sum(sa.case((seconds <= bound, 1), else_=0)).label(f"le_{index}")
        for index, bound in enumerate(DURATION_BUCKETS)
    ]
    query = (
        sa.select(
            r.c.tenant,
            r.c.job_id,
            r.c.status,
            sa.func.count().label("count"),
            sa.func.coalesce(sa.func.sum(seconds), 0.0).label("sum"),
            *buckets,
        )
        .where(
            r.c.status.in_([status.value for status in DURATION_STATUSES]),
            r.c.started_at.is_not(None),
            r.c.finished_at.is_not(None),
        )
        .group_by(r.c.tenant, r.c.job_id, r.c.status)
        .order_by(r.c.tenant, r.c.job_id, r.c.status)
    )
    return tuple(
        DurationStats(
            tenant=row.tenant,
            job_id=row.job_id,
            status=RunStatus(row.status),
            count=int(row.count),
            sum_seconds=float(row.sum),
            buckets=tuple(int(row[f"le_{i}"]) for i in range(len(DURATION_BUCKETS))),
        )
        for row in conn.execute(query).mappings()
    )


def _queues(conn: Connection, now: datetime) -> tuple[QueueStats, ...]:
    r = t.runs
    query = (
        sa.select(r.c.tenant, r.c.job_id, sa.func.count(), sa.func.min(r.c.due_at))
        .where(r.c.status == RunStatus.QUEUED.value, r.c.due_at <= now)
        .group_by(r.c.tenant, r.c.job_id)
        .order_by(r.c.tenant, r.c.job_id)
    )
    return tuple(
        QueueStats(
            tenant=tenant,
            job_id=job_id,
            due=int(due),
            oldest_age_seconds=max(0.0, (now - oldest).total_seconds()),
        )
        for tenant, job_id, due, oldest in conn.execute(query)
    )


def _lateness(conn: Connection, now: datetime) -> tuple[ScheduleLateness, ...]:
    r = t.runs
    late = seconds_between(conn.dialect.name, r.c.created_at, r.c.scheduled_for)
    query = (
        sa.select(
            r.c.tenant,
            r.c.job_id,
            r.c.schedule_id,
            sa.func.count(),
            sa.func.sum(late),
            sa.func.max(late),
        )
        .where(
            r.c.schedule_id.is_not(None),
            r.c.scheduled_for.is_not(None),
            r.c.created_at > now - LATENESS_WINDOW,
            r.c.created_at <= now,
        )
        .group_by(r.c.tenant, r.c.job_id, r.c.schedule_id)
        .order_by(r.c.tenant, r.c.job_id, r.c.schedule_id)
    )
    return tuple(
        ScheduleLateness(
            tenant=tenant,
            job_id=job_id,
            schedule_id=schedule_id,
            runs=int(runs),
            sum_seconds=float(total),
            max_seconds=float(most),
        )
        for tenant, job_id, schedule_id, runs, total, most in conn.execute(query)
    )


def _workers(conn: Connection, now: datetime, lease_seconds: float) -> tuple[WorkerMetrics, ...]:
    w, r = t.workers, t.runs
    running: dict[str, int] = {
        worker_id: int(held)
        for worker_id, held in conn.execute(
            sa.select(r.c.worker_id, sa.func.count())
            .where(r.c.status == RunStatus.RUNNING.value, r.c.worker_id.is_not(None))
            .group_by(r.c.worker_id)
        )
    }
    rows = conn.execute(
        sa.select(w.c.id, w.c.hostname, w.c.concurrency, w.c.heartbeat_at, w.c.stopped_at)
        .where(sa.or_(w.c.stopped_at.is_(None), w.c.stopped_at > now - STOPPED_WORKER_WINDOW))
        .order_by(w.c.id)
    )
    return tuple(
        WorkerMetrics(
            worker_id=row.id,
            hostname=row.hostname,
            state=worker_state(row.heartbeat_at, row.stopped_at, now, lease_seconds),
            heartbeat_age_seconds=max(0.0, (now - row.heartbeat_at).total_seconds()),
            running=int(running.get(row.id, 0)),
            concurrency=row.concurrency,
        )
        for row in rows
    )
