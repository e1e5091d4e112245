"""Users, API tokens, tenants and audit entries as the store returns them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@dataclass(frozen=True)
class User:
    name: str
    created_at: datetime
    disabled: bool = False
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Roles by tenant (``*``: every tenant)."""
    service: bool = False
    """A tenant's service account: scheduled, webhook and event runs act as it; it cannot
    log in and holds no token unless an administrator creates one."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": _iso(self.created_at),
            "disabled": self.disabled,
            "service": self.service,
            "grants": {t: sorted(r) for t, r in sorted(self.grants.items())},
        }


@dataclass(frozen=True)
class StoredCredentials:
    """What login needs; never leaves the services layer."""

    name: str
    password_hash: str | None
    disabled: bool
    service: bool


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user: str
    created_at: datetime
    roles: frozenset[str] | None = None
    """None: the user's roles; else at most these (each implying the ones below it)."""
    tenants: frozenset[str] | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    note: str = ""

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "roles": sorted(self.roles) if self.roles is not None else None,
            "tenants": sorted(self.tenants) if self.tenants is not None else None,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
            "note": self.note,
        }


@dataclass(frozen=True)
class LoginSession:
    id_hash: str
    user: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    source: str | None = None


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    service_account: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "service_account": self.service_account,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    tenant: str | None = None
    source: str | None = None
    outcome: str = "ok"
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "tenant": self.tenant,
            "source": self.source,
            "outcome": self.outcome,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class NewAuditEntry:
    actor: str
    action: str
    object_type: str
    object_id: str
    tenant: str | None = None
    source: str | None = None
    outcome: str = "ok"
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    tenants: frozenset[str] | None = None
    """None: every tenant (and entries without one)."""
    since: datetime | None = None
    before: int | None = None
    limit: int = 100
