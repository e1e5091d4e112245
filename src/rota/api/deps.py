"""Who is calling: authentication of every API request, and the objects routes need.

The API only authenticates. A bearer token (``Authorization: Bearer ...``) or the dashboard's
session cookie becomes a :class:`~rota.auth.roles.Principal`, which every service call gets;
the services decide what that principal may see and do. A session cookie is sent by the
browser on its own, so a request that changes something must also carry the session's CSRF
token in a header, which another site's page cannot read; a bearer token is never sent
implicitly and needs none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from rota.api.errors import ApiError
from rota.auth.roles import Principal
from rota.services import access
from rota.settings import Settings
from rota.store.base import Store

SESSION_COOKIE = "rota_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FIRST_ADMIN = "create the first administrator: rota users create-admin NAME"


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its principal, where it came from, and how it proved it."""

    principal: Principal
    source: str | None
    session_id: str | None = None
    csrf_token: str | None = None


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def source_of(request: Request) -> str | None:
    """The peer address, for the audit log (a proxy in front shows as itself)."""
    return request.client.host if request.client else None


def require_setup(request: Request) -> None:
    """Before the first administrator exists nobody can log in: say how to create one.

    Once there is one there always is (the services refuse to remove the last), so the answer
    is remembered and costs one query per process, not per request."""
    state = request.app.state
    if getattr(state, "has_admin", False):
        return
    if not access.has_admin(get_store(request)):
        raise ApiError(503, "setup_required", FIRST_ADMIN)
    state.has_admin = True


def authenticate(request: Request) -> Caller:
    """The caller of a request, or 401; session requests that change something need CSRF."""
    require_setup(request)
    store = get_store(request)
    source = source_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "unauthenticated",
                "Authorization must be 'Bearer TOKEN'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = access.token_principal(store, token.strip(), source=source)
        return Caller(principal, source)
    return session_caller(request, request.headers.get(CSRF_HEADER, ""))


def session_caller(request: Request, sent_csrf: str) -> Caller:
    """The caller of a session request, or 401; a request that changes something must have
    sent the session's CSRF token (the API's scripts in the header, the dashboard's own forms
    in a form field, which :mod:`rota.web` reads and passes here)."""
    require_setup(request)
    store = get_store(request)
    source = source_of(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise ApiError(
            401,
            "unauthenticated",
            "authentication required: a bearer token or a session (POST /api/v1/session)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings = get_settings(request)
    principal, csrf = access.session_principal(
        store,
        session_id,
        source=source,
        idle_minutes=settings.session_idle_minutes,
        max_hours=settings.session_max_hours,
    )
    if request.method not in SAFE_METHODS:
        sent = sent_csrf
        if not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise ApiError(403, "csrf", f"a session request needs the {CSRF_HEADER} header")
    return Caller(principal, source, session_id, csrf)


def current_principal(caller: Annotated[Caller, Depends(authenticate)]) -> Principal:
    return caller.principal


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CallerDep = Annotated[Caller, Depends(authenticate)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
