"""``/api/v1/hooks``: webhook triggers (create, rotate the secret, delete) and
``POST /hooks/{id}``, the receiver: authenticated by the hook's signature, not by a user.

A delivery is answered 2xx only after its run is committed: 202 for a new run, 200 for a
replay (the run the first delivery started). The body is read raw, as signed; it needs a
Content-Length (411) and at most ``MAX_BODY`` bytes (413, refused before it is read).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from rota.api.deps import PrincipalDep, SettingsDep, StoreDep
from rota.api.errors import ERROR_RESPONSES, ErrorBody, error_response
from rota.api.schemas import Delivery, HookBody, HookOut, HookWithSecret, RotateBody
from rota.model.hooks import MAX_BODY
from rota.services import hooks as hook_service

router = APIRouter(prefix="/api/v1", tags=["hooks"], responses=ERROR_RESPONSES)
receiver = APIRouter(tags=["webhooks"])


@router.get("/hooks", response_model=list[HookOut])
def list_hooks(store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Hooks, the job each starts and its parameter mapping (never the secrets)."""
    return [h.to_json() for h in hook_service.list_hooks(store, principal=principal)]


@router.post("/hooks", response_model=HookWithSecret, status_code=201)
def create_hook(
    body: HookBody, store: StoreDep, settings: SettingsDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A new hook; its secret is in this answer only."""
    hook, secret = hook_service.create_hook(
        store,
        settings,
        body.job,
        hook_id=body.id,
        params=body.params,
        description=body.description,
        actor=principal.name,
        principal=principal,
    )
    return {**hook.to_json(), "secret": secret}


@router.post("/hooks/{hook_id}/rotate", response_model=HookWithSecret)
def rotate(
    hook_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    body: RotateBody | None = None,
) -> dict[str, Any]:
    """A new secret, in this answer only; the old one stays valid ``keep_previous_hours``."""
    hours = body.keep_previous_hours if body else 24.0
    hook, secret = hook_service.rotate_hook_secret(
        store, settings, hook_id, keep_previous_hours=hours, principal=principal
    )
    return {**hook.to_json(), "secret": secret}


@router.delete("/hooks/{hook_id}", status_code=204, response_class=Response)
def delete_hook(hook_id: str, store: StoreDep, principal: PrincipalDep) -> Response:
    hook_service.delete_hook(store, hook_id, principal=principal)
    return Response(status_code=204)


@receiver.post(
    "/hooks/{hook_id}",
    status_code=202,
    response_model=Delivery,
    responses={
        200: {"model": Delivery, "description": "a replay: the run of the first delivery"},
        401: {"model": ErrorBody, "description": "bad or missing signature"},
        404: {"model": ErrorBody, "description": "no such active hook"},
        411: {"model": ErrorBody, "description": "no Content-Length"},
        413: {"model": ErrorBody, "description": f"body over {MAX_BODY} bytes"},
        422: {"model": ErrorBody, "description": "the body or mapped parameters are invalid"},
    },
)
async def deliver(hook_id: str, request: Request) -> JSONResponse:
    """Receive one signed delivery (Standard Webhooks or GitHub ``X-Hub-Signature-256``)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return error_response(411, "length_required", "send Content-Length", "body")
    if int(length) > MAX_BODY:  # BodyLimit answers first; kept for other mounts
        return error_response(413, "too_large", f"body over {MAX_BODY} bytes", "body")
    body = await request.body()
    state = request.app.state
    headers = dict(request.headers.items())
    run, replay = await run_in_threadpool(
        hook_service.receive, state.store, state.settings, hook_id, headers, body
    )
    return JSONResponse(
        {"run_id": run.id, "status": run.status.value, "replay": replay},
        status_code=200 if replay else 202,
    )
