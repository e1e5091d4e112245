"""``{{ path }}`` templates: values keep their type, text interpolates, and nothing but a path
into JSON data (with an optional default) is ever accepted."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.processes.expressions import (
    MAX_PATH_DEPTH,
    MAX_TEMPLATE_LENGTH,
    Expression,
    ExpressionError,
    format_path,
    parse,
    references,
    render,
)

SCOPE: dict[str, JsonValue] = {
    "params": {"day": "2024-05-01", "limit": 10, "dry": False, "tags": ["a", "b"]},
    "steps": {
        "extract": {
            "status": "completed",
            "run_id": 42,
            "info": {"rows": 7, "ratio": 0.5},
            "result": {"path": "/data/x.csv", "files": ["a.csv", "b.csv"], "full name": "X"},
        }
    },
    "nothing": None,
}


def test_a_whole_string_expression_keeps_the_type_of_the_value() -> None:
    assert render("{{ params.limit }}", SCOPE) == 10
    assert render("{{ params.dry }}", SCOPE) is False
    assert render("{{ steps.extract.info.ratio }}", SCOPE) == 0.5
    assert render("{{ params.tags }}", SCOPE) == ["a", "b"]
    assert render("{{ steps.extract.info }}", SCOPE) == {"rows": 7, "ratio": 0.5}
    assert render("{{ nothing }}", SCOPE) is None


def test_whitespace_inside_the_braces_is_allowed_and_optional() -> None:
    assert render("{{params.limit}}", SCOPE) == 10
    assert render("{{\n  params.limit\t}}", SCOPE) == 10


def test_text_around_expressions_makes_a_string() -> None:
    assert render("day={{ params.day }}", SCOPE) == "day=2024-05-01"
    assert render(" {{ params.limit }}", SCOPE) == " 10"
    assert render("{{ params.day }}/{{ params.limit }}", SCOPE) == "2024-05-01/10"


def test_interpolated_values_are_compact_json_except_text_and_null() -> None:
    assert render("dry={{ params.dry }}", SCOPE) == "dry=false"
    assert render("tags={{ params.tags }}", SCOPE) == 'tags=["a","b"]'
    assert render("info={{ steps.extract.info }}", SCOPE) == 'info={"rows":7,"ratio":0.5}'
    assert render("n=[{{ nothing }}]", SCOPE) == "n=[]"
    assert render("é={{ x }}", {"x": {"k": "é"}}) == 'é={"k":"é"}'


def test_index_and_quoted_key_segments() -> None:
    assert render("{{ steps.extract.result.files[1] }}", SCOPE) == "b.csv"
    assert render('{{ steps.extract.result["full name"] }}', SCOPE) == "X"
    assert render('{{ params["day"] }}', SCOPE) == "2024-05-01"
    assert render('{{ x["}}"] }}', {"x": {"}}": 1}}) == 1
    assert render("{{ my-step.a_b }}", {"my-step": {"a_b": 3}}) == 3


def test_dicts_and_lists_are_walked_and_keys_stay_as_written() -> None:
    template = {"{{ params.day }}": ["{{ params.limit }}", {"p": "at {{ params.day }}"}], "n": 3}
    assert render(template, SCOPE) == {"{{ params.day }}": [10, {"p": "at 2024-05-01"}], "n": 3}


def test_a_rendered_value_is_a_copy() -> None:
    scope: dict[str, JsonValue] = {"x": {"list": [1]}}
    out = render("{{ x }}", scope)
    out["list"].append(2)
    assert scope == {"x": {"list": [1]}}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ params.missing | default(5) }}", 5),
        ('{{ params.missing | default("none") }}', "none"),
        ("{{ params.missing|default(null) }}", None),
        ("{{ params.missing | default( true ) }}", True),
        ("{{ params.missing | default(-1.5e2) }}", -150.0),
        ("{{ params.tags[9] | default(0) }}", 0),
        ("{{ params.day.year | default(0) }}", 0),
        ("{{ unknown.root | default(1) }}", 1),
        ("{{ params.limit | default(5) }}", 10),
        ("{{ nothing | default(5) }}", None),
        ("got {{ params.missing | default(3) }}", "got 3"),
        ('{{ params.missing | default("a }} b") }}', "a }} b"),
    ],
)
def test_a_default_is_used_only_when_the_path_is_missing(
    template: str, expected: JsonValue
) -> None:
    assert render(template, SCOPE) == expected


@pytest.mark.parametrize(
    ("template", "field", "reason"),
    [
        (
            "{{ steps.extract.result.path2 }}",
            "steps.extract.result.path2",
            "'path2' is not in steps.extract.result",
        ),
        (
            "in {{ steps.extract.result.files[5] }}",
            "steps.extract.result.files[5]",
            "index 5 is out of range for steps.extract.result.files (length 2)",
        ),
        (
            "{{ params.day.year }}",
            "params.day",
            "params.day is a string, not an object (looking up 'year')",
        ),
        ("{{ params.limit[0] }}", "params.limit[0]", "params.limit is a number, not a list"),
        ("{{ params.tags.first }}", "params.tags.first", "params.tags is a list"),
        ("{{ nothing.x }}", "nothing.x", "nothing is null, not an object"),
        ("{{ other }}", "other", "'other' is not defined (known: nothing, params, steps)"),
    ],
)
def test_a_missing_path_names_the_expression_and_the_missing_segment(
    template: str, field: str, reason: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        render(template, SCOPE)
    assert caught.value.field.startswith(field)
    assert reason in caught.value.reason
    assert isinstance(caught.value, InvalidInputError)


def test_the_exact_message_for_a_missing_key() -> None:
    with pytest.raises(ExpressionError) as caught:
        render("{{ steps.extract.result.path.x }}", {"steps": {"extract": {"result": {}}}})
    assert caught.value.field == "steps.extract.result.path.x"
    assert caught.value.reason == "'path' is not in steps.extract.result"


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{{ params.__class__ }}", "may not start with '_'"),
        ("{{ _x }}", "may not start with '_'"),
        ("{{ params._private }}", "may not start with '_'"),
        ("{{ a() }}", "calls are not allowed"),
        ("{{ a.b() }}", "calls are not allowed"),
        ("{{ a + 1 }}", "operators are not allowed"),
        ("{{ a * 2 }}", "operators are not allowed"),
        ("{{ a == b }}", "operators are not allowed"),
        ("{{ a.b | upper }}", "unknown filter 'upper'"),
        ("{{ a | default(1) | default(2) }}", "only one | default(...)"),
        ("{{ a | default }}", "expected '(' after default"),
        ("{{ a | default(x) }}", "default(...) takes a JSON string"),
        ("{{ a | default([1]) }}", "default(...) takes a JSON string"),
        ("{{ a | default({}) }}", "default(...) takes a JSON string"),
        ("{{ a | default('x') }}", "default(...) takes a JSON string"),
        ("{{ a | default(NaN) }}", "default(...) takes a JSON string"),
        ("{{ a | default(-Infinity) }}", "must be finite"),
        ("{{ a | default(1e999) }}", "must be finite"),
        ("{{ a | default(1 }}", "expected ')'"),
        ("{% for x in y %}", "'{%' is not supported"),
        ("{# comment #}", "'{#' is not supported"),
        ("{{ {{ a }} }}", "'{{' inside an expression"),
        ("{{ a {{ b }} }}", "'{{' inside an expression"),
        ("{{ a", "not closed"),
        ("{{ a }", "not closed"),
        ("a }}", "'}}' without a matching '{{'"),
        ("{{ a }} }}", "'}}' without a matching '{{'"),
        ('{"a":{"b":1}}', "'}}' without a matching '{{'"),
        ("{{ }}", "empty expression"),
        ("{{ 1 }}", "starts with a name"),
        ("{{ [0] }}", "starts with a name"),
        ("{{ a. }}", "expected a name after '.'"),
        ("{{ a.1 }}", "expected a name after '.'"),
        ("{{ a[-1] }}", "expected an index or a quoted key"),
        ("{{ a['k'] }}", "expected an index or a quoted key"),
        ("{{ a[0 }}", "expected ']'"),
        ('{{ a["k }}', "a quoted key is a JSON string"),
        ("{{ a[12345678901] }}", "too large"),
        ("{{ a b }}", "unexpected 'b'"),
        ("{{ a.b.c:d }}", "operators are not allowed"),
    ],
)
def test_every_unsafe_or_malformed_form_is_refused(template: str, words: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        render(template, {"a": {"b": 1}})
    assert words in caught.value.reason
    with pytest.raises(ExpressionError):
        references(template)


def test_the_field_of_a_malformed_expression_is_its_text() -> None:
    with pytest.raises(ExpressionError) as caught:
        render("x {{ a + 1 }} y", {"a": 1})
    assert caught.value.field == "a + 1"


def test_lookups_never_reach_python_attributes() -> None:
    class Sneaky(dict[str, Any]):
        secret = "attribute"

    with pytest.raises(ExpressionError):
        render("{{ x.secret }}", {"x": Sneaky()})
    with pytest.raises(ExpressionError, match="not an object"):
        render('{{ x["upper"] }}', {"x": "text"})


def test_single_braces_are_plain_text() -> None:
    assert render("{a} {{ a }} {b}", {"a": 1}) == "{a} 1 {b}"
    assert render("{{ a }}}", {"a": 1}) == "1}"
    assert render("%} #}", {}) == "%} #}"


def test_a_template_longer_than_the_limit_is_refused() -> None:
    text = "{{ a }}" + "x" * MAX_TEMPLATE_LENGTH
    with pytest.raises(ExpressionError, match="at most 4096 characters"):
        render(text, {"a": 1})


def test_long_plain_text_is_data_not_a_template() -> None:
    text = "select 1;" * 1000
    assert render(text, {}) == text


def test_a_path_deeper_than_the_limit_is_refused() -> None:
    ok = "{{ a" + ".b" * (MAX_PATH_DEPTH - 1) + " }}"
    assert references(ok) == [("a", *["b"] * (MAX_PATH_DEPTH - 1))]
    too_deep = "{{ a" + ".b" * MAX_PATH_DEPTH + " }}"
    with pytest.raises(ExpressionError, match="at most 32 segments"):
        references(too_deep)


def test_references_lists_every_path_without_data() -> None:
    template = {
        "a": "{{ params.day }}",
        "b": ["x {{ steps.extract.result.files[0] }} {{ steps.extract.info.rows | default(0) }}"],
        "c": {"d": '{{ steps.s["full name"] }}'},
        "e": 3,
        "{{ keys.are.not.templates }}": "plain",
    }
    assert references(template) == [
        ("params", "day"),
        ("steps", "extract", "result", "files", 0),
        ("steps", "extract", "info", "rows"),
        ("steps", "s", "full name"),
    ]


def test_parse_splits_text_and_expressions() -> None:
    assert parse("a {{ x.y | default(1) }} b") == [
        "a ",
        Expression(text="x.y | default(1)", path=("x", "y"), has_default=True, default=1),
        " b",
    ]
    assert parse("") == []
    assert parse("plain") == ["plain"]


def test_format_path_writes_paths_as_expressions() -> None:
    assert format_path(("steps", "a", "files", 0, "full name")) == 'steps.a.files[0]["full name"]'
    assert format_path(("x", "_y")) == 'x["_y"]'


# ---------------------------------------------------------------------------------------------
# Properties

_BRACELESS_TEXT = st.text(st.characters(blacklist_characters="{}", codec="utf-8"), max_size=30)


def _json(text: st.SearchStrategy[str]) -> st.SearchStrategy[JsonValue]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )


@settings(max_examples=200)
@given(_json(_BRACELESS_TEXT))
def test_json_without_braces_renders_unchanged(value: JsonValue) -> None:
    assert render(value, {"x": 1}) == value
    assert references(value) == []


@settings(max_examples=200)
@given(_json(st.text(max_size=20)))
def test_a_lone_expression_returns_any_json_value_as_is(value: JsonValue) -> None:
    assert render("{{ x }}", {"x": value}) == value
    assert render("{{ x | default(1) }}", {"x": value}) == value


_TRICKY = st.lists(
    st.sampled_from([*'{}[]|()"._- \\adefultx0129%#+', "{{", "}}", "default", "\x00"]),
    max_size=25,
).map("".join)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=60), _TRICKY, _TRICKY.map(lambda t: "{{ " + t + " }}")))
def test_arbitrary_text_raises_nothing_but_expression_errors(text: str) -> None:
    scope: dict[str, JsonValue] = {"a": {"b": [1, {"c": None}]}, "x": "y"}
    with contextlib.suppress(ExpressionError):
        render(text, scope)
    with contextlib.suppress(ExpressionError):
        references(text)
