"""Defining jobs: load a project folder and sync its definitions into the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rota.jobs.project import JOBS_FOLDER, load_project
from rota.model.errors import DefinitionError, InvalidInputError
from rota.model.jobs import StoredJob
from rota.model.runs import utcnow
from rota.store.base import Store, SyncResult


@dataclass(frozen=True)
class SyncReport:
    results: list[SyncResult] = field(default_factory=list)
    errors: list[DefinitionError] = field(default_factory=list)


def sync_project(
    store: Store, project: Path, now: datetime | None = None, *, default_tz: str = "UTC"
) -> SyncReport:
    """Sync every valid definition; invalid files are reported and change nothing.

    Jobs whose file disappeared are marked removed, except when a file failed to load (its
    jobs may still exist: removing them because of a typo would hide their history).
    """
    if not (project / JOBS_FOLDER).is_dir():
        # Syncing an empty folder would mark every job removed: refuse, it is a wrong path.
        raise InvalidInputError("project", f"{project} has no {JOBS_FOLDER}/ folder")
    now = now or utcnow()
    loaded = load_project(project, default_tz=default_tz, now=now)
    if not any(e.source.startswith("calendars") for e in loaded.errors):
        store.sync_calendars(loaded.calendars, now)
    results = store.sync_jobs(
        list(loaded.definitions.values()), now, remove_missing=not loaded.errors
    )
    return SyncReport(results=results, errors=loaded.errors)


def list_jobs(store: Store) -> list[StoredJob]:
    return store.list_jobs()


def get_job(store: Store, job_id: str) -> StoredJob:
    return store.get_job(job_id)
