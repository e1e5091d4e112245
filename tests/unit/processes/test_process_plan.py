"""Advancing a process run: which steps start, which are skipped, and how the process ends.

Each test plays the orchestrator: call :func:`advance`, apply its answer to the step states,
let some runs end, call again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.status import RunStatus
from rota.processes.plan import Advance, StepStart, StepState, advance, derived_status
from rota.processes.spec import ProcessSpec, parse_steps

C = RunStatus.COMPLETED
P = RunStatus.PARTIAL
F = RunStatus.FAILED
X = RunStatus.CANCELED
RUNNING = StepState(status=RunStatus.RUNNING)


def _spec(steps: dict[str, Any], params: tuple[str, ...] = ()) -> ProcessSpec:
    return parse_steps(steps, param_names=params)


def _ended(status: RunStatus, **kwargs: Any) -> StepState:
    return StepState(status=status, **kwargs)


def _apply(states: Mapping[str, StepState], answer: Advance) -> dict[str, StepState]:
    """The orchestrator's bookkeeping: started steps run, skips and render failures record."""
    out = dict(states)
    for start in answer.start:
        out[start.name] = RUNNING
    for name, reason in answer.skip:
        out[name] = StepState(skipped=True, reason=reason)
    for name, reason in answer.fail:
        out[name] = StepState(status=F, reason=reason)
    return out


def _started(answer: Advance) -> list[str]:
    return [s.name for s in answer.start]


LINEAR = {
    "a": {"job": "j"},
    "b": {"job": "j", "needs": ["a"]},
    "c": {"job": "j", "needs": ["b"]},
}


def test_a_linear_process_runs_step_by_step_and_completes() -> None:
    spec = _spec(LINEAR)
    first = advance(spec, {}, {})
    assert first == Advance(start=(StepStart(name="a", job="j", params={}),))
    states = _apply({}, first)
    assert advance(spec, {}, states) == Advance()  # a still runs: nothing to do
    states["a"] = _ended(C)
    second = advance(spec, {}, states)
    assert _started(second) == ["b"]
    states = _apply(states, second)
    states["b"] = _ended(C)
    third = advance(spec, {}, states)
    assert _started(third) == ["c"]
    assert third.status is None
    states = _apply(states, third)
    states["c"] = _ended(C)
    assert advance(spec, {}, states) == Advance(status=C)


def test_a_finished_plan_answers_only_its_status() -> None:
    spec = _spec(LINEAR)
    states = {"a": _ended(C), "b": _ended(C), "c": _ended(C)}
    assert advance(spec, {}, states) == Advance(status=C)
    assert derived_status(spec, states, canceled=False) is C


def test_a_failing_step_that_stops_skips_its_dependants_but_always_steps_run() -> None:
    spec = _spec({**LINEAR, "cleanup": {"job": "j", "needs": ["c"], "when": "always"}})
    states = {"a": _ended(C), "b": _ended(F)}
    answer = advance(spec, {}, states)
    assert answer.skip == (("c", "needed step b failed"),)
    assert _started(answer) == ["cleanup"]  # decided in the same call: the skip cascaded
    assert answer.status is None
    states = _apply(states, answer)
    states["cleanup"] = _ended(C)
    assert advance(spec, {}, states) == Advance(status=F)


def test_a_stopping_failure_skips_independent_steps_that_have_not_started() -> None:
    spec = _spec(
        {
            "a": {"job": "j"},
            "b": {"job": "j", "needs": ["a"]},
            "other": {"job": "j"},
            "after": {"job": "j", "needs": ["other"]},
        }
    )
    states = {"a": _ended(F), "other": _ended(C)}
    answer = advance(spec, {}, states)
    assert answer.skip == (
        ("b", "needed step a failed"),
        ("after", "process stopped after step a failed"),
    )
    assert answer.status is F


def test_a_failing_step_that_continues_lets_independent_branches_run() -> None:
    spec = _spec(
        {
            "a": {"job": "j"},
            "b": {"job": "j", "needs": ["a"], "on_error": "continue"},
            "c": {"job": "j", "needs": ["b"]},
            "x": {"job": "j", "needs": ["a"]},
            "y": {"job": "j", "needs": ["x"]},
        }
    )
    states = _apply({"a": _ended(C)}, advance(spec, {}, {"a": _ended(C)}))
    assert set(states) == {"a", "b", "x"}
    states["b"] = _ended(F)
    answer = advance(spec, {}, states)
    assert answer.skip == (("c", "needed step b failed"),)
    assert answer.start == ()  # x is still running
    states = _apply(states, answer)
    states["x"] = _ended(C)
    answer = advance(spec, {}, states)
    assert _started(answer) == ["y"]
    states = _apply(states, answer)
    states["y"] = _ended(C)
    assert advance(spec, {}, states).status is P


