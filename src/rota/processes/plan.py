"""What a process run does next: a pure function of its definition and its step states.

The orchestrator stores one :class:`StepState` per step, calls :func:`advance` whenever a step
run ends (or the process is canceled) and carries out the answer: start these step runs,
record these steps as skipped or failed, end the process with this status. Nothing here reads
a clock or a store, so every rule below is tested on plain values.

Words:

- A step is *not started* when it has no status and is not skipped (a step missing from
  ``states`` is not started), *active* when it has a non-terminal status (pending, queued,
  running), *ended* when its status is terminal, and *decided* when it is ended or skipped.
- An ended step *succeeded* when completed or partial, and *failed* when failed or canceled.
- The process is *stopping* when it is canceled or an ended step with ``on_error: stop``
  failed.

Rules:

- A not-started step is considered once all its needs are decided (an active need makes it
  wait). Then: when the process is canceled it is skipped ("process canceled"). Otherwise by
  ``when``: ``always`` starts it; ``on_success`` starts it when every need succeeded and the
  process is not stopping, else skips it naming the first need that failed or was skipped,
  or the step that stopped the process; ``on_failure`` starts it when at least one need
  failed, else skips it ("no need failed"), so an ``on_failure`` step without needs is
  always skipped.
- A step that starts gets its parameters rendered (:mod:`rota.processes.expressions`) with
  the scope ``{"params": <process params>, "steps": {<ended step>: {"status", "run_id",
  "info", "result"}}}``. When rendering fails the step fails without a run (``fail``), and
  counts as a failed step, with its ``on_error``, from then on.
- Decisions cascade within one call: steps are considered once, in topological order, so a
  skip or a render failure reaches its dependants in the same call (that single pass is the
  fixpoint). A started step is active, so its dependants wait for a later call. Whether the
  process is stopping is judged as the pass goes: a render failure stops the steps considered
  after it, while a step started earlier in the same pass runs, as it would had it started a
  moment sooner.
- :func:`advance` never cancels active steps; on cancellation the caller cancels their runs
  and calls again when they end.

The process status (:func:`derived_status`) is ``None`` while a step is not decided or is
active. Once every step is decided: ``canceled`` when the process was canceled; ``failed``
when a step with ``on_error: stop`` failed (render failures included), even if an
``on_failure`` step then ran; ``partial`` when a step with ``on_error: continue`` failed or a
step ended partial; ``completed`` otherwise. Skipped steps alone never fail a process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.status import RunStatus
from rota.processes.expressions import ExpressionError, render
from rota.processes.spec import OnError, ProcessSpec, StepSpec, When

_SUCCEEDED = frozenset({RunStatus.COMPLETED, RunStatus.PARTIAL})
_FAILED = frozenset({RunStatus.FAILED, RunStatus.CANCELED})


@dataclass(frozen=True, kw_only=True)
class StepState:
    """What the orchestrator knows about one step of a process run."""

    status: RunStatus | None = None
    """The status of the step's run; ``None`` before it started (and when skipped)."""
    skipped: bool = False
    run_id: int | None = None
    info: dict[str, JsonValue] = field(default_factory=dict)
    result: JsonValue = None
    reason: str | None = None
    """Why it was skipped or failed without a run, for people reading the process run."""

    def __post_init__(self) -> None:
        if self.skipped and self.status is not None:
            raise InvalidInputError("skipped", "a skipped step has no status")

    @property
    def started(self) -> bool:
        return self.status is not None

    @property
    def active(self) -> bool:
        return self.status is not None and not self.status.terminal

    @property
    def ended(self) -> bool:
        return self.status is not None and self.status.terminal

    @property
    def decided(self) -> bool:
        return self.skipped or self.ended

    @property
    def succeeded(self) -> bool:
        return self.status in _SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status in _FAILED


NOT_STARTED = StepState()


@dataclass(frozen=True, kw_only=True)
class StepStart:
    """Start a run of ``job`` for step ``name`` with these (rendered) parameters."""

    name: str
    job: str
    params: dict[str, JsonValue]


