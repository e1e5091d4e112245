"""Starting, reading, canceling and retrying runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rota.auth.roles import SYSTEM, Action, Principal, authorize
from rota.model.access import NewAuditEntry
from rota.model.errors import ConflictError, InvalidInputError
from rota.model.jobs import JobKind
from rota.model.runs import Attempt, LogLine, NewRun, RecordResult, Run, StatusChange, Trigger
from rota.model.status import RunStatus
from rota.services import audit
from rota.store.base import RunFilter, Store

CONFIRMING_TRIGGERS = frozenset({Trigger.MANUAL, Trigger.API, Trigger.RETRY})
"""Triggers where a person starts the run, so a destructive job needs explicit confirmation."""


def start_run(
    store: Store,
    job_id: str,
    params: Mapping[str, object],
    *,
    trigger: Trigger = Trigger.MANUAL,
    actor: str | None = None,
    run_as: str | None = None,
    confirm: bool = False,
    priority: int | None = None,
    retry_of: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    principal: Principal = SYSTEM,
) -> Run:
    """Validate and enqueue one run. Bad input raises and enqueues nothing.

    A person's run (``principal`` not the system) acts as that person: ``actor`` and
    ``run_as`` are theirs, whatever the caller passed.

    ``dry_run`` (data jobs) previews the first records in a transaction that is rolled back:
    it changes nothing, so even a destructive job needs no confirmation for it."""
    now = now or store.now()
    stored = store.get_job(job_id)
    authorize(
        principal,
        Action.RUN,
        stored.definition.tenant,
        "job",
        job_id,
        required_role=stored.definition.required_role,
    )
    if not principal.local:
        actor = run_as = principal.name
    request = new_run_request(
        store,
        job_id,
        params,
        trigger=trigger,
        actor=actor,
        run_as=run_as,
        confirm=confirm,
        priority=priority,
        retry_of=retry_of,
        now=now,
        dry_run=dry_run,
    )

    def audited(runs: list[Run]) -> list[NewAuditEntry]:
        if trigger not in CONFIRMING_TRIGGERS:
            return []
        return [
            audit.entry(
                principal,
                "run.start" if trigger is not Trigger.RETRY else "run.retry",
                "run",
                runs[0].id,
                tenant=runs[0].tenant,
                actor=actor,
                detail={"job": job_id, "params": dict(params), "dry_run": dry_run},
            )
        ]

    # One transaction: a client retrying after a lost answer finds the run and its entry,
    # or neither.
    return store.enqueue_runs([request], now, audit=audited)[0]


def new_run_request(
    store: Store,
    job_id: str,
    params: Mapping[str, object],
    *,
    trigger: Trigger = Trigger.MANUAL,
    actor: str | None = None,
    run_as: str | None = None,
    confirm: bool = False,
    priority: int | None = None,
    retry_of: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> NewRun:
    """The validated request :func:`start_run` enqueues (webhooks record it with their
    delivery, in one transaction)."""
    now = now or store.now()
    stored = store.get_job(job_id)
    definition = stored.definition
    if dry_run:
        if definition.kind is not JobKind.DATA:
            raise InvalidInputError("dry_run", f"job {job_id!r} is not a data job: no dry run")
        params = {**params, "dry_run": True}
        confirm = True
    if stored.removed:
        raise ConflictError(f"job {job_id!r} is no longer defined in the project")
    if not definition.active:
        raise ConflictError(f"job {job_id!r} is inactive")
    if definition.expired(now):
        raise ConflictError(f"job {job_id!r} expired at {definition.expires_at}")
    if definition.destructive and not confirm and trigger in CONFIRMING_TRIGGERS:
        raise InvalidInputError(
            "confirm", f"job {job_id!r} is destructive: confirm explicitly (--yes) to run it"
        )
    values = definition.params.validate(params, now=now)
    return NewRun(
        job=job_id,
        job_version=stored.version,
        tenant=definition.tenant,
        trigger=trigger,
        params=values,
        priority=definition.priority if priority is None else priority,
        max_attempts=definition.retry.max_attempts,
        triggered_by=actor,
        run_as=run_as or actor,
        retry_of=retry_of,
        resources=definition.resource_claims(),
        after=definition.after,
        process=definition.kind is JobKind.PROCESS,
    )


def retry_run(
    store: Store,
    run_id: int,
    *,
    actor: str | None = None,
    confirm: bool = False,
    principal: Principal = SYSTEM,
) -> Run:
    """A new run of the same job with the same parameters (terminal runs never change)."""
    old = get_run(store, run_id, principal=principal)
    if not old.retryable:
        raise ConflictError(
            f"run {run_id} is {old.status.value}; only failed, partial or canceled runs can be retried"
        )
    return start_run(
        store,
        old.job,
        old.params,
        trigger=Trigger.RETRY,
        actor=actor,
        confirm=confirm,
        retry_of=run_id,
        principal=principal,
    )


def cancel_run(
    store: Store, run_id: int, *, actor: str | None = None, principal: Principal = SYSTEM
) -> Run:
    run = store.get_run(run_id)
    authorize(
        principal,
        Action.RUN,
        run.tenant,
        "run",
        run_id,
        required_role=_required_role(store, run.job),
    )
    actor = principal.name if not principal.local else actor
    canceled = store.request_cancel(run_id, actor, store.now())
    audit.record(store, principal, "run.cancel", "run", run_id, tenant=run.tenant, actor=actor)
    return canceled


def _required_role(store: Store, job_id: str) -> str | None:
    return store.get_job(job_id).definition.required_role


def get_run(store: Store, run_id: int, *, principal: Principal = SYSTEM) -> Run:
    run = store.get_run(run_id)
    authorize(principal, Action.READ, run.tenant, "run", run_id)
    return run


def get_attempts(store: Store, run_id: int, *, principal: Principal = SYSTEM) -> list[Attempt]:
    get_run(store, run_id, principal=principal)
    return store.get_attempts(run_id)


def get_history(store: Store, run_id: int, *, principal: Principal = SYSTEM) -> list[StatusChange]:
    get_run(store, run_id, principal=principal)
    return store.get_history(run_id)


def get_logs(
    store: Store, run_id: int, *, after: int = 0, limit: int = 1000, principal: Principal = SYSTEM
) -> list[LogLine]:
    if not 1 <= limit <= 10_000:
        raise InvalidInputError("limit", "must be between 1 and 10000")
    if after < 0:
        raise InvalidInputError("after", "must be 0 or more")
    get_run(store, run_id, principal=principal)
    return store.get_logs(run_id, after=after, limit=limit)


def get_records(
    store: Store,
    run_id: int,
    *,
    failed_only: bool = False,
    after: int = 0,
    limit: int = 10_000,
    principal: Principal = SYSTEM,
) -> list[RecordResult]:
    if not 1 <= limit <= 100_000:
        raise InvalidInputError("limit", "must be between 1 and 100000")
    get_run(store, run_id, principal=principal)
    return store.get_records(run_id, failed_only=failed_only, after=after, limit=limit)


def list_runs(
    store: Store,
    *,
    job: str | None = None,
    status: str | None = None,
    tenant: str | None = None,
    trigger: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    parent_id: int | None = None,
    limit: int = 50,
    principal: Principal = SYSTEM,
) -> list[Run]:
    """Newest first, only of the tenants the principal sees."""
    try:
        wanted = RunStatus(status) if status else None
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidInputError("status", f"{status!r} is not one of: {allowed}") from None
    if trigger is not None and trigger not in {t.value for t in Trigger}:
        allowed = ", ".join(t.value for t in Trigger)
        raise InvalidInputError("trigger", f"{trigger!r} is not one of: {allowed}")
    if limit < 1 or limit > 10_000:
        raise InvalidInputError("limit", "must be between 1 and 10000")
    tenants = None
    if not principal.sees_every_tenant:
        tenants = frozenset(principal.visible_tenants(t.id for t in store.list_tenants()))
    return store.list_runs(
        RunFilter(
            job=job,
            status=wanted,
            tenant=tenant,
            tenants=tenants,
            trigger=trigger,
            since=since,
            before_id=before_id,
            parent_id=parent_id,
            limit=limit,
        )
    )
