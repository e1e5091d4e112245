"""``/api/v1/users``, ``/roles``, ``/tokens``, ``/tenants`` and ``/audit``: who may do what,
and what they did. The services check that the caller is an administrator (of the tenant, or
of every tenant); the API only passes the caller on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Response

from rota.api.deps import CallerDep, PrincipalDep, StoreDep
from rota.api.errors import ERROR_RESPONSES
from rota.api.schemas import (
    AuditOut,
    BeforeQuery,
    GrantsBody,
    PasswordBody,
    TenantBody,
    TenantOut,
    TokenBody,
    TokenCreated,
    TokenOut,
    UserBody,
    UserOut,
)
from rota.auth.roles import LADDER, Role
from rota.services import access, audit

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

ROLE_WORDS = {
    Role.VIEWER: "read jobs, runs, logs and records of the tenant",
    Role.OPERATOR: "viewer, and start, cancel and retry runs; pause schedules",
    Role.EDITOR: "operator, and change jobs, schedules and hooks",
    Role.ADMIN: "editor, and manage users, tokens and secrets",
    Role.NETWORK: "read every tenant, change nothing",
}


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [u.to_dict() for u in access.list_users(store, principal=principal)]


@router.get("/users/{name}", response_model=UserOut, tags=["users"])
def show_user(name: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    return access.get_user(store, name, principal=principal).to_dict()


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(body: UserBody, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """A new user with a password and roles by tenant."""
    user = access.create_user(
        store, body.name, body.password, grants=body.grants, principal=principal
    )
    return user.to_dict()


@router.put("/users/{name}/grants/{tenant}", response_model=UserOut, tags=["users"])
def set_grants(
    name: str, tenant: str, body: GrantsBody, store: StoreDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Replace the user's roles in one tenant (an empty list removes them)."""
    return access.set_grants(store, name, tenant, body.roles, principal=principal).to_dict()


@router.put("/users/{name}/password", status_code=204, response_class=Response, tags=["users"])
def set_password(
    name: str, body: PasswordBody, store: StoreDep, principal: PrincipalDep
) -> Response:
    access.set_password(store, name, body.password, principal=principal)
    return Response(status_code=204)


@router.post("/users/{name}/disable", response_model=UserOut, tags=["users"])
def disable_user(name: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """The user can no longer log in; their sessions and tokens stop working at once."""
    access.disable_user(store, name, principal=principal)
    return access.get_user(store, name, principal=principal).to_dict()


@router.post("/users/{name}/enable", response_model=UserOut, tags=["users"])
def enable_user(name: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    access.disable_user(store, name, principal=principal, disabled=False)
    return access.get_user(store, name, principal=principal).to_dict()


@router.get("/roles", tags=["users"])
def roles(principal: PrincipalDep) -> list[dict[str, str]]:
    """The built-in roles, lowest first; any other name is a custom role a job may require."""
    del principal
    return [{"name": r.value, "grants": ROLE_WORDS[r]} for r in (*LADDER, Role.NETWORK)]


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(
    store: StoreDep, principal: PrincipalDep, user: str | None = None
) -> list[dict[str, Any]]:
    """Tokens (never their secret part); yours, or everybody's for administrators."""
    return [t.to_dict() for t in access.list_tokens(store, user=user, principal=principal)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token(body: TokenBody, store: StoreDep, caller: CallerDep) -> dict[str, Any]:
    """A new API token, narrowed to some roles and tenants; the token is in this answer only."""
    info, token = access.create_token(
        store,
        body.user or caller.principal.name,
        roles=body.roles,
        tenants=body.tenants,
        expires_days=body.expires_days,
        note=body.note,
        principal=caller.principal,
    )
    return {"token": token, "info": info.to_dict()}


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response, tags=["tokens"])
def revoke_token(token_id: str, store: StoreDep, principal: PrincipalDep) -> Response:
    access.revoke_token(store, token_id, principal=principal)
    return Response(status_code=204)


@router.get("/tenants", response_model=list[TenantOut], tags=["tenants"])
def list_tenants(store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [t.to_dict() for t in access.list_tenants(store, principal=principal)]


@router.post("/tenants", response_model=TenantOut, status_code=201, tags=["tenants"])
def create_tenant(body: TenantBody, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """A new tenant (with its service account)."""
    return access.create_tenant(store, body.id, name=body.name, principal=principal).to_dict()


@router.get("/audit", response_model=list[AuditOut], tags=["audit"])
def list_audit(
    store: StoreDep,
    principal: PrincipalDep,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    tenant: str | None = None,
    since: datetime | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    before: BeforeQuery = None,
) -> list[dict[str, Any]]:
    """Who did what, newest first; ``before`` (an entry id) pages back."""
    found = audit.list_audit(
        store,
        principal=principal,
        actor=actor,
        action=action,
        object_type=object_type,
        tenant=tenant,
        since=since,
        limit=limit,
        before=before,
    )
    return [e.to_dict() for e in found]
