"""Resource claims of the SQL store: runs hold all their resources from queued to their end,
or wait ``pending`` for them; see :mod:`rota.model.resources` for the rules.

Every operation on claims runs under one lock (PostgreSQL: a transaction-level advisory lock;
SQLite: its single writer), so a grant decision never races another and the order in which
waiters are served is the order of (priority, id), cluster-wide. Runs that claim nothing (no
resources, no defined limits) never take the lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rota.model.params import JsonValue
from rota.model.resources import (
    LIMIT_PREFIXES,
    Holder,
    ResourceClaim,
    ResourceDefinition,
    ResourceState,
    units_free,
)
from rota.model.status import RunStatus
from rota.store import schema as t
from rota.store.sql_internals import SqlInternals

_LOCK_KEY = 0x526F7461  # "Rota": the advisory lock every claim decision takes on PostgreSQL
PENDING = RunStatus.PENDING.value


class SqlResourceOps(SqlInternals):
    """Mixed into :class:`rota.store.sql.SqlStore`."""

    # -- definitions -------------------------------------------------------------------------

    def sync_resources(self, definitions: Sequence[ResourceDefinition], now: datetime) -> None:
        """Make these the configured resources. A resource no longer configured keeps existing
        with capacity 1 while runs claim it; a limit no longer configured is removed (its
        claims stop counting)."""
        r = t.resources
        given = {d.name: d for d in definitions}
        with self._write() as conn:
            _lock(conn)
            current = {row.name: row for row in conn.execute(sa.select(r)).all()}
            changed: list[str] = []
            for name, d in given.items():
                row = current.get(name)
                values = {"capacity": d.capacity, "description": d.description, "defined": True}
                if row is None:
                    conn.execute(sa.insert(r).values(name=name, updated_at=now, **values))
                elif (row.capacity, row.description, row.defined) != tuple(values.values()):
                    conn.execute(
                        sa.update(r).where(r.c.name == name).values(updated_at=now, **values)
                    )
                else:
                    continue
                changed.append(name)
            for name, row in current.items():
                if name in given or not row.defined:
                    continue
                if name.startswith(LIMIT_PREFIXES):
                    conn.execute(sa.delete(r).where(r.c.name == name))
                    conn.execute(
                        sa.delete(t.resource_claims).where(t.resource_claims.c.resource == name)
                    )
                else:
                    conn.execute(
                        sa.update(r)
                        .where(r.c.name == name)
                        .values(capacity=1, description="", defined=False, updated_at=now)
                    )
                changed.append(name)
            if changed:
                self._grant_waiters_in(conn, changed, now)

    def list_resources(self) -> list[ResourceState]:
        r, c, runs = t.resources, t.resource_claims, t.runs
        with self._read() as conn:
            rows = conn.execute(sa.select(r).order_by(r.c.name)).all()
            claims = conn.execute(
                sa.select(c, runs.c.status)
                .join(runs, runs.c.id == c.c.run_id)
                .order_by(c.c.priority.desc(), c.c.run_id)
            ).all()
        by_name: dict[str, list[Any]] = defaultdict(list)
        for claim in claims:
            by_name[claim.resource].append(claim)
        states = []
        for row in rows:
            mine = by_name.get(row.name, [])
            states.append(
                ResourceState(
                    name=row.name,
                    capacity=row.capacity,
                    description=row.description,
                    defined=row.defined,
                    holders=tuple(_holder(x) for x in mine if x.granted),
                    waiters=tuple(_holder(x) for x in mine if not x.granted),
                )
            )
        return states

    # -- claims --------------------------------------------------------------------------------

    def _claim_resources_in(
        self,
        conn: Connection,
        run_id: int,
        job_id: str,
        priority: int,
        claims: Sequence[ResourceClaim],
        now: datetime,
        existing: set[str] | None = None,
    ) -> dict[str, JsonValue] | None:
        """Record a new run's claims and try to grant them: ``None`` when the run may be queued
        (it holds everything, or claims nothing), else what it waits for. ``existing`` (the
        defined resources among the claims, read once for a batch of runs) is kept current."""
        if not claims:
            return None
        r = t.resources
        if existing is None:
            existing = self._defined_resources(conn, [c.name for c in claims])
        wanted = [c for c in claims if c.name in existing or not c.conditional]
        if not wanted:
            return None
        _lock(conn)
        for claim in wanted:
            if claim.name not in existing:
                # First use of an unconfigured resource: an exclusive lock (capacity 1).
                conn.execute(
                    sa.insert(r).values(
                        name=claim.name, capacity=1, description="", defined=False, updated_at=now
                    )
                )
                existing.add(claim.name)
        conn.execute(
            sa.insert(t.resource_claims),
            [
                {
                    "resource": c.name,
                    "run_id": run_id,
                    "job_id": job_id,
                    "shared": c.shared,
                    "granted": False,
                    "priority": priority,
                    "created_at": now,
                    "granted_at": None,
                }
                for c in wanted
            ],
        )
        conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(holds=True))
        return self._try_grant_in(conn, run_id, priority, now)

    def _defined_resources(self, conn: Connection, names: Sequence[str]) -> set[str]:
        """Which of these resources exist: one query, for every run a batch enqueues."""
        if not names:
            return set()
        r = t.resources
        query = sa.select(r.c.name).where(r.c.name.in_(sorted(set(names))))
        return {row.name for row in conn.execute(query).all()}

    def _try_grant_in(
        self, conn: Connection, run_id: int, priority: int, now: datetime
    ) -> dict[str, JsonValue] | None:
        """Grant all of the run's claims if every one fits and no earlier waiter wants one of
        them; otherwise grant none and say why."""
        c, r, runs = t.resource_claims, t.resources, t.runs
        mine = conn.execute(
            sa.select(c.c.resource, c.c.shared, c.c.granted).where(c.c.run_id == run_id)
        ).all()
        if not mine or all(row.granted for row in mine):
            return None
        names = [row.resource for row in mine]
        capacity = dict(
            conn.execute(sa.select(r.c.name, r.c.capacity).where(r.c.name.in_(names))).all()
        )
        holders: dict[str, list[tuple[int, bool]]] = defaultdict(list)
        for row in conn.execute(
            sa.select(c.c.resource, c.c.run_id, c.c.shared).where(
                c.c.resource.in_(names), c.c.granted, c.c.run_id != run_id
            )
        ).all():
            holders[row.resource].append((row.run_id, row.shared))
        ahead: dict[str, list[int]] = defaultdict(list)
        for waiter in conn.execute(
            sa.select(c.c.resource, c.c.run_id)
            .join(runs, runs.c.id == c.c.run_id)
            .where(
                c.c.resource.in_(names),
                sa.not_(c.c.granted),
                c.c.run_id != run_id,
                runs.c.status == PENDING,
                sa.or_(
                    c.c.priority > priority,
                    sa.and_(c.c.priority == priority, c.c.run_id < run_id),
                ),
            )
        ).all():
            ahead[waiter.resource].append(waiter.run_id)
        fits = {
            row.resource: units_free(
                capacity.get(row.resource, 1), holders[row.resource], row.shared
            )
            for row in mine
        }
        blocked = [row.resource for row in mine if ahead[row.resource] or not fits[row.resource]]
        if not blocked:
            conn.execute(
                sa.update(c)
                .where(c.c.run_id == run_id, sa.not_(c.c.granted))
                .values(granted=True, granted_at=now)
            )
            return None
        held_by = sorted({rid for name in blocked for rid, _ in holders[name]})
        behind = sorted({rid for name in blocked for rid in ahead[name]})
        parts = []
        for name in blocked:
            first = ", ".join(str(rid) for rid in sorted(ahead[name]))
            if fits[name]:
                parts.append(f"resource {name} is promised to run {first} first")
                continue
            held = ", ".join(str(rid) for rid, _ in sorted(holders[name]))
            parts.append(
                f"resource {name} is held by run {held}"
                + (f" (and promised to run {first} next)" if first else "")
            )
        return {
            "resources": list(blocked),
            "held_by": list(held_by),
            "behind": list(behind),
            "reason": "; ".join(parts),
        }

    def _release_in(self, conn: Connection, run_id: int, now: datetime) -> None:
        """An ended run gives back what it held (or waited for) and the next waiters move up."""
        c = t.resource_claims
        _lock(conn)
        names = [
            row[0] for row in conn.execute(sa.select(c.c.resource).where(c.c.run_id == run_id))
        ]
        if not names:
            return
        conn.execute(sa.delete(c).where(c.c.run_id == run_id))
        self._grant_waiters_in(conn, names, now)

    def _grant_waiters_in(self, conn: Connection, names: Sequence[str], now: datetime) -> None:
        """Try the waiters of these resources in priority order; the granted ones are queued.

        A grant frees nothing, so one pass in order suffices."""
        c, runs = t.resource_claims, t.runs
        waiters = conn.execute(
            sa.select(c.c.run_id, sa.func.max(c.c.priority))
            .join(runs, runs.c.id == c.c.run_id)
            .where(
                c.c.resource.in_(list(names)),
                sa.not_(c.c.granted),
                runs.c.status == PENDING,
            )
            .group_by(c.c.run_id)
            .order_by(sa.func.max(c.c.priority).desc(), c.c.run_id)
        ).all()
        queued = False
        for run_id, priority in waiters:
            waiting = self._try_grant_in(conn, run_id, priority, now)
            if waiting is None:
                conn.execute(
                    sa.update(runs)
                    .where(runs.c.id == run_id)
                    .values(status=RunStatus.QUEUED.value, queued_at=now, due_at=now, waiting=None)
                )
                self._history(
                    conn, run_id, RunStatus.PENDING, RunStatus.QUEUED, now, "resources free", None
                )
                self._queued_in(conn, run_id, now)
                queued = True
            else:
                conn.execute(sa.update(runs).where(runs.c.id == run_id).values(waiting=waiting))
        if queued:
            self._notify_new_runs(conn)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _holder(row: Any) -> Holder:
    return Holder(
        run_id=row.run_id,
        job=row.job_id,
        shared=row.shared,
        granted=row.granted,
        priority=row.priority,
        since=row.granted_at or row.created_at,
    )
