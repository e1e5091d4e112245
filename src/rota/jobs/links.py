"""Checks across job definitions: the jobs a process, a trigger or a rule names exist, and
triggers and processes never start each other in a loop (``a`` ends, starts ``b``, which ends
and starts ``a`` again, forever). A definition that fails is refused, with the loop in words,
and the others load."""

from __future__ import annotations

from collections.abc import Mapping

from rota.model.jobs import JobDefinition, JobKind
from rota.processes.spec import ProcessSpec

Problem = tuple[str, tuple[str, str]]
"""(job id, (field, reason))."""


def links_errors(definitions: Mapping[str, JobDefinition]) -> list[Problem]:
    problems: list[Problem] = []
    known = set(definitions)
    for job_id, d in definitions.items():
        if d.kind is JobKind.PROCESS:
            held = {c.name: c for c in d.resources}
            for step in _steps(d).steps:
                if step.job not in known:
                    problems.append(
                        (job_id, (f"steps.{step.name}.job", f"no job {step.job!r} is defined"))
                    )
                    continue
                for claim in (*definitions[step.job].resources, *step.resources):
                    mine = held.get(claim.name)
                    if mine is not None and not (mine.shared and claim.shared):
                        problems.append(
                            (
                                job_id,
                                (
                                    f"steps.{step.name}.resources",
                                    f"{claim.name!r} is held by the process itself: the step "
                                    "would wait for it forever",
                                ),
                            )
                        )
        for field, others in (("excludes", d.excludes), ("after", d.after)):
            for other in others:
                if other not in known:
                    problems.append((job_id, (field, f"no job {other!r} is defined")))
        for trigger in d.triggers:
            if trigger.tag is None and trigger.source not in known:
                problems.append((job_id, ("triggers", f"no job {trigger.source!r} is defined")))
    refused = {job_id for job_id, _ in problems}
    remaining = {k: v for k, v in definitions.items() if k not in refused}
    while (loop := _find_loop(remaining)) is not None:
        culprits, path = loop
        # Every job whose trigger closes the loop is refused, not just one: the store keeps
        # the last good version of a refused job, so refusing only one of two jobs could
        # leave the other's new trigger beside the first one's old one, closing the loop.
        for culprit in culprits:
            problems.append(
                (culprit, ("triggers", f"loop: {' -> '.join(path)} ({culprit} not loaded)"))
            )
            del remaining[culprit]
    return problems


def _steps(definition: JobDefinition) -> ProcessSpec:
    steps = definition.spec.get("steps")
    assert isinstance(steps, list)
    return ProcessSpec.from_json(steps)


def _edges(definitions: Mapping[str, JobDefinition]) -> dict[str, list[tuple[str, bool]]]:
    """job -> [(job it may start, by a trigger)]."""
    edges: dict[str, list[tuple[str, bool]]] = {job_id: [] for job_id in definitions}
    for job_id, d in definitions.items():
        if d.kind is JobKind.PROCESS:
            edges[job_id].extend((step.job, False) for step in _steps(d).steps)
        for trigger in d.triggers:
            if trigger.tag is None:
                sources = [trigger.source] if trigger.source in definitions else []
            else:
                sources = [k for k, other in definitions.items() if trigger.tag in other.tags]
            for source in sources:
                edges[source].append((job_id, True))
    return edges


def _find_loop(definitions: Mapping[str, JobDefinition]) -> tuple[list[str], list[str]] | None:
    """The first cycle found, and the jobs to refuse: the targets of the triggers in it (else
    the first process in it)."""
    edges = _edges(definitions)
    state: dict[str, int] = {}
    stack: list[tuple[str, bool]] = []

    def visit(node: str) -> tuple[list[str], list[str]] | None:
        state[node] = 1
        for target, by_trigger in edges.get(node, []):
            if target not in edges:
                continue
            stack.append((target, by_trigger))
            if state.get(target) == 1:
                start = next(i for i, (n, _) in enumerate(stack) if n == target)
                cycle = stack[start + 1 :]
                path = [target, *(n for n, _ in cycle)]
                triggered = sorted({n for n, t in cycle if t})
                return (triggered or [target]), path
            if target not in state and (found := visit(target)) is not None:
                return found
            stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            stack = [(node, False)]
            if (found := visit(node)) is not None:
                return found
    return None
