"""Defining jobs: load a project folder and sync its definitions into the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rota.jobs.project import JOBS_FOLDER, load_project
from rota.model.errors import DefinitionError, InvalidInputError
from rota.model.jobs import StoredJob
from rota.model.resources import ResourceDefinition
from rota.store.base import Store, SyncResult


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


def list_jobs(store: Store) -> list[StoredJob]:
    return store.list_jobs()


def get_job(store: Store, job_id: str) -> StoredJob:
    return store.get_job(job_id)
