"""Users, role grants, API tokens, login sessions, tenants and the audit log in SQL.

The store keeps and finds; the rules (who may do what, when a session has expired) are the
services' and ``rota.auth``'s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rota.model.access import (
    AuditEntry,
    AuditFilter,
    LoginSession,
    NewAuditEntry,
    StoredCredentials,
    Tenant,
    TokenInfo,
    User,
)
from rota.model.errors import ConflictError, NotFoundError
from rota.store import schema as t
from rota.store.sql_internals import SqlInternals


def _grants_in(conn: Connection, names: Iterable[str] | None) -> dict[str, dict[str, set[str]]]:
    query = sa.select(t.role_grants)
    if names is not None:
        query = query.where(t.role_grants.c.user_name.in_(list(names)))
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in conn.execute(query):
        out[row.user_name][row.tenant].add(row.role)
    return out


def _user(row: Any, grants: Mapping[str, set[str]]) -> User:
    return User(
        name=row.name,
        created_at=row.created_at,
        disabled=row.disabled,
        service=row.service,
        grants={tenant: frozenset(roles) for tenant, roles in grants.items()},
    )


def _token(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=row.user_name,
        created_at=row.created_at,
        roles=frozenset(row.roles) if row.roles is not None else None,
        tenants=frozenset(row.tenants) if row.tenants is not None else None,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        note=row.note,
    )


def _tenant(row: Any) -> Tenant:
    return Tenant(
        id=row.id, name=row.name, service_account=row.service_account, created_at=row.created_at
    )


class SqlAccessOps(SqlInternals):
    # -- users and grants ------------------------------------------------------------------

    def create_user(
        self,
        name: str,
        password_hash: str | None,
        now: datetime,
        *,
        grants: Mapping[str, Iterable[str]] | None = None,
        service: bool = False,
    ) -> User:
        try:
            with self._write() as conn:
                conn.execute(
                    sa.insert(t.users).values(
                        name=name,
                        password_hash=password_hash,
                        created_at=now,
                        disabled=False,
                        service=service,
                    )
                )
                for tenant, roles in (grants or {}).items():
                    self._set_grants_in(conn, name, tenant, roles)
        except sa.exc.IntegrityError:
            raise ConflictError(f"user {name!r} already exists") from None
        return self.get_user(name)

    def get_user(self, name: str) -> User:
        with self._read() as conn:
            row = conn.execute(sa.select(t.users).where(t.users.c.name == name)).first()
            if row is None:
                raise NotFoundError("user", name)
            return _user(row, _grants_in(conn, [name]).get(name, {}))

    def list_users(self) -> list[User]:
        with self._read() as conn:
            grants = _grants_in(conn, None)
            rows = conn.execute(sa.select(t.users).order_by(t.users.c.name)).all()
            return [_user(row, grants.get(row.name, {})) for row in rows]

    def get_credentials(self, name: str) -> StoredCredentials | None:
        with self._read() as conn:
            row = conn.execute(sa.select(t.users).where(t.users.c.name == name)).first()
        if row is None:
            return None
        return StoredCredentials(
            name=row.name,
            password_hash=row.password_hash,
            disabled=row.disabled,
            service=row.service,
        )

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """A new password ends every login session of the user (a stolen session dies with
        the old password)."""
        with self._write() as conn:
            self._must_exist(conn, name)
            conn.execute(
                sa.update(t.users).where(t.users.c.name == name).values(password_hash=password_hash)
            )
            conn.execute(sa.delete(t.login_sessions).where(t.login_sessions.c.user_name == name))

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        with self._write() as conn:
            self._must_exist(conn, name)
            conn.execute(sa.update(t.users).where(t.users.c.name == name).values(disabled=disabled))
            if disabled:
                conn.execute(
                    sa.delete(t.login_sessions).where(t.login_sessions.c.user_name == name)
                )

    def set_grants(self, name: str, tenant: str, roles: Iterable[str]) -> None:
        with self._write() as conn:
            self._must_exist(conn, name)
            self._set_grants_in(conn, name, tenant, roles)

    def _set_grants_in(
        self, conn: Connection, name: str, tenant: str, roles: Iterable[str]
    ) -> None:
        conn.execute(
            sa.delete(t.role_grants).where(
                t.role_grants.c.user_name == name, t.role_grants.c.tenant == tenant
            )
        )
        rows = [{"user_name": name, "tenant": tenant, "role": r} for r in sorted(set(roles))]
        if rows:
            conn.execute(sa.insert(t.role_grants), rows)

    def _must_exist(self, conn: Connection, name: str) -> None:
        if conn.execute(sa.select(t.users.c.name).where(t.users.c.name == name)).first() is None:
            raise NotFoundError("user", name)

    def has_admin(self) -> bool:
        """An enabled user who administers every tenant: until one exists, nothing but the
        health check and the login page answers."""
        query = (
            sa.select(t.users.c.name)
            .join(t.role_grants, t.role_grants.c.user_name == t.users.c.name)
            .where(
                t.role_grants.c.role == "admin",
                t.role_grants.c.tenant == "*",
                t.users.c.disabled.is_(False),
                t.users.c.service.is_(False),
            )
            .limit(1)
        )
        with self._read() as conn:
            return conn.execute(query).first() is not None

    # -- API tokens --------------------------------------------------------------------------

    def create_token(self, token: TokenInfo, digest: str) -> None:
        with self._write() as conn:
            self._must_exist(conn, token.user)
            conn.execute(
                sa.insert(t.api_tokens).values(
                    id=token.id,
                    user_name=token.user,
                    digest=digest,
                    roles=sorted(token.roles) if token.roles is not None else None,
                    tenants=sorted(token.tenants) if token.tenants is not None else None,
                    note=token.note,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                )
            )

    def get_token(self, token_id: str) -> tuple[TokenInfo, str]:
        """The token and its digest (for the services' constant-time comparison)."""
        with self._read() as conn:
            row = conn.execute(sa.select(t.api_tokens).where(t.api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFoundError("token", token_id)
        return _token(row), row.digest

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        query = sa.select(t.api_tokens).order_by(t.api_tokens.c.created_at.desc())
        if user is not None:
            query = query.where(t.api_tokens.c.user_name == user)
        with self._read() as conn:
            return [_token(row) for row in conn.execute(query)]

    def revoke_token(self, token_id: str, now: datetime) -> TokenInfo:
        with self._write() as conn:
            found = conn.execute(
                sa.update(t.api_tokens)
                .where(t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            row = conn.execute(sa.select(t.api_tokens).where(t.api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFoundError("token", token_id)
        if not found:
            raise ConflictError(f"token {token_id!r} was already revoked")
        return _token(row)

    def touch_token(self, token_id: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                sa.update(t.api_tokens)
                .where(t.api_tokens.c.id == token_id)
                .values(last_used_at=now)
            )

    # -- login sessions ----------------------------------------------------------------------

    def create_session(self, session: LoginSession) -> None:
        with self._write() as conn:
            conn.execute(
                sa.insert(t.login_sessions).values(
                    id_hash=session.id_hash,
                    user_name=session.user,
                    csrf_token=session.csrf_token,
                    created_at=session.created_at,
                    last_seen_at=session.last_seen_at,
                    source=session.source,
                )
            )

    def get_session(self, id_hash: str) -> LoginSession | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(t.login_sessions).where(t.login_sessions.c.id_hash == id_hash)
            ).first()
        if row is None:
            return None
        return LoginSession(
            id_hash=row.id_hash,
            user=row.user_name,
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            source=row.source,
        )

    def touch_session(self, id_hash: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                sa.update(t.login_sessions)
                .where(t.login_sessions.c.id_hash == id_hash)
                .values(last_seen_at=now)
            )

    def delete_session(self, id_hash: str) -> None:
        with self._write() as conn:
            conn.execute(sa.delete(t.login_sessions).where(t.login_sessions.c.id_hash == id_hash))

    def prune_sessions(self, idle_before: datetime, created_before: datetime) -> int:
        with self._write() as conn:
            return conn.execute(
                sa.delete(t.login_sessions).where(
                    sa.or_(
                        t.login_sessions.c.last_seen_at < idle_before,
                        t.login_sessions.c.created_at < created_before,
                    )
                )
            ).rowcount

    # -- tenants -----------------------------------------------------------------------------

    def list_tenants(self) -> list[Tenant]:
        with self._read() as conn:
            return [_tenant(r) for r in conn.execute(sa.select(t.tenants).order_by(t.tenants.c.id))]

    def get_tenant(self, tenant_id: str) -> Tenant:
        with self._read() as conn:
            row = conn.execute(sa.select(t.tenants).where(t.tenants.c.id == tenant_id)).first()
        if row is None:
            raise NotFoundError("tenant", tenant_id)
        return _tenant(row)

    def create_tenant(self, tenant: Tenant) -> Tenant:
        try:
            with self._write() as conn:
                conn.execute(
                    sa.insert(t.tenants).values(
                        id=tenant.id,
                        name=tenant.name,
                        service_account=tenant.service_account,
                        created_at=tenant.created_at,
                    )
                )
        except sa.exc.IntegrityError:
            raise ConflictError(f"tenant {tenant.id!r} already exists") from None
        return tenant

    def ensure_tenants(self, tenant_ids: Iterable[str], now: datetime) -> None:
        """Tenants that jobs name come into being, acting as the configured service account."""
        wanted = set(tenant_ids)
        with self._write() as conn:
            known = {r[0] for r in conn.execute(sa.select(t.tenants.c.id))}
            rows = [
                {"id": i, "name": i, "service_account": "", "created_at": now}
                for i in sorted(wanted - known)
            ]
            if rows:
                conn.execute(sa.insert(t.tenants), rows)

    def _service_account_in(
        self, conn: Connection, tenant: str, fallback: str | None = None
    ) -> str:
        """Whom runs started by the engine (schedules, webhooks, events) act as: the
        tenant's service account, or (empty) the configured ``service_account``."""
        found = conn.execute(
            sa.select(t.tenants.c.service_account).where(t.tenants.c.id == tenant)
        ).scalar()
        return str(found) if found else (fallback or self.service_account)

    # -- audit log ---------------------------------------------------------------------------

    def append_audit(self, entries: Iterable[NewAuditEntry], now: datetime) -> None:
        with self._write() as conn:
            self._audit_in(conn, entries, now)

    def _audit_in(self, conn: Connection, entries: Iterable[NewAuditEntry], now: datetime) -> None:
        rows = [
            {
                "at": now,
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id[:200],
                "tenant": e.tenant,
                "source": (e.source or "")[:64] or None,
                "outcome": e.outcome,
                "detail": dict(e.detail),
            }
            for e in entries
        ]
        if rows:
            conn.execute(sa.insert(t.audit_log), rows)

    def list_audit(self, audit_filter: AuditFilter) -> list[AuditEntry]:
        a = t.audit_log.c
        query = sa.select(t.audit_log).order_by(a.id.desc()).limit(audit_filter.limit)
        for column, value in (
            (a.actor, audit_filter.actor),
            (a.action, audit_filter.action),
            (a.object_type, audit_filter.object_type),
            (a.object_id, audit_filter.object_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if audit_filter.tenants is not None:
            query = query.where(a.tenant.in_(sorted(audit_filter.tenants)))
        if audit_filter.since is not None:
            query = query.where(a.at >= audit_filter.since)
        if audit_filter.before is not None:
            query = query.where(a.id < audit_filter.before)
        with self._read() as conn:
            return [
                AuditEntry(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    object_type=r.object_type,
                    object_id=r.object_id,
                    tenant=r.tenant,
                    source=r.source,
                    outcome=r.outcome,
                    detail=r.detail or {},
                )
                for r in conn.execute(query)
            ]
