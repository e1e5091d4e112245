"""Schedules for the faces: preview an expression, list, add/change/remove, pause and resume,
occurrences, and job groups."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from rota.auth.roles import SYSTEM, Action, Principal, authorize
from rota.model.errors import InvalidInputError, NotFoundError
from rota.model.runs import utcnow
from rota.model.schedules import (
    Occurrence,
    OccurrenceOutcome,
    Schedule,
    ScheduleKind,
    ScheduleSpec,
)
from rota.schedules import compile_schedule
from rota.schedules.zones import zone
from rota.services import audit
from rota.store.base import Group, OccurrenceFilter, Store

MAX_PREVIEW = 1000


@dataclass(frozen=True)
class Preview:
    expression: str
    kind: ScheduleKind
    tz: str
    description: str
    fires: list[datetime]

    def to_json(self) -> dict[str, object]:
        local = zone(self.tz)
        return {
            "expression": self.expression,
            "kind": self.kind.value,
            "tz": self.tz,
            "description": self.description,
            "fires": [
                {
                    "utc": f.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    "local": f.astimezone(local).isoformat(),
                }
                for f in self.fires
            ],
        }


def preview(
    expression: str,
    *,
    kind: str = "cron",
    tz: str = "UTC",
    after: datetime | None = None,
    count: int = 10,
    now: datetime | None = None,
) -> Preview:
    """The next ``count`` fire times of an expression, and its English description."""
    if not 1 <= count <= MAX_PREVIEW:
        raise InvalidInputError("count", f"must be between 1 and {MAX_PREVIEW}")
    try:
        schedule_kind = ScheduleKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in ScheduleKind)
        raise InvalidInputError("kind", f"{kind!r} is not one of: {allowed}") from None
    if after is not None and after.tzinfo is None:
        raise InvalidInputError("after", "needs a UTC offset or Z")
    now = now or utcnow()
    start = after or now
    spec = ScheduleSpec(kind=schedule_kind, expression=expression, tz=tz)
    compiled = compile_schedule(spec, now=start)
    return Preview(
        expression, schedule_kind, tz, compiled.description, list(compiled.fire_times(start, count))
    )


def _job_tenant(store: Store, job_id: str) -> str:
    return store.get_job(job_id).definition.tenant


def _schedule(store: Store, schedule_id: str, principal: Principal, action: Action) -> Schedule:
    schedule = store.get_schedule(schedule_id)
    authorize(principal, action, schedule.tenant, "schedule", schedule_id)
    return schedule


def list_schedules(
    store: Store, *, job: str | None = None, principal: Principal = SYSTEM
) -> list[Schedule]:
    return [s for s in store.list_schedules(job=job) if principal.can_see(s.tenant)]


def get_schedule(store: Store, schedule_id: str, *, principal: Principal = SYSTEM) -> Schedule:
    return _schedule(store, schedule_id, principal, Action.READ)


def put_schedule(
    store: Store,
    job_id: str,
    spec: ScheduleSpec,
    *,
    now: datetime | None = None,
    principal: Principal = SYSTEM,
) -> Schedule:
    """Add or change a schedule outside the job's definition (the API and dashboard use this).

    Checked like a definition's schedule: expression, zone, five-year rule, parameters."""
    now = now or store.now()
    if not spec.id:
        raise InvalidInputError("id", "a schedule added through the API needs an id")
    job = store.get_job(job_id).definition
    authorize(principal, Action.EDIT, job.tenant, "job", job_id)
    compile_schedule(spec, now=now)
    job.params.validate(spec.params, now=now)  # errors name params.<name>
    known = {c.id for c in store.list_calendars()}
    for name in spec.exclude:
        if name not in known:
            raise InvalidInputError("exclude", f"no business calendar {name!r}")
    schedule = store.put_schedule(job_id, spec, now)
    audit.record(
        store,
        principal,
        "schedule.put",
        "schedule",
        schedule.id,
        tenant=job.tenant,
        detail={"job": job_id, "spec": spec.to_json()},
    )
    return schedule


def delete_schedule(store: Store, schedule_id: str, *, principal: Principal = SYSTEM) -> None:
    schedule = _schedule(store, schedule_id, principal, Action.EDIT)
    store.delete_schedule(schedule_id, store.now())
    audit.record(
        store, principal, "schedule.delete", "schedule", schedule_id, tenant=schedule.tenant
    )