def test_an_on_failure_step_runs_only_when_a_need_failed() -> None:
    spec = _spec(
        {"a": {"job": "j"}, "alert": {"job": "mail", "needs": ["a"], "when": "on_failure"}}
    )
    assert advance(spec, {}, {"a": _ended(C)}) == Advance(
        skip=(("alert", "no need failed"),), status=C
    )
    answer = advance(spec, {}, {"a": _ended(F)})
    assert _started(answer) == ["alert"]
    # the handler ran, but the stopping failure still fails the process
    assert advance(spec, {}, {"a": _ended(F), "alert": _ended(C)}).status is F
    # a canceled need counts as a failure too
    assert _started(advance(spec, {}, {"a": _ended(X)})) == ["alert"]


def test_an_on_failure_step_without_needs_is_skipped() -> None:
    spec = _spec({"a": {"job": "j"}, "orphan": {"job": "j", "when": "on_failure"}})
    answer = advance(spec, {}, {})
    assert _started(answer) == ["a"]
    assert answer.skip == (("orphan", "no need failed"),)


def test_a_canceled_process_skips_what_has_not_started_and_ends_once_active_steps_end() -> None:
    spec = _spec(
        {
            "a": {"job": "j"},
            "b": {"job": "j", "needs": ["a"]},
            "side": {"job": "j"},
            "cleanup": {"job": "j", "needs": ["b"], "when": "always"},
        }
    )
    states = {"a": RUNNING}
    answer = advance(spec, {}, states, canceled=True)
    assert answer == Advance(skip=(("side", "process canceled"),))  # b waits for a
    states = _apply(states, answer)
    states["a"] = _ended(X)
    answer = advance(spec, {}, states, canceled=True)
    assert answer.skip == (("b", "process canceled"), ("cleanup", "process canceled"))
    assert answer.start == ()
    assert answer.status is X


def test_a_canceled_process_ends_canceled_even_when_everything_had_ended() -> None:
    spec = _spec(LINEAR)
    states = {"a": _ended(C), "b": _ended(C), "c": _ended(C)}
    assert advance(spec, {}, states, canceled=True).status is X


def test_a_step_whose_params_cannot_be_rendered_fails_without_a_run() -> None:
    spec = _spec(
        {
            "a": {"job": "j"},
            "b": {"job": "j", "needs": ["a"], "params": {"p": "{{ steps.a.result.path }}"}},
            "c": {"job": "j", "needs": ["b"]},
            "report": {"job": "j", "needs": ["b"], "when": "on_failure"},
        }
    )
    states = {"a": _ended(C, result={"other": 1})}
    answer = advance(spec, {}, states)
    assert answer.fail == (("b", "steps.a.result.path: 'path' is not in steps.a.result"),)
    assert answer.skip == (("c", "needed step b failed"),)
    assert _started(answer) == ["report"]
    states = _apply(states, answer)
    states["report"] = _ended(C)
    assert advance(spec, {}, states).status is F


def test_a_render_failure_with_continue_makes_the_process_partial() -> None:
    spec = _spec(
        {
            "a": {"job": "j", "params": {"p": "{{ params.x.y }}"}, "on_error": "continue"},
            "b": {"job": "j"},
        },
        params=("x",),
    )
    answer = advance(spec, {"x": 1}, {})
    assert [name for name, _ in answer.fail] == ["a"]
    assert _started(answer) == ["b"]
    states = _apply({}, answer)
    states["b"] = _ended(C)
    assert advance(spec, {"x": 1}, states).status is P


def test_a_render_failure_stops_steps_considered_after_it_in_the_same_call() -> None:
    spec = _spec(
        {
            "bad": {"job": "j", "params": {"p": "{{ params.missing }}"}},
            "good": {"job": "j"},
        },
        params=("missing",),
    )
    answer = advance(spec, {}, {})
    assert answer.fail[0][0] == "bad"
    assert answer.skip == (("good", "process stopped after step bad failed"),)
    assert answer.status is F


def test_a_diamond_starts_both_branches_together_and_joins() -> None:
    spec = _spec(
        {
            "a": {"job": "j"},
            "b": {"job": "j", "needs": ["a"]},
            "c": {"job": "j", "needs": ["a"]},
            "d": {"job": "j", "needs": ["b", "c"]},
        }
    )
    states = {"a": _ended(C)}
    answer = advance(spec, {}, states)
    assert _started(answer) == ["b", "c"]
    states = _apply(states, answer)
    states["b"] = _ended(C)
    assert advance(spec, {}, states) == Advance()  # d waits for c
    states["c"] = _ended(C)
    assert _started(advance(spec, {}, states)) == ["d"]


