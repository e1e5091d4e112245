"""Typed job parameters: coercion from CLI text and JSON, validation, defaults and loading."""

from __future__ import annotations

import json
import math
import string
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.model.errors import InvalidInputError
from rota.model.params import ParamSchema, ParamSpec, ParamType

# 2024-03-10 23:30 at UTC-5 is already 2024-03-11 04:30 in UTC.
NOW = datetime(2024, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=-5)))

pure = settings(database=None, deadline=None)


def spec(kind: ParamType, name: str = "p", **kwargs: Any) -> ParamSpec:
    return ParamSpec(name=name, type=kind, **kwargs)


def invalid(call: Callable[[], object], field: str, *reason_parts: str) -> InvalidInputError:
    """Run ``call``; assert it raised InvalidInputError naming ``field`` with every reason part."""
    with pytest.raises(InvalidInputError) as info:
        call()
    error = info.value
    assert error.field == field
    for part in reason_parts:
        assert part in error.reason, (part, error.reason)
    assert str(error) == f"{field}: {error.reason}"
    return error


# -- coercion: accepted values -----------------------------------------------------------------

ACCEPTED: list[tuple[ParamType, object, object]] = [
    # str
    (ParamType.STR, "hello", "hello"),
    (ParamType.STR, "", ""),
    (ParamType.STR, "  spaced  ", "  spaced  "),
    (ParamType.STR, 5, "5"),
    (ParamType.STR, 1.5, "1.5"),
    # int
    (ParamType.INT, "42", 42),
    (ParamType.INT, " -7 ", -7),
    (ParamType.INT, "0", 0),
    (ParamType.INT, 42, 42),
    (ParamType.INT, 3.0, 3),
    (ParamType.INT, -2.0, -2),
    # float
    (ParamType.FLOAT, "1.5", 1.5),
    (ParamType.FLOAT, " 2 ", 2.0),
    (ParamType.FLOAT, "1e3", 1000.0),
    (ParamType.FLOAT, "-0.25", -0.25),
    (ParamType.FLOAT, 3, 3.0),
    (ParamType.FLOAT, 2.5, 2.5),
    # bool
    (ParamType.BOOL, True, True),
    (ParamType.BOOL, False, False),
    (ParamType.BOOL, "true", True),
    (ParamType.BOOL, "YES", True),
    (ParamType.BOOL, " on ", True),
    (ParamType.BOOL, "1", True),
    (ParamType.BOOL, "y", True),
    (ParamType.BOOL, "False", False),
    (ParamType.BOOL, "no", False),
    (ParamType.BOOL, "OFF", False),
    (ParamType.BOOL, "0", False),
    (ParamType.BOOL, "n", False),
    # date
    (ParamType.DATE, "2024-02-29", "2024-02-29"),
    (ParamType.DATE, " 2024-01-02 ", "2024-01-02"),
    (ParamType.DATE, date(2024, 1, 2), "2024-01-02"),
    # datetime
    (ParamType.DATETIME, "2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"),
    (ParamType.DATETIME, "2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05+00:00"),
    (ParamType.DATETIME, " 2024-01-02 03:04:05-01:30 ", "2024-01-02T04:34:05+00:00"),
    (
        ParamType.DATETIME,
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        "2024-01-02T02:04:05+00:00",
    ),
]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    ACCEPTED,
    ids=[f"{k.value}-{r!r}" for k, r, _ in ACCEPTED],
)
def test_it_coerces_cli_text_and_json_values_to_the_json_form(
    kind: ParamType, raw: object, expected: object
) -> None:
    value = spec(kind).coerce(raw)
    assert value == expected
    assert type(value) is type(expected)


def test_it_coerces_a_choice_from_text_or_a_number_to_the_choice_text() -> None:
    level = spec(ParamType.CHOICE, choices=("low", "high", "1", "2.5"))
    assert level.coerce("low") == "low"
    assert level.coerce(1) == "1"
    assert level.coerce(2.5) == "2.5"


def test_it_splits_cli_text_on_commas_for_a_list_and_coerces_each_item() -> None:
    ids = spec(ParamType.LIST, items=ParamType.INT)
    assert ids.coerce("1, 2 ,3") == [1, 2, 3]
    assert ids.coerce("7") == [7]


def test_it_reads_empty_or_blank_cli_text_as_an_empty_list() -> None:
    ids = spec(ParamType.LIST, items=ParamType.INT)
    assert ids.coerce("") == []
    assert ids.coerce("   ") == []


