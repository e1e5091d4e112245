"""Reading event triggers the same way for YAML, ``@job`` and ``process(...)``:
``{on: crm.export, status: [completed], params: {...}}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.status import RunStatus
from rota.model.triggers import TAG_PREFIX, EventTrigger
from rota.processes.expressions import references

TRIGGER_KEYS = frozenset({"id", "on", "status", "params"})


def event_triggers(value: object, target: str, field: str = "triggers") -> tuple[EventTrigger, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidInputError(field, "must be a list of {on: JOB, status: [...], params: {...}}")
    out: list[EventTrigger] = []
    for n, item in enumerate(value):
        where = f"{field}[{n}]"
        if not isinstance(item, Mapping):
            raise InvalidInputError(where, "must be a mapping {on: JOB, status: ..., params: ...}")
        unknown = set(item) - TRIGGER_KEYS
        if unknown:
            raise InvalidInputError(where, f"unknown keys {sorted(unknown)} (on, status, params)")
        source = _source(item.get("on"), f"{where}.on")
        statuses = _statuses(item.get("status", "completed"), f"{where}.status")
        params = item.get("params") or {}
        if not isinstance(params, Mapping):
            raise InvalidInputError(f"{where}.params", "must be a mapping of parameters")
        for name, template in params.items():
            for path in references(template):
                if path[0] != "run":
                    raise InvalidInputError(
                        f"{where}.params.{name}",
                        "may refer to the ended run only: {{ run.result.x }}, {{ run.info.x }},"
                        " {{ run.params.x }}, {{ run.id }}, {{ run.status }}",
                    )
        trigger_id = str(item.get("id") or f"{target}:on:{n + 1}")
        if source == target:
            raise InvalidInputError(f"{where}.on", f"job {target!r} cannot trigger itself")
        out.append(
            EventTrigger(
                id=trigger_id,
                source=source,
                target=target,
                statuses=statuses,
                params=_json_params(params),
            )
        )
    return tuple(out)


def _source(value: object, where: str) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and set(value) == {"tag"} and isinstance(value["tag"], str):
        return TAG_PREFIX + value["tag"]
    if isinstance(value, Mapping) and set(value) == {"job"} and isinstance(value["job"], str):
        return value["job"]
    raise InvalidInputError(where, "name a job (on: crm.export) or a tag (on: {tag: nightly})")


def _statuses(value: object, where: str) -> tuple[RunStatus, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items:
        raise InvalidInputError(where, "name one or more of completed, partial, failed, canceled")
    out = []
    for item in items:
        try:
            out.append(RunStatus(str(item)))
        except ValueError:
            raise InvalidInputError(
                where, f"{item!r} is not one of completed, partial, failed, canceled"
            ) from None
    return tuple(out)


def _json_params(params: Mapping[object, object]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for key, value in params.items():
        out[str(key)] = value  # YAML/JSON values
    return out
