"""``rota users``, ``rota tokens``, ``rota tenants`` and ``rota audit``: the accounts the API
and dashboard check, managed from the server's shell (which holds the database already).

Passwords come from the environment or a prompt, never from an argument (arguments stay in
the shell history and in process listings)."""

from __future__ import annotations

import os
import sys
from datetime import datetime

import click
from rich.table import Table

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, print_json
from rota.model.errors import InvalidInputError
from rota.services import access, audit

PASSWORD_VARIABLE = "ROTA_ADMIN_PASSWORD"


def _password(name: str, variable: str = PASSWORD_VARIABLE) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    if not sys.stdin.isatty():
        raise InvalidInputError(
            "password", f"set {variable} or run on a terminal to be asked; nothing was saved"
        )
    return str(click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True))


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def _grants(spec: tuple[str, ...]) -> dict[str, list[str]]:
    """``--grant TENANT=ROLE`` (repeatable; ``*=admin`` for every tenant)."""
    out: dict[str, list[str]] = {}
    for item in spec:
        tenant, sep, role = item.partition("=")
        if not sep or not tenant or not role:
            raise InvalidInputError(
                "--grant", f"{item!r} is not TENANT=ROLE (e.g. default=operator)"
            )
        out.setdefault(tenant, []).append(role)
    return out


@click.group("users")
def users() -> None:
    """People and service accounts, and their roles per tenant."""


@users.command("create-admin")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the user as JSON.")
@pass_app
@handle_errors
def create_admin(app: App, name: str, as_json: bool) -> None:
    """Create an administrator of every tenant (the first one unlocks the API and dashboard).
    The password comes from ROTA_ADMIN_PASSWORD or a prompt."""
    app.store.upgrade()
    user = access.create_admin(app.store, name, _password(name), principal=app.principal)
    if as_json:
        print_json(user.to_dict())
    else:
        console.print(f"administrator {user.name} created", highlight=False)


@users.command("create")
@click.argument("name")
@click.option("--grant", "grant", multiple=True, help="TENANT=ROLE, repeatable (*=viewer: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the user as JSON.")
@pass_app
@handle_errors
def create(app: App, name: str, grant: tuple[str, ...], as_json: bool) -> None:
    """Create a user; the password comes from ROTA_USER_PASSWORD or a prompt."""
    user = access.create_user(
        app.store,
        name,
        _password(name, "ROTA_USER_PASSWORD"),
        grants=_grants(grant),
        principal=app.principal,
    )
    if as_json:
        print_json(user.to_dict())
    else:
        console.print(f"user {user.name} created", highlight=False)


@users.command("grant")
@click.argument("name")
@click.argument("tenant")
@click.argument("roles", nargs=-1)
@pass_app
@handle_errors
def grant(app: App, name: str, tenant: str, roles: tuple[str, ...]) -> None:
    """Set NAME's roles in TENANT (none: remove them), e.g. `rota users grant olga default
    operator finance-admin`."""
    user = access.set_grants(app.store, name, tenant, list(roles), principal=app.principal)
    held = ", ".join(sorted(user.grants.get(tenant, ()))) or "none"
    console.print(f"{name} in {tenant}: {held}", highlight=False)


@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@pass_app
@handle_errors
def disable(app: App, name: str, enable: bool) -> None:
    """End NAME's sessions and stop their tokens at once (or --enable again)."""
    access.disable_user(app.store, name, principal=app.principal, disabled=not enable)
    console.print(f"user {name} {'enabled' if enable else 'disabled'}", highlight=False)


@users.command("password")
@click.argument("name")
@pass_app
@handle_errors
def password(app: App, name: str) -> None:
    """Set NAME's password (ROTA_USER_PASSWORD or a prompt); their login sessions end."""
    access.set_password(
        app.store, name, _password(name, "ROTA_USER_PASSWORD"), principal=app.principal
    )
    console.print(f"password of {name} changed", highlight=False)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_users(app: App, as_json: bool) -> None:
    """Users with their roles per tenant."""
    found = access.list_users(app.store, principal=app.principal)
    if as_json:
        print_json([u.to_dict() for u in found])
        return
    table = Table("name", "roles", "state", "created", box=None)
    for user in found:
        roles = "; ".join(f"{t}: {', '.join(sorted(r))}" for t, r in sorted(user.grants.items()))
        state = "disabled" if user.disabled else ("service" if user.service else "active")
        table.add_row(user.name, roles or "-", state, _when(user.created_at))
    console.print(table)