def test_it_coerces_each_item_of_a_json_list_or_tuple() -> None:
    ids = spec(ParamType.LIST, items=ParamType.INT)
    assert ids.coerce([1, "2", 3.0]) == [1, 2, 3]
    assert ids.coerce((4, 5)) == [4, 5]
    assert ids.coerce([]) == []


def test_it_uses_str_items_for_a_list_by_default() -> None:
    names = spec(ParamType.LIST)
    assert names.items is ParamType.STR
    assert names.coerce("a, b") == ["a", "b"]
    assert names.coerce([1, "x"]) == ["1", "x"]


def test_it_coerces_date_items_of_a_list_to_iso_text() -> None:
    days = spec(ParamType.LIST, items=ParamType.DATE)
    assert days.coerce("2024-01-01, 2024-01-02") == ["2024-01-01", "2024-01-02"]
    assert days.coerce([date(2024, 5, 6)]) == ["2024-05-06"]


def test_it_coerces_bool_and_datetime_items_of_a_list() -> None:
    flags = spec(ParamType.LIST, items=ParamType.BOOL)
    assert flags.coerce("yes,no") == [True, False]
    stamps = spec(ParamType.LIST, items=ParamType.DATETIME)
    assert stamps.coerce(["2024-01-01T00:00:00+01:00"]) == ["2023-12-31T23:00:00+00:00"]


# -- coercion: rejected values -----------------------------------------------------------------

REJECTED: list[tuple[ParamType, object, str]] = [
    (ParamType.STR, True, "expected text, got bool"),
    (ParamType.STR, None, "expected text, got NoneType"),
    (ParamType.STR, ["a"], "expected text, got list"),
    (ParamType.INT, "4.5", "expected an integer"),
    (ParamType.INT, 4.5, "expected an integer"),
    (ParamType.INT, "abc", "expected an integer, got 'abc'"),
    (ParamType.INT, "", "expected an integer"),
    (ParamType.INT, None, "expected an integer"),
    (ParamType.INT, float("inf"), "expected an integer"),
    (ParamType.INT, float("nan"), "expected an integer"),
    (ParamType.FLOAT, "abc", "expected a number, got 'abc'"),
    (ParamType.FLOAT, "", "expected a number"),
    (ParamType.FLOAT, None, "expected a number, got NoneType"),
    (ParamType.FLOAT, True, "expected a number, got bool"),
    (ParamType.BOOL, "maybe", "expected true or false, got 'maybe'"),
    (ParamType.BOOL, "", "expected true or false"),
    (ParamType.BOOL, 1, "expected true or false, got 1"),
    (ParamType.BOOL, None, "expected true or false"),
    (ParamType.DATE, "2024-02-30", "expected a date as YYYY-MM-DD"),
    (ParamType.DATE, "yesterday", "expected a date as YYYY-MM-DD, got 'yesterday'"),
    (ParamType.DATE, 20240101, "expected a date as YYYY-MM-DD"),
    (ParamType.DATE, None, "expected a date as YYYY-MM-DD"),
    (ParamType.DATE, datetime(2024, 1, 2, tzinfo=UTC), "expected a date, got a date and time"),
    (ParamType.DATETIME, "soon", "expected an ISO 8601 date and time, got 'soon'"),
    (ParamType.DATETIME, 1700000000, "expected an ISO 8601 date and time"),
    (ParamType.DATETIME, date(2024, 1, 2), "expected an ISO 8601 date and time"),
    (ParamType.DATETIME, None, "expected an ISO 8601 date and time"),
]


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    REJECTED,
    ids=[f"{k.value}-{r!r}" for k, r, _ in REJECTED],
)
def test_it_rejects_a_value_of_the_wrong_type_naming_the_field_and_why(
    kind: ParamType, raw: object, reason: str
) -> None:
    invalid(lambda: spec(kind, name="size").coerce(raw), "params.size", reason)


@pytest.mark.parametrize("raw", [True, False], ids=["true", "false"])
def test_it_rejects_a_boolean_given_to_an_int(raw: bool) -> None:
    invalid(
        lambda: spec(ParamType.INT, name="n").coerce(raw),
        "params.n",
        "expected an integer, got a boolean",
    )


