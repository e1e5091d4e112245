"""Process definitions: everything knowable before a run is refused at load, naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from rota.model.errors import InvalidInputError, NotFoundError
from rota.processes.spec import OnError, ProcessSpec, StepSpec, When, parse_steps


def _refused(steps: dict[str, Any], params: tuple[str, ...] = ("day",)) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        parse_steps(steps, param_names=params)
    return caught.value


def test_a_declaration_becomes_a_spec_with_defaults() -> None:
    spec = parse_steps(
        {
            "extract": {"job": "crm.export", "params": {"day": "{{ params.day }}"}},
            "load": {
                "job": "dwh.load",
                "needs": ["extract"],
                "params": {"path": "{{ steps.extract.result.path }}"},
                "on_error": "continue",
            },
            "notify": {"job": "mail", "needs": ["load"], "when": "on_failure"},
        },
        param_names=["day"],
    )
    assert [s.name for s in spec.steps] == ["extract", "load", "notify"]
    extract, load, notify = spec.steps
    assert extract == StepSpec(name="extract", job="crm.export", params={"day": "{{ params.day }}"})
    assert extract.when is When.ON_SUCCESS and extract.on_error is OnError.STOP
    assert load.needs == ("extract",) and load.on_error is OnError.CONTINUE
    assert notify.when is When.ON_FAILURE and notify.params == {}
    assert spec.step("load") is load
    assert spec.ancestors("notify") == {"extract", "load"}
    assert spec.ancestors("extract") == frozenset()


def test_empty_params_and_needs_in_yaml_mean_none() -> None:
    spec = parse_steps({"a": {"job": "x", "params": None, "needs": None}}, param_names=())
    assert spec.steps[0].params == {} and spec.steps[0].needs == ()


def test_unknown_steps_are_not_found() -> None:
    spec = parse_steps({"a": {"job": "x"}}, param_names=())
    with pytest.raises(NotFoundError):
        spec.step("b")
    with pytest.raises(NotFoundError):
        spec.ancestors("b")


def test_steps_are_sorted_topologically_keeping_declaration_order_where_possible() -> None:
    spec = parse_steps(
        {
            "report": {"job": "x", "needs": ["load", "audit"]},
            "load": {"job": "x", "needs": ["extract"]},
            "extract": {"job": "x"},
            "audit": {"job": "x"},
            "cleanup": {"job": "x", "needs": ["extract"]},
        },
        param_names=(),
    )
    assert [s.name for s in spec.steps] == ["extract", "load", "audit", "report", "cleanup"]


def test_ancestors_are_transitive_through_a_diamond() -> None:
    spec = parse_steps(
        {
            "a": {"job": "x"},
            "b": {"job": "x", "needs": ["a"]},
            "c": {"job": "x", "needs": ["a"]},
            "d": {"job": "x", "needs": ["b", "c"]},
        },
        param_names=(),
    )
    assert spec.ancestors("d") == {"a", "b", "c"}
    assert spec.ancestors("c") == {"a"}


def test_a_cycle_is_refused_naming_its_steps_in_run_order() -> None:
    error = _refused(
        {
            "start": {"job": "x"},
            "a": {"job": "x", "needs": ["start", "c"]},
            "b": {"job": "x", "needs": ["a"]},
            "c": {"job": "x", "needs": ["b"]},
            "after": {"job": "x", "needs": ["c"]},
        }
    )
    assert error.reason == "cycle: a -> b -> c -> a"
    assert error.field == "steps.a.needs"


def test_a_two_step_cycle_starts_at_the_first_declared_step() -> None:
    error = _refused({"x": {"job": "j", "needs": ["y"]}, "y": {"job": "j", "needs": ["x"]}})
    assert error.reason == "cycle: x -> y -> x"


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ({}, "steps", "at least one step"),
        ({"a": {"job": "x", "needs": ["nope"]}}, "steps.a.needs", "unknown step 'nope'"),
        ({"a": {"job": "x", "needs": ["a"]}}, "steps.a.needs", "cannot need itself"),
        (
            {"a": {"job": "x"}, "b": {"job": "x", "needs": ["a", "a"]}},
            "steps.b.needs",
            "'a' is listed twice",
        ),
        ({"a": {"job": "x", "needs": "b"}}, "steps.a.needs", "a list of step names"),
        ({"a": {"job": "x", "needs": [1]}}, "steps.a.needs", "a list of step names"),
        ({"_a": {"job": "x"}}, "steps._a", "starts with a letter"),
        ({"1a": {"job": "x"}}, "steps.1a", "starts with a letter"),
        ({"a b": {"job": "x"}}, "steps.a b", "starts with a letter"),
        ({"a" * 65: {"job": "x"}}, "steps." + "a" * 65, "at most 64"),
        ({1: {"job": "x"}}, "steps.1", "starts with a letter"),
        (
            {"a": {"job": "x", "jobs": "y", "need": []}},
            "steps.a",
            "unknown keys 'jobs', 'need'",
        ),
        ({"a": {"params": {}}}, "steps.a.job", "is required"),
        ({"a": {"job": "Bad Job"}}, "steps.a.job", "'Bad Job' is not a job id"),
        ({"a": {"job": 3}}, "steps.a.job", "is not a job id"),
        ({"a": "x"}, "steps.a", "a step is a mapping"),
        ({"a": {"job": "x", "params": [1]}}, "steps.a.params", "a mapping"),
        (
            {"a": {"job": "x", "when": "sometimes"}},
            "steps.a.when",
            "'sometimes' is not one of: on_success, on_failure, always",
        ),
        (
            {"a": {"job": "x", "on_error": "ignore"}},
            "steps.a.on_error",
            "'ignore' is not one of: stop, continue",
        ),
    ],
)
def test_an_invalid_declaration_names_the_field(
    steps: dict[str, Any], field: str, words: str
) -> None:
    error = _refused(steps)
    assert error.field == field
    assert words in error.reason


def test_an_unknown_need_lists_the_known_steps() -> None:
    error = _refused({"a": {"job": "x"}, "b": {"job": "x", "needs": ["c"]}})
    assert error.reason == "unknown step 'c' (known: a)"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"p": "{{ params.nope }}"}, "{{ params.nope }}: unknown parameter 'nope' (known: day)"),
        ({"p": "{{ params }}"}, "name a parameter"),
        ({"p": "{{ params[0] }}"}, "name a parameter"),
        ({"p": "{{ other.x }}"}, "unknown root 'other'"),
        ({"p": "{{ steps.late.result }}"}, "step late is not an ancestor of step load"),
        ({"p": "{{ steps.sibling.result }}"}, "step sibling is not an ancestor of step load"),
        ({"p": "{{ steps.load.result }}"}, "step load is not an ancestor of step load"),
        ({"p": "{{ steps.ghost.result }}"}, "there is no step 'ghost'"),
        ({"p": "{{ steps.first.other }}"}, "offers result, info, status, run_id, not 'other'"),
        ({"p": "{{ steps.first }}"}, "name a step and one of"),
        ({"p": "{{ steps.first.status.x }}"}, "status is a single value"),
        ({"p": "{{ steps.first.run_id[0] }}"}, "run_id is a single value"),
        ({"p": ["ok", {"deep": "{{ steps.late.info }}"}]}, "not an ancestor"),
        ({"p": "{{ params.day | upper }}"}, "unknown filter 'upper'"),
        ({"p": "{{ params.__class__ }}"}, "may not start with '_'"),
    ],
)
def test_expressions_may_only_read_declared_params_and_ancestors(
    params: dict[str, Any], words: str
) -> None:
    error = _refused(
        {
            "first": {"job": "x"},
            "sibling": {"job": "x"},
            "middle": {"job": "x", "needs": ["first"]},
            "load": {"job": "x", "needs": ["middle"], "params": params},
            "late": {"job": "x", "needs": ["load"]},
        }
    )
    assert error.field == "steps.load.params.p"
    assert words in error.reason


def test_an_unknown_parameter_says_when_the_process_takes_none() -> None:
    error = _refused({"a": {"job": "x", "params": {"p": "{{ params.day }}"}}}, params=())
    assert "the process takes none" in error.reason


def test_expressions_may_read_params_and_every_ancestor_output() -> None:
    spec = parse_steps(
        {
            "first": {"job": "x"},
            "middle": {"job": "x", "needs": ["first"]},
            "load": {
                "job": "x",
                "needs": ["middle"],
                "params": {
                    "day": "{{ params.day }}",
                    "path": "{{ steps.first.result.files[0] }}",
                    "rows": "{{ steps.middle.info.rows | default(0) }}",
                    "note": "{{ steps.first.status }} #{{ steps.first.run_id }}",
                },
            },
        },
        param_names={"day"},
    )
    assert spec.step("load").params["rows"] == "{{ steps.middle.info.rows | default(0) }}"


def test_the_json_form_is_canonical_and_round_trips() -> None:
    spec = parse_steps(
        {
            "load": {"job": "dwh.load", "needs": ["extract"], "when": "always"},
            "extract": {"job": "crm.export", "params": {"day": "{{ params.day }}", "n": [1, 2]}},
            "notify": {
                "job": "mail",
                "needs": ["load"],
                "when": "on_failure",
                "on_error": "continue",
            },
        },
        param_names=["day"],
    )
    data = spec.to_json()
    assert data == [
        {
            "name": "extract",
            "job": "crm.export",
            "params": {"day": "{{ params.day }}", "n": [1, 2]},
            "needs": [],
            "when": "on_success",
            "on_error": "stop",
        },
        {
            "name": "load",
            "job": "dwh.load",
            "params": {},
            "needs": ["extract"],
            "when": "always",
            "on_error": "stop",
        },
        {
            "name": "notify",
            "job": "mail",
            "params": {},
            "needs": ["load"],
            "when": "on_failure",
            "on_error": "continue",
        },
    ]
    again = ProcessSpec.from_json(data)
    assert again == spec
    assert again.to_json() == data
    data[0]["params"]["n"].append(3)
    assert spec.step("extract").params["n"] == [1, 2]


@pytest.mark.parametrize(
    "data",
    ["steps", [], [{"job": "x"}], [{"name": "a", "job": "x", "extra": 1}], [3]],
)
def test_invalid_stored_json_is_refused(data: Any) -> None:
    with pytest.raises(InvalidInputError):
        ProcessSpec.from_json(data)


def test_a_stored_process_with_a_step_declared_twice_is_refused() -> None:
    step = {"name": "a", "job": "x"}
    with pytest.raises(InvalidInputError, match="declared twice"):
        ProcessSpec.from_json([step, step])


def test_a_spec_built_directly_is_validated_and_sorted() -> None:
    spec = ProcessSpec(
        steps=(
            StepSpec(name="b", job="x", needs=("a",)),
            StepSpec(name="a", job="x", when=When.ALWAYS),
        )
    )
    assert [s.name for s in spec.steps] == ["a", "b"]
    with pytest.raises(InvalidInputError, match="not an ancestor"):
        ProcessSpec(
            steps=(
                StepSpec(name="a", job="x", params={"p": "{{ steps.b.result }}"}),
                StepSpec(name="b", job="x"),
            )
        )