def test_a_partial_step_counts_as_success_but_makes_the_process_partial() -> None:
    spec = _spec(LINEAR)
    states = {"a": _ended(P)}
    assert _started(advance(spec, {}, states)) == ["b"]
    states.update(b=_ended(C), c=_ended(C))
    assert advance(spec, {}, states).status is P


def test_skipped_steps_alone_do_not_fail_a_process() -> None:
    spec = _spec({"a": {"job": "j"}, "h": {"job": "j", "needs": ["a"], "when": "on_failure"}})
    states = {"a": _ended(C), "h": StepState(skipped=True)}
    assert derived_status(spec, states, canceled=False) is C


def test_a_skipped_need_is_named_when_its_dependant_is_skipped() -> None:
    spec = _spec(
        {
            "a": {"job": "j"},
            "h": {"job": "j", "needs": ["a"], "when": "on_failure"},
            "after": {"job": "j", "needs": ["h"]},
        }
    )
    answer = advance(spec, {}, {"a": _ended(C)})
    assert answer.skip == (("h", "no need failed"), ("after", "needed step h was skipped"))
    assert answer.status is C


def test_step_params_are_rendered_from_process_params_and_needed_steps() -> None:
    spec = _spec(
        {
            "extract": {"job": "crm.export", "params": {"day": "{{ params.day }}"}},
            "load": {
                "job": "dwh.load",
                "needs": ["extract"],
                "params": {
                    "path": "{{ steps.extract.result.path }}",
                    "rows": "{{ steps.extract.info.rows }}",
                    "files": "{{ steps.extract.result.files }}",
                    "note": "{{ steps.extract.info.rows }} rows on {{ params.day }}",
                    "run": "{{ steps.extract.run_id }}",
                    "status": "{{ steps.extract.status }}",
                    "limit": "{{ params.limit | default(100) }}",
                },
            },
        },
        params=("day", "limit"),
    )
    params: dict[str, JsonValue] = {"day": "2024-05-01"}
    first = advance(spec, params, {})
    assert first.start == (
        StepStart(name="extract", job="crm.export", params={"day": "2024-05-01"}),
    )
    result = {"path": "/data/x.csv", "files": ["x.csv", "y.csv"]}
    states = {"extract": _ended(C, run_id=7, info={"rows": 12}, result=result)}
    (load,) = advance(spec, params, states).start
    assert load.params == {
        "path": "/data/x.csv",
        "rows": 12,
        "files": ["x.csv", "y.csv"],
        "note": "12 rows on 2024-05-01",
        "run": 7,
        "status": "completed",
        "limit": 100,
    }
    load.params["files"].append("z.csv")
    assert result["files"] == ["x.csv", "y.csv"]  # rendered values are copies


def test_an_always_step_reading_a_skipped_ancestor_needs_a_default() -> None:
    spec = _spec(
        {
            "a": {"job": "j"},
            "b": {"job": "j", "needs": ["a"]},
            "ok": {
                "job": "j",
                "needs": ["b"],
                "when": "always",
                "params": {"r": "{{ steps.b.result | default(null) }}"},
            },
            "bad": {
                "job": "j",
                "needs": ["b"],
                "when": "always",
                "params": {"r": "{{ steps.b.result }}"},
                "on_error": "continue",
            },
        }
    )
    answer = advance(spec, {}, {"a": _ended(F)})
    assert answer.skip == (("b", "needed step a failed"),)
    assert answer.start == (StepStart(name="ok", job="j", params={"r": None}),)
    assert answer.fail == (("bad", "steps.b.result: 'b' is not in steps"),)


def test_active_steps_keep_the_process_open() -> None:
    spec = _spec({"a": {"job": "j"}})
    for status in (RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING):
        assert derived_status(spec, {"a": StepState(status=status)}, canceled=False) is None
        assert derived_status(spec, {"a": StepState(status=status)}, canceled=True) is None
    assert derived_status(spec, {}, canceled=False) is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (C, C, C),
        (C, P, P),
        (F, C, F),
        (X, C, F),
        (C, F, P),  # b continues on error
        (C, X, P),
        (F, F, F),
    ],
)
def test_the_process_status_follows_the_step_outcomes(
    a: RunStatus, b: RunStatus, expected: RunStatus
) -> None:
    spec = _spec({"a": {"job": "j"}, "b": {"job": "j", "on_error": "continue"}})
    states = {"a": _ended(a), "b": _ended(b)}
    assert derived_status(spec, states, canceled=False) is expected


def test_states_of_unknown_steps_are_ignored() -> None:
    spec = _spec({"a": {"job": "j"}})
    assert advance(spec, {}, {"a": _ended(C), "gone": _ended(F)}).status is C


def test_a_skipped_state_has_no_status() -> None:
    with pytest.raises(InvalidInputError):
        StepState(skipped=True, status=C)
