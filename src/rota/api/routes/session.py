"""``/api/v1/session``: the dashboard's login. The session id travels only in an HttpOnly,
SameSite=Strict cookie (page scripts cannot read it, other sites cannot send it); the CSRF
token is in the answer, for the ``X-CSRF-Token`` header of requests that change something."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from rota.api.deps import SESSION_COOKIE, Caller, authenticate, get_store, require_setup, source_of
from rota.api.errors import ERROR_RESPONSES
from rota.api.schemas import LoginBody, SessionOut
from rota.auth.roles import Principal
from rota.services import access
from rota.store.base import Store

router = APIRouter(prefix="/api/v1", tags=["session"], responses=ERROR_RESPONSES)


def _answer(principal: Principal, csrf: str | None) -> SessionOut:
    return SessionOut(
        user=principal.name,
        kind=principal.kind,
        csrf_token=csrf,
        grants={t: sorted(r) for t, r in sorted(principal.grants.items())},
    )


@router.post("/session", response_model=SessionOut)
def login(
    body: LoginBody,
    request: Request,
    response: Response,
    store: Annotated[Store, Depends(get_store)],
) -> SessionOut:
    """Log in with name and password; sets the ``rota_session`` cookie."""
    require_setup(request)
    result = access.login(store, body.name, body.password, source=source_of(request))
    response.set_cookie(
        SESSION_COOKIE,
        result.session_id,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return _answer(result.principal, result.csrf_token)


@router.get("/session", response_model=SessionOut)
def who(caller: Annotated[Caller, Depends(authenticate)]) -> SessionOut:
    """Who is calling (session or token); a session also gets its CSRF token again."""
    return _answer(caller.principal, caller.csrf_token)


@router.delete("/session", status_code=204, response_class=Response)
def logout(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
) -> Response:
    """End the session (if any) and clear its cookie; always succeeds."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        access.logout(store, session_id)
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer
