"""Metrics through every face: the ``/metrics`` text of the store, at the store's time.

The store's clock (the database's, where several machines share it) dates the snapshot, so
ages and the lateness window agree with the times the workers and schedulers wrote. A
principal who does not see every tenant gets only its tenants' series (and no workers':
they serve every tenant), so a scrape token of one institution learns nothing of another.
"""

from __future__ import annotations

from dataclasses import replace

from rota.auth.roles import SYSTEM, Principal
from rota.model.errors import PermissionDenied
from rota.model.metrics import MetricsSnapshot
from rota.services.prometheus import render_metrics
from rota.store.base import Store

DEFAULT_LEASE_SECONDS = 30.0
"""The default of the ``lease_seconds`` setting."""


def metrics_text(
    store: Store,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    principal: Principal = SYSTEM,
) -> bytes:
    """The Prometheus text of what the database holds now; pass the ``lease_seconds``
    setting so that a worker is called ``dead`` exactly when the reaper would think so."""
    snapshot = store.metrics_snapshot(store.now(), lease_seconds=lease_seconds)
    if principal.sees_every_tenant:
        return render_metrics(snapshot)
    visible = set(principal.visible_tenants(t.id for t in store.list_tenants()))
    if not visible:
        raise PermissionDenied(f"{principal.name} sees no tenant: no metrics to show")
    return render_metrics(_only(snapshot, visible))


def _only(snapshot: MetricsSnapshot, tenants: set[str]) -> MetricsSnapshot:
    return replace(
        snapshot,
        jobs=tuple(r for r in snapshot.jobs if r.tenant in tenants),
        run_counts=tuple(r for r in snapshot.run_counts if r.tenant in tenants),
        durations=tuple(r for r in snapshot.durations if r.tenant in tenants),
        queues=tuple(r for r in snapshot.queues if r.tenant in tenants),
        lateness=tuple(r for r in snapshot.lateness if r.tenant in tenants),
        workers=(),
    )
