"""Schedules, occurrences, business calendars and groups: the SQL half of the scheduler.

``fire_due_schedules`` is the one place nominal times become runs. It locks due schedule rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock serializes), decides with the
pure functions of :mod:`rota.schedules`, then writes runs, occurrences and the next fire time
in the same transaction. The unique key on ``(schedule_id, nominal_time)`` is the last guard:
a second scheduler that somehow got the same nominal time fails its transaction.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rota.model.errors import ConflictError, InvalidInputError, NotFoundError, RotaError
from rota.model.jobs import JobDefinition, JobKind
from rota.model.runs import NewRun, Run, Trigger
from rota.model.schedules import (
    BusinessCalendar,
    Occurrence,
    OccurrenceOutcome,
    OverlapPolicy,
    Schedule,
    ScheduleSpec,
)
from rota.model.status import RunStatus
from rota.schedules import CompiledSchedule, compile_schedule
from rota.schedules.blackouts import Blackouts
from rota.schedules.misfire import Action, Fire, collect_due, plan_fires
from rota.schedules.overlap import ActiveRun, OverlapDecision, Verdict, decide_overlap
from rota.schedules.zones import zone
from rota.store import schema as t
from rota.store.base import FireReport, Group, OccurrenceFilter

DEFINITION = "definition"
API = "api"
BACKLOG_CHUNK = 10_000
"""Nominal times one schedule accounts for per pass; a longer backlog takes several passes."""
UNFINISHED = (RunStatus.PENDING.value, RunStatus.QUEUED.value, RunStatus.RUNNING.value)
_TICK = timedelta(microseconds=1)
IN_BATCH = 10_000


def spec_fingerprint(spec: ScheduleSpec) -> str:
    body = json.dumps(spec.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


@lru_cache(maxsize=4096)
def _compiled(body: str) -> CompiledSchedule:
    return compile_schedule(ScheduleSpec.from_json(json.loads(body)))


def resumed_fire(
    compiled: CompiledSchedule, now: datetime, last_nominal: datetime | None
) -> datetime | None:
    """The next fire when a schedule (re)starts at ``now``: never at or before a nominal time
    already accounted for, even when ``now`` comes from a clock behind the last pass."""
    return compiled.next_after(max(now, last_nominal) if last_nominal else now)


def compiled_for(spec: ScheduleSpec) -> CompiledSchedule:
    """Compiled schedules are cached by content: a pass over due schedules parses nothing twice."""
    return _compiled(json.dumps(spec.to_json(), sort_keys=True))


class _Plan:
    """The pure half of firing one schedule, computed before anything is written."""

    def __init__(self, row: Any, spec: ScheduleSpec, compiled: CompiledSchedule) -> None:
        self.row = row
        self.spec = spec
        self.compiled = compiled
        self.fires: list[Fire] = []
        self.definition: JobDefinition | None = None
        self.version = 0
        self.next_fire_at: datetime | None = None


class SqlScheduleOps:
    """Mixed into :class:`rota.store.sql.SqlStore`; uses its connections and run writes."""

    if TYPE_CHECKING:
        _schedule_wakeup: threading.Event

        def _write(self) -> AbstractContextManager[Connection]: ...
        def _read(self) -> AbstractContextManager[Connection]: ...
        def _parsed(self, fingerprint: str, body: dict[str, Any]) -> JobDefinition: ...
        def _enqueue_in(
            self, conn: Connection, requests: Sequence[NewRun], now: datetime
        ) -> list[Run]: ...
        def _cancel_in(
            self, conn: Connection, run_id: int, actor: str | None, now: datetime, reason: str = ...
        ) -> None: ...
        def _notify_occurrences_in(
            self,
            conn: Connection,
            definition: JobDefinition,
            records: Sequence[Mapping[str, Any]],
            now: datetime,
        ) -> None: ...
        def _service_account_in(
            self, conn: Connection, tenant: str, fallback: str | None = None
        ) -> str: ...

    # -- definitions and the services layer ----------------------------------------------------

    def _sync_schedules_in(
        self,
        conn: Connection,
        definitions: Sequence[JobDefinition],
        removed_jobs: Sequence[str],
        now: datetime,
    ) -> None:
        s = t.schedules
        jobs = sorted({d.id for d in definitions} | set(removed_jobs))
        existing: dict[str, Any] = {}
        for start in range(0, len(jobs), IN_BATCH):  # PostgreSQL takes at most 65,535 binds
            part = jobs[start : start + IN_BATCH]
            query = sa.select(s).where(s.c.job_id.in_(part))
            existing.update({row.id: row for row in conn.execute(query)})
        wanted: set[str] = set()
        inserts: list[dict[str, Any]] = []
        for definition in definitions:
            for spec in definition.schedules:
                wanted.add(spec.id)
                values = self._schedule_values(
                    existing.get(spec.id), definition.id, definition.tenant, spec, DEFINITION, now
                )
                if values is None:
                    continue
                if spec.id in existing:
                    conn.execute(sa.update(s).where(s.c.id == spec.id).values(**values))
                else:
                    inserts.append({"id": spec.id, "created_at": now, **values})
        if inserts:  # one statement for a project's new schedules, not one per schedule
            conn.execute(sa.insert(s), inserts)
        gone = [
            sid
            for sid, row in existing.items()
            if sid not in wanted and not row.removed and row.origin == DEFINITION
        ]
        for start in range(0, len(gone), IN_BATCH):
            conn.execute(
                sa.update(s)
                .where(s.c.id.in_(gone[start : start + IN_BATCH]))
                .values(removed=True, next_fire_at=None, updated_at=now)
            )
        self._schedule_wakeup.set()

    def _upsert_schedule(
        self,
        conn: Connection,
        job_id: str,
        tenant: str,
        spec: ScheduleSpec,
        origin: str,
        now: datetime,
    ) -> None:
        s = t.schedules
        row = conn.execute(sa.select(s).where(s.c.id == spec.id)).first()
        values = self._schedule_values(row, job_id, tenant, spec, origin, now)
        if values is None:
            return
        if row is None:
            conn.execute(sa.insert(s).values(id=spec.id, created_at=now, **values))
        else:
            conn.execute(sa.update(s).where(s.c.id == spec.id).values(**values))

    @staticmethod
    def _schedule_values(
        row: Any, job_id: str, tenant: str, spec: ScheduleSpec, origin: str, now: datetime
    ) -> dict[str, Any] | None:
        """The columns to write for ``spec``, or None when the stored row is already it."""
        fingerprint = spec_fingerprint(spec)
        if (
            row is not None
            and row.fingerprint == fingerprint
            and not row.removed
            and row.job_id == job_id
            and row.next_fire_at is not None
        ):
            return None
        compiled = compiled_for(spec)
        values: dict[str, Any] = {
            "job_id": job_id,
            "tenant": tenant,
            "origin": origin,
            "spec": spec.to_json(),
            "fingerprint": fingerprint,
            "description": compiled.description,
            "removed": False,
            "updated_at": now,
            "next_fire_at": resumed_fire(compiled, now, row.last_nominal if row else None),
        }
        return values

    def list_schedules(
        self, *, job: str | None = None, include_removed: bool = False
    ) -> list[Schedule]:
        s = t.schedules
        query = sa.select(s).order_by(s.c.job_id, s.c.id)
        if job is not None:
            query = query.where(s.c.job_id == job)
        if not include_removed:
            query = query.where(s.c.removed == sa.false())
        with self._read() as conn:
            return [_schedule_from_row(row) for row in conn.execute(query)]

    def get_schedule(self, schedule_id: str) -> Schedule:
        with self._read() as conn:
            row = conn.execute(
                sa.select(t.schedules).where(t.schedules.c.id == schedule_id)
            ).first()
        if row is None:
            raise NotFoundError("schedule", schedule_id)
        return _schedule_from_row(row)

    def put_schedule(self, job_id: str, spec: ScheduleSpec, now: datetime) -> Schedule:
        with self._write() as conn:
            job = conn.execute(
                sa.select(t.jobs.c.tenant, t.jobs.c.removed).where(t.jobs.c.id == job_id)
            ).first()
            if job is None:
                raise NotFoundError("job", job_id)
            if job.removed:
                raise ConflictError(f"job {job_id!r} is no longer defined in the project")
            if not spec.id:
                raise InvalidInputError("id", "a schedule added this way needs an id")
            current = conn.execute(
                sa.select(t.schedules.c.origin).where(t.schedules.c.id == spec.id)
            ).first()
            if current is not None and current.origin == DEFINITION:
                raise ConflictError(
                    f"schedule {spec.id!r} comes from a job definition: change it there"
                )
            self._upsert_schedule(conn, job_id, job.tenant, spec, API, now)
        self._schedule_wakeup.set()
        return self.get_schedule(spec.id)

    def delete_schedule(self, schedule_id: str, now: datetime) -> None:
        s = t.schedules
        with self._write() as conn:
            row = conn.execute(sa.select(s.c.origin).where(s.c.id == schedule_id)).first()
            if row is None:
                raise NotFoundError("schedule", schedule_id)
            if row.origin == DEFINITION:
                raise ConflictError(
                    f"schedule {schedule_id!r} comes from a job definition: remove it there"
                )
            conn.execute(
                sa.update(s)
                .where(s.c.id == schedule_id)
                .values(removed=True, next_fire_at=None, updated_at=now)
            )

    def pause_schedule(
        self, schedule_id: str, paused: bool, note: str | None, actor: str | None, now: datetime
    ) -> Schedule:
        s = t.schedules
        with self._write() as conn:
            row = conn.execute(sa.select(s).where(s.c.id == schedule_id)).first()
            if row is None:
                raise NotFoundError("schedule", schedule_id)
            if row.removed:
                raise ConflictError(f"schedule {schedule_id!r} was removed")
            values: dict[str, Any] = {
                "paused": paused,
                "pause_note": note,
                "paused_by": actor,
                "paused_at": now if paused else None,
                "updated_at": now,
            }
            if not paused and row.paused:
                compiled = compiled_for(ScheduleSpec.from_json(row.spec))
                values["next_fire_at"] = resumed_fire(compiled, now, row.last_nominal)
            conn.execute(sa.update(s).where(s.c.id == schedule_id).values(**values))
        self._schedule_wakeup.set()
        return self.get_schedule(schedule_id)

    def next_fire_time(self) -> datetime | None:
        s = t.schedules
        with self._read() as conn:
            value: datetime | None = conn.execute(
                sa.select(s.c.next_fire_at)
                .where(
                    s.c.paused == sa.false(),
                    s.c.removed == sa.false(),
                    s.c.next_fire_at.is_not(None),
                )
                .order_by(s.c.next_fire_at)
                .limit(1)
            ).scalar()
        return value

    def wait_for_schedule_change(self, timeout: float) -> bool:
        woken = self._schedule_wakeup.wait(timeout)
        self._schedule_wakeup.clear()
        return woken

    # -- the scheduler's pass --------------------------------------------------------------

    def fire_due_schedules(
        self, now: datetime, *, limit: int = 100, service_account: str = "rota"
    ) -> list[FireReport]:
        s = t.schedules
        with self._write() as conn:
            rows = conn.execute(
                sa.select(s)
                .where(
                    s.c.paused == sa.false(),
                    s.c.removed == sa.false(),
                    s.c.next_fire_at <= now,
                )
                .order_by(s.c.next_fire_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            context = _PassContext.load(conn, rows)
            reports = []
            for row in rows:
                plan, error = self._plan(row, context, now)
                if plan is None:
                    reports.append(self._broken(conn, row, now, error or "unreadable schedule"))
                    continue
                reports.append(self._write_plan(conn, plan, context, now, service_account))
            return reports

    def _plan(
        self, row: Any, context: _PassContext, now: datetime
    ) -> tuple[_Plan | None, str | None]:
        """Everything that can fail because of the schedule's content, before any write."""
        try:
            spec = ScheduleSpec.from_json(row.spec)
            compiled = compiled_for(spec)
            plan = _Plan(row, spec, compiled)
            job = context.jobs.get(row.job_id)
            if job is not None:
                plan.definition = self._parsed(job.fingerprint, job.definition)
                plan.version = job.version
            definition = plan.definition
            if (
                job is None
                or job.removed
                or definition is None
                or not definition.active
                or definition.expired(now)
                or (definition.group is not None and definition.group in context.disabled_groups)
            ):
                plan.definition = None  # not scheduled: no occurrence, just move on
                plan.next_fire_at = resumed_fire(compiled, now, row.last_nominal)
                return plan, None
            blackouts = Blackouts(
                [context.calendars[c] for c in spec.exclude if c in context.calendars]
            )
            due, final = collect_due(
                compiled.fire_times(_cursor(row)),
                now,
                spec,
                blackouts.reason,
                BACKLOG_CHUNK,
            )
            plan.fires = plan_fires(due, now, spec, blackouts.reason, final=final)
            missing = [c for c in spec.exclude if c not in context.calendars]
            if missing:
                raise NotFoundError("business calendar", missing[0])
            if any(f.action is Action.RUN for f in plan.fires):
                definition.params.validate(spec.params, now=now)
            last = max((f.nominal for f in plan.fires), default=_cursor(row))
            plan.next_fire_at = compiled.next_after(last)
            return plan, None
        except (RotaError, ValueError, KeyError, TypeError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _broken(self, conn: Connection, row: Any, now: datetime, error: str) -> FireReport:
        """Move a schedule that cannot be read past ``now`` so it cannot stall the loop."""
        try:
            next_fire = resumed_fire(
                compiled_for(ScheduleSpec.from_json(row.spec)), now, row.last_nominal
            )
        except (RotaError, ValueError, KeyError, TypeError):
            next_fire = now + timedelta(hours=1)
        conn.execute(
            sa.update(t.schedules)
            .where(t.schedules.c.id == row.id)
            .values(next_fire_at=next_fire, last_outcome="error", updated_at=now)
        )
        return FireReport(schedule_id=row.id, job=row.job_id, next_fire_at=next_fire, error=error)

    def _write_plan(
        self,
        conn: Connection,
        plan: _Plan,
        context: _PassContext,
        now: datetime,
        service_account: str,
    ) -> FireReport:
        row, spec, definition = plan.row, plan.spec, plan.definition
        service_account = self._service_account_in(conn, row.tenant, service_account)
        records: list[dict[str, Any]] = []
        if definition is not None:
            policy = spec.overlap or definition.overlap
            active = context.active[(row.job_id, row.tenant)]
            jitter = plan.compiled.jitter(definition.id)
            local = zone(spec.tz or "UTC")
            previous: int | None = None
            latest_run: int | None = None
            for fire in plan.fires:
                outcome, run_id, detail = _OUTCOMES[fire.action], None, fire.detail
                if fire.action is Action.RUN:
                    if previous is not None and policy is not OverlapPolicy.ALLOW:
                        # Catch-up runs of one pass replay in order, one after the other.
                        decision = OverlapDecision(Verdict.RUN, waits_for=previous)
                    else:
                        decision = decide_overlap(policy, active)
                    verdict, into = decision.verdict, decision.into
                    if verdict is Verdict.SKIP:
                        outcome = OccurrenceOutcome.SKIPPED_OVERLAP
                        detail = f"job {row.job_id} has an unfinished run (overlap: {policy.value})"
                    elif verdict is Verdict.COALESCE:
                        outcome, run_id = OccurrenceOutcome.COALESCED, into
                        detail = f"run {into} is already waiting (overlap: queue)"
                    else:
                        for victim in decision.cancel:
                            self._cancel_in(
                                conn,
                                victim,
                                service_account,
                                now,
                                f"canceled by schedule {spec.id} (overlap: cancel_previous)",
                            )
                        active[:] = [a for a in active if a.id not in decision.cancel]
                        run = self._enqueue_in(
                            conn,
                            [
                                NewRun(
                                    job=definition.id,
                                    job_version=plan.version,
                                    tenant=definition.tenant,
                                    trigger=Trigger.CATCH_UP if fire.late else Trigger.SCHEDULE,
                                    params=definition.params.validate(
                                        spec.params, now=fire.nominal, tz=local
                                    ),
                                    priority=definition.priority,
                                    max_attempts=definition.retry.max_attempts,
                                    triggered_by=service_account,
                                    run_as=service_account,
                                    # The nominal time, not ``now``: a worker whose clock
                                    # read came a moment before ours still finds it due.
                                    due_at=fire.nominal + jitter,
                                    schedule_id=spec.id,
                                    scheduled_for=fire.nominal,
                                    waits_for=decision.waits_for,
                                    resources=definition.resource_claims(),
                                    after=definition.after,
                                    process=definition.kind is JobKind.PROCESS,
                                )
                            ],
                            now,
                        )[0]
                        active.append(ActiveRun(run.id, run.status))
                        previous = latest_run = run_id = run.id
                records.append(
                    {
                        "schedule_id": spec.id,
                        "job_id": row.job_id,
                        "tenant": row.tenant,
                        "nominal_time": fire.nominal,
                        "outcome": outcome.value,
                        "run_id": run_id,
                        "recorded_at": now,
                        "detail": detail,
                    }
                )
            for record in records:  # superseded times point at the run that stands for them
                if (
                    record["outcome"] == OccurrenceOutcome.COALESCED.value
                    and record["run_id"] is None
                ):
                    record["run_id"] = latest_run
            if records:
                conn.execute(sa.insert(t.occurrences), records)
                self._notify_occurrences_in(conn, definition, records, now)
            if latest_run is not None and row.last_outcome == OccurrenceOutcome.COALESCED.value:
                # An earlier pass cut a long backlog: its coalesced times stand for this run.
                o = t.occurrences
                conn.execute(
                    sa.update(o)
                    .where(
                        o.c.schedule_id == spec.id,
                        o.c.outcome == OccurrenceOutcome.COALESCED.value,
                        o.c.run_id.is_(None),
                    )
                    .values(run_id=latest_run)
                )
        values: dict[str, Any] = {"next_fire_at": plan.next_fire_at, "updated_at": now}
        if records:
            values["last_nominal"] = records[-1]["nominal_time"]
            values["last_outcome"] = records[-1]["outcome"]
        conn.execute(sa.update(t.schedules).where(t.schedules.c.id == row.id).values(**values))
        return FireReport(
            schedule_id=row.id,
            job=row.job_id,
            occurrences=tuple(
                (r["nominal_time"], OccurrenceOutcome(r["outcome"]), r["run_id"]) for r in records
            ),
            next_fire_at=plan.next_fire_at,
        )

    def list_occurrences(self, occurrence_filter: OccurrenceFilter) -> list[Occurrence]:
        o = t.occurrences
        f = occurrence_filter
        query = sa.select(o).order_by(o.c.nominal_time.desc(), o.c.id.desc()).limit(f.limit)
        if f.schedule_id is not None:
            query = query.where(o.c.schedule_id == f.schedule_id)
        if f.job is not None:
            query = query.where(o.c.job_id == f.job)
        if f.outcome is not None:
            query = query.where(o.c.outcome == f.outcome.value)
        if f.before_id is not None:
            # Keyset paging in the list's own order: (nominal time, id) of the given row.
            anchor = sa.select(o.c.nominal_time).where(o.c.id == f.before_id).scalar_subquery()
            query = query.where(
                sa.tuple_(o.c.nominal_time, o.c.id) < sa.tuple_(anchor, sa.literal(f.before_id))
            )
        with self._read() as conn:
            return [
                Occurrence(
                    id=row.id,
                    schedule_id=row.schedule_id,
                    job=row.job_id,
                    nominal_time=row.nominal_time,
                    outcome=OccurrenceOutcome(row.outcome),
                    run_id=row.run_id,
                    recorded_at=row.recorded_at,
                    detail=row.detail,
                )
                for row in conn.execute(query)
            ]

    # -- business calendars and groups -----------------------------------------------------

    def sync_calendars(self, calendars: Sequence[BusinessCalendar], now: datetime) -> None:
        c = t.calendars
        with self._write() as conn:
            current = {row.id: row for row in conn.execute(sa.select(c))}
            for calendar in calendars:
                body = calendar.to_json()
                row = current.get(calendar.id)
                if row is None:
                    conn.execute(sa.insert(c).values(id=calendar.id, body=body, updated_at=now))
                elif row.body != body or row.removed:
                    conn.execute(
                        sa.update(c)
                        .where(c.c.id == calendar.id)
                        .values(body=body, updated_at=now, removed=False)
                    )
            given = {cal.id for cal in calendars}
            stale = [cid for cid, row in current.items() if cid not in given and not row.removed]
            if stale:
                conn.execute(
                    sa.update(c).where(c.c.id.in_(stale)).values(removed=True, updated_at=now)
                )

    def list_calendars(self) -> list[BusinessCalendar]:
        c = t.calendars
        with self._read() as conn:
            rows = conn.execute(sa.select(c).where(c.c.removed == sa.false()).order_by(c.c.id))
            return [BusinessCalendar.from_json(row.body) for row in rows]

    def set_group_enabled(
        self, name: str, enabled: bool, note: str | None, actor: str | None, now: datetime
    ) -> Group:
        g = t.job_groups
        with self._write() as conn:
            values = {"enabled": enabled, "note": note, "changed_by": actor, "changed_at": now}
            was = conn.execute(sa.select(g.c.enabled).where(g.c.name == name)).scalar()
            if was is None:
                conn.execute(sa.insert(g).values(name=name, **values))
            else:
                conn.execute(sa.update(g).where(g.c.name == name).values(**values))
            if enabled and was is False:
                # Members fire again from now on; what passed while disabled is not caught up.
                self._restart_group_schedules(conn, name, now)
        self._schedule_wakeup.set()
        return next(group for group in self.list_groups() if group.name == name)

    def _restart_group_schedules(self, conn: Connection, group: str, now: datetime) -> None:
        members = [
            row.id
            for row in conn.execute(sa.select(t.jobs.c.id, t.jobs.c.definition))
            if (row.definition or {}).get("group") == group
        ]
        s = t.schedules
        for row in conn.execute(
            sa.select(s.c.id, s.c.spec, s.c.last_nominal).where(
                s.c.job_id.in_(members), s.c.removed == sa.false()
            )
        ).all():
            compiled = compiled_for(ScheduleSpec.from_json(row.spec))
            next_fire = resumed_fire(compiled, now, row.last_nominal)
            conn.execute(sa.update(s).where(s.c.id == row.id).values(next_fire_at=next_fire))

    def list_groups(self) -> list[Group]:
        with self._read() as conn:
            switched = {row.name: row for row in conn.execute(sa.select(t.job_groups))}
            members: dict[str, list[str]] = defaultdict(list)
            for row in conn.execute(
                sa.select(t.jobs.c.id, t.jobs.c.definition).where(t.jobs.c.removed == sa.false())
            ):
                group = (row.definition or {}).get("group")
                if group:
                    members[group].append(row.id)
        groups = []
        for name in sorted(set(switched) | set(members)):
            switch = switched.get(name)
            groups.append(
                Group(
                    name=name,
                    enabled=switch.enabled if switch is not None else True,
                    note=switch.note if switch is not None else None,
                    changed_by=switch.changed_by if switch is not None else None,
                    changed_at=switch.changed_at if switch is not None else None,
                    jobs=tuple(sorted(members.get(name, ()))),
                )
            )
        return groups


_OUTCOMES = {
    Action.RUN: OccurrenceOutcome.RAN,
    Action.MISSED: OccurrenceOutcome.SKIPPED_MISSED,
    Action.COALESCED: OccurrenceOutcome.COALESCED,
    Action.BLACKOUT: OccurrenceOutcome.SKIPPED_BLACKOUT,
}


class _PassContext:
    """What one pass reads once for all its due schedules (jobs, groups, calendars, runs)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}
        self.disabled_groups: set[str] = set()
        self.calendars: dict[str, BusinessCalendar] = {}
        self.active: defaultdict[tuple[str, str], list[ActiveRun]] = defaultdict(list)

    @classmethod
    def load(cls, conn: Connection, rows: Sequence[Any]) -> _PassContext:
        context = cls()
        job_ids = {row.job_id for row in rows}
        context.jobs = {
            row.id: row for row in conn.execute(sa.select(t.jobs).where(t.jobs.c.id.in_(job_ids)))
        }
        context.disabled_groups = set(
            conn.execute(
                sa.select(t.job_groups.c.name).where(t.job_groups.c.enabled == sa.false())
            ).scalars()
        )
        if any(row.spec.get("exclude") for row in rows):
            context.calendars = {
                row.id: BusinessCalendar.from_json(row.body)
                for row in conn.execute(
                    sa.select(t.calendars).where(t.calendars.c.removed == sa.false())
                )
            }
        r = t.runs
        for run in conn.execute(
            sa.select(r.c.id, r.c.job_id, r.c.tenant, r.c.status)
            .where(r.c.job_id.in_(job_ids), r.c.status.in_(UNFINISHED))
            .order_by(r.c.id)
        ):
            context.active[(run.job_id, run.tenant)].append(
                ActiveRun(run.id, RunStatus(run.status))
            )
        return context


def _cursor(row: Any) -> datetime:
    """Fire times after this are unaccounted for: just before ``next_fire_at``, and never
    before the last nominal time recorded (the unique key would refuse it)."""
    cursor: datetime = row.next_fire_at - _TICK
    return max(cursor, row.last_nominal) if row.last_nominal else cursor


def _schedule_from_row(row: Any) -> Schedule:
    return Schedule(
        spec=ScheduleSpec.from_json(row.spec),
        job=row.job_id,
        tenant=row.tenant,
        origin=row.origin,
        paused=row.paused,
        pause_note=row.pause_note,
        paused_by=row.paused_by,
        next_fire_at=row.next_fire_at,
        last_nominal=row.last_nominal,
        last_outcome=row.last_outcome,
        description=row.description,
        removed=row.removed,
        updated_at=row.updated_at,
    )
