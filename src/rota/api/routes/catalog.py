"""``/api/v1/resources`` and ``/api/v1/processes``: the locks and capacities runs hold, and
the jobs that are workflows of steps (a process run shows its steps: ``GET /api/v1/runs/ID``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from rota.api.deps import PrincipalDep, StoreDep
from rota.api.errors import ERROR_RESPONSES
from rota.api.routes.jobs import job_json
from rota.api.schemas import JobOut, ResourceOut
from rota.model.errors import NotFoundError
from rota.model.jobs import JobKind
from rota.services import jobs as job_service
from rota.services import resources as resource_service

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.get("/resources", response_model=list[ResourceOut], tags=["resources"])
def list_resources(store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Each resource with its capacity, the runs holding it and those waiting, in order
    (holders from tenants you cannot see are shown as ``(another tenant)``)."""
    return [r.to_json() for r in resource_service.list_resources(store, principal=principal)]


@router.get("/processes", response_model=list[JobOut], tags=["processes"])
def list_processes(store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Jobs of kind ``process``; ``spec.steps`` holds their steps."""
    found = job_service.list_jobs(store, principal=principal)
    return [job_json(s) for s in found if s.definition.kind is JobKind.PROCESS]


@router.get("/processes/{process_id}", response_model=JobOut, tags=["processes"])
def show_process(process_id: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    stored = job_service.get_job(store, process_id, principal=principal)
    if stored.definition.kind is not JobKind.PROCESS:
        raise NotFoundError("process", process_id)
    return job_json(stored)
