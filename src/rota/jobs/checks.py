"""The checks of one job definition, answered ok / warning / error with a reason: what
``rota jobs check`` shows for every job and what the worker asks before a scheduled run starts.

The checks of the definition itself live in :mod:`rota.jobs.preflight`, the probes of data
sources and targets in :mod:`rota.data.probes`; this module runs them in order for one
definition. Stored jobs, the project and the secret store are the services layer's business
(:mod:`rota.services.checks`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from rota.data.mapping import RecordMapping, parse_mapping
from rota.data.probes import Connections, Finding, Status, probe_source, probe_target
from rota.data.spec import data_spec
from rota.jobs import preflight
from rota.jobs.preflight import SecretNames
from rota.jobs.project import Project
from rota.model.errors import InvalidInputError
from rota.model.jobs import JobDefinition, JobKind
from rota.model.params import JsonValue
from rota.model.runs import utcnow
from rota.model.schedules import Schedule
from rota.settings import Settings

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