def pause(
    store: Store,
    schedule_id: str,
    *,
    note: str | None = None,
    actor: str | None = None,
    principal: Principal = SYSTEM,
) -> Schedule:
    return _pause(store, schedule_id, True, note, actor, principal)


def resume(
    store: Store,
    schedule_id: str,
    *,
    note: str | None = None,
    actor: str | None = None,
    principal: Principal = SYSTEM,
) -> Schedule:
    return _pause(store, schedule_id, False, note, actor, principal)


def _pause(
    store: Store,
    schedule_id: str,
    paused: bool,
    note: str | None,
    actor: str | None,
    principal: Principal,
) -> Schedule:
    schedule = _schedule(store, schedule_id, principal, Action.EDIT)
    actor = principal.name if not principal.local else actor
    changed = store.pause_schedule(schedule_id, paused, note, actor, store.now())
    audit.record(
        store,
        principal,
        "schedule.pause" if paused else "schedule.resume",
        "schedule",
        schedule_id,
        tenant=schedule.tenant,
        actor=actor,
        detail={"note": note},
    )
    return changed


def list_occurrences(
    store: Store,
    *,
    schedule_id: str | None = None,
    job: str | None = None,
    outcome: str | None = None,
    limit: int = 50,
    principal: Principal = SYSTEM,
) -> list[Occurrence]:
    try:
        wanted = OccurrenceOutcome(outcome) if outcome else None
    except ValueError:
        allowed = ", ".join(o.value for o in OccurrenceOutcome)
        raise InvalidInputError("outcome", f"{outcome!r} is not one of: {allowed}") from None
    if not 1 <= limit <= 10_000:
        raise InvalidInputError("limit", "must be between 1 and 10000")
    if schedule_id is not None:
        # An unknown id: a clear not-found, not an empty list.
        _schedule(store, schedule_id, principal, Action.READ)
    if job is not None and not principal.sees_every_tenant:
        try:
            authorize(principal, Action.READ, _job_tenant(store, job), "job", job)
        except NotFoundError:
            return []  # as for a job that never ran: no occurrences
    found = store.list_occurrences(
        OccurrenceFilter(schedule_id=schedule_id, job=job, outcome=wanted, limit=limit)
    )
    if principal.sees_every_tenant:
        return found
    tenants = {s.id: s.tenant for s in store.list_schedules()}
    return [o for o in found if principal.can_see(tenants.get(o.schedule_id, ""))]


def list_groups(store: Store, *, principal: Principal = SYSTEM) -> list[Group]:
    """Groups with the jobs the principal sees (a group spans tenants when its jobs do)."""
    if principal.sees_every_tenant:
        return store.list_groups()
    visible = {j.id for j in store.list_jobs() if principal.can_see(j.definition.tenant)}
    return [
        replace(g, jobs=tuple(j for j in g.jobs if j in visible))
        for g in store.list_groups()
        if visible.intersection(g.jobs)
    ]


def set_group_enabled(
    store: Store,
    name: str,
    enabled: bool,
    *,
    note: str | None = None,
    actor: str | None = None,
    principal: Principal = SYSTEM,
) -> Group:
    """Disabling a group stops every member's schedules, so it takes an editor of every
    tenant the group's jobs are in."""
    if not name or len(name) > 128:
        raise InvalidInputError("group", "must be 1 to 128 characters")
    tenant_of = {j.id: j.definition.tenant for j in store.list_jobs()}
    groups = {
        g.name: g
        for g in store.list_groups()
        if any(principal.can_see(tenant_of.get(j, "")) for j in g.jobs)
    }
    if name not in groups:
        # A typo must not look like a frozen group (nor a group of a tenant you cannot see).
        listed = ", ".join(sorted(groups)) or "none"
        raise InvalidInputError("group", f"no job is in group {name!r} (groups: {listed})")
    for tenant in sorted({tenant_of[j] for j in groups[name].jobs if j in tenant_of}):
        authorize(principal, Action.EDIT, tenant, "group", name)
    actor = principal.name if not principal.local else actor
    group = store.set_group_enabled(name, enabled, note, actor, store.now())
    audit.record(
        store,
        principal,
        "group.enable" if enabled else "group.disable",
        "group",
        name,
        actor=actor,
        detail={"note": note},
    )
    return group
