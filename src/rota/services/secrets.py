"""Secrets through every face (CLI now, the API later): set, list and delete — never read.

Values are write-only: nothing here returns one. They are encrypted before they reach the
store and decrypted only inside a run (:mod:`rota.secrets.scope`).
"""

from __future__ import annotations

from datetime import datetime

from rota.auth.roles import SYSTEM, Action, Principal, authorize
from rota.model.secrets import StoredSecret, check_secret_name
from rota.secrets.box import SecretKeyError, check_value, open_box, self_test
from rota.services import audit
from rota.settings import Settings
from rota.store.base import Store

DEFAULT_TENANT = "default"


def set_secret(
    store: Store,
    settings: Settings,
    name: str,
    value: str,
    actor: str | None,
    *,
    tenant: str = DEFAULT_TENANT,
    now: datetime | None = None,
    principal: Principal = SYSTEM,
) -> StoredSecret:
    """Create or rotate ``name``; the next run that uses it gets the new value. The value
    reaches no log: the audit entry names the secret only."""
    authorize(principal, Action.ADMIN, tenant, "tenant", tenant)
    actor = principal.name if not principal.local else actor
    check_secret_name(name)
    check_value(value)
    self_test(store, settings)  # never add a secret under a key that cannot open the others
    box = open_box(settings, create=True)
    if box is None:  # open_box(create=True) always answers a box
        raise SecretKeyError("no secret key")
    stored = store.put_secret(tenant, name, box.encrypt(value), actor, now or store.now())
    audit.record(store, principal, "secret.set", "secret", name, tenant=tenant, actor=actor)
    return stored


def list_secrets(
    store: Store, *, tenant: str | None = None, principal: Principal = SYSTEM
) -> list[StoredSecret]:
    """Names and dates only: values never leave the store but inside a run."""
    return [s for s in store.list_secrets(tenant) if principal.can(Action.ADMIN, s.tenant)]


def delete_secret(
    store: Store, name: str, *, tenant: str = DEFAULT_TENANT, principal: Principal = SYSTEM
) -> None:
    authorize(principal, Action.ADMIN, tenant, "tenant", tenant)
    store.delete_secret(tenant, check_secret_name(name))
    audit.record(store, principal, "secret.delete", "secret", name, tenant=tenant)


def secret_names(store: Store, *, tenant: str = DEFAULT_TENANT) -> set[str]:
    """For pre-flight checks: which ``${secret:NAME}`` references would resolve."""
    return {s.name for s in store.list_secrets(tenant)}
