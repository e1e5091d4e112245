"""``@job``: parameters from type hints and defaults, ``params=`` overrides, the definition."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime
from typing import Any, Literal, Optional

import pytest

from rota.jobs.decorator import ATTRIBUTE, PythonJob, job
from rota.model.errors import InvalidInputError
from rota.model.jobs import JobDefinition, JobKind, RetryPolicy
from rota.model.params import ParamSpec, ParamType


def definition_of(fn: Any) -> JobDefinition:
    marked = getattr(fn, ATTRIBUTE)
    assert isinstance(marked, PythonJob)
    assert marked.function is fn
    return marked.definition


def param(fn: Any, name: str) -> ParamSpec:
    spec = definition_of(fn).params.get(name)
    assert spec is not None, name
    return spec


def invalid(call: Any, field: str, *reason_parts: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.field == field, (info.value.field, info.value.reason)
    for part in reason_parts:
        assert part in info.value.reason, (part, info.value.reason)
    return info.value


def test_it_reads_scalar_params_from_type_hints() -> None:
    @job(id="typed")
    def typed(ctx, name: str, count: int, ratio: float, dry: bool, day: date, at: datetime):
        return None

    kinds = [(s.name, s.type, s.required) for s in definition_of(typed).params.specs]
    assert kinds == [
        ("name", ParamType.STR, True),
        ("count", ParamType.INT, True),
        ("ratio", ParamType.FLOAT, True),
        ("dry", ParamType.BOOL, True),
        ("day", ParamType.DATE, True),
        ("at", ParamType.DATETIME, True),
    ]


def test_it_skips_the_context_argument_whatever_its_name() -> None:
    @job(id="ctx-named")
    def anything(context: object, n: int) -> None:
        return None

    assert [s.name for s in definition_of(anything).params.specs] == ["n"]


def test_it_takes_defaults_from_the_signature_in_their_json_form() -> None:
    @job(id="defaults")
    def defaults(
        ctx,
        name: str = "x",
        count: int = 3,
        ratio: float = 0.5,
        dry: bool = False,
        day: date = date(2026, 11, 20),
        at: datetime = datetime(2026, 11, 20, 8, tzinfo=UTC),
    ) -> None:
        return None

    specs = definition_of(defaults).params.specs
    assert [(s.name, s.default, s.required) for s in specs] == [
        ("name", "x", False),
        ("count", 3, False),
        ("ratio", 0.5, False),
        ("dry", False, False),
        ("day", "2026-11-20", False),
        ("at", "2026-11-20T08:00:00+00:00", False),
    ]


def test_it_reads_optional_hints_as_the_inner_type() -> None:
    @job(id="optional")
    def optional(ctx, a: int | None = None, b: Optional[date] = None, c: float | None = 1.5):  # noqa: UP045
        return None

    a, b, c = definition_of(optional).params.specs
    assert (a.type, a.default, a.required) == (ParamType.INT, None, False)
    assert (b.type, b.default, b.required) == (ParamType.DATE, None, False)
    assert (c.type, c.default) == (ParamType.FLOAT, 1.5)


def test_it_reads_an_optional_without_default_as_required() -> None:
    @job(id="optional-required")
    def optional(ctx, a: int | None) -> None:
        return None

    assert (param(optional, "a").type, param(optional, "a").required) == (ParamType.INT, True)


def test_it_reads_list_hints_as_list_params_with_typed_items() -> None:
    @job(id="lists")
    def lists(ctx, ids: list[int], days: list[date], names: list[str], raw: list) -> None:
        return None

    specs = definition_of(lists).params.specs
    assert [(s.type, s.items) for s in specs] == [
        (ParamType.LIST, ParamType.INT),
        (ParamType.LIST, ParamType.DATE),
        (ParamType.LIST, ParamType.STR),
        (ParamType.LIST, ParamType.STR),
    ]


def test_it_reads_a_list_default() -> None:
    @job(id="list-default")
    def lists(ctx, ids: tuple[int, ...] = (1, 2)) -> None:
        return None

    spec = param(lists, "ids")
    assert (spec.type, spec.items, spec.default) == (ParamType.LIST, ParamType.INT, [1, 2])


def test_it_reads_literal_hints_as_choices() -> None:
    @job(id="choices")
    def choices(ctx, mode: Literal["full", "delta"] = "delta") -> None:
        return None

    spec = param(choices, "mode")
    assert (spec.type, spec.choices, spec.default) == (ParamType.CHOICE, ("full", "delta"), "delta")


def test_it_treats_an_argument_without_hint_as_text() -> None:
    @job(id="untyped")
    def untyped(ctx, note, limit=5):  # type: ignore[no-untyped-def]
        return None

    note, limit = definition_of(untyped).params.specs
    assert (note.type, note.required) == (ParamType.STR, True)
    assert (limit.type, limit.default) == (ParamType.STR, "5")


def test_it_ignores_star_args_and_star_kwargs() -> None:
    @job(id="star")
    def star(ctx, n: int, *args: int, **kwargs: str) -> None:
        return None

    assert [s.name for s in definition_of(star).params.specs] == ["n"]


def test_it_lets_params_add_bounds_and_descriptions() -> None:
    @job(
        id="bounded",
        params={
            "count": {"min": 1, "max": 10, "description": "How many"},
            "code": {"pattern": "[A-Z]{3}"},
        },
    )
    def bounded(ctx, count: int = 5, code: str = "ABC") -> None:
        return None

    count = param(bounded, "count")
    assert (count.type, count.default, count.min, count.max, count.description) == (
        ParamType.INT,
        5,
        1,
        10,
        "How many",
    )
    assert param(bounded, "code").pattern == "[A-Z]{3}"


def test_it_lets_params_override_the_hint_and_the_default() -> None:
    @job(id="override", params={"day": {"type": "date", "default": "today"}})
    def override(ctx, day: str = "2026-01-01") -> None:
        return None

    day = param(override, "day")
    assert (day.type, day.default) == (ParamType.DATE, "today")


def test_it_checks_the_signature_default_against_params_bounds() -> None:
    def bounded(ctx, count: int = 50) -> None:
        return None

    invalid(lambda: job(id="b", params={"count": {"max": 10}})(bounded), "params.count", "maximum")


def test_it_rejects_params_naming_a_non_argument() -> None:
    def fn(ctx, day: date) -> None:
        return None

    invalid(
        lambda: job(id="x", params={"dya": {"description": "typo"}})(fn),
        "params.dya",
        "not an argument",
    )


def test_it_rejects_an_unknown_field_in_params() -> None:
    def fn(ctx, n: int) -> None:
        return None

    invalid(lambda: job(id="x", params={"n": {"maximum": 3}})(fn), "params.n.maximum")


def test_it_rejects_a_function_without_a_context_argument() -> None:
    def no_ctx() -> None:
        return None

    invalid(lambda: job(id="x")(no_ctx), "function", "must take the run context first")


@pytest.mark.parametrize("hint", [dict, dict[str, int], set[int], int | str, bytes])
def test_it_rejects_an_unsupported_type_hint_naming_the_param(hint: object) -> None:
    def fn(ctx, settings) -> None:  # type: ignore[no-untyped-def]
        return None

    fn.__annotations__["settings"] = hint
    error = invalid(lambda: job(id="x")(fn), "params.settings", "unsupported type hint")
    assert error.reason.endswith(repr(hint))


def test_it_rejects_a_default_that_does_not_fit_the_hint() -> None:
    def fn(ctx, count: int = "many") -> None:  # type: ignore[assignment]
        return None

    invalid(lambda: job(id="x")(fn), "params.count", "expected an integer")


def test_it_rejects_an_invalid_job_id() -> None:
    def fn(ctx) -> None:
        return None

    invalid(lambda: job(id="Not Valid")(fn), "id")


def test_it_returns_the_function_unchanged_and_callable() -> None:
    def add(ctx: object, a: int, b: int = 2) -> int:
        return a + b

    decorated = job(id="add")(add)
    assert decorated is add
    assert decorated(None, 1) == 3
    assert decorated(None, a=1, b=5) == 6


def test_it_defaults_the_description_to_the_first_paragraph_of_the_docstring() -> None:
    @job(id="documented")
    def documented(ctx) -> None:
        """Load the day's orders
        from the shop.

        Details that are not part of the description.
        """

    assert definition_of(documented).description == "Load the day's orders\nfrom the shop."


def test_it_keeps_an_explicit_description() -> None:
    @job(id="described", description="Explicit")
    def described(ctx) -> None:
        """From the docstring."""

    assert definition_of(described).description == "Explicit"


def test_it_leaves_the_description_empty_without_a_docstring() -> None:
    @job(id="bare")
    def bare(ctx) -> None:
        return None

    assert definition_of(bare).description == ""


def test_it_builds_a_python_definition_with_every_option() -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)

    @job(
        id="full.job",
        name="Full",
        owner="team",
        tags=["a", "b"],
        required_role="operator",
        expected_runtime=60,
        timeout=120,
        retry={"max_attempts": 4, "backoff_seconds": 1.0},
        idempotent=True,
        destructive=True,
        priority=5,
        active=False,
        expires_at=expires,
        group="nightly",
        tenant="acme",
    )
    def full(ctx) -> None:
        return None

    definition = definition_of(full)
    assert definition.kind is JobKind.PYTHON
    assert (definition.id, definition.name, definition.owner) == ("full.job", "Full", "team")
    assert definition.tags == ("a", "b")
    assert definition.required_role == "operator"
    assert (definition.expected_runtime, definition.timeout) == (60, 120)
    assert definition.retry == RetryPolicy(max_attempts=4, backoff_seconds=1.0)
    assert (definition.idempotent, definition.destructive) == (True, True)
    assert (definition.priority, definition.active) == (5, False)
    assert definition.expires_at == expires
    assert (definition.group, definition.tenant) == ("nightly", "acme")
    assert definition.spec == {"function": f"{__name__}.{full.__qualname__}"}
    assert definition.source == ""
    assert definition.code_hash == ""


def test_it_accepts_a_retry_policy_object() -> None:
    policy = RetryPolicy(max_attempts=2)

    @job(id="retrying", retry=policy)
    def retrying(ctx) -> None:
        return None

    assert definition_of(retrying).retry is policy


def test_it_rejects_an_invalid_retry_mapping() -> None:
    def fn(ctx) -> None:
        return None

    invalid(lambda: job(id="x", retry={"max_attempts": 0})(fn), "retry.max_attempts")


def test_it_resolves_string_annotations() -> None:
    def fn(ctx, day: date, ids: list[int]) -> None:
        return None

    assert isinstance(fn.__annotations__["day"], str)  # from __future__ import annotations
    decorated = job(id="strings")(fn)
    assert param(decorated, "day").type is ParamType.DATE
    assert typing.get_type_hints(fn)["ids"] == list[int]
