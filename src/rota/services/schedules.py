"""Schedules for the faces: preview an expression, list, add/change/remove, pause and resume,
occurrences, and job groups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rota.model.errors import InvalidInputError
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


def list_schedules(store: Store, *, job: str | None = None) -> list[Schedule]:
    return store.list_schedules(job=job)


def get_schedule(store: Store, schedule_id: str) -> Schedule:
    return store.get_schedule(schedule_id)


def put_schedule(
    store: Store, job_id: str, spec: ScheduleSpec, *, now: datetime | None = None
) -> Schedule:
    """Add or change a schedule outside the job's definition (the API and dashboard use this).

    Checked like a definition's schedule: expression, zone, five-year rule, parameters."""
    now = now or store.now()
    if not spec.id:
        raise InvalidInputError("id", "a schedule added through the API needs an id")
    job = store.get_job(job_id).definition
    compile_schedule(spec, now=now)
    job.params.validate(spec.params, now=now)  # errors name params.<name>
    known = {c.id for c in store.list_calendars()}
    for name in spec.exclude:
        if name not in known:
            raise InvalidInputError("exclude", f"no business calendar {name!r}")
    return store.put_schedule(job_id, spec, now)


def delete_schedule(store: Store, schedule_id: str) -> None:
    store.delete_schedule(schedule_id, store.now())


def pause(
    store: Store, schedule_id: str, *, note: str | None = None, actor: str | None = None
) -> Schedule:
    return store.pause_schedule(schedule_id, True, note, actor, store.now())


def resume(
    store: Store, schedule_id: str, *, note: str | None = None, actor: str | None = None
) -> Schedule:
    return store.pause_schedule(schedule_id, False, note, actor, store.now())


def list_occurrences(
    store: Store,
    *,
    schedule_id: str | None = None,
    job: str | None = None,
    outcome: str | None = None,
    limit: int = 50,
) -> list[Occurrence]:
    try:
        wanted = OccurrenceOutcome(outcome) if outcome else None
    except ValueError:
        allowed = ", ".join(o.value for o in OccurrenceOutcome)
        raise InvalidInputError("outcome", f"{outcome!r} is not one of: {allowed}") from None
    if not 1 <= limit <= 10_000:
        raise InvalidInputError("limit", "must be between 1 and 10000")
    if schedule_id is not None:
        store.get_schedule(schedule_id)  # unknown id: a clear not-found, not an empty list
    return store.list_occurrences(
        OccurrenceFilter(schedule_id=schedule_id, job=job, outcome=wanted, limit=limit)
    )


def list_groups(store: Store) -> list[Group]:
    return store.list_groups()


def set_group_enabled(
    store: Store, name: str, enabled: bool, *, note: str | None = None, actor: str | None = None
) -> Group:
    if not name or len(name) > 128:
        raise InvalidInputError("group", "must be 1 to 128 characters")
    known = {g.name for g in store.list_groups()}
    if name not in known:
        # A typo must not look like a frozen group.
        listed = ", ".join(sorted(known)) or "none"
        raise InvalidInputError("group", f"no job is in group {name!r} (groups: {listed})")
    return store.set_group_enabled(name, enabled, note, actor, store.now())