@pytest.mark.parametrize(
    "raw",
    ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", float("nan"), float("inf"), -math.inf],
    ids=repr,
)
def test_it_rejects_nan_and_infinity_for_a_float(raw: object) -> None:
    invalid(lambda: spec(ParamType.FLOAT, name="x").coerce(raw), "params.x", "finite")


@pytest.mark.parametrize(
    "raw",
    ["2024-01-02T03:04:05", "2024-01-02 03:04", datetime(2024, 1, 2, 3, 4, 5)],
    ids=repr,
)
def test_it_rejects_a_naive_datetime_because_it_is_ambiguous(raw: object) -> None:
    invalid(
        lambda: spec(ParamType.DATETIME, name="at").coerce(raw),
        "params.at",
        "needs a UTC offset or Z",
        "naive",
    )


def test_it_rejects_a_value_outside_the_choices_listing_the_choices() -> None:
    level = spec(ParamType.CHOICE, name="level", choices=("low", "mid", "high"))
    invalid(
        lambda: level.coerce("urgent"), "params.level", "'urgent' is not one of: low, mid, high"
    )
    invalid(lambda: level.coerce("LOW"), "params.level", "is not one of")
    invalid(lambda: level.coerce(None), "params.level", "None is not one of")
    invalid(lambda: level.coerce(["low"]), "params.level", "is not one of")


def test_it_names_the_index_of_a_bad_list_item() -> None:
    ids = spec(ParamType.LIST, name="ids", items=ParamType.INT)
    invalid(lambda: ids.coerce("1, x, 3"), "params.ids[1]", "expected an integer, got 'x'")
    invalid(lambda: ids.coerce([1, 2, True]), "params.ids[2]", "got a boolean")


def test_it_rejects_a_list_given_neither_text_nor_a_list() -> None:
    ids = spec(ParamType.LIST, name="ids", items=ParamType.INT)
    invalid(lambda: ids.coerce(5), "params.ids", "expected a list, got int")
    invalid(lambda: ids.coerce({"a": 1}), "params.ids", "expected a list, got dict")


def test_it_raises_an_error_that_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        spec(ParamType.INT).coerce("x")


# -- bounds and patterns -----------------------------------------------------------------------


def test_it_accepts_numbers_on_the_bounds() -> None:
    count = spec(ParamType.INT, name="count", min=1, max=10)
    assert count.coerce("1") == 1
    assert count.coerce(10) == 10
    ratio = spec(ParamType.FLOAT, name="ratio", min=0, max=1)
    assert ratio.coerce("0") == 0.0
    assert ratio.coerce(1) == 1.0


def test_it_rejects_a_number_below_the_minimum() -> None:
    count = spec(ParamType.INT, name="count", min=1, max=10)
    invalid(lambda: count.coerce("0"), "params.count", "0 is below the minimum 1")
    ratio = spec(ParamType.FLOAT, name="ratio", min=0.5)
    invalid(lambda: ratio.coerce(0.25), "params.ratio", "0.25 is below the minimum 0.5")


def test_it_rejects_a_number_above_the_maximum() -> None:
    count = spec(ParamType.INT, name="count", min=1, max=10)
    invalid(lambda: count.coerce(11), "params.count", "11 is above the maximum 10")
    ratio = spec(ParamType.FLOAT, name="ratio", max=1)
    invalid(lambda: ratio.coerce("1.5"), "params.ratio", "1.5 is above the maximum 1")


def test_it_bounds_the_length_of_text() -> None:
    code = spec(ParamType.STR, name="code", min=2, max=4)
    assert code.coerce("ab") == "ab"
    assert code.coerce("abcd") == "abcd"
    invalid(lambda: code.coerce("a"), "params.code", "shorter than 2 characters")
    invalid(lambda: code.coerce("abcde"), "params.code", "longer than 4 characters")


def test_it_requires_the_whole_text_to_match_the_pattern() -> None:
    slug = spec(ParamType.STR, name="slug", pattern=r"[a-z]+")
    assert slug.coerce("abc") == "abc"
    invalid(
        lambda: slug.coerce("abc1"),
        "params.slug",
        "'abc1' does not match pattern '[a-z]+'",
    )
    invalid(lambda: slug.coerce("1abc"), "params.slug", "does not match pattern")


def test_it_checks_the_pattern_against_the_text_of_a_number() -> None:
    year = spec(ParamType.INT, name="year", pattern=r"\d{4}")
    assert year.coerce("2024") == 2024
    invalid(lambda: year.coerce(123), "params.year", "123 does not match pattern")


