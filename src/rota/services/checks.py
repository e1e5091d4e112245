"""Pre-flight checks of jobs, for every face (``rota jobs check``, the API, the dashboard):
before a job runs at 3 a.m., is it valid, can it be started, do its secrets exist, are its
source and target there, will its schedules fire, does a destructive job say what it destroys?

Each check answers ``ok``, ``warning`` or ``error`` with a reason; a check that does not apply
to a job's kind is left out. Nothing here writes, and no secret value is read or shown: see
docs/checks.md for what each check does. The checks of the definition itself live in
:mod:`rota.jobs.preflight`, the probes of sources and targets in :mod:`rota.data.probes`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rota.data.mapping import RecordMapping, parse_mapping
from rota.data.probes import Connections, Finding, Status, probe_source, probe_target
from rota.data.spec import data_spec
from rota.jobs import preflight
from rota.jobs.preflight import SecretNames
from rota.jobs.project import Project, load_project
from rota.model.errors import InvalidInputError
from rota.model.jobs import JobDefinition, JobKind, StoredJob
from rota.model.params import JsonValue
from rota.model.runs import utcnow
from rota.model.schedules import Schedule
from rota.settings import Settings
from rota.store.base import Store

CHECKS = ("definition", "params", "secrets", "source", "target", "schedules", "destructive")
"""The names of the checks, in the order they are answered for each job."""


@dataclass(frozen=True)
class Check:
    job: str
    name: str
    """One of :data:`CHECKS`."""
    status: Status
    reason: str

    def to_json(self) -> dict[str, JsonValue]:
        return {"job": self.job, "check": self.name, "status": self.status, "reason": self.reason}


def has_errors(checks: Sequence[Check]) -> bool:
    return any(c.status == "error" for c in checks)


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
    now = now or utcnow()
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


def check_definition(
    definition: JobDefinition,
    settings: Settings,
    *,
    now: datetime | None = None,
    secret_names: SecretNames | None = None,
    project: Project | None = None,
    schedules: Sequence[Schedule] | None = None,
    disabled_groups: Collection[str] = (),
    connections: Connections | None = None,
) -> list[Check]:
    """The checks of one definition, in :data:`CHECKS` order.

    ``project``: the loaded project to compare with (without it a Python job's import is not
    checked). ``schedules``: the job's stored schedules (with their paused state; without
    them, the definition's own). ``connections``: probe engines to share between jobs.
    """
    now = now or utcnow()
    specs = [s.spec for s in schedules] if schedules is not None else list(definition.schedules)
    paused = {s.id: s.pause_note or "" for s in schedules or () if s.paused}
    data = _data(definition)
    probes = connections or Connections(settings)
    steps: list[tuple[str, Callable[[], Finding | None]]] = [
        ("definition", lambda: preflight.definition(definition, settings, project, now)),
        ("params", lambda: preflight.params(definition, specs, now)),
        ("secrets", lambda: preflight.secrets(definition, settings, secret_names)),
        ("source", lambda: _source(data, settings, probes)),
        ("target", lambda: _target(data, settings, probes)),
        ("schedules", lambda: preflight.schedules(definition, specs, paused, disabled_groups, now)),
        ("destructive", lambda: preflight.destructive(definition)),
    ]
    checks: list[Check] = []
    try:
        for name, step in steps:
            try:
                finding = step()
            except Exception as exc:  # one broken check must not hide the others
                finding = Finding("error", f"the check failed: {type(exc).__name__}: {exc}")
            if finding is not None:
                checks.append(Check(definition.id, name, finding.status, finding.reason))
    finally:
        if connections is None:
            probes.close()
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


# -- source and target --------------------------------------------------------------------------

_Data = tuple[dict[str, JsonValue], RecordMapping]


def _data(definition: JobDefinition) -> _Data | None:
    """A data job's checked spec and mapping; ``None`` when it is not one or is invalid (the
    definition check says why, and the source and target are not probed)."""
    if definition.kind is not JobKind.DATA:
        return None
    try:
        spec = data_spec(definition.spec)
        return spec, parse_mapping(preflight.mapping_of(spec["mapping"]))
    except InvalidInputError:
        return None


def _source(data: _Data | None, settings: Settings, connections: Connections) -> Finding | None:
    if data is None:
        return None
    spec, mapping = data
    return probe_source(preflight.mapping_of(spec["source"]), mapping, settings, connections)


def _target(data: _Data | None, settings: Settings, connections: Connections) -> Finding | None:
    if data is None:
        return None
    return probe_target(data[0], settings, connections)


__all__ = ["CHECKS", "Check", "check_definition", "check_jobs", "has_errors"]
