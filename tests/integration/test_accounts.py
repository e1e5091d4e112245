"""Users, logins, tokens, tenants and the audit log through the services, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota.auth import tokens
from rota.auth.roles import ALL_TENANTS, SYSTEM, Action, Principal
from rota.model.access import AuditFilter
from rota.model.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDenied,
)
from rota.services import access, audit
from rota.store import Store

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(store: Store) -> Principal:
    access.create_admin(store, "ada", PASSWORD)
    return access.login(store, "ada", PASSWORD, source="10.0.0.1").principal


def test_nothing_is_administered_until_the_first_admin_exists(store: Store) -> None:
    assert not access.has_admin(store)
    access.create_admin(store, "ada", PASSWORD)
    assert access.has_admin(store)
    with pytest.raises(ConflictError):
        access.create_admin(store, "ada", PASSWORD)


def test_bad_user_input_names_the_field_and_changes_nothing(store: Store) -> None:
    with pytest.raises(InvalidInputError) as short:
        access.create_admin(store, "ada", "short")
    assert short.value.field == "password"
    with pytest.raises(InvalidInputError) as name:
        access.create_admin(store, "-ada", PASSWORD)
    assert name.value.field == "name"
    with pytest.raises(InvalidInputError) as tenant:
        access.create_user(store, "bob", PASSWORD, grants={"nowhere": ["viewer"]}, principal=SYSTEM)
    assert tenant.value.field == "grants.nowhere"
    assert store.list_users() == []


def test_login_answers_the_same_for_unknown_users_and_wrong_passwords(
    store: Store, admin: Principal
) -> None:
    for name, password in (("ada", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationError) as refused:
            access.login(store, name, password, source="10.0.0.2")
        assert str(refused.value) == "wrong credentials"
    entries = store.list_audit(AuditFilter(action="login"))
    assert [(e.actor, e.outcome, e.source) for e in entries] == [
        ("nobody", "failed", "10.0.0.2"),
        ("ada", "failed", "10.0.0.2"),
        ("ada", "ok", "10.0.0.1"),
    ]
    assert admin.can(Action.ADMIN, "default") and admin.can(Action.ADMIN, ALL_TENANTS)


def test_repeated_failures_lock_the_name_out_even_with_the_right_password(
    store: Store, admin: Principal
) -> None:
    for _ in range(access.LOCKOUT_FAILURES):
        with pytest.raises(AuthenticationError):
            access.login(store, "ada", "not the password", source=None)
    with pytest.raises(AuthenticationError, match="too many failed logins"):
        access.login(store, "ada", PASSWORD, source=None)


def test_sessions_carry_a_csrf_token_and_end_when_idle_or_on_a_new_password(
    store: Store, admin: Principal
) -> None:
    first = access.login(store, "ada", PASSWORD, source=None)
    second = access.login(store, "ada", PASSWORD, source=None)
    assert first.session_id != second.session_id  # a new session id at every login
    principal, csrf = access.session_principal(store, first.session_id, source=None)
    assert principal.name == "ada" and csrf == first.csrf_token
    assert store.get_session(first.session_id) is None  # only the hash is stored

    id_hash = tokens.digest(first.session_id)
    store.touch_session(id_hash, store.now() - timedelta(minutes=31))
    with pytest.raises(AuthenticationError, match="expired"):
        access.session_principal(store, first.session_id, source=None)
    assert store.get_session(id_hash) is None

    access.set_password(store, "ada", "another good password", principal=admin)
    with pytest.raises(AuthenticationError):
        access.session_principal(store, second.session_id, source=None)


def test_a_session_ends_at_its_absolute_limit_however_busy(store: Store, admin: Principal) -> None:
    result = access.login(store, "ada", PASSWORD, source=None)
    access.session_principal(store, result.session_id, source=None, max_hours=1)
    with pytest.raises(AuthenticationError, match="expired"):
        # Kept busy (last seen now), but begun longer ago than the limit allows.
        access.session_principal(store, result.session_id, source=None, max_hours=1e-9)


def test_tokens_are_shown_once_stored_hashed_narrowed_and_revoked_at_once(
    store: Store, admin: Principal
) -> None:
    access.create_user(store, "olga", PASSWORD, grants={"default": ["operator"]}, principal=admin)
    info, token = access.create_token(
        store, "olga", roles=["viewer"], expires_days=30, principal=admin
    )
    assert token.startswith("rota_") and len(token) > 30
    stored, digest = store.get_token(info.id)
    assert token not in digest and stored.expires_at is not None
    principal = access.token_principal(store, token, source="10.0.0.3")
    assert principal.can(Action.READ, "default")
    assert not principal.can(Action.RUN, "default")  # the token is narrower than its user
    full = access.token_principal(
        store, access.create_token(store, "olga", principal=admin)[1], source=None
    )
    assert full.can(Action.RUN, "default") and not full.can(Action.EDIT, "default")

    access.revoke_token(store, info.id, principal=admin)
    with pytest.raises(AuthenticationError):
        access.token_principal(store, token, source=None)
    with pytest.raises(ConflictError):
        access.revoke_token(store, info.id, principal=admin)
    for forged in ("rota_nothing", token[:-2] + "xx", "Bearer " + token, ""):
        with pytest.raises(AuthenticationError):
            access.token_principal(store, forged, source=None)


def test_an_expired_or_disabled_users_token_is_refused(store: Store, admin: Principal) -> None:
    access.create_user(store, "olga", PASSWORD, grants={"default": ["viewer"]}, principal=admin)
    _, token = access.create_token(store, "olga", principal=admin)
    access.disable_user(store, "olga", principal=admin)
    with pytest.raises(AuthenticationError):
        access.token_principal(store, token, source=None)
    with pytest.raises(AuthenticationError):
        access.login(store, "olga", PASSWORD, source=None)


def test_tokens_of_others_and_user_management_need_a_global_admin(
    store: Store, admin: Principal
) -> None:
    access.create_tenant(store, "north", principal=admin)
    access.create_user(store, "nina", PASSWORD, grants={"north": ["admin"]}, principal=admin)
    nina = access.login(store, "nina", PASSWORD, source=None).principal
    with pytest.raises(PermissionDenied):
        access.create_token(store, "ada", principal=nina)
    with pytest.raises(PermissionDenied):
        access.list_users(store, principal=nina)
    with pytest.raises(PermissionDenied):
        access.set_grants(store, "nina", "default", ["admin"], principal=nina)
    access.set_grants(store, "nina", "north", ["admin", "finance-admin"], principal=nina)
    assert store.get_user("nina").grants["north"] == {"admin", "finance-admin"}
    access.create_token(store, "nina", principal=nina)  # her own: fine


def test_a_tenant_has_a_service_account_that_operates_in_it_only(
    store: Store, admin: Principal
) -> None:
    tenant = access.create_tenant(store, "north", name="North Library", principal=admin)
    account = store.get_user(tenant.service_account)
    assert account.service and account.grants == {"north": frozenset({"operator"})}
    with pytest.raises(AuthenticationError):
        access.login(store, account.name, "", source=None)
    assert [t.id for t in access.list_tenants(store, principal=admin)] == ["default", "north"]
    access.create_user(store, "vic", PASSWORD, grants={"north": ["viewer"]}, principal=admin)
    vic = access.login(store, "vic", PASSWORD, source=None).principal
    assert [t.id for t in access.list_tenants(store, principal=vic)] == ["north"]


def test_a_network_role_sees_every_tenant_and_runs_nothing(store: Store, admin: Principal) -> None:
    access.create_tenant(store, "north", principal=admin)
    access.create_user(store, "net", PASSWORD, grants={ALL_TENANTS: ["network"]}, principal=admin)
    net = access.login(store, "net", PASSWORD, source=None).principal
    assert {t.id for t in access.list_tenants(store, principal=net)} == {"default", "north"}
    assert not any(net.can(a, "north") for a in (Action.RUN, Action.EDIT, Action.ADMIN))


def test_the_audit_log_masks_secrets_and_shows_admins_their_tenants_only(
    store: Store, admin: Principal
) -> None:
    access.create_tenant(store, "north", principal=admin)
    access.create_user(store, "nina", PASSWORD, grants={"north": ["admin"]}, principal=admin)
    audit.record(
        store,
        admin,
        "run.start",
        "run",
        1,
        tenant="default",
        detail={"params": {"api_key": "s3cr3t", "day": "2026-11-22"}},
    )
    entries = audit.list_audit(store, principal=admin, action="run.start")
    assert entries[0].detail == {"params": {"api_key": "***", "day": "2026-11-22"}}
    assert entries[0].source == "10.0.0.1"
    nina = access.login(store, "nina", PASSWORD, source=None).principal
    seen = audit.list_audit(store, principal=nina)
    assert seen and {e.tenant for e in seen} == {"north"}
    with pytest.raises(NotFoundError):
        store.get_user("nobody")