# -- definition-time errors --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "with space", "dotted.name", "é"])
def test_it_rejects_a_name_that_is_not_an_identifier(name: str) -> None:
    invalid(lambda: ParamSpec(name=name), f"params.{name}", "must be an identifier")


@pytest.mark.parametrize("name", ["a", "_private", "snake_case", "CamelCase", "x1"])
def test_it_accepts_identifier_names(name: str) -> None:
    assert ParamSpec(name=name).name == name


def test_it_rejects_a_name_with_a_trailing_newline() -> None:
    invalid(lambda: ParamSpec(name="name\n"), "params.name\n", "must be an identifier")


def test_it_rejects_a_choice_without_choices() -> None:
    invalid(
        lambda: ParamSpec(name="level", type=ParamType.CHOICE),
        "params.level.choices",
        "a choice needs choices",
    )


@pytest.mark.parametrize("items", [ParamType.LIST, ParamType.CHOICE], ids=str)
def test_it_rejects_list_items_that_are_not_scalar(items: ParamType) -> None:
    invalid(
        lambda: ParamSpec(name="xs", type=ParamType.LIST, items=items),
        "params.xs.items",
        "must be a scalar type",
    )


def test_it_rejects_a_pattern_that_does_not_compile() -> None:
    invalid(lambda: ParamSpec(name="code", pattern="(unclosed"), "params.code.pattern", "missing")


INVALID_DEFAULTS: list[tuple[str, dict[str, Any], str]] = [
    ("int-text", {"type": ParamType.INT, "default": "abc"}, "expected an integer"),
    ("int-bool", {"type": ParamType.INT, "default": True}, "got a boolean"),
    ("int-below-min", {"type": ParamType.INT, "min": 1, "default": 0}, "below the minimum"),
    ("float-above-max", {"type": ParamType.FLOAT, "max": 1, "default": 2.5}, "above the maximum"),
    ("float-nan", {"type": ParamType.FLOAT, "default": math.nan}, "finite"),
    ("str-pattern", {"pattern": "[a-z]+", "default": "ABC"}, "does not match pattern"),
    ("bool-text", {"type": ParamType.BOOL, "default": "perhaps"}, "expected true or false"),
    ("date-now", {"type": ParamType.DATE, "default": "now"}, "expected a date"),
    ("datetime-today", {"type": ParamType.DATETIME, "default": "today"}, "ISO 8601"),
    ("datetime-naive", {"type": ParamType.DATETIME, "default": "2024-01-01T00:00"}, "naive"),
    ("choice", {"type": ParamType.CHOICE, "choices": ("a", "b"), "default": "c"}, "not one of"),
]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [(kw, reason) for _, kw, reason in INVALID_DEFAULTS],
    ids=[i for i, _, _ in INVALID_DEFAULTS],
)
def test_it_rejects_an_invalid_default_at_definition_time(
    kwargs: dict[str, Any], reason: str
) -> None:
    invalid(lambda: ParamSpec(name="p", **kwargs), "params.p", reason)


def test_it_rejects_an_invalid_list_default_naming_the_item() -> None:
    invalid(
        lambda: ParamSpec(name="ids", type=ParamType.LIST, items=ParamType.INT, default="1,x"),
        "params.ids[1]",
        "expected an integer",
    )


def test_it_stores_a_declared_default_in_its_coerced_json_form() -> None:
    assert spec(ParamType.INT, default="5").default == 5
    assert spec(ParamType.FLOAT, default=2).default == 2.0
    assert spec(ParamType.DATE, default=date(2024, 1, 2)).default == "2024-01-02"
    assert (
        spec(ParamType.DATETIME, default="2024-01-02T03:00:00+01:00").default
        == "2024-01-02T02:00:00+00:00"
    )
    assert spec(ParamType.LIST, items=ParamType.INT, default="1,2").default == [1, 2]


def test_it_reads_a_blank_text_default_of_a_list_as_an_empty_list() -> None:
    assert spec(ParamType.LIST, default="").default == []


@pytest.mark.parametrize("default", [[], ["a", "b"]], ids=repr)
def test_it_accepts_a_json_list_as_the_default_of_a_list(default: list[str]) -> None:
    assert spec(ParamType.LIST, default=default).default == default


