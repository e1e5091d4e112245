"""Process definitions: a DAG of steps, each a job with parameters, checked when it loads.

A process is declared as a mapping of steps (YAML keeps declaration order)::

    steps:
      extract: {job: crm.export, params: {day: "{{ params.day }}"}}
      load:
        job: dwh.load
        needs: [extract]
        params: {path: "{{ steps.extract.result.path }}"}
      notify: {job: mail.admins, needs: [load], when: on_failure}

Everything that can be known without running is refused here, naming the field: bad names,
unknown keys, unknown or circular needs, and expressions that could never resolve. A step's
expressions may only read ``params.<declared name>`` and ``steps.<S>.result|info|status|run_id``
of an *ancestor* ``S`` (reachable through ``needs``): only an ancestor is sure to have ended
before the step starts, so anything else would depend on timing.

:class:`ProcessSpec` keeps its steps in a topological order that follows declaration order
wherever the needs allow, so plans, listings and the stored JSON are stable.
"""

from __future__ import annotations

import copy
import heapq
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from rota.model.errors import InvalidInputError, NotFoundError
from rota.model.ids import JOB_ID_PATTERN
from rota.model.params import JsonValue
from rota.model.resources import ResourceClaim, parse_claims
from rota.processes.expressions import ExpressionError, Segment, format_path, references

STEP_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
STEP_KEYS = ("job", "params", "needs", "when", "on_error", "resources")
STEP_OUTPUTS = ("result", "info", "status", "run_id")
"""What ``steps.<S>.`` offers to later steps; ``status`` and ``run_id`` are scalars."""
_SCALAR_OUTPUTS = ("status", "run_id")
_E = TypeVar("_E", bound=StrEnum)


class When(StrEnum):
    """When a step runs once its needs are decided."""

    ON_SUCCESS = "on_success"
    ON_FAILURE = "on_failure"
    ALWAYS = "always"


