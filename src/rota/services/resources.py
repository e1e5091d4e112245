"""Resources for the faces. Resources are shared by every tenant (that is what makes them
locks), so everyone who sees a tenant sees every resource and how full it is; a holder or
waiter from a tenant the principal cannot see is shown without its job and run."""

from __future__ import annotations

from dataclasses import replace

from rota.auth.roles import SYSTEM, Principal
from rota.model.errors import PermissionDenied
from rota.model.resources import Holder, ResourceState
from rota.store.base import Store

HIDDEN_JOB = "(another tenant)"


def list_resources(store: Store, *, principal: Principal = SYSTEM) -> list[ResourceState]:
    found = store.list_resources()
    if principal.sees_every_tenant:
        return found
    if not principal.visible_tenants(t.id for t in store.list_tenants()):
        raise PermissionDenied(f"{principal.name} sees no tenant")
    tenant_of = {j.id: j.definition.tenant for j in store.list_jobs(include_removed=True)}

    def shown(holder: Holder) -> Holder:
        if principal.can_see(tenant_of.get(holder.job, "")):
            return holder
        return replace(holder, job=HIDDEN_JOB, run_id=0)

    return [
        replace(r, holders=tuple(map(shown, r.holders)), waiters=tuple(map(shown, r.waiters)))
        for r in found
    ]