def test_it_derives_required_from_the_absence_of_a_default() -> None:
    assert spec(ParamType.STR).required
    assert not spec(ParamType.STR).has_default
    assert not spec(ParamType.STR, default="x").required
    assert not spec(ParamType.INT, default=None).required
    assert spec(ParamType.INT, default=None).has_default


# -- dynamic defaults --------------------------------------------------------------------------


def test_it_resolves_a_today_default_to_the_utc_date_of_the_passed_now() -> None:
    day = spec(ParamType.DATE, default="today")
    assert day.default == "today"
    assert day.resolve_default(NOW) == "2024-03-11"
    assert day.resolve_default(datetime(2030, 1, 1, 12, tzinfo=UTC)) == "2030-01-01"


def test_it_resolves_a_today_default_in_the_zone_it_is_given() -> None:
    """Scheduled runs pass their schedule's zone: 00:30 in Berlin is that Berlin day."""
    day = spec(ParamType.DATE, default="today")
    late_utc = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert day.resolve_default(late_utc) == "2026-11-20"
    assert day.resolve_default(late_utc, ZoneInfo("Europe/Berlin")) == "2026-11-21"


def test_it_resolves_a_now_default_to_the_passed_now_in_utc() -> None:
    at = spec(ParamType.DATETIME, default="now")
    assert at.default == "now"
    assert at.resolve_default(NOW) == "2024-03-11T04:30:00+00:00"


def test_it_returns_a_static_default_unchanged_whatever_the_time() -> None:
    assert spec(ParamType.INT, default=3).resolve_default(NOW) == 3
    assert spec(ParamType.STR, default="today").resolve_default(NOW) == "today"
    assert spec(ParamType.DATE, default="2020-01-01").resolve_default(NOW) == "2020-01-01"


def test_it_fills_dynamic_defaults_from_the_now_passed_to_validate() -> None:
    schema = ParamSchema(
        (
            ParamSpec(name="day", type=ParamType.DATE, default="today"),
            ParamSpec(name="at", type=ParamType.DATETIME, default="now"),
        )
    )
    assert schema.validate({}, now=NOW) == {
        "day": "2024-03-11",
        "at": "2024-03-11T04:30:00+00:00",
    }
    later = NOW + timedelta(days=1)
    assert schema.validate({}, now=later)["day"] == "2024-03-12"


# -- ParamSchema.validate ----------------------------------------------------------------------


def _schema() -> ParamSchema:
    return ParamSchema(
        (
            ParamSpec(name="day", type=ParamType.DATE),
            ParamSpec(name="limit", type=ParamType.INT, default=100, min=1),
            ParamSpec(name="dry_run", type=ParamType.BOOL, default=False),
            ParamSpec(
                name="mode", type=ParamType.CHOICE, choices=("full", "delta"), default="full"
            ),
            ParamSpec(name="tags", type=ParamType.LIST, default=""),
            ParamSpec(name="note", type=ParamType.STR, default=None),
            ParamSpec(name="since", type=ParamType.DATETIME, default="now"),
        )
    )


def test_it_returns_complete_json_params_with_given_values_and_defaults() -> None:
    out = _schema().validate({"day": "2024-05-01", "limit": "20", "tags": "a,b"}, now=NOW)
    assert out == {
        "day": "2024-05-01",
        "limit": 20,
        "dry_run": False,
        "mode": "full",
        "tags": ["a", "b"],
        "note": None,
        "since": "2024-03-11T04:30:00+00:00",
    }
    assert list(out) == [s.name for s in _schema().specs]
    assert json.loads(json.dumps(out)) == out


def test_it_accepts_json_typed_values_in_validate() -> None:
    out = _schema().validate(
        {"day": date(2024, 5, 1), "limit": 5, "dry_run": True, "since": "2024-01-01T00:00Z"},
        now=NOW,
    )
    assert out["day"] == "2024-05-01"
    assert out["limit"] == 5
    assert out["dry_run"] is True
    assert out["since"] == "2024-01-01T00:00:00+00:00"


def test_it_treats_a_given_none_as_not_given() -> None:
    out = _schema().validate({"day": "2024-05-01", "limit": None}, now=NOW)
    assert out["limit"] == 100


def test_it_rejects_an_unknown_parameter_listing_the_known_names() -> None:
    error = invalid(
        lambda: _schema().validate({"day": "2024-05-01", "bogus": 1}, now=NOW),
        "params.bogus",
        "unknown parameter",
    )
    assert error.reason == (
        "unknown parameter (known: day, dry_run, limit, mode, note, since, tags)"
    )


