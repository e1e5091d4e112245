"""The YAML loader of job files: YAML 1.2 core scalars, so ``on`` or ``12:30`` stay text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.jobs import yamlsafe

pure = settings(database=None, deadline=None)


def value_of(text: str) -> object:
    """Load ``text`` as the (quote-free) value of a mapping entry."""
    return yamlsafe.load(f"key: {text}\n")["key"]


@pytest.mark.parametrize(
    "text",
    ["on", "On", "ON", "off", "no", "No", "yes", "Yes", "y", "n", "12:30", "1:02:03"],
)
def test_it_keeps_yaml_1_1_booleans_and_base_60_numbers_as_text(text: str) -> None:
    assert value_of(text) == text


@pytest.mark.parametrize("text", ["2026-11-20", "2026-11-20T08:00:00Z", "2026-11-20 08:00"])
def test_it_keeps_dates_and_timestamps_as_text(text: str) -> None:
    assert value_of(text) == text


@pytest.mark.parametrize("text", ["0x10", "0o17", "0b101", "1_000", "1_000.5", "+0x1F"])
def test_it_keeps_hex_octal_binary_and_underscored_numbers_as_text(text: str) -> None:
    assert value_of(text) == text


@pytest.mark.parametrize("text", ["010", "0930", "-010"])
def test_it_keeps_numbers_with_a_leading_zero_as_text(text: str) -> None:
    assert value_of(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False)],
)
def test_it_reads_only_true_and_false_as_booleans(text: str, expected: bool) -> None:
    value = value_of(text)
    assert value is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), ("-7", -7), ("+5", 5), ("1.5", 1.5), ("-0.25", -0.25), ("1e3", 1000.0)],
)
def test_it_reads_plain_decimal_literals_as_numbers(text: str, expected: float) -> None:
    value = value_of(text)
    assert value == expected
    assert type(value) is type(expected)


def test_it_still_reads_null_and_quoted_text() -> None:
    assert value_of("null") is None
    assert value_of("~") is None
    assert value_of('"true"') == "true"
    assert value_of("'42'") == "42"


def test_it_keeps_the_stock_pyyaml_loader_unchanged() -> None:
    import yaml

    assert yaml.safe_load("key: on\n") == {"key": True}


def test_it_refuses_python_specific_tags() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError):
        yamlsafe.load("key: !!python/object/apply:os.system ['true']\n")


# Words that YAML reads as something else than text, whatever our schema: null, the listed
# booleans and the special floats; ``-`` alone starts a sequence and a trailing ``:`` a mapping.
_NOT_TEXT = {
    *("null", "Null", "NULL"),
    *("true", "True", "TRUE", "false", "False", "FALSE"),
    *(f"{sign}.{word}" for sign in ("", "-") for word in ("inf", "Inf", "INF")),
    *(".nan", ".NaN", ".NAN"),
}

words = st.from_regex(r"\A[A-Za-z:._-]+\Z").filter(
    lambda t: t not in _NOT_TEXT and t != "-" and not t.endswith(":")
)


@pure
@given(words)
def test_it_loads_any_word_of_letters_and_punctuation_as_the_same_text(text: str) -> None:
    assert value_of(text) == text
