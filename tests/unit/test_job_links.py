"""Checks across definitions: unknown jobs named by processes, triggers and rules, and loops of
triggers and processes, are refused with the loop in words; the other definitions stay."""

from __future__ import annotations

from rota.jobs.flow import event_triggers
from rota.jobs.links import links_errors
from rota.model.jobs import JobDefinition, JobKind
from rota.processes.spec import parse_steps


def job(job_id: str, *, on: str | None = None, tags: tuple[str, ...] = ()) -> JobDefinition:
    triggers = event_triggers([{"on": on}], job_id) if on else ()
    return JobDefinition(id=job_id, kind=JobKind.SHELL, triggers=triggers, tags=tags)


def process(job_id: str, *jobs: str, on: str | None = None) -> JobDefinition:
    steps = parse_steps({f"s{n}": {"job": j} for n, j in enumerate(jobs)}, param_names=())
    triggers = event_triggers([{"on": on}], job_id) if on else ()
    return JobDefinition(
        id=job_id, kind=JobKind.PROCESS, spec={"steps": steps.to_json()}, triggers=triggers
    )


def check(*definitions: JobDefinition) -> list[tuple[str, tuple[str, str]]]:
    return links_errors({d.id: d for d in definitions})


def test_a_chain_without_loops_passes() -> None:
    assert check(job("a"), job("b", on="a"), job("c", on="b"), process("p", "a", "b")) == []


def test_two_jobs_triggering_each_other_are_both_refused() -> None:
    problems = check(job("a", on="b"), job("b", on="a"))
    assert problems == [
        ("a", ("triggers", "loop: a -> b -> a (a not loaded)")),
        ("b", ("triggers", "loop: a -> b -> a (b not loaded)")),
    ]


def test_a_step_that_triggers_its_own_process_is_a_loop() -> None:
    problems = check(job("a"), process("p", "a", on="a"))
    assert problems == [("p", ("triggers", "loop: a -> p -> a (p not loaded)"))]


def test_a_tag_trigger_on_its_own_tag_chain_is_a_loop() -> None:
    problems = check(job("a", tags=("etl",)), job("b", on="tag:etl", tags=("etl",)))
    assert [p[1][1] for p in problems] == ["loop: b -> b (b not loaded)"]


def test_processes_running_each_other_are_a_loop() -> None:
    problems = check(job("a"), process("p", "q"), process("q", "p"))
    assert len(problems) == 1 and problems[0][1][1].startswith("loop: ")


def test_unknown_jobs_are_named() -> None:
    problems = check(process("p", "missing"), job("b", on="gone"))
    assert ("p", ("steps.s0.job", "no job 'missing' is defined")) in problems
    assert ("b", ("triggers", "no job 'gone' is defined")) in problems


def test_a_step_claiming_a_resource_its_process_holds_is_refused() -> None:
    from dataclasses import replace

    from rota.model.resources import ResourceClaim

    locked = replace(job("a"), resources=(ResourceClaim("erp"),))
    proc = replace(process("p", "a"), resources=(ResourceClaim("erp"),))
    [(culprit, (field, reason))] = check(locked, proc)
    assert (culprit, field) == ("p", "steps.s0.resources")
    assert "held by the process itself" in reason
    both_shared = replace(proc, resources=(ResourceClaim("erp", shared=True),))
    reader = replace(job("a"), resources=(ResourceClaim("erp", shared=True),))
    assert check(reader, both_shared) == []
