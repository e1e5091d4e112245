"""``@job``: declare a Python job on a function ``fn(ctx, **params)``.

Parameters come from the function's type hints and defaults unless ``params=`` declares them;
``params=`` entries override what the signature says, one by one.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from rota.jobs.flow import event_triggers
from rota.jobs.scheduling import overlap_option, schedules_option
from rota.model.errors import InvalidInputError
from rota.model.jobs import DEFAULT_TENANT, JobDefinition, JobKind, RetryPolicy
from rota.model.notify import NotifyRule, parse_rules
from rota.model.params import ParamSchema, ParamSpec, ParamType, declare_param
from rota.model.resources import ResourceClaim
from rota.model.resources import parse_claims as resource_claims
from rota.model.schedules import ScheduleSpec

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__rota_job__"

_HINT_TYPES: dict[object, ParamType] = {
    str: ParamType.STR,
    int: ParamType.INT,
    float: ParamType.FLOAT,
    bool: ParamType.BOOL,
    dt.date: ParamType.DATE,
    dt.datetime: ParamType.DATETIME,
}


@dataclass(frozen=True)
class PythonJob:
    """What ``@job`` attaches to a function: the definition without project-specific fields."""

    definition: JobDefinition
    function: Callable[..., Any] | None
    """None for a process declared in Python: the store runs it, not a worker."""


def job(
    *,
    id: str,
    name: str = "",
    description: str = "",
    owner: str = "",
    tags: tuple[str, ...] | list[str] = (),
    required_role: str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    expected_runtime: float | None = None,
    timeout: float | None = None,
    retry: RetryPolicy | Mapping[str, Any] | None = None,
    idempotent: bool = False,
    destructive: bool = False,
    priority: int = 0,
    active: bool = True,
    expires_at: dt.datetime | None = None,
    group: str | None = None,
    tenant: str = DEFAULT_TENANT,
    schedule: ScheduleSpec | None = None,
    schedules: Sequence[ScheduleSpec] | None = None,
    overlap: str | None = None,
    single_instance: bool = False,
    resources: Sequence[str | ResourceClaim] = (),
    concurrency: int | None = None,
    excludes: Sequence[str] = (),
    after: Sequence[str] = (),
    triggers: Sequence[Mapping[str, Any]] = (),
    notify: Sequence[Mapping[str, Any] | NotifyRule] = (),
) -> Callable[[F], F]:
    """Mark ``fn`` as a Rota job. The function is returned unchanged (callable in tests)."""

    def mark(fn: F) -> F:
        retry_policy = retry if isinstance(retry, RetryPolicy) else RetryPolicy(**(retry or {}))
        definition = JobDefinition(
            id=id,
            kind=JobKind.PYTHON,
            name=name,
            description=description or inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0],
            owner=owner,
            tags=tuple(tags),
            required_role=required_role,
            params=params_from_signature(fn, params or {}),
            expected_runtime=expected_runtime,
            timeout=timeout,
            retry=retry_policy,
            idempotent=idempotent,
            destructive=destructive,
            priority=priority,
            active=active,
            expires_at=expires_at,
            group=group,
            tenant=tenant,
            schedules=schedules_option(schedule, schedules),
            overlap=overlap_option(overlap, single_instance),
            resources=resource_claims(list(resources)),
            concurrency=concurrency,
            excludes=tuple(excludes),
            after=tuple(after),
            triggers=event_triggers(list(triggers), id),
            notify=parse_rules(list(notify)),
            spec={"function": f"{fn.__module__}.{fn.__qualname__}"},
        )
        setattr(fn, ATTRIBUTE, PythonJob(definition, fn))
        return fn

    return mark


def params_from_signature(
    fn: Callable[..., Any], explicit: Mapping[str, Mapping[str, Any]]
) -> ParamSchema:
    signature = inspect.signature(fn)
    names = list(signature.parameters)
    if not names:
        raise InvalidInputError("function", f"{fn.__qualname__} must take the run context first")
    hints = typing.get_type_hints(fn)
    specs: list[ParamSpec] = []
    for pname in names[1:]:
        parameter = signature.parameters[pname]
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        declared: dict[str, Any] = _from_hint(pname, hints.get(pname, str))
        if parameter.default is not inspect.Parameter.empty:
            declared["default"] = parameter.default
        declared.update(explicit.get(pname, {}))
        specs.append(declare_param(pname, declared))
    unknown = set(explicit) - set(names[1:])
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInputError(f"params.{name}", "declared but not an argument of the function")
    return ParamSchema(tuple(specs))


def _from_hint(name: str, hint: object) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return _from_hint(name, rest[0]) if len(rest) == 1 else {"type": "str"}
    if origin is Literal:
        return {"type": "choice", "choices": tuple(str(a) for a in args)}
    if origin in (list, tuple) or hint in (list, tuple):
        item = _HINT_TYPES.get(args[0], ParamType.STR) if args else ParamType.STR
        return {"type": "list", "items": item}
    if hint in _HINT_TYPES:
        return {"type": _HINT_TYPES[hint]}
    raise InvalidInputError(f"params.{name}", f"unsupported type hint {hint!r}")
