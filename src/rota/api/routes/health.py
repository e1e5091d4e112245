"""``/healthz`` for load balancers and supervisors (no credentials), and ``/metrics`` for
Prometheus (a token or a viewer of some tenant: the counts say how busy every tenant is)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from rota.api.deps import PrincipalDep, SettingsDep, StoreDep
from rota.api.errors import ERROR_RESPONSES
from rota.api.schemas import Health
from rota.model.status import RunStatus
from rota.services.metrics import metrics_text

router = APIRouter(tags=["health"])

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database is unavailable"}},
)
def healthz(store: StoreDep) -> JSONResponse:
    """200 while the database answers; 503 otherwise. Needs no credentials."""
    try:
        queued = store.count_runs(status=RunStatus.QUEUED)
    except Exception:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok", "queued": queued})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {PROMETHEUS_TYPE: {}}, "description": "Prometheus text format"},
        **{k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 503)},
    },
)
def metrics(store: StoreDep, settings: SettingsDep, principal: PrincipalDep) -> Response:
    """Prometheus metrics: runs by status, queue age, workers, schedules; only of the
    tenants the caller sees (workers only for those who see every tenant)."""
    body = metrics_text(store, lease_seconds=settings.lease_seconds, principal=principal)
    return Response(body, media_type=PROMETHEUS_TYPE)