def test_it_says_a_job_without_parameters_takes_none() -> None:
    invalid(
        lambda: ParamSchema().validate({"x": 1}, now=NOW),
        "params.x",
        "unknown parameter (it takes none)",
    )


def test_it_returns_empty_params_for_an_empty_schema() -> None:
    assert ParamSchema().validate({}, now=NOW) == {}


def test_it_rejects_a_missing_required_parameter() -> None:
    error = invalid(lambda: _schema().validate({}, now=NOW), "params.day")
    assert error.reason == "is required (it has no default)"


def test_it_rejects_none_for_a_required_parameter() -> None:
    invalid(lambda: _schema().validate({"day": None}, now=NOW), "params.day", "is required")


def test_it_names_the_bad_field_when_a_given_value_is_invalid() -> None:
    invalid(
        lambda: _schema().validate({"day": "2024-05-01", "limit": "0"}, now=NOW),
        "params.limit",
        "below the minimum 1",
    )
    invalid(
        lambda: _schema().validate({"day": "2024-05-01", "mode": "half"}, now=NOW),
        "params.mode",
        "not one of: full, delta",
    )


def test_it_does_not_modify_the_given_mapping() -> None:
    given_params = {"day": "2024-05-01", "limit": "20"}
    _schema().validate(given_params, now=NOW)
    assert given_params == {"day": "2024-05-01", "limit": "20"}


def test_it_rejects_a_parameter_declared_twice() -> None:
    invalid(
        lambda: ParamSchema((ParamSpec(name="a"), ParamSpec(name="b"), ParamSpec(name="a"))),
        "params.a",
        "declared twice",
    )


def test_it_finds_a_spec_by_name() -> None:
    schema = _schema()
    limit = schema.get("limit")
    assert limit is not None
    assert limit.type is ParamType.INT
    assert schema.get("missing") is None


# -- load --------------------------------------------------------------------------------------


def test_it_loads_dates_and_datetimes_as_python_objects() -> None:
    schema = _schema()
    values = schema.validate({"day": "2024-05-01"}, now=NOW)
    loaded = schema.load(values)
    assert loaded["day"] == date(2024, 5, 1)
    assert type(loaded["day"]) is date
    assert loaded["since"] == datetime(2024, 3, 11, 4, 30, tzinfo=UTC)
    assert loaded["since"].utcoffset() == timedelta(0)
    assert loaded["limit"] == 100
    assert loaded["tags"] == []
    assert loaded["note"] is None


def test_it_loads_list_items_of_date_and_datetime_type() -> None:
    days = spec(ParamType.LIST, items=ParamType.DATE)
    assert days.load(["2024-01-01", "2024-01-02"]) == [date(2024, 1, 1), date(2024, 1, 2)]
    stamps = spec(ParamType.LIST, items=ParamType.DATETIME)
    assert stamps.load(["2024-01-01T00:00:00+00:00"]) == [datetime(2024, 1, 1, tzinfo=UTC)]


def test_it_loads_other_types_unchanged() -> None:
    assert spec(ParamType.INT).load(3) == 3
    assert spec(ParamType.BOOL).load(True) is True
    assert spec(ParamType.LIST, items=ParamType.INT).load([1, 2]) == [1, 2]
    assert spec(ParamType.DATE).load(None) is None


def test_it_loads_only_the_declared_names_that_are_present() -> None:
    schema = ParamSchema((ParamSpec(name="a", type=ParamType.DATE), ParamSpec(name="b")))
    assert schema.load({"b": "x", "other": 1}) == {"b": "x"}


# -- to_json -----------------------------------------------------------------------------------


def test_it_describes_a_spec_as_json() -> None:
    assert ParamSpec(name="day", type=ParamType.DATE).to_json() == {
        "name": "day",
        "type": "date",
        "required": True,
    }
    assert ParamSpec(
        name="n", type=ParamType.INT, default=5, description="how many", min=0, max=10
    ).to_json() == {
        "name": "n",
        "type": "int",
        "default": 5,
        "required": False,
        "description": "how many",
        "min": 0,
        "max": 10,
    }
    assert ParamSpec(
        name="xs", type=ParamType.LIST, items=ParamType.INT, pattern=r"\d+"
    ).to_json() == {
        "name": "xs",
        "type": "list",
        "required": True,
        "pattern": r"\d+",
        "items": "int",
    }
    assert ParamSpec(name="c", type=ParamType.CHOICE, choices=("a", "b")).to_json() == {
        "name": "c",
        "type": "choice",
        "required": True,
        "choices": ["a", "b"],
    }


