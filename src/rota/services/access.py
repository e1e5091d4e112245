"""Users, logins, API tokens and tenants: who may ask, and as whom.

Authentication answers one way for every failure ("wrong credentials"), so a caller cannot
learn which user names or tokens exist. Every change and every login, good or bad, goes to
the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from rota.auth import passwords, tokens
from rota.auth.roles import (
    ALL_TENANTS,
    SYSTEM,
    Action,
    Principal,
    Role,
    check_role_name,
    narrow,
)
from rota.model.access import AuditFilter, LoginSession, Tenant, TokenInfo, User
from rota.model.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDenied,
)
from rota.services import audit
from rota.store.base import Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
WRONG = "wrong credentials"
LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=60)
"""Last-use times are written at most this often: not a write per request."""
MAX_TOKEN_DAYS = 3650


@dataclass(frozen=True)
class LoginResult:
    principal: Principal
    session_id: str
    csrf_token: str


def _check_name(name: str, field_name: str = "name") -> str:
    if not NAME.fullmatch(name):
        raise InvalidInputError(
            field_name,
            "1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit",
        )
    return name


def _principal_of(user: User, *, source: str | None, token: TokenInfo | None = None) -> Principal:
    grants = {tenant: frozenset(roles) for tenant, roles in user.grants.items()}
    if token is not None:
        grants = narrow(grants, token.roles, token.tenants)
    return Principal(
        name=user.name,
        kind="service" if user.service else "user",
        grants=grants,
        token_id=token.id if token else None,
        source=source,
    )


def _require_global_admin(principal: Principal, what: str) -> None:
    if not principal.can(Action.ADMIN, ALL_TENANTS):
        raise PermissionDenied(f"{principal.name} may not {what}: needs admin of every tenant")


# -- the first administrator and users ---------------------------------------------------------


def has_admin(store: Store) -> bool:
    return store.has_admin()


def create_admin(store: Store, name: str, password: str, *, principal: Principal = SYSTEM) -> User:
    """The first (or another) administrator of every tenant; the CLI's, on the server."""
    return create_user(
        store, name, password, grants={ALL_TENANTS: [Role.ADMIN]}, principal=principal
    )


def create_user(
    store: Store,
    name: str,
    password: str | None,
    *,
    grants: Mapping[str, Iterable[str]] | None = None,
    service: bool = False,
    principal: Principal,
) -> User:
    _require_global_admin(principal, "create users")
    _check_name(name)
    cleaned = _checked_grants(store, grants or {})
    password_hash = passwords.hash_password(password) if password is not None else None
    if password_hash is None and not service:
        raise InvalidInputError(
            "password", "required for a person (only service accounts have none)"
        )
    user = store.create_user(name, password_hash, store.now(), grants=cleaned, service=service)
    audit.record(
        store,
        principal,
        "user.create",
        "user",
        name,
        detail={"grants": {t: sorted(r) for t, r in cleaned.items()}, "service": service},
    )
    return user