@click.group("tokens")
def tokens() -> None:
    """API tokens: shown once, stored hashed, revocable."""


@tokens.command("create")
@click.option("--user", "user", required=True, help="Whose token it is.")
@click.option("--role", "roles", multiple=True, help="At most this role (repeatable).")
@click.option("--tenant", "tenants", multiple=True, help="Only this tenant (repeatable).")
@click.option("--expires", "expires", type=int, help="Days until it expires.")
@click.option("--note", default="", help="What the token is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the token in `token`).")
@pass_app
@handle_errors
def create_token(
    app: App,
    user: str,
    roles: tuple[str, ...],
    tenants: tuple[str, ...],
    expires: int | None,
    note: str,
    as_json: bool,
) -> None:
    """Create a token for USER and print it once."""
    info, token = access.create_token(
        app.store,
        user,
        roles=list(roles) or None,
        tenants=list(tenants) or None,
        expires_days=expires,
        note=note,
        principal=app.principal,
    )
    if as_json:
        print_json({**info.to_dict(), "token": token})
        return
    console.print(f"token {info.id} for {user} (shown once, keep it safe):", highlight=False)
    click.echo(token)


@tokens.command("list")
@click.option("--user", "user", default=None, help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_tokens(app: App, user: str | None, as_json: bool) -> None:
    """Tokens (never their secrets): who, what, until when, last used."""
    found = access.list_tokens(app.store, user=user, principal=app.principal)
    if as_json:
        print_json([t.to_dict() for t in found])
        return
    table = Table("id", "user", "roles", "tenants", "expires", "revoked", "last used", box=None)
    for t in found:
        table.add_row(
            t.id,
            t.user,
            ", ".join(sorted(t.roles)) if t.roles is not None else "all of the user's",
            ", ".join(sorted(t.tenants)) if t.tenants is not None else "all of the user's",
            _when(t.expires_at),
            _when(t.revoked_at),
            _when(t.last_used_at),
        )
    console.print(table)


@tokens.command("revoke")
@click.argument("token_id")
@pass_app
@handle_errors
def revoke(app: App, token_id: str) -> None:
    """Revoke a token; the next request with it is refused."""
    access.revoke_token(app.store, token_id, principal=app.principal)
    console.print(f"token {token_id} revoked", highlight=False)


@click.group("tenants")
def tenants() -> None:
    """Tenants (institutions): every job, run, schedule and hook belongs to one."""


@tenants.command("create")
@click.argument("tenant_id")
@click.option("--name", default=None, help="Display name.")
@click.option("--service-account", default=None, help="Default: service.TENANT_ID.")
@pass_app
@handle_errors
def create_tenant(app: App, tenant_id: str, name: str | None, service_account: str | None) -> None:
    """Create a tenant and its service account (operator in it, no password)."""
    tenant = access.create_tenant(
        app.store, tenant_id, name=name, service_account=service_account, principal=app.principal
    )
    console.print(
        f"tenant {tenant.id} created; its runs started by the engine act as "
        f"{tenant.service_account}",
        highlight=False,
    )


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_tenants(app: App, as_json: bool) -> None:
    found = access.list_tenants(app.store, principal=app.principal)
    if as_json:
        print_json([t.to_dict() for t in found])
        return
    table = Table("id", "name", "service account", "created", box=None)
    for t in found:
        table.add_row(t.id, t.name, t.service_account, _when(t.created_at))
    console.print(table)


@click.command("audit")
@click.option("--actor", default=None)
@click.option("--action", default=None, help="e.g. login, run.start, job.update.")
@click.option("--object-type", default=None, help="e.g. run, job, schedule, user, token.")
@click.option("--tenant", default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def audit_command(
    app: App,
    actor: str | None,
    action: str | None,
    object_type: str | None,
    tenant: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The audit log, newest first: who did what to which object, when, from where."""
    found = audit.list_audit(
        app.store,
        principal=app.principal,
        actor=actor,
        action=action,
        object_type=object_type,
        tenant=tenant,
        limit=limit,
    )
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    table = Table("at", "actor", "action", "object", "tenant", "from", "outcome", box=None)
    for e in found:
        table.add_row(
            _when(e.at),
            e.actor,
            e.action,
            f"{e.object_type} {e.object_id}",
            e.tenant or "-",
            e.source or "-",
            e.outcome,
        )
    console.print(table)


def register(cli: click.Group) -> None:
    for command in (users, tokens, tenants, audit_command):
        cli.add_command(command)