def test_it_describes_a_schema_as_a_list_in_declaration_order() -> None:
    assert [p["name"] for p in _schema().to_json()] == [s.name for s in _schema().specs]


# -- bugs found --------------------------------------------------------------------------------


def test_it_rejects_a_json_integer_too_large_for_a_float_with_invalid_input() -> None:
    invalid(lambda: spec(ParamType.FLOAT, name="x").coerce(10**400), "params.x")


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_it_rejects_a_datetime_outside_the_utc_range_with_invalid_input(raw: str) -> None:
    invalid(lambda: spec(ParamType.DATETIME, name="at").coerce(raw), "params.at")


# -- properties --------------------------------------------------------------------------------


@pure
@given(st.integers())
def test_it_round_trips_any_int_through_its_text(n: int) -> None:
    count = spec(ParamType.INT)
    assert count.coerce(str(n)) == n
    assert count.coerce(f"  {n} ") == n
    assert count.coerce(n) == n


@pure
@given(st.dates())
def test_it_round_trips_any_date_through_its_iso_text(d: date) -> None:
    day = spec(ParamType.DATE)
    text = day.coerce(d.isoformat())
    assert text == d.isoformat()
    assert day.coerce(d) == text
    assert day.load(text) == d


@pure
@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_it_round_trips_any_aware_datetime_to_the_same_instant_in_utc(
    naive: datetime, offset_minutes: int
) -> None:
    aware = naive.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    at = spec(ParamType.DATETIME)
    text = at.coerce(aware.isoformat())
    loaded = at.load(text)
    assert loaded == aware
    assert loaded.utcoffset() == timedelta(0)
    assert at.coerce(aware) == text


@pure
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_it_round_trips_any_finite_float_through_its_text(x: float) -> None:
    assert spec(ParamType.FLOAT).coerce(repr(x)) == x


_names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@pure
@given(
    st.lists(_names, min_size=0, max_size=6, unique=True),
    st.dictionaries(_names, st.text(max_size=10), max_size=6),
)
def test_it_never_returns_keys_outside_the_schema(
    declared: list[str], given_params: dict[str, str]
) -> None:
    schema = ParamSchema(tuple(ParamSpec(name=n, default="") for n in declared))
    try:
        out = schema.validate(given_params, now=NOW)
    except InvalidInputError as error:
        unknown = set(given_params) - set(declared)
        assert unknown
        assert error.field in {f"params.{n}" for n in unknown}
    else:
        assert set(given_params) <= set(declared)
        assert list(out) == declared


_SCALAR_JSON_TYPE = {
    ParamType.INT: int,
    ParamType.FLOAT: float,
    ParamType.BOOL: bool,
    ParamType.DATE: str,
    ParamType.DATETIME: str,
}

_texts = st.one_of(
    st.text(),
    st.text(alphabet=string.digits + "-+:.TZ eE_ ", max_size=30),
    # Years 1000-2099 keep clear of the datetime range edges (see the xfail test above).
    st.from_regex(
        r"(1[0-9]|20)[0-9]{2}-[0-9]{2}-[0-9]{2}"
        r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?([+-][0-9]{2}:[0-9]{2}|Z)?)?",
        fullmatch=True,
    ),
)


@pure
@given(st.sampled_from(sorted(_SCALAR_JSON_TYPE)), _texts)
def test_it_raises_only_invalid_input_for_random_text(kind: ParamType, text: str) -> None:
    try:
        value = spec(kind).coerce(text)
    except InvalidInputError as error:
        assert error.field == "params.p"
        assert error.reason
    else:
        assert type(value) is _SCALAR_JSON_TYPE[kind]
        if kind is ParamType.FLOAT:
            assert math.isfinite(value)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats()
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@pure
@given(st.sampled_from(list(ParamType)), _json_values)
def test_it_raises_only_invalid_input_for_random_json_values(kind: ParamType, raw: Any) -> None:
    p = spec(kind, choices=("a", "b")) if kind is ParamType.CHOICE else spec(kind)
    try:
        value = p.coerce(raw)
    except InvalidInputError as error:
        assert error.field.startswith("params.p")
    else:
        assert json.loads(json.dumps(value)) == value