def _checked_grants(store: Store, grants: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    known = {t.id for t in store.list_tenants()} | {ALL_TENANTS}
    out: dict[str, set[str]] = {}
    for tenant, roles in grants.items():
        if tenant not in known:
            raise InvalidInputError(f"grants.{tenant}", f"no tenant {tenant!r}")
        out[tenant] = {check_role_name(str(r), f"grants.{tenant}") for r in roles}
    return out


def get_user(store: Store, name: str, *, principal: Principal) -> User:
    if name != principal.name:
        _require_global_admin(principal, "read other users")
    return store.get_user(name)


def list_users(store: Store, *, principal: Principal) -> list[User]:
    _require_global_admin(principal, "list users")
    return store.list_users()


def set_grants(
    store: Store, name: str, tenant: str, roles: Iterable[str], *, principal: Principal
) -> User:
    """Replace a user's roles in one tenant. An administrator of that tenant may; granting in
    every tenant (``*``) takes an administrator of every tenant."""
    if tenant == ALL_TENANTS:
        _require_global_admin(principal, "grant roles in every tenant")
    elif not principal.can(Action.ADMIN, tenant):
        raise PermissionDenied(f"{principal.name} may not grant roles in {tenant!r}: needs admin")
    cleaned = _checked_grants(store, {tenant: roles})[tenant]
    store.set_grants(name, tenant, cleaned)
    audit.record(
        store,
        principal,
        "user.grant",
        "user",
        name,
        tenant=None if tenant == ALL_TENANTS else tenant,
        detail={"tenant": tenant, "roles": sorted(cleaned)},
    )
    return store.get_user(name)


def set_password(store: Store, name: str, password: str, *, principal: Principal) -> None:
    """Users change their own; administrators of every tenant anyone's. Ends the user's
    login sessions."""
    if name != principal.name:
        _require_global_admin(principal, "set other users' passwords")
    store.set_password_hash(name, passwords.hash_password(password))
    audit.record(store, principal, "user.password", "user", name)


def disable_user(store: Store, name: str, *, principal: Principal, disabled: bool = True) -> None:
    """A disabled user's sessions end and tokens stop working at once."""
    _require_global_admin(principal, "disable users")
    store.set_user_disabled(name, disabled)
    audit.record(store, principal, "user.disable" if disabled else "user.enable", "user", name)


# -- logins --------------------------------------------------------------------------------------


def login(store: Store, name: str, password: str, *, source: str | None) -> LoginResult:
    now = store.now()
    recent = [
        e
        for e in store.list_audit(
            AuditFilter(actor=name[:64], action="login", since=now - LOCKOUT_WINDOW, limit=50)
        )
        if e.outcome != "ok"
    ]
    credentials = store.get_credentials(name)
    ok = passwords.verify_password(credentials.password_hash if credentials else None, password)
    anonymous = Principal(name=name[:64], source=source)
    if len(recent) >= LOCKOUT_FAILURES:
        audit.record(store, anonymous, "login", "user", name[:64], outcome="locked")
        raise AuthenticationError(
            f"{WRONG}; too many failed logins: try again in {LOCKOUT_WINDOW.seconds // 60} minutes"
        )
    if not ok or credentials is None or credentials.disabled or credentials.service:
        audit.record(store, anonymous, "login", "user", name[:64], outcome="failed")
        raise AuthenticationError(WRONG)
    session_id, id_hash, csrf = tokens.new_session()
    store.create_session(
        LoginSession(
            id_hash=id_hash,
            user=name,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            source=source,
        )
    )
    if credentials.password_hash and passwords.needs_rehash(credentials.password_hash):
        store.set_password_hash(name, passwords.hash_password(password))
    principal = _principal_of(store.get_user(name), source=source)
    audit.record(store, principal, "login", "user", name)
    return LoginResult(principal=principal, session_id=session_id, csrf_token=csrf)


def session_principal(
    store: Store,
    session_id: str,
    *,
    source: str | None,
    idle_minutes: float = 30.0,
    max_hours: float = 12.0,
) -> tuple[Principal, str]:
    """The principal of a live login session and its CSRF token. A session idle too long, or
    too old whatever its use, is deleted and refused."""
    id_hash = tokens.digest(session_id)
    session = store.get_session(id_hash)
    if session is None:
        raise AuthenticationError(WRONG)
    now = store.now()
    if now - session.last_seen_at > timedelta(minutes=idle_minutes) or (
        now - session.created_at > timedelta(hours=max_hours)
    ):
        store.delete_session(id_hash)
        raise AuthenticationError("the login session has expired: log in again")
    user = store.get_user(session.user)
    if user.disabled:
        store.delete_session(id_hash)
        raise AuthenticationError(WRONG)
    if now - session.last_seen_at > TOUCH_EVERY:
        store.touch_session(id_hash, now)
    return _principal_of(user, source=source), session.csrf_token


def logout(store: Store, session_id: str) -> None:
    store.delete_session(tokens.digest(session_id))


# -- API tokens ----------------------------------------------------------------------------------


def create_token(
    store: Store,
    user: str,
    *,
    roles: Iterable[str] | None = None,
    tenants: Iterable[str] | None = None,
    expires_days: int | None = None,
    note: str = "",
    principal: Principal,
) -> tuple[TokenInfo, str]:
    """A new token for ``user`` (yourself, or anyone for an administrator of every tenant).
    It can do at most what its user can, cut down to ``roles`` and ``tenants``. The token is
    returned once; only its hash is kept."""
    if user != principal.name:
        _require_global_admin(principal, "create tokens for other users")
    target = store.get_user(user)
    if target.disabled:
        raise InvalidInputError("user", f"user {user!r} is disabled")
    role_set = frozenset(check_role_name(r, "roles") for r in roles) if roles is not None else None
    tenant_set = frozenset(tenants) if tenants is not None else None
    if tenant_set is not None:
        unknown = tenant_set - {t.id for t in store.list_tenants()}
        if unknown:
            raise InvalidInputError("tenants", f"no tenant {sorted(unknown)[0]!r}")
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise InvalidInputError("expires_days", f"between 1 and {MAX_TOKEN_DAYS}")
    if len(note) > 200:
        raise InvalidInputError("note", "at most 200 characters")
    now = store.now()
    token_id, secret, digest = tokens.new_token()
    info = TokenInfo(
        id=token_id,
        user=user,
        created_at=now,
        roles=role_set,
        tenants=tenant_set,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
        note=note,
    )
    store.create_token(info, digest)
    audit.record(
        store,
        principal,
        "token.create",
        "token",
        token_id,
        detail={
            "user": user,
            "roles": sorted(role_set) if role_set is not None else None,
            "tenants": sorted(tenant_set) if tenant_set is not None else None,
            "expires_days": expires_days,
        },
    )
    return info, secret


def token_principal(store: Store, token: str, *, source: str | None) -> Principal:
    parts = tokens.split_token(token)
    if parts is None:
        raise AuthenticationError(WRONG)
    token_id, secret = parts
    try:
        info, digest = store.get_token(token_id)
    except NotFoundError:
        raise AuthenticationError(WRONG) from None
    now = store.now()
    if not tokens.same(secret, digest) or not info.live(now):
        raise AuthenticationError(WRONG)
    user = store.get_user(info.user)
    if user.disabled:
        raise AuthenticationError(WRONG)
    if info.last_used_at is None or now - info.last_used_at > TOUCH_EVERY:
        store.touch_token(token_id, now)
    return _principal_of(user, source=source, token=info)


def list_tokens(store: Store, *, user: str | None = None, principal: Principal) -> list[TokenInfo]:
    """Without ``user``: an administrator of every tenant gets every token, anyone else
    their own."""
    if user is None and not principal.can(Action.ADMIN, ALL_TENANTS):
        user = principal.name
    if user != principal.name:
        _require_global_admin(principal, "list other users' tokens")
    return store.list_tokens(user)


def revoke_token(store: Store, token_id: str, *, principal: Principal) -> TokenInfo:
    """Effective at once: every request checks the token's row."""
    info, _ = store.get_token(token_id)
    if info.user != principal.name:
        _require_global_admin(principal, "revoke other users' tokens")
    revoked = store.revoke_token(token_id, store.now())
    audit.record(store, principal, "token.revoke", "token", token_id, detail={"user": info.user})
    return revoked


# -- tenants -------------------------------------------------------------------------------------


def list_tenants(store: Store, *, principal: Principal) -> list[Tenant]:
    """With each tenant's service account spelled out (an empty one is the configured)."""
    return [
        replace(t, service_account=t.service_account or store.service_account)
        for t in store.list_tenants()
        if principal.can_see(t.id)
    ]


def service_account_of(store: Store, tenant: str, configured: str) -> str:
    """Whom a run the engine starts in ``tenant`` acts as."""
    try:
        return store.get_tenant(tenant).service_account or configured
    except NotFoundError:
        return configured


def create_tenant(
    store: Store,
    tenant_id: str,
    *,
    name: str | None = None,
    service_account: str | None = None,
    principal: Principal,
) -> Tenant:
    """A tenant and its service account (a user without password that scheduled, webhook
    and event runs of the tenant act as, with operator rights in it)."""
    _require_global_admin(principal, "create tenants")
    _check_name(tenant_id, "id")
    account = _check_name(service_account or f"service.{tenant_id}", "service_account")
    tenant = store.create_tenant(
        Tenant(
            id=tenant_id, name=name or tenant_id, service_account=account, created_at=store.now()
        )
    )
    try:
        store.get_user(account)
    except NotFoundError:
        store.create_user(
            account, None, store.now(), grants={tenant_id: [Role.OPERATOR]}, service=True
        )
    audit.record(
        store,
        principal,
        "tenant.create",
        "tenant",
        tenant_id,
        tenant=tenant_id,
        detail={"service_account": account},
    )
    return tenant
