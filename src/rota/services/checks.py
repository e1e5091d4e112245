"""Pre-flight checks of jobs, for every face (``rota jobs check``, the API, the dashboard):
before a job runs at 3 a.m., is it valid, can it be started, do its secrets exist, are its
source and target there, will its schedules fire, does a destructive job say what it destroys?

Each check answers ``ok``, ``warning`` or ``error`` with a reason; a check that does not apply
to a job's kind is left out. Nothing here writes, and no secret value is read or shown: see
docs/checks.md for what each check does. The checks of the definition itself live in
:mod:`rota.jobs.preflight`, the probes of sources and targets in :mod:`rota.data.probes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rota.data.probes import Connections
from rota.jobs.checks import CHECKS, Check, check_definition, has_errors
from rota.jobs.preflight import SecretNames
from rota.jobs.project import Project, load_project
from rota.model.jobs import StoredJob
from rota.settings import Settings
from rota.store.base import Store


def check_jobs(
    store: Store,
    project: Path | Project,
    settings: Settings,
    job_ids: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
    secret_names: SecretNames | None = None,
) -> list[Check]:
    """Check the synced definitions of ``job_ids`` (every job when ``None``), job by job.

    ``project`` (the folder, or the project already loaded from it) is what the stored
    definitions are compared with: a Python job's function must still import. An unknown job
    id raises :class:`~rota.model.errors.NotFoundError` naming it, before anything is probed.
    ``secret_names`` answers which ``${secret:NAME}`` exist (asked once, when first needed).
    """
    now = now or store.now()
    jobs = _stored(store, job_ids)
    loaded = (
        project
        if isinstance(project, Project)
        else load_project(project, default_tz=settings.timezone, now=now)
    )
    disabled = {g.name for g in store.list_groups() if not g.enabled}
    names = _asked_once(secret_names)
    connections = Connections(settings)
    checks: list[Check] = []
    try:
        for job in jobs:
            if job.removed:
                reason = "removed from the project at the last sync (its runs stay readable)"
                checks.append(Check(job.id, "definition", "error", reason))
                continue
            schedules = [s for s in store.list_schedules(job=job.id) if not s.removed]
            checks += check_definition(
                job.definition,
                settings,
                now=now,
                secret_names=names,
                project=loaded,
                schedules=schedules,
                disabled_groups=disabled,
                connections=connections,
            )
    finally:
        connections.close()
    return checks


def _stored(store: Store, job_ids: Sequence[str] | None) -> list[StoredJob]:
    if job_ids is None:
        return store.list_jobs()
    return [store.get_job(job_id) for job_id in dict.fromkeys(job_ids)]


def _asked_once(secret_names: SecretNames | None) -> SecretNames | None:
    if secret_names is None:
        return None
    answer: list[set[str]] = []

    def names() -> set[str]:
        if not answer:
            answer.append(secret_names())
        return answer[0]

    return names


__all__ = ["CHECKS", "Check", "check_definition", "check_jobs", "has_errors"]
