"""Writing and reading the audit log: who did what to which object, when, from where.

Entries are written by the services after the change they describe succeeded (or, for a
refused login, instead of it). Secrets never go into ``detail``: callers pass names, ids and
parameters, and parameters named like secrets are masked here as a last guard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rota.auth.roles import ALL_TENANTS, Action, Principal, Role
from rota.model.access import AuditEntry, AuditFilter, NewAuditEntry
from rota.model.errors import InvalidInputError, PermissionDenied
from rota.store.base import Store

SECRET_NAME = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential", re.IGNORECASE)
MASK = "***"


def masked(detail: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if SECRET_NAME.search(key):
            out[key] = MASK
        elif isinstance(value, Mapping):
            out[key] = masked(value)
        else:
            out[key] = value
    return out


def entry(
    principal: Principal,
    action: str,
    object_type: str,
    object_id: object,
    *,
    tenant: str | None = None,
    outcome: str = "ok",
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> NewAuditEntry:
    return NewAuditEntry(
        actor=actor or principal.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        tenant=tenant,
        source=principal.source,
        outcome=outcome,
        detail=masked(detail or {}),
    )


def record(
    store: Store,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: object,
    *,
    tenant: str | None = None,
    outcome: str = "ok",
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    store.append_audit(
        [
            entry(
                principal,
                action,
                object_type,
                object_id,
                tenant=tenant,
                outcome=outcome,
                detail=detail,
                actor=actor,
            )
        ],
        store.now(),
    )


def list_audit(
    store: Store,
    *,
    principal: Principal,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    tenant: str | None = None,
    since: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Administrators read the entries of the tenants they administer; an administrator of
    every tenant also reads the entries that belong to none (logins, users, tokens)."""
    if not 1 <= limit <= 1000:
        raise InvalidInputError("limit", "must be between 1 and 1000")
    if principal.can(Action.ADMIN, ALL_TENANTS):
        tenants = None if tenant is None else frozenset({tenant})
    else:
        administered = {
            t for t in principal.grants if t != ALL_TENANTS and Role.ADMIN in principal.roles_in(t)
        }
        if tenant is not None:
            administered &= {tenant}
        if not administered:
            raise PermissionDenied(f"{principal.name} may not read the audit log: needs admin")
        tenants = frozenset(administered)
    return store.list_audit(
        AuditFilter(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            tenants=tenants,
            since=since,
            before=before,
            limit=limit,
        )
    )
