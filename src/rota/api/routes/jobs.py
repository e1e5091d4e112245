"""``/api/v1/jobs``: list, show, versions, the parameters' schema, start a run, and define
data, shell and HTTP jobs (Python jobs live in code: read-only here)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from rota.api.deps import PrincipalDep, SettingsDep, StoreDep
from rota.api.errors import ERROR_RESPONSES
from rota.api.schemas import (
    JobOut,
    JobVersionOut,
    ParamsSchemaOut,
    RunOut,
    StartRunBody,
    VersionPath,
)
from rota.model.jobs import StoredJob
from rota.model.params import ParamSpec, ParamType
from rota.model.runs import Trigger
from rota.services import jobs as job_service
from rota.services import runs as run_service

router = APIRouter(prefix="/api/v1", tags=["jobs"], responses=ERROR_RESPONSES)

JOB_DOCUMENT = Body(
    description="A job definition in the shape of a YAML job file (docs/writing-jobs.md).",
    examples=[{"id": "files.count", "kind": "shell", "command": ["wc", "-l", "a.csv"]}],
)


def job_json(stored: StoredJob) -> dict[str, Any]:
    return {
        **stored.definition.to_json(),
        "version": stored.version,
        "synced_at": stored.synced_at.isoformat(),
        "removed": stored.removed,
        "origin": stored.origin,
    }


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(
    store: StoreDep,
    principal: PrincipalDep,
    kind: str | None = None,
    group: str | None = None,
    tenant: str | None = None,
    tag: str | None = None,
) -> list[dict[str, Any]]:
    """The jobs you can see, by id; the filters narrow the list."""
    found = job_service.list_jobs(store, principal=principal)
    out = []
    for stored in found:
        d = stored.definition
        if kind is not None and d.kind.value != kind:
            continue
        if group is not None and d.group != group:
            continue
        if tenant is not None and d.tenant != tenant:
            continue
        if tag is not None and tag not in d.tags:
            continue
        out.append(job_json(stored))
    return out


@router.get("/jobs/{job_id}", response_model=JobOut)
def show_job(job_id: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """One job's current definition with its version."""
    return job_json(job_service.get_job(store, job_id, principal=principal))


@router.get("/jobs/{job_id}/versions", response_model=list[JobVersionOut])
def job_versions(job_id: str, store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every stored version of a job, newest first (runs name the version they ran)."""
    found = job_service.job_versions(store, job_id, principal=principal)
    return [{"job": job_id, **job_json(stored)} for stored in found]


@router.get("/jobs/{job_id}/versions/{version}", response_model=JobOut)
def job_version(
    job_id: str, version: VersionPath, store: StoreDep, principal: PrincipalDep
) -> dict[str, Any]:
    return job_json(job_service.get_job(store, job_id, version=version, principal=principal))


@router.get("/jobs/{job_id}/params", response_model=ParamsSchemaOut)
def params_schema(job_id: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """The job's parameters as a JSON schema (for forms): types, defaults, rules."""
    stored = job_service.get_job(store, job_id, principal=principal)
    return {"job": job_id, "version": stored.version, "schema": json_schema(stored)}


def json_schema(stored: StoredJob) -> dict[str, Any]:
    specs = stored.definition.params.specs
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {s.name: _property(s) for s in specs},
        "required": [s.name for s in specs if s.required],
    }


SCALARS: dict[ParamType, dict[str, Any]] = {
    ParamType.STR: {"type": "string"},
    ParamType.INT: {"type": "integer"},
    ParamType.FLOAT: {"type": "number"},
    ParamType.BOOL: {"type": "boolean"},
    ParamType.DATE: {"type": "string", "format": "date"},
    ParamType.DATETIME: {"type": "string", "format": "date-time"},
    ParamType.CHOICE: {"type": "string"},
}


def _property(spec: ParamSpec) -> dict[str, Any]:
    if spec.type is ParamType.LIST:
        out: dict[str, Any] = {"type": "array", "items": dict(SCALARS[spec.items])}
    else:
        out = dict(SCALARS[spec.type])
    if spec.choices:
        out["enum"] = list(spec.choices)
    numeric = spec.type in (ParamType.INT, ParamType.FLOAT)
    if spec.min is not None:
        out["minimum" if numeric else "minLength"] = spec.min if numeric else int(spec.min)
    if spec.max is not None:
        out["maximum" if numeric else "maxLength"] = spec.max if numeric else int(spec.max)
    if spec.pattern:
        out["pattern"] = spec.pattern
    if spec.description:
        out["description"] = spec.description
    if spec.has_default:
        if spec.type in (ParamType.DATE, ParamType.DATETIME) and spec.default in ("today", "now"):
            out["x-rota-default"] = spec.default  # resolved when the run starts
        else:
            out["default"] = spec.default
    return out


@router.post("/jobs/{job_id}/runs", response_model=RunOut, status_code=201)
def start_run(
    job_id: str, body: StartRunBody, store: StoreDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Start a run now with validated parameters; nothing is queued when anything is wrong.
    A destructive job needs ``confirm: true``; ``dry_run`` previews a data job."""
    run = run_service.start_run(
        store,
        job_id,
        body.params,
        trigger=Trigger.API,
        actor=principal.name,
        confirm=body.confirm,
        priority=body.priority,
        dry_run=body.dry_run,
        principal=principal,
    )
    return run.to_json()


@router.post("/jobs", response_model=JobOut, status_code=201)
def create_job(
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    document: dict[str, Any] = JOB_DOCUMENT,
) -> dict[str, Any]:
    """Define a new data, shell or HTTP job (version 1)."""
    created = job_service.create_job(
        store, document, default_tz=settings.timezone, principal=principal
    )
    return job_json(created)


@router.put("/jobs/{job_id}", response_model=JobOut)
def update_job(
    job_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    document: dict[str, Any] = JOB_DOCUMENT,
) -> dict[str, Any]:
    """Replace a data, shell or HTTP job's definition (a changed one gets the next version)."""
    updated = job_service.update_job(
        store, job_id, document, default_tz=settings.timezone, principal=principal
    )
    return job_json(updated)


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response)
def delete_job(job_id: str, store: StoreDep, principal: PrincipalDep) -> Response:
    """Remove a job defined through the API (its runs stay readable)."""
    job_service.delete_job(store, job_id, principal=principal)
    return Response(status_code=204)
