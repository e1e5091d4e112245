"""Value functions of data-job mappings: text transforms and type conversions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.data import transforms as tf
from rota.model.errors import InvalidInputError

pure = settings(database=None, deadline=None)


def run(spec: list[Any], value: Any) -> Any:
    return tf.text_chain(tf.parse_transforms(spec, "t"))(value)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("trim", "  Anna \t\n", "Anna"),
        ("upper", "anna-lena", "ANNA-LENA"),
        ("lower", "Anna@Example.COM", "anna@example.com"),
        ("title", "anna maria SCHMIDT", "Anna Maria Schmidt"),
        ("collapse_spaces", " Anna \t  Maria\n", " Anna Maria "),
        ("strip_zeros", "0042", "42"),
        ("strip_zeros", "000", "0"),
        ("strip_zeros", "0.50", "0.50"),
        ("strip_zeros", "4200", "4200"),
        ("digits_only", "+49 (0)30 123-45", "4903012345"),
        ("digits_only", "n/a", ""),
        ("null_if_empty", "", None),
        ("null_if_empty", " ", " "),
        ("null_if_empty", "x", "x"),
    ],
)
def test_each_simple_transform(name: str, text: str, expected: str | None) -> None:
    assert run([name], text) == expected


@pytest.mark.parametrize(
    ("spec", "text", "expected"),
    [
        ({"replace": [";", ","]}, "a;b;c", "a,b,c"),
        ({"replace": ["-", ""]}, "12-34-56", "123456"),
        ({"replace": [0, "o"]}, "f00", "foo"),
        ({"truncate": 3}, "abcdef", "abc"),
        ({"truncate": 10}, "abc", "abc"),
        ({"pad_left": [6, "0"]}, "42", "000042"),
        ({"pad_left": [6, 0]}, "42", "000042"),
        ({"pad_left": [2, "0"]}, "1234", "1234"),
    ],
)
def test_each_parameterised_transform(spec: dict[str, Any], text: str, expected: str) -> None:
    assert run([spec], text) == expected


def test_transforms_run_in_the_order_written() -> None:
    assert run(["trim", {"truncate": 3}], "  abcdef") == "abc"
    assert run([{"truncate": 3}, "trim"], "  abcdef") == "a"


def test_null_if_empty_ends_the_chain() -> None:
    assert run(["trim", "null_if_empty", {"pad_left": [3, "0"]}], "   ") is None
    assert run(["trim", "null_if_empty", {"pad_left": [3, "0"]}], " 7 ") == "007"


def test_a_whole_number_from_a_typed_source_is_transformed_as_its_digits() -> None:
    assert run([{"pad_left": [6, "0"]}], 42) == "000042"


@pytest.mark.parametrize(
    "value", [None, True, 4.5, Decimal("1.50"), date(2026, 1, 2), datetime(2026, 1, 2, 3, 4)]
)
def test_other_values_pass_through_untouched(value: Any) -> None:
    assert run(["trim", "upper", "digits_only"], value) is value


@pytest.mark.parametrize(
    ("spec", "path", "reason"),
    [
        ("trim", "t", "must be a list"),
        (["trim", "upper", "trimm"], "t[2]", "did you mean 'trim'"),
        (["strip", "lowercase"], "t[0]", "unknown transform 'strip'"),
        (["trim", "pad_left"], "t[1]", "needs an argument"),
        (["trim", {"padleft": [3, "0"]}], "t[1]", "did you mean 'pad_left'"),
        ([{"trim": True, "upper": True}], "t[0]", "must be a transform name"),
        ([42], "t[0]", "must be a transform name"),
        ([{"replace": ["", "x"]}], "t[0].replace", "needs [old, new]"),
        ([{"replace": "ab"}], "t[0].replace", "needs [old, new]"),
        ([{"replace": ["a", None]}], "t[0].replace", "needs [old, new]"),
        ([{"truncate": 0}], "t[0].truncate", "at least 1"),
        ([{"truncate": "5"}], "t[0].truncate", "at least 1"),
        ([{"truncate": True}], "t[0].truncate", "at least 1"),
        ([{"pad_left": 6}], "t[0].pad_left", "[width, one character]"),
        ([{"pad_left": [6, "00"]}], "t[0].pad_left", "[width, one character]"),
        ([{"pad_left": ["6", "0"]}], "t[0].pad_left", "[width, one character]"),
    ],
)
def test_bad_transforms_are_refused_naming_the_entry(spec: Any, path: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        tf.parse_transforms(spec, "t")
    assert caught.value.field == path
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (1.5, "1.5"),
        (Decimal("1E+3"), "1000"),
        (date(2026, 1, 2), "2026-01-02"),
        (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02T03:04:00+00:00"),
        (time(8, 30), "08:30:00"),
    ],
)
def test_as_text_writes_typed_values_the_way_they_are_read(value: Any, text: str) -> None:
    assert tf.as_text(value) == text


def test_hint_for_points_at_a_close_option() -> None:
    assert tf.hint_for("E-Mail", ["Member No", "E-mail"]) == " (did you mean 'E-mail'?)"
    assert tf.hint_for("Memb No", ["Member No", "E-mail"]) == " (did you mean 'Member No'?)"
    assert tf.hint_for("zzz", ["Member No", "E-mail"]) == ""


# --- type conversions ------------------------------------------------------------------------


def rejects(convert: tf.Convert, value: Any) -> str:
    with pytest.raises(tf.Reject) as caught:
        convert(value)
    return str(caught.value.args[0])


def test_to_int_reads_plain_digits_only() -> None:
    convert = tf.to_int(None)
    assert [convert(v) for v in ["42", "-7", "+5", "007", 9, 42.0, Decimal("3")]] == [
        42,
        -7,
        5,
        7,
        9,
        42,
        3,
    ]
    for bad in ["", " 42", "4_2", "1,000", "1.000", "42.0", "٤٢", "0x10", "1e3"]:
        assert "is not a whole number" in rejects(convert, bad)
    for bad in [42.5, Decimal("1.5"), float("nan"), True, date(2026, 1, 1)]:
        assert "is not a whole number" in rejects(convert, bad)
    assert "too many digits" in rejects(convert, "9" * 5000)


def test_to_int_reads_declared_thousands_in_groups_of_three() -> None:
    convert = tf.to_int(".")
    assert convert("1.234.567") == 1234567
    assert convert("1234567") == 1234567
    for bad in ["1.23.456", "1.2345", ".123", "1,234"]:
        assert "declared: thousands '.'" in rejects(convert, bad)


def test_to_number_float() -> None:
    convert = tf.to_number(False, ".", None)
    assert convert("1.5") == 1.5
    assert convert("-2.5e-3") == -0.0025
    assert convert(3) == 3.0
    assert convert(Decimal("0.25")) == 0.25
    for bad in ["1,5", ".5", "5.", "inf", "nan", "1 000"]:
        assert "is not a number" in rejects(convert, bad)
    assert "finite" in rejects(convert, "1e999")
    assert "finite" in rejects(convert, 10**400)
    assert "finite" in rejects(convert, float("inf"))
    assert "is not a number" in rejects(convert, True)


def test_to_number_decimal_is_exact() -> None:
    convert = tf.to_number(True, ",", ".")
    assert convert("1.234,56") == Decimal("1234.56")
    assert convert("-0,1") == Decimal("-0.1")
    assert convert(0.1) == Decimal("0.1")  # the float's shortest repr, not its binary expansion
    assert convert(7) == Decimal(7)
    assert "is not a decimal number" in rejects(convert, "1e3")
    assert "finite" in rejects(convert, Decimal("NaN"))


def test_to_bool_uses_the_declared_words_case_insensitively() -> None:
    convert = tf.to_bool(tf.TRUE_WORDS, tf.FALSE_WORDS)
    for word in ["true", "TRUE", "Yes", "y", "1"]:
        assert convert(word) is True
    for word in ["false", "No", "N", "0"]:
        assert convert(word) is False
    assert convert(True) is True
    assert convert(0) is False
    assert "is not a yes/no value" in rejects(convert, "ja")
    assert "is not a yes/no value" in rejects(convert, "")
    assert "is not a yes/no value" in rejects(convert, 2)
    german = tf.to_bool(["ja", "j"], ["nein", "n"])
    assert german("JA") is True
    assert "true: ja, j; false: nein, n" in rejects(german, "yes")


def test_to_date_reads_iso_8601_or_the_declared_format() -> None:
    iso = tf.to_date(None)
    assert iso("2026-02-28") == date(2026, 2, 28)
    assert iso(datetime(2026, 2, 28, 13, 0)) == date(2026, 2, 28)
    assert iso(date(2026, 2, 28)) == date(2026, 2, 28)
    assert "declare a format" in rejects(iso, "01/02/2026")
    assert "declare a format" in rejects(iso, "2026-02-30")
    assert "is not a date" in rejects(iso, 46000)
    german = tf.to_date("%d.%m.%Y")
    assert german("28.02.2026") == date(2026, 2, 28)
    assert rejects(german, "31.02.2026") == "'31.02.2026' is not a date in format %d.%m.%Y"
    assert "in format" in rejects(german, "2026-02-28")


def test_to_datetime_is_aware_only_when_the_text_has_an_offset() -> None:
    iso = tf.to_date(None, with_time=True)
    assert iso("2026-03-01T08:30:00") == datetime(2026, 3, 1, 8, 30)
    assert iso("2026-03-01 08:30").tzinfo is None
    assert iso("2026-03-01T08:30:00Z") == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    plus2 = timezone(timedelta(hours=2))
    assert iso("2026-03-01T08:30+02:00") == datetime(2026, 3, 1, 8, 30, tzinfo=plus2)
    assert iso("2026-03-01") == datetime(2026, 3, 1)
    assert iso(date(2026, 3, 1)) == datetime(2026, 3, 1)
    assert "ISO 8601 date-time" in rejects(iso, "1.3.2026 08:30")
    formatted = tf.to_date("%d.%m.%Y %H:%M %z", with_time=True)
    assert formatted("01.03.2026 08:30 +0200") == datetime(2026, 3, 1, 8, 30, tzinfo=plus2)


# --- properties ------------------------------------------------------------------------------


@pure
@given(st.text())
def test_case_and_space_transforms_are_idempotent(text: str) -> None:
    for name in ["trim", "upper", "lower", "collapse_spaces", "strip_zeros", "digits_only"]:
        once = run([name], text)
        assert run([name], once) == once


@pure
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=10))
def test_strip_zeros_keeps_the_number(number: int, zeros: int) -> None:
    assert run(["strip_zeros"], "0" * zeros + str(number)) == str(number)


@pure
@given(st.text(), st.integers(min_value=1, max_value=30))
def test_pad_left_and_truncate_bound_the_length(text: str, width: int) -> None:
    padded = run([{"pad_left": [width, "0"]}], text)
    assert len(padded) == max(width, len(text))
    assert padded.endswith(text)
    assert len(run([{"truncate": width}], text)) == min(width, len(text))


@pure
@given(st.text())
def test_digits_only_leaves_only_ascii_digits(text: str) -> None:
    assert set(run(["digits_only"], text)) <= set("0123456789")


DAY, MONTH = "([0-3]?[0-9]|[0-9 ]{1,3})", "([01]?[0-9]|[0-9]{1,3})"
YEAR, SIXTY = "([12][0-9]{3}|[0-9]{3,5})", "([0-6]?[0-9]|[0-9]{1,3})"


@pure
@given(
    st.sampled_from(
        [
            ("%d.%m.%Y", rf"{DAY}\.{MONTH}\.{YEAR}"),
            ("%Y%m%d", rf"{YEAR}{MONTH}{DAY}"),
            ("%m/%d/%Y %H:%M", rf"{MONTH}/{DAY}/{YEAR} {{1,2}}{SIXTY}:{SIXTY}"),
            ("%Y-%m-%dT%H:%M:%S", rf"{YEAR}-{MONTH}-{DAY}[Tt]{SIXTY}:{SIXTY}:{SIXTY}"),
        ]
    ).flatmap(lambda pair: st.tuples(st.just(pair[0]), st.from_regex(f"\\A{pair[1]}\\Z")))
)
def test_numeric_formats_read_like_strptime(case: tuple[str, str]) -> None:
    fmt, text = case
    try:
        expected: datetime | None = datetime.strptime(text, fmt)
    except ValueError:
        expected = None
    try:
        got = tf.to_date(fmt, with_time=True)(text)
    except tf.Reject:
        got = None
    assert got == expected
