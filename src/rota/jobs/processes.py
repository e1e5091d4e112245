"""``process(...)``: a process declared in Python, for projects that keep everything in code.
The same as a YAML ``kind: process`` file; assign it to a module-level name:

    nightly = process(
        id="nightly.sync",
        params={"day": {"type": "date", "default": "today"}},
        steps={
            "extract": {"job": "crm.export", "params": {"day": "{{ params.day }}"}},
            "load": {"job": "erp.import", "needs": ["extract"]},
        },
        schedule=cron("0 2 * * *"),
    )
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rota.jobs.decorator import ATTRIBUTE, PythonJob
from rota.jobs.flow import event_triggers
from rota.jobs.scheduling import schedules_option
from rota.model.jobs import DEFAULT_TENANT, JobDefinition, JobKind
from rota.model.notify import NotifyRule, parse_rules
from rota.model.params import ParamSchema, declare_param
from rota.model.resources import ResourceClaim
from rota.model.resources import parse_claims as resource_claims
from rota.model.schedules import ScheduleSpec
from rota.processes.spec import parse_steps


class DeclaredProcess:
    """What ``process(...)`` answers; the project loader finds it by its marker."""

    def __init__(self, definition: JobDefinition, module: str) -> None:
        setattr(self, ATTRIBUTE, PythonJob(definition, None))
        self.__module__ = module
        self.definition = definition

    def __repr__(self) -> str:
        return f"<process {self.definition.id}>"


def process(
    *,
    id: str,
    steps: Mapping[str, Mapping[str, Any]],
    params: Mapping[str, Mapping[str, Any] | str] | None = None,
    name: str = "",
    description: str = "",
    owner: str = "",
    tags: Sequence[str] = (),
    required_role: str | None = None,
    priority: int = 0,
    active: bool = True,
    group: str | None = None,
    tenant: str = DEFAULT_TENANT,
    schedule: ScheduleSpec | None = None,
    schedules: Sequence[ScheduleSpec] | None = None,
    resources: Sequence[str | ResourceClaim] = (),
    triggers: Sequence[Mapping[str, Any]] = (),
    notify: Sequence[Mapping[str, Any] | NotifyRule] = (),
    expected_runtime: float | None = None,
) -> DeclaredProcess:
    schema = ParamSchema(
        tuple(
            declare_param(key, {"type": decl} if isinstance(decl, str) else dict(decl))
            for key, decl in (params or {}).items()
        )
    )
    spec = parse_steps(steps, param_names={p.name for p in schema.specs})
    definition = JobDefinition(
        id=id,
        kind=JobKind.PROCESS,
        name=name,
        description=description,
        owner=owner,
        tags=tuple(tags),
        required_role=required_role,
        params=schema,
        priority=priority,
        active=active,
        group=group,
        tenant=tenant,
        schedules=schedules_option(schedule, schedules),
        resources=resource_claims(list(resources)),
        triggers=event_triggers(list(triggers), id),
        notify=parse_rules(list(notify)),
        expected_runtime=expected_runtime,
        spec={"steps": spec.to_json()},
    )
    caller = sys._getframe(1).f_globals.get("__name__", "")
    return DeclaredProcess(definition, str(caller))
