"""The mapping of data jobs: declarations refused naming their path, records mapped or failed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.data.mapping import ColumnType, RecordMapping, parse_mapping
from rota.data.records import RecordError
from rota.jobs import yamlsafe
from rota.model.errors import InvalidInputError

pure = settings(database=None, deadline=None)

EXAMPLE = """
mapping:
  member_no: {field: "Member No", type: int, required: true}
  email: {field: "E-mail", transform: [trim, lower], pattern: "^[^@]+@[^@]+$"}
  joined: {field: "Joined", type: date, format: "%d.%m.%Y"}
  country: {field: "Country", lookup: {DE: Germany, FR: France}, default: Unknown}
  source: {value: "crm-export"}
  full_name: {concat: ["First", "Last"], separator: " ", transform: [trim]}
  amount: {field: "Betrag", type: decimal, decimal: ",", thousands: "."}
  status: {field: "Status", allowed: [active, lapsed]}
"""

ROW = {
    "Member No": "00042",
    "E-mail": "  Anna@Example.ORG ",
    "Joined": "01.02.2026",
    "Country": "DE",
    "First": "Anna",
    "Last": "Schmidt",
    "Betrag": "1.234,56",
    "Status": "active",
}


def example() -> RecordMapping:
    return parse_mapping(yamlsafe.load(EXAMPLE)["mapping"])


def one(spec: dict[str, Any], **values: Any) -> Any:
    """Map ``values`` through a single column ``c``."""
    return parse_mapping({"c": spec}).apply(values)["c"]


def fails(spec: dict[str, Any], **values: Any) -> str:
    with pytest.raises(RecordError) as caught:
        parse_mapping({"c": spec}).apply(values)
    assert caught.value.field == "c"
    return caught.value.reason


def refused(raw: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        parse_mapping(raw)
    return caught.value


# --- the example -----------------------------------------------------------------------------


def test_the_documented_example_maps_a_record() -> None:
    assert example().apply(ROW) == {
        "member_no": 42,
        "email": "anna@example.org",
        "joined": date(2026, 2, 1),
        "country": "Germany",
        "source": "crm-export",
        "full_name": "Anna Schmidt",
        "amount": Decimal("1234.56"),
        "status": "active",
    }


def test_the_example_names_its_columns_and_fields() -> None:
    mapping = example()
    assert mapping.names[:3] == ("member_no", "email", "joined")
    assert mapping.source_fields == (
        "Member No",
        "E-mail",
        "Joined",
        "Country",
        "First",
        "Last",
        "Betrag",
        "Status",
    )
    assert mapping.columns[0].type is ColumnType.INT
    assert mapping.columns[4].fields == ()


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"Member No": ""}, "member_no", "is required but 'Member No' is empty"),
        ({"Member No": "42a"}, "member_no", "'42a' is not a whole number"),
        ({"E-mail": "anna"}, "email", "'anna' does not match pattern '^[^@]+@[^@]+$'"),
        ({"Joined": "31.02.2026"}, "joined", "'31.02.2026' is not a date in format %d.%m.%Y"),
        ({"Betrag": "1,234.56"}, "amount", "'1,234.56' is not a decimal number"),
        ({"Status": "gone"}, "status", "'gone' is not allowed (allowed: active, lapsed)"),
    ],
)
def test_the_first_bad_field_fails_the_record(
    change: dict[str, str], column: str, reason: str
) -> None:
    with pytest.raises(RecordError) as caught:
        example().apply(ROW | change)
    assert caught.value.field == column
    assert caught.value.reason.startswith(reason)


def test_the_first_bad_column_in_declaration_order_is_reported() -> None:
    with pytest.raises(RecordError) as caught:
        example().apply(ROW | {"Joined": "x", "Member No": "y"})
    assert caught.value.field == "member_no"


# --- declarations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path", "reason"),
    [
        ({}, "mapping", "needs columns"),
        ([{"a": 1}], "mapping", "needs columns"),
        ({"first name": {"field": "F"}}, "mapping.first name", "letters, digits and _"),
        ({'a"; drop': {"field": "F"}}, 'mapping.a"; drop', "letters, digits and _"),
        ({"x" * 64: {"field": "F"}}, f"mapping.{'x' * 64}", "at most 63"),
        ({1: {"field": "F"}}, "mapping.1", "letters, digits and _"),
        ({"x": "F"}, "mapping.x", "must be a mapping"),
        ({"x": {}}, "mapping.x", "exactly one of field, value, concat"),
        ({"x": {"field": "F", "value": 1}}, "mapping.x", "exactly one of"),
        ({"x": {"field": "F", "defualt": 1}}, "mapping.x.defualt", "did you mean 'default'"),
        ({"x": {"field": ""}}, "mapping.x.field", "name of a source field"),
        ({"x": {"field": 3}}, "mapping.x.field", "name of a source field"),
        ({"x": {"concat": "A"}}, "mapping.x.concat", "list of source fields"),
        ({"x": {"concat": []}}, "mapping.x.concat", "list of source fields"),
        ({"x": {"field": "A", "separator": " "}}, "mapping.x.separator", "only to concat"),
        ({"x": {"concat": ["A"], "separator": 1}}, "mapping.x.separator", "must be text"),
        ({"x": {"value": [1, 2]}}, "mapping.x.value", "single value"),
        ({"x": {"field": "F", "type": "text"}}, "mapping.x.type", "not one of str, int"),
        ({"x": {"field": "F", "format": "%Y"}}, "mapping.x.format", "type date or datetime"),
        ({"x": {"field": "F", "type": "str", "decimal": ","}}, "mapping.x.decimal", "float"),
        ({"x": {"field": "F", "type": "date", "thousands": "."}}, "mapping.x.thousands", "int"),
        ({"x": {"field": "F", "true_values": ["ja"]}}, "mapping.x.true_values", "type bool"),
        ({"x": {"field": "F", "type": "decimal", "decimal": ";"}}, "mapping.x.decimal", "'.' or"),
        ({"x": {"field": "F", "type": "int", "thousands": "12"}}, "mapping.x.thousands", "one"),
        ({"x": {"field": "F", "type": "int", "thousands": 1}}, "mapping.x.thousands", "one"),
        ({"x": {"field": "F", "type": "float", "thousands": "."}}, "mapping.x.thousands", "differ"),
        ({"x": {"field": "F", "required": "yes"}}, "mapping.x.required", "true or false"),
        (
            {"x": {"field": "F", "required": True, "default": 1}},
            "mapping.x.default",
            "never missing",
        ),
        ({"x": {"field": "F", "transform": ["trim", "lowr"]}}, "mapping.x.transform[1]", "lower"),
        ({"x": {"field": "F", "transform": "trim"}}, "mapping.x.transform", "must be a list"),
        ({"x": {"field": "F", "pattern": "(["}}, "mapping.x.pattern", "not a regular expression"),
        ({"x": {"field": "F", "pattern": 5}}, "mapping.x.pattern", "regular expression"),
        ({"x": {"field": "F", "allowed": []}}, "mapping.x.allowed", "list of values"),
        ({"x": {"field": "F", "type": "int", "allowed": [1, "b"]}}, "mapping.x.allowed[1]", "'b'"),
        ({"x": {"field": "F", "lookup": []}}, "mapping.x.lookup", "mapping of source value"),
        ({"x": {"field": "F", "lookup": {1: "a", "1": "b"}}}, "mapping.x.lookup.1", "twice"),
        ({"x": {"field": "F", "lookup": {True: "a"}}}, "mapping.x.lookup", "text or a whole"),
        ({"x": {"field": "F", "lookup": {"a": [1]}}}, "mapping.x.lookup.a", "single value"),
        (
            {"x": {"field": "F", "type": "bool", "true_values": "ja"}},
            "mapping.x.true_values",
            "list",
        ),
        (
            {"x": {"field": "F", "type": "bool", "false_values": ["1"]}},
            "mapping.x.false_values",
            "'1' is also",
        ),
    ],
)
def test_bad_declarations_name_their_path(raw: Any, path: str, reason: str) -> None:
    error = refused(raw)
    assert error.field == path
    assert reason in error.reason


def test_error_paths_start_with_the_given_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_mapping({"x": {"field": "F", "type": "date", "format": "%d.%m"}}, "jobs.sync.mapping")
    assert caught.value.field == "jobs.sync.mapping.x.format"


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        ("dd.mm.yyyy", "strptime format"),
        ("%d.%m", "year, month and day"),  # every date would land in 1900
        ("%m/%Y", "year, month and day"),  # every date would land on the 1st
        ("%d.%m.%Y %Q", "not a usable format"),
        (5, "strptime format"),
    ],
)
def test_a_date_format_must_read_back_the_whole_date(fmt: Any, reason: str) -> None:
    error = refused({"joined": {"field": "J", "type": "date", "format": fmt}})
    assert error.field == "mapping.joined.format"
    assert reason in error.reason


@pytest.mark.parametrize(
    ("spec", "path", "reason"),
    [
        ({"type": "int", "default": "n/a"}, "mapping.c.default", "'n/a' is not a whole number"),
        ({"type": "date", "default": "1.1.2026"}, "mapping.c.default", "ISO 8601"),
        ({"allowed": ["a", "b"], "default": "c"}, "mapping.c.default", "'c' is not allowed"),
        ({"pattern": "[0-9]+", "default": "x"}, "mapping.c.default", "does not match"),
        ({"default": [1]}, "mapping.c.default", "single value"),
    ],
)
def test_defaults_are_checked_when_declared(spec: dict[str, Any], path: str, reason: str) -> None:
    error = refused({"c": {"field": "F", **spec}})
    assert (error.field, reason in error.reason) == (path, True)


def test_constants_are_computed_and_checked_when_declared() -> None:
    mapping = parse_mapping(
        {
            "a": {"value": "crm-export"},
            "b": {"value": "7", "type": "int"},
            "c": {"value": "01.02.2026", "type": "date", "format": "%d.%m.%Y"},
            "d": {"value": None},
        }
    )
    assert mapping.apply({}) == {"a": "crm-export", "b": 7, "c": date(2026, 2, 1), "d": None}
    error = refused({"c": {"value": "x", "type": "int"}})
    assert error.field == "mapping.c.value"
    assert error.reason == "'x' is not a whole number (declared: no thousands)"
    assert refused({"c": {"value": None, "required": True}}).field == "mapping.c.value"


# --- source fields ---------------------------------------------------------------------------


def test_check_fields_refuses_a_field_the_source_lacks_with_a_suggestion() -> None:
    mapping = example()
    header = [f for f in ROW if f != "E-mail"] + ["E-Mail"]
    with pytest.raises(InvalidInputError) as caught:
        mapping.check_fields(header)
    assert caught.value.field == "mapping.email.field"
    assert caught.value.reason == "'E-mail' is not a field of the source (did you mean 'E-Mail'?)"
    mapping.check_fields(list(ROW))


def test_check_fields_names_the_concat_part() -> None:
    mapping = example()
    with pytest.raises(InvalidInputError) as caught:
        mapping.check_fields([f for f in ROW if f != "Last"])
    assert caught.value.field == "mapping.full_name.concat[1]"
    assert caught.value.reason == "'Last' is not a field of the source"


# --- no value: required and default --------------------------------------------------------


def test_required_and_default_interplay() -> None:
    assert fails({"field": "F", "required": True}) == "is required but 'F' is missing"
    assert fails({"field": "F", "required": True}, F="") == "is required but 'F' is empty"
    assert fails({"field": "F", "required": True, "transform": ["trim"]}, F="  ") == (
        "is required but 'F' is empty"
    )
    assert one({"field": "F", "default": "x"}) == "x"
    assert one({"field": "F", "default": "x"}, F="") == "x"
    assert one({"field": "F", "default": "x", "transform": ["trim"]}, F=" ") == "x"
    assert one({"field": "F", "default": "x"}, F="y") == "y"
    assert one({"field": "F", "type": "int", "default": "5"}, F="") == 5
    assert one({"field": "F", "type": "int", "default": 5}, F=None) == 5
    assert one({"field": "F", "required": False}, F=None) is None


def test_empty_text_stays_text_only_for_text_columns() -> None:
    assert one({"field": "F"}, F="") == ""
    assert one({"field": "F", "type": "str"}, F="") == ""
    assert one({"field": "F", "transform": ["null_if_empty"]}, F="") is None
    assert one({"field": "F"}) is None
    for ctype in ["int", "float", "decimal", "bool", "date", "datetime"]:
        assert one({"field": "F", "type": ctype}, F="") is None


def test_no_value_is_not_checked_against_pattern_or_allowed() -> None:
    assert one({"field": "F", "pattern": "[0-9]+", "allowed": ["1"]}, F="") == ""
    assert one({"field": "F", "pattern": "[0-9]+", "type": "int"}, F=None) is None


# --- lookup and concat -----------------------------------------------------------------------


def test_lookup_hit_miss_and_default() -> None:
    strict = {"field": "C", "lookup": {"DE": "Germany", "FR": "France"}}
    assert one(strict, C="DE") == "Germany"
    assert fails(strict, C="de") == (
        "'de' is not in the lookup (known: DE, FR) and there is no default"
    )
    assert one(strict | {"transform": ["upper"]}, C="de") == "Germany"
    assert one(strict, C="") == ""
    assert one(strict, C=None) is None
    assert one(strict | {"default": "Unknown"}, C="IT") == "Unknown"
    assert one(strict | {"default": "Unknown"}, C=None) == "Unknown"
    assert one(strict | {"default": None}, C="IT") is None
    assert fails(strict | {"required": True}, C="") == "is required but 'C' is empty"


def test_lookup_keys_and_values_meet_types() -> None:
    codes = {"field": "C", "lookup": {1: "yes", 2: "no"}, "type": "bool"}
    assert one(codes, C="1") is True
    assert one(codes, C=2) is False  # a typed source's number finds its key
    assert one({"field": "C", "lookup": {"A": None}, "default": "d"}, C="A") == "d"


def test_concat_leaves_out_missing_and_empty_parts() -> None:
    spec = {"concat": ["First", "Middle", "Last"], "separator": " "}
    assert one(spec, First="Anna", Middle="Maria", Last="Schmidt") == "Anna Maria Schmidt"
    assert one(spec, First="Anna", Middle="", Last="Schmidt") == "Anna Schmidt"
    assert one(spec, First="Anna") == "Anna"
    assert one(spec) is None
    assert one(spec, First="", Middle=None) is None
    assert one({"concat": ["A", "B"]}, A="x", B=7) == "x7"
    assert one({"concat": ["Y", "M"], "separator": "-"}, Y=2026, M="01") == "2026-01"
    assert fails(spec | {"required": True}) == "is required but the value is missing"
    assert one(spec | {"default": "n/a"}, First="") == "n/a"


# --- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "value", "expected"),
    [
        ("str", "x", "x"),
        ("str", 42, "42"),
        ("str", date(2026, 1, 2), "2026-01-02"),
        ("int", "-12", -12),
        ("int", 12, 12),
        ("int", 12.0, 12),
        ("float", "1.25", 1.25),
        ("float", "1e3", 1000.0),
        ("float", 2, 2.0),
        ("decimal", "12.50", Decimal("12.50")),
        ("decimal", 12, Decimal(12)),
        ("decimal", 0.1, Decimal("0.1")),
        ("bool", "Yes", True),
        ("bool", "n", False),
        ("bool", False, False),
        ("date", "2026-02-01", date(2026, 2, 1)),
        ("date", datetime(2026, 2, 1, 23, 59), date(2026, 2, 1)),
        ("datetime", "2026-02-01T10:00:00", datetime(2026, 2, 1, 10)),
        ("datetime", "2026-02-01T10:00:00Z", datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ("datetime", date(2026, 2, 1), datetime(2026, 2, 1)),
    ],
)
def test_each_type_reads_good_values(ctype: str, value: Any, expected: Any) -> None:
    result = one({"field": "F", "type": ctype}, F=value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("ctype", "value", "reason"),
    [
        ("int", "1.5", "'1.5' is not a whole number"),
        ("int", " 1", "' 1' is not a whole number"),
        ("int", 1.5, "'1.5' (float) is not a whole number"),
        ("int", True, "'true' (bool) is not a whole number"),
        ("float", "1,5", "'1,5' is not a number (declared: decimal '.', no thousands)"),
        ("float", "NaN", "is not a number"),
        ("decimal", "1.234,56", "'1.234,56' is not a decimal number"),
        ("decimal", "€5", "is not a decimal number"),
        ("decimal", date(2026, 1, 1), "(date) is not a number"),
        ("bool", "maybe", "'maybe' is not a yes/no value"),
        ("bool", 2, "'2' (int) is not a yes/no value"),
        ("date", "01/02/2026", "'01/02/2026' is not an ISO 8601 date; declare a format"),
        ("date", "02.01.2026", "is not an ISO 8601 date"),
        ("date", "2026-02-30", "is not an ISO 8601 date"),
        ("date", 45678, "'45678' (int) is not a date"),
        ("datetime", "01/02/2026 10:00", "is not an ISO 8601 date-time"),
    ],
)
def test_each_type_refuses_bad_values(ctype: str, value: Any, reason: str) -> None:
    assert reason in fails({"field": "F", "type": ctype}, F=value)


def test_locale_numbers_are_declared_never_guessed() -> None:
    german = {"field": "F", "type": "decimal", "decimal": ",", "thousands": "."}
    assert one(german, F="1.234,56") == Decimal("1234.56")
    assert one(german, F="1234,56") == Decimal("1234.56")
    assert one(german, F="-0,5") == Decimal("-0.5")
    assert fails(german, F="1.234.56").startswith("'1.234.56' is not a decimal number")
    assert fails(german, F="1,234.56").startswith("'1,234.56' is not a decimal number")
    swiss = {"field": "F", "type": "float", "thousands": "'"}
    assert one(swiss, F="1'234.5") == 1234.5
    spaced = {"field": "F", "type": "int", "thousands": " "}
    assert one(spaced, F="1 234 567") == 1234567
    plain = {"field": "F", "type": "decimal"}
    assert fails(plain, F="1.234,56") == (
        "'1.234,56' is not a decimal number (declared: decimal '.', no thousands)"
    )
    assert fails(plain, F="1,234").startswith("'1,234' is not a decimal number")


def test_declared_bool_words_replace_the_defaults() -> None:
    spec = {"field": "F", "type": "bool", "true_values": ["ja", "J"], "false_values": ["nein"]}
    assert one(spec, F="JA") is True
    assert one(spec, F="j") is True
    assert one(spec, F="Nein") is False
    assert fails(spec, F="yes") == "'yes' is not a yes/no value (true: ja, J; false: nein)"


def test_date_formats_and_offsets() -> None:
    assert one({"field": "F", "type": "date", "format": "%m/%d/%Y"}, F="01/02/2026") == date(
        2026, 1, 2
    )
    assert fails({"field": "F", "type": "date", "format": "%d/%m/%Y"}, F="2026-01-02") == (
        "'2026-01-02' is not a date in format %d/%m/%Y"
    )
    aware = one(
        {"field": "F", "type": "datetime", "format": "%d.%m.%Y %H:%M%z"}, F="1.2.2026 10:00+0100"
    )
    assert aware.utcoffset() is not None
    assert aware.astimezone(UTC) == datetime(2026, 2, 1, 9, tzinfo=UTC)


# --- pattern and allowed ---------------------------------------------------------------------


def test_pattern_is_a_full_match_on_the_text_before_conversion() -> None:
    spec = {"field": "F", "pattern": "[0-9]{6}", "type": "int"}
    assert one(spec, F="000042") == 42
    assert fails(spec, F="42") == "'42' does not match pattern '[0-9]{6}'"
    assert fails(spec, F="0000420") == "'0000420' does not match pattern '[0-9]{6}'"
    assert one({"field": "F", "pattern": "2026-.*"}, F=date(2026, 3, 1)) == date(2026, 3, 1)


def test_allowed_values_compare_after_conversion() -> None:
    ints = {"field": "F", "type": "int", "allowed": [1, "2"]}
    assert one(ints, F="2") == 2
    assert one(ints, F=1) == 1
    assert fails(ints, F="3") == "'3' is not allowed (allowed: 1, 2)"
    untyped = {"field": "F", "allowed": [1, 2]}
    assert one(untyped, F="1") == "1"
    assert one(untyped, F=2) == 2
    assert fails({"field": "F", "allowed": ["active"]}, F="Active").startswith("'Active' is not")


# --- properties ------------------------------------------------------------------------------


@pure
@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_int_columns_round_trip_their_text(number: int) -> None:
    assert one({"field": "F", "type": "int"}, F=str(number)) == number
    grouped = f"{number:,}".replace(",", ".")
    assert one({"field": "F", "type": "int", "thousands": "."}, F=grouped) == number


@pure
@given(
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False)
)
def test_decimals_round_trip_with_declared_separators(number: Decimal) -> None:
    english = f"{number:,f}"
    german = english.replace(",", "_").replace(".", ",").replace("_", ".")
    assert one({"field": "F", "type": "decimal", "thousands": ","}, F=english) == number
    spec = {"field": "F", "type": "decimal", "decimal": ",", "thousands": "."}
    assert one(spec, F=german) == number
    assert one({"field": "F", "type": "decimal"}, F=f"{number:f}") == number


@pure
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_columns_round_trip_repr(number: float) -> None:
    assert one({"field": "F", "type": "float"}, F=repr(number)) == number


@pure
@given(st.dates(min_value=date(1000, 1, 1)))
def test_dates_round_trip_iso_and_declared_formats(day: date) -> None:
    assert one({"field": "F", "type": "date"}, F=day.isoformat()) == day
    for fmt in ["%d.%m.%Y", "%m/%d/%Y", "%Y%m%d", "%d %b %Y"]:
        assert one({"field": "F", "type": "date", "format": fmt}, F=day.strftime(fmt)) == day


@pure
@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.none() | st.just(UTC)))
def test_datetimes_round_trip_iso(moment: datetime) -> None:
    result = one({"field": "F", "type": "datetime"}, F=moment.isoformat())
    assert result == moment
    assert (result.tzinfo is None) == (moment.tzinfo is None)


@pure
@given(st.text(alphabet="aAbB ", max_size=8), st.sampled_from(["yes", "No", "1", "Y", "FALSE"]))
def test_bool_columns_read_only_declared_words(noise: str, word: str) -> None:
    spec = {"field": "F", "type": "bool"}
    assert one(spec, F=word) is (word.lower() in {"yes", "1", "y", "true"})
    if noise.strip():
        with pytest.raises(RecordError):
            one(spec, F=noise)
