"""``/api/v1/schedules``, ``/api/v1/occurrences`` and ``/api/v1/groups``: when jobs start by
themselves, what happened at each fire time, and job groups switched off together."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from rota.api.deps import PrincipalDep, StoreDep
from rota.api.errors import ERROR_RESPONSES
from rota.api.schemas import (
    CreateScheduleBody,
    GroupOut,
    NoteBody,
    OccurrenceOut,
    ScheduleBody,
    ScheduleOut,
)
from rota.auth.roles import Principal
from rota.model.errors import ConflictError, NotFoundError
from rota.model.schedules import (
    MissedPolicy,
    OccurrenceOutcome,
    OverlapPolicy,
    ScheduleKind,
    ScheduleSpec,
)
from rota.services import schedules as schedule_service
from rota.store.base import Group, Store

router = APIRouter(prefix="/api/v1", tags=["schedules"], responses=ERROR_RESPONSES)


def _spec(schedule_id: str, body: ScheduleBody) -> ScheduleSpec:
    return ScheduleSpec(
        id=schedule_id,
        kind=ScheduleKind(body.kind),
        expression=body.expression,
        tz=body.tz,
        start=body.start,
        end=body.end,
        jitter=body.jitter,
        params=dict(body.params),
        missed=MissedPolicy(body.missed) if body.missed else MissedPolicy.LATEST,
        grace=body.grace,
        catch_up_window=body.catch_up_window,
        max_catch_up=body.max_catch_up,
        overlap=OverlapPolicy(body.overlap) if body.overlap else None,
        exclude=tuple(body.exclude),
        anchor=body.anchor,
    )


@router.get("/schedules", response_model=list[ScheduleOut])
def list_schedules(
    store: StoreDep, principal: PrincipalDep, job: str | None = None
) -> list[dict[str, Any]]:
    return [
        s.to_json() for s in schedule_service.list_schedules(store, job=job, principal=principal)
    ]


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut)
def show_schedule(schedule_id: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    return schedule_service.get_schedule(store, schedule_id, principal=principal).to_json()


@router.post("/schedules", response_model=ScheduleOut, status_code=201)
def create_schedule(
    body: CreateScheduleBody, store: StoreDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Add a schedule to a job (checked like one in a definition: expression, zone,
    parameters, calendars). An id already in use is a conflict."""
    try:
        existing = schedule_service.get_schedule(store, body.id, principal=principal)
    except NotFoundError:
        pass
    else:
        if not existing.removed:
            raise ConflictError(f"schedule {body.id!r} exists: PUT /api/v1/schedules/{body.id}")
    spec = _spec(body.id, body)
    return schedule_service.put_schedule(store, body.job, spec, principal=principal).to_json()


@router.put("/schedules/{schedule_id}", response_model=ScheduleOut)
def update_schedule(
    schedule_id: str, body: ScheduleBody, store: StoreDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Change a schedule (or add it under this id)."""
    spec = _spec(schedule_id, body)
    return schedule_service.put_schedule(store, body.job, spec, principal=principal).to_json()


@router.delete("/schedules/{schedule_id}", status_code=204, response_class=Response)
def delete_schedule(schedule_id: str, store: StoreDep, principal: PrincipalDep) -> Response:
    """Remove a schedule added through the API; it stays readable (``removed: true``) with
    its occurrences. One from a job file is removed in the file (409)."""
    schedule_service.delete_schedule(store, schedule_id, principal=principal)
    return Response(status_code=204)


@router.post("/schedules/{schedule_id}/pause", response_model=ScheduleOut)
def pause(
    schedule_id: str, store: StoreDep, principal: PrincipalDep, body: NoteBody | None = None
) -> dict[str, Any]:
    """Stop firing until resumed; fire times meanwhile are recorded as ``paused``."""
    note = body.note if body else None
    return schedule_service.pause(
        store, schedule_id, note=note, actor=principal.name, principal=principal
    ).to_json()


@router.post("/schedules/{schedule_id}/resume", response_model=ScheduleOut)
def resume(
    schedule_id: str, store: StoreDep, principal: PrincipalDep, body: NoteBody | None = None
) -> dict[str, Any]:
    note = body.note if body else None
    return schedule_service.resume(
        store, schedule_id, note=note, actor=principal.name, principal=principal
    ).to_json()


@router.get("/occurrences", response_model=list[OccurrenceOut])
def occurrences(
    store: StoreDep,
    principal: PrincipalDep,
    schedule: str | None = None,
    job: str | None = None,
    outcome: OccurrenceOutcome | None = None,
    limit: int = Query(default=50, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """Every fire time handled, newest first: whether it ran, and if not, why."""
    found = schedule_service.list_occurrences(
        store,
        schedule_id=schedule,
        job=job,
        outcome=outcome.value if outcome else None,
        limit=limit,
        principal=principal,
    )
    return [o.to_json() for o in found]


def group_json(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "enabled": group.enabled,
        "note": group.note,
        "changed_by": group.changed_by,
        "changed_at": group.changed_at.isoformat() if group.changed_at else None,
        "jobs": list(group.jobs),
    }


@router.get("/groups", response_model=list[GroupOut], tags=["groups"])
def list_groups(store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [group_json(g) for g in schedule_service.list_groups(store, principal=principal)]


@router.post("/groups/{name}/enable", response_model=GroupOut, tags=["groups"])
def enable_group(
    name: str, store: StoreDep, principal: PrincipalDep, body: NoteBody | None = None
) -> dict[str, Any]:
    return _set_group(store, principal, name, True, body)


@router.post("/groups/{name}/disable", response_model=GroupOut, tags=["groups"])
def disable_group(
    name: str, store: StoreDep, principal: PrincipalDep, body: NoteBody | None = None
) -> dict[str, Any]:
    """Scheduled and triggered runs of the group's jobs are skipped until enabled."""
    return _set_group(store, principal, name, False, body)


def _set_group(
    store: Store, principal: Principal, name: str, enabled: bool, body: NoteBody | None
) -> dict[str, Any]:
    group = schedule_service.set_group_enabled(
        store,
        name,
        enabled,
        note=body.note if body else None,
        actor=principal.name,
        principal=principal,
    )
    return group_json(group)
