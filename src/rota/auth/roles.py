"""Roles, principals and the one permission check every face goes through.

Built-in roles form a ladder (viewer < operator < editor < admin): holding one implies the ones
below it. ``network`` stands apart: it reads every tenant and does nothing else. Any other role
name is a custom role (``finance-admin``): it grants nothing by itself and exists to satisfy a
job's ``required_role``. Grants are per tenant; ``*`` grants a role in every tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from rota.model.errors import InvalidInputError, NotFoundError, PermissionDenied

ALL_TENANTS = "*"
ROLE_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    EDITOR = "editor"
    ADMIN = "admin"
    NETWORK = "network"


LADDER: tuple[Role, ...] = (Role.VIEWER, Role.OPERATOR, Role.EDITOR, Role.ADMIN)


class Action(StrEnum):
    """What a request does; each needs one built-in role in the object's tenant."""

    READ = "read"
    RUN = "run"
    EDIT = "edit"
    ADMIN = "admin"


NEEDS: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.RUN: Role.OPERATOR,
    Action.EDIT: Role.EDITOR,
    Action.ADMIN: Role.ADMIN,
}


def check_role_name(name: str, field_name: str = "role") -> str:
    if not re.fullmatch(ROLE_PATTERN, name):
        raise InvalidInputError(
            field_name, f"{name!r} is not a role name (lower case letters, digits, '-', '_', '.')"
        )
    return name


def implied(roles: Iterable[str]) -> frozenset[str]:
    """A set of roles with everything they imply (admin -> editor -> operator -> viewer)."""
    out = set(roles)
    ranks = [LADDER.index(Role(r)) for r in out if r in LADDER]
    if ranks:
        out.update(LADDER[: max(ranks) + 1])
    return frozenset(out)


def narrow(
    grants: Mapping[str, frozenset[str]],
    roles: Iterable[str] | None,
    tenants: Iterable[str] | None,
) -> dict[str, frozenset[str]]:
    """What a token of a user may do: the user's grants cut down to the token's roles (each
    implying the ones below it) and tenants. A token never has more than its user."""
    allowed_roles = implied(roles) if roles is not None else None
    allowed_tenants = set(tenants) if tenants is not None else None
    out: dict[str, frozenset[str]] = {}
    for tenant, held in grants.items():
        kept = implied(held) if allowed_roles is None else implied(held) & allowed_roles
        if not kept:
            continue
        if allowed_tenants is None:
            out[tenant] = kept
        elif tenant == ALL_TENANTS:
            for t in allowed_tenants:
                out[t] = out.get(t, frozenset()) | kept
        elif tenant in allowed_tenants:
            out[tenant] = out.get(tenant, frozenset()) | kept
    return out


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (by password session or token), a tenant's service account, or
    the local system (the CLI on the server, which holds the database itself)."""

    name: str
    kind: str = "user"  # user | service | system
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    token_id: str | None = None
    source: str | None = None
    """Where the request came from (an address, or ``cli``), for the audit log."""

    @property
    def local(self) -> bool:
        """The CLI on the server: callers may name the actor (the operating-system user)."""
        return self.kind == "system"

    def roles_in(self, tenant: str) -> frozenset[str]:
        if self.kind == "system":
            return implied([Role.ADMIN])
        return implied(
            self.grants.get(tenant, frozenset()) | self.grants.get(ALL_TENANTS, frozenset())
        )

    def can_see(self, tenant: str) -> bool:
        roles = self.roles_in(tenant)
        return Role.VIEWER in roles or Role.NETWORK in roles

    def can(self, action: Action, tenant: str) -> bool:
        if action is Action.READ:
            return self.can_see(tenant)
        return NEEDS[action] in self.roles_in(tenant)

    def visible_tenants(self, known: Iterable[str]) -> list[str]:
        return [t for t in known if self.can_see(t)]

    @property
    def sees_every_tenant(self) -> bool:
        return self.kind == "system" or self.can_see(ALL_TENANTS)

    def may_run(self, tenant: str, required_role: str | None) -> bool:
        """Operator in the tenant, and the job's ``required_role`` too (built-in: that rung or
        higher; custom: granted by name; admins of the tenant satisfy any)."""
        roles = self.roles_in(tenant)
        if Role.OPERATOR not in roles:
            return False
        return required_role is None or required_role in roles or Role.ADMIN in roles


SYSTEM = Principal(name="system", kind="system", source="cli")
"""The local CLI: whoever can read the database file or URL already holds everything."""


def authorize(
    principal: Principal,
    action: Action,
    tenant: str,
    kind: str,
    key: object,
    *,
    required_role: str | None = None,
) -> None:
    """Raise unless ``principal`` may do ``action`` on ``what`` in ``tenant``.

    An object in a tenant the principal cannot see does not exist for it (NotFoundError, the
    same answer as a wrong id), so ids of other tenants leak nothing."""
    what = f"{kind} {key!r}"
    if not principal.can_see(tenant):
        raise NotFoundError(kind, key)
    if action is Action.RUN:
        if not principal.may_run(tenant, required_role):
            needed = f"operator and {required_role!r}" if required_role else "operator"
            raise PermissionDenied(f"{principal.name} may not run {what}: needs {needed}")
        return
    if not principal.can(action, tenant):
        raise PermissionDenied(
            f"{principal.name} may not {action.value} {what}: needs {NEEDS[action].value}"
        )