@dataclass(frozen=True, kw_only=True)
class Advance:
    """What to do now; an empty answer with ``status=None`` means wait for active steps."""

    start: tuple[StepStart, ...] = ()
    skip: tuple[tuple[str, str], ...] = ()
    """``(step, reason)``: record the step as skipped."""
    fail: tuple[tuple[str, str], ...] = ()
    """``(step, reason)``: the parameters could not be rendered; the step failed without a run."""
    status: RunStatus | None = None
    """The process run's terminal status once every step is decided and none is active."""


def advance(
    spec: ProcessSpec,
    params: Mapping[str, JsonValue],
    states: Mapping[str, StepState],
    *,
    canceled: bool = False,
) -> Advance:
    """The next decisions for a process run (see the module docstring for the rules).

    ``states`` holds what is known per step; steps missing from it are not started, and
    names that are not steps of ``spec`` are ignored.
    """
    current = {step.name: states.get(step.name, NOT_STARTED) for step in spec.steps}
    start: list[StepStart] = []
    skip: list[tuple[str, str]] = []
    fail: list[tuple[str, str]] = []
    for step in spec.steps:  # topological: needs are decided before their dependants
        state = current[step.name]
        if state.started or state.skipped:
            continue
        if not all(current[need].decided for need in step.needs):
            continue
        reason = _skip_reason(spec, step, current, canceled=canceled)
        if reason is not None:
            skip.append((step.name, reason))
            current[step.name] = StepState(skipped=True, reason=reason)
            continue
        try:
            rendered = render(step.params, _scope(params, current))
        except ExpressionError as exc:
            fail.append((step.name, str(exc)))
            current[step.name] = StepState(status=RunStatus.FAILED, reason=str(exc))
            continue
        start.append(StepStart(name=step.name, job=step.job, params=dict(rendered)))
        current[step.name] = StepState(status=RunStatus.QUEUED)
    return Advance(
        start=tuple(start),
        skip=tuple(skip),
        fail=tuple(fail),
        status=derived_status(spec, current, canceled=canceled),
    )


def derived_status(
    spec: ProcessSpec, states: Mapping[str, StepState], *, canceled: bool
) -> RunStatus | None:
    """The process run's terminal status, or ``None`` while a step is undecided or active."""
    pairs = [(step, states.get(step.name, NOT_STARTED)) for step in spec.steps]
    if not all(state.decided for _, state in pairs):
        return None
    if canceled:
        return RunStatus.CANCELED
    if any(state.failed and step.on_error is OnError.STOP for step, state in pairs):
        return RunStatus.FAILED
    if any(state.failed or state.status is RunStatus.PARTIAL for _, state in pairs):
        return RunStatus.PARTIAL
    return RunStatus.COMPLETED


def _skip_reason(
    spec: ProcessSpec, step: StepSpec, current: Mapping[str, StepState], *, canceled: bool
) -> str | None:
    """Why a step whose needs are all decided does not start, or ``None`` to start it."""
    if canceled:
        return "process canceled"
    if step.when is When.ALWAYS:
        return None
    if step.when is When.ON_FAILURE:
        return None if any(current[need].failed for need in step.needs) else "no need failed"
    for need in step.needs:
        state = current[need]
        if state.skipped:
            return f"needed step {need} was skipped"
        if state.failed:
            return f"needed step {need} {_failed_as(state)}"
    for other in spec.steps:
        state = current[other.name]
        if other.on_error is OnError.STOP and state.failed:
            return f"process stopped after step {other.name} {_failed_as(state)}"
    return None


def _failed_as(state: StepState) -> str:
    return "was canceled" if state.status is RunStatus.CANCELED else "failed"


def _scope(
    params: Mapping[str, JsonValue], current: Mapping[str, StepState]
) -> dict[str, JsonValue]:
    steps: dict[str, JsonValue] = {
        name: {
            "status": state.status.value,
            "run_id": state.run_id,
            "info": state.info,
            "result": state.result,
        }
        for name, state in current.items()
        if state.status is not None and state.status.terminal
    }
    return {"params": dict(params), "steps": steps}