class OnError(StrEnum):
    """Whether a failure of this step stops the process or lets independent steps go on."""

    STOP = "stop"
    CONTINUE = "continue"


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    """One step: the job to run, its parameters (may hold expressions) and its edges."""

    name: str
    job: str
    params: dict[str, JsonValue] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    when: When = When.ON_SUCCESS
    on_error: OnError = OnError.STOP
    resources: tuple[ResourceClaim, ...] = ()
    """Held by the step's run on top of its job's own resources."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not STEP_NAME_PATTERN.fullmatch(self.name):
            raise InvalidInputError(f"steps.{self.name}", _NAME_RULE)
        where = f"steps.{self.name}"
        if not isinstance(self.job, str) or not JOB_ID_PATTERN.fullmatch(self.job):
            raise InvalidInputError(f"{where}.job", f"{self.job!r} is not a job id")
        if not isinstance(self.params, dict) or not all(isinstance(k, str) for k in self.params):
            raise InvalidInputError(f"{where}.params", "must be a mapping of parameter names")
        object.__setattr__(self, "when", _choice(When, self.when, f"{where}.when"))
        object.__setattr__(self, "on_error", _choice(OnError, self.on_error, f"{where}.on_error"))
        needs = self.needs
        if not isinstance(needs, tuple) or not all(isinstance(n, str) for n in needs):
            raise InvalidInputError(f"{where}.needs", "must be a list of step names")
        if self.name in needs:
            raise InvalidInputError(f"{where}.needs", "a step cannot need itself")
        twice = sorted({n for n in needs if needs.count(n) > 1})
        if twice:
            raise InvalidInputError(f"{where}.needs", f"{twice[0]!r} is listed twice")
        for _ in self.references():  # malformed expressions fail here, with the param named
            pass

    def references(self) -> Iterator[tuple[str, tuple[Segment, ...]]]:
        """``(param name, path)`` for every expression in the step's parameters."""
        for key, value in self.params.items():
            try:
                paths = references(value)
            except ExpressionError as exc:
                raise InvalidInputError(
                    f"steps.{self.name}.params.{key}", f"{exc.reason} (in {exc.field!r})"
                ) from None
            for path in paths:
                yield key, path

    def to_json(self) -> dict[str, JsonValue]:
        """Every key, always, so stored definitions compare and fingerprint simply."""
        return {
            "name": self.name,
            "job": self.job,
            "params": copy.deepcopy(self.params),
            "needs": list(self.needs),
            "when": self.when.value,
            "on_error": self.on_error.value,
            **(
                {"resources": [{"name": c.name, "shared": c.shared} for c in self.resources]}
                if self.resources
                else {}
            ),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepSpec:
        if not isinstance(data, Mapping) or "name" not in data:
            raise InvalidInputError("steps", "a stored step is a mapping with a name")
        name = data["name"]
        return _step(_check_name(name), {k: v for k, v in data.items() if k != "name"})


@dataclass(frozen=True, kw_only=True)
class ProcessSpec:
    """The steps of a process, sorted topologically; construction refuses an invalid graph."""

    steps: tuple[StepSpec, ...]
    _ancestors: Mapping[str, frozenset[str]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if not steps:
            raise InvalidInputError("steps", "a process needs at least one step")
        names: set[str] = set()
        for step in steps:
            if step.name in names:
                raise InvalidInputError(f"steps.{step.name}", "declared twice")
            names.add(step.name)
        for step in steps:
            unknown = [n for n in step.needs if n not in names]
            if unknown:
                known = ", ".join(s.name for s in steps if s.name != step.name)
                raise InvalidInputError(
                    f"steps.{step.name}.needs",
                    f"unknown step {unknown[0]!r} (known: {known or 'none'})",
                )
        ordered = _topological(steps)
        ancestors: dict[str, frozenset[str]] = {}
        for step in ordered:
            ancestors[step.name] = frozenset(step.needs).union(*(ancestors[n] for n in step.needs))
        object.__setattr__(self, "steps", ordered)
        object.__setattr__(self, "_ancestors", ancestors)
        for step in ordered:
            for key, path in step.references():
                _check_step_reference(step, key, path, ancestors[step.name], names)

    def step(self, name: str) -> StepSpec:
        for step in self.steps:
            if step.name == name:
                return step
        raise NotFoundError("step", name)

    def ancestors(self, name: str) -> frozenset[str]:
        """Every step ``name`` needs, directly or through other steps."""
        if name not in self._ancestors:
            raise NotFoundError("step", name)
        return self._ancestors[name]

    def to_json(self) -> list[JsonValue]:
        """Canonical form: steps in topological order, every key present."""
        return [step.to_json() for step in self.steps]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> ProcessSpec:
        if isinstance(data, str | bytes) or not isinstance(data, Sequence):
            raise InvalidInputError("steps", "a stored process is a list of steps")
        return cls(steps=tuple(StepSpec.from_json(item) for item in data))


def parse_steps(steps: Mapping[str, Any], *, param_names: Collection[str]) -> ProcessSpec:
    """A process from its declaration ``{name: {job, params, needs, when, on_error}}``.

    ``param_names`` are the process's declared parameters: ``params.<name>`` must be one.
    """
    if not isinstance(steps, Mapping) or not steps:
        raise InvalidInputError("steps", "a process needs at least one step")
    spec = ProcessSpec(steps=tuple(_step(_check_name(name), body) for name, body in steps.items()))
    for step in spec.steps:
        for key, path in step.references():
            if path[0] == "params" and path[1] not in param_names:
                known = ", ".join(sorted(param_names))
                hint = f"known: {known}" if known else "the process takes none"
                raise InvalidInputError(
                    f"steps.{step.name}.params.{key}",
                    f"{{{{ {format_path(path)} }}}}: unknown parameter {path[1]!r} ({hint})",
                )
    return spec


_NAME_RULE = "a step name starts with a letter and holds letters, digits, '_' or '-' (at most 64)"


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not STEP_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(f"steps.{name}", _NAME_RULE)
    return name


def _step(name: str, body: object) -> StepSpec:
    """A step from its mapping (a YAML declaration or the stored JSON minus ``name``)."""
    where = f"steps.{name}"
    if not isinstance(body, Mapping):
        raise InvalidInputError(where, f"a step is a mapping with {', '.join(STEP_KEYS)}")
    unknown = [str(k) for k in body if k not in STEP_KEYS]
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        raise InvalidInputError(
            where,
            f"unknown key{'s' if len(unknown) > 1 else ''} {listed} (a step takes "
            f"{', '.join(STEP_KEYS)})",
        )
    if body.get("job") is None:
        raise InvalidInputError(f"{where}.job", "is required")
    params = body.get("params")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidInputError(f"{where}.params", "must be a mapping of parameter names")
    needs = body.get("needs")
    if needs is None:
        needs = []
    if not isinstance(needs, list | tuple):
        raise InvalidInputError(f"{where}.needs", "must be a list of step names")
    return StepSpec(
        name=name,
        job=body["job"],
        params=dict(params),
        needs=tuple(needs),
        when=body.get("when", When.ON_SUCCESS),
        on_error=body.get("on_error", OnError.STOP),
        resources=parse_claims(body.get("resources"), f"{where}.resources"),
    )


def _choice(kind: type[_E], value: object, where: str) -> _E:
    if isinstance(value, str) and value in {member.value for member in kind}:
        return kind(value)
    allowed = ", ".join(member.value for member in kind)
    raise InvalidInputError(where, f"{value!r} is not one of: {allowed}")


def _topological(steps: tuple[StepSpec, ...]) -> tuple[StepSpec, ...]:
    """Kahn's algorithm taking the earliest-declared ready step each time: stable, so an
    already sorted tuple comes back unchanged."""
    index = {step.name: i for i, step in enumerate(steps)}
    waiting = {step.name: set(step.needs) for step in steps}
    dependants: dict[str, list[str]] = {step.name: [] for step in steps}
    for step in steps:
        for need in step.needs:
            dependants[need].append(step.name)
    ready = [index[name] for name, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    ordered: list[StepSpec] = []
    while ready:
        step = steps[heapq.heappop(ready)]
        ordered.append(step)
        for dependant in dependants[step.name]:
            waiting[dependant].discard(step.name)
            if not waiting[dependant]:
                heapq.heappush(ready, index[dependant])
    if len(ordered) < len(steps):
        cycle = _cycle(steps, {step.name for step in ordered})
        raise InvalidInputError(f"steps.{cycle[0]}.needs", f"cycle: {' -> '.join(cycle)}")
    return tuple(ordered)


def _cycle(steps: tuple[StepSpec, ...], done: set[str]) -> list[str]:
    """One cycle among the steps left unsorted, in run order (``a -> b``: b needs a), starting
    and ending at its earliest-declared step.

    Every unsorted step needs another unsorted one, so following needs must come round.
    """
    by_name = {step.name: step for step in steps}
    node = next(step.name for step in steps if step.name not in done)
    seen: dict[str, int] = {}
    walk: list[str] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = next(n for n in by_name[node].needs if n not in done)
    cycle = walk[seen[node] :][::-1]  # the walk follows needs; run order is the reverse
    order = {step.name: i for i, step in enumerate(steps)}
    first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
    cycle = cycle[first:] + cycle[:first]
    return [*cycle, cycle[0]]


def _check_step_reference(
    step: StepSpec,
    key: str,
    path: tuple[Segment, ...],
    ancestors: frozenset[str],
    names: Collection[str],
) -> None:
    """Refuse a path that could not resolve when ``step`` starts (parameter names are
    checked by :func:`parse_steps`, which knows them)."""
    where = f"steps.{step.name}.params.{key}"
    shown = f"{{{{ {format_path(path)} }}}}"
    root = path[0]
    if root == "params":
        if len(path) < 2 or not isinstance(path[1], str):
            raise InvalidInputError(where, f"{shown}: name a parameter, as in params.<name>")
        return
    if root != "steps":
        raise InvalidInputError(
            where,
            f"{shown}: unknown root {root!r} (expressions start with params. or steps.)",
        )
    outputs = ", ".join(STEP_OUTPUTS)
    if len(path) < 3:
        raise InvalidInputError(
            where, f"{shown}: name a step and one of {outputs}, as in steps.<step>.result"
        )
    other, output = path[1], path[2]
    if not isinstance(other, str) or other not in names:
        raise InvalidInputError(where, f"{shown}: there is no step {other!r}")
    if other not in ancestors:
        raise InvalidInputError(
            where,
            f"{shown}: step {other} is not an ancestor of step {step.name} "
            "(add it to needs, directly or through another step)",
        )
    if output not in STEP_OUTPUTS:
        raise InvalidInputError(where, f"{shown}: a step offers {outputs}, not {output!r}")
    if output in _SCALAR_OUTPUTS and len(path) > 3:
        raise InvalidInputError(where, f"{shown}: {output} is a single value, not a container")
