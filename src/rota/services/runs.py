"""Starting, reading, canceling and retrying runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rota.model.errors import ConflictError, InvalidInputError
from rota.model.jobs import JobKind
from rota.model.runs import NewRun, Run, Trigger
from rota.model.status import RunStatus
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
) -> Run:
    """Validate and enqueue one run. Bad input raises and enqueues nothing.

    ``dry_run`` (data jobs) previews the first records in a transaction that is rolled back:
    it changes nothing, so even a destructive job needs no confirmation for it."""
    now = now or store.now()
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
    return store.enqueue_runs([request], now)[0]


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


def retry_run(store: Store, run_id: int, *, actor: str | None = None, confirm: bool = False) -> Run:
    """A new run of the same job with the same parameters (terminal runs never change)."""
    old = store.get_run(run_id)
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
    )


def cancel_run(store: Store, run_id: int, *, actor: str | None = None) -> Run:
    return store.request_cancel(run_id, actor, store.now())


def get_run(store: Store, run_id: int) -> Run:
    return store.get_run(run_id)


def list_runs(
    store: Store, *, job: str | None = None, status: str | None = None, limit: int = 50
) -> list[Run]:
    try:
        wanted = RunStatus(status) if status else None
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidInputError("status", f"{status!r} is not one of: {allowed}") from None
    if limit < 1 or limit > 10_000:
        raise InvalidInputError("limit", "must be between 1 and 10000")
    return store.list_runs(RunFilter(job=job, status=wanted, limit=limit))
