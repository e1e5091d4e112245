"""Defining jobs: load a project folder and sync its definitions into the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rota.auth.roles import SYSTEM, Action, Principal, authorize
from rota.jobs.links import links_errors
from rota.jobs.project import JOBS_FOLDER, load_project
from rota.jobs.scheduling import settle_schedules
from rota.jobs.yamljobs import parse_definition
from rota.model.errors import ConflictError, DefinitionError, InvalidInputError, NotFoundError
from rota.model.jobs import JobDefinition, JobKind, StoredJob
from rota.model.resources import ResourceDefinition
from rota.services import audit
from rota.store.base import Store, SyncResult

API_KINDS = frozenset({JobKind.DATA, JobKind.SHELL, JobKind.HTTP})
"""Kinds defined by a document alone. Python jobs live in code, processes in the project."""


@dataclass(frozen=True)
class SyncReport:
    results: list[SyncResult] = field(default_factory=list)
    errors: list[DefinitionError] = field(default_factory=list)


def sync_project(
    store: Store,
    project: Path,
    now: datetime | None = None,
    *,
    default_tz: str = "UTC",
    resources: Sequence[ResourceDefinition] = (),
) -> SyncReport:
    """Sync every valid definition; invalid files are reported and change nothing.

    Jobs whose file disappeared are marked removed, except when a file failed to load (its
    jobs may still exist: removing them because of a typo would hide their history).
    """
    if not (project / JOBS_FOLDER).is_dir():
        # Syncing an empty folder would mark every job removed: refuse, it is a wrong path.
        raise InvalidInputError("project", f"{project} has no {JOBS_FOLDER}/ folder")
    now = now or store.now()
    loaded = load_project(project, default_tz=default_tz, now=now)
    if not any(e.source.startswith("calendars") for e in loaded.errors):
        store.sync_calendars(loaded.calendars, now)
    owned = {j.id for j in store.list_jobs() if j.origin != "project"}
    for job_id in sorted(owned & set(loaded.definitions)):
        clash = loaded.definitions.pop(job_id)
        loaded.errors.append(
            DefinitionError(clash.source, "id", f"{job_id!r} is already defined through the API")
        )
    store.ensure_tenants({d.tenant for d in loaded.definitions.values()}, now)
    results = store.sync_jobs(
        list(loaded.definitions.values()), now, remove_missing=not loaded.errors
    )
    store.sync_resources([*resources, *derived_resources(store.list_jobs())], now)
    return SyncReport(results=results, errors=loaded.errors)


def derived_resources(jobs: Sequence[StoredJob]) -> list[ResourceDefinition]:
    """Resources the definitions imply: a job's concurrency limit, and the ``running:`` lock
    of every job another one excludes (created now, so that its runs already running hold
    it from the next one on)."""
    out: dict[str, ResourceDefinition] = {}
    for stored in jobs:
        d = stored.definition
        if d.concurrency is not None:
            name = f"job:{d.id}"
            out[name] = ResourceDefinition(name=name, capacity=d.concurrency)
        for other in d.excludes:
            name = f"running:{other}"
            out[name] = ResourceDefinition(name=name, description=f"{other} runs; {d.id} waits")
    return list(out.values())


def list_jobs(
    store: Store, *, include_removed: bool = False, principal: Principal = SYSTEM
) -> list[StoredJob]:
    """The jobs of the tenants the principal sees."""
    return [
        j
        for j in store.list_jobs(include_removed=include_removed)
        if principal.can_see(j.definition.tenant)
    ]


def get_job(
    store: Store, job_id: str, *, version: int | None = None, principal: Principal = SYSTEM
) -> StoredJob:
    stored = store.get_job(job_id, version)
    authorize(principal, Action.READ, stored.definition.tenant, "job", job_id)
    return stored


def job_versions(store: Store, job_id: str, *, principal: Principal = SYSTEM) -> list[StoredJob]:
    """Every stored version, newest first (for the history and its diffs)."""
    current = get_job(store, job_id, principal=principal)
    return [store.get_job(job_id, v) for v in range(current.version, 0, -1)]


def create_job(
    store: Store,
    document: dict[str, Any],
    *,
    default_tz: str = "UTC",
    principal: Principal = SYSTEM,
) -> StoredJob:
    """Define a data, shell or http job from a document shaped like its YAML file; checked
    exactly like one. Version 1, origin ``api``."""
    definition = _checked(store, document, default_tz)
    try:
        existing = store.get_job(definition.id)
    except NotFoundError:
        existing = None
    if existing is not None and not existing.removed:
        raise ConflictError(f"job {definition.id!r} already exists")
    authorize(principal, Action.EDIT, definition.tenant, "job", definition.id)
    return _save(store, definition, principal, "job.create")


def update_job(
    store: Store,
    job_id: str,
    document: dict[str, Any],
    *,
    default_tz: str = "UTC",
    principal: Principal = SYSTEM,
) -> StoredJob:
    """A new version of a job defined through the API (a project's jobs change in their
    files, so that the files stay the truth)."""
    current = _owned(store, job_id, principal)
    if document.get("id", job_id) != job_id:
        raise InvalidInputError("id", f"is {job_id!r}: a job cannot be renamed")
    definition = _checked(store, {**document, "id": job_id}, default_tz)
    if definition.tenant != current.definition.tenant:
        raise InvalidInputError("tenant", "a job cannot move to another tenant")
    return _save(store, definition, principal, "job.update")


def delete_job(store: Store, job_id: str, *, principal: Principal = SYSTEM) -> None:
    """Remove a job defined through the API; its runs stay readable."""
    current = _owned(store, job_id, principal)
    store.remove_job(job_id, store.now())
    audit.record(store, principal, "job.delete", "job", job_id, tenant=current.definition.tenant)


def _owned(store: Store, job_id: str, principal: Principal) -> StoredJob:
    current = store.get_job(job_id)
    if current.removed:
        raise NotFoundError("job", job_id)
    authorize(principal, Action.EDIT, current.definition.tenant, "job", job_id)
    if current.origin != "api":
        raise ConflictError(
            f"job {job_id!r} is defined in the project's files ({current.definition.source}): "
            "change it there"
        )
    return current


def _checked(store: Store, document: dict[str, Any], default_tz: str) -> JobDefinition:
    if not isinstance(document, dict):
        raise InvalidInputError("document", "must be a mapping of job fields")
    if document.get("kind") not in {k.value for k in API_KINDS}:
        kinds = ", ".join(sorted(k.value for k in API_KINDS))
        raise InvalidInputError("kind", f"must be one of: {kinds}")
    try:
        definition = parse_definition(document, "api")
    except DefinitionError as exc:
        raise InvalidInputError(exc.field, exc.reason) from None
    others = {j.id: j.definition for j in store.list_jobs() if j.id != definition.id}
    for job_id, (field_name, reason) in links_errors({**others, definition.id: definition}):
        if job_id == definition.id:
            raise InvalidInputError(field_name, reason)
    if definition.tenant not in {t.id for t in store.list_tenants()}:
        raise InvalidInputError("tenant", f"no tenant {definition.tenant!r}")
    calendars = {c.id for c in store.list_calendars()}
    return settle_schedules(definition, default_tz, calendars, store.now())


def _save(store: Store, definition: JobDefinition, principal: Principal, action: str) -> StoredJob:
    result = store.sync_jobs([definition], store.now(), origin="api")[0]
    if definition.concurrency is not None or definition.excludes:
        # Keep what is configured (rota.toml's resources, as last synced), add what the new
        # definition implies.
        derived = {d.name: d for d in derived_resources(store.list_jobs())}
        kept = [
            ResourceDefinition(name=r.name, capacity=r.capacity, description=r.description)
            for r in store.list_resources()
            if r.defined and r.name not in derived and not r.name.startswith(("job:", "running:"))
        ]
        store.sync_resources([*kept, *derived.values()], store.now())
    audit.record(
        store,
        principal,
        action,
        "job",
        definition.id,
        tenant=definition.tenant,
        detail={"version": result.version, "change": result.change},
    )
    return store.get_job(definition.id)
