"""Declaring schedules: ``cron()``, ``every()``, ``once()``, ``calendar()`` for Python jobs, the
``schedules:`` entries of YAML jobs, and the checks a project load runs on both.

A schedule without ``tz`` uses the project's default zone (``timezone`` in ``rota.toml``, else
UTC); the loader fills it in so the stored spec always names its zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from rota.model.errors import InvalidInputError
from rota.model.jobs import JobDefinition
from rota.model.schedules import MissedPolicy, OverlapPolicy, ScheduleKind, ScheduleSpec
from rota.schedules import compile_schedule
from rota.schedules.interval import format_interval, parse_interval

KIND_KEYS = {"cron": ScheduleKind.CRON, "every": ScheduleKind.INTERVAL, "once": ScheduleKind.ONCE}
KIND_KEYS["calendar"] = ScheduleKind.CALENDAR
OPTION_KEYS = frozenset(
    {
        "id",
        "tz",
        "start",
        "end",
        "jitter",
        "params",
        "missed",
        "grace",
        "catch_up_window",
        "max_catch_up",
        "overlap",
        "exclude",
        "anchor",
    }
)
DURATION_KEYS = ("jitter", "grace", "catch_up_window")


def _spec(kind: ScheduleKind, expression: str, options: Mapping[str, Any]) -> ScheduleSpec:
    unknown = sorted(set(options) - OPTION_KEYS)
    if unknown:
        raise InvalidInputError(unknown[0], "is not a schedule field")
    values: dict[str, Any] = {"kind": kind, "expression": expression}
    for key in OPTION_KEYS:
        value = options.get(key)
        if value is not None:
            values[key] = _option(key, value)
    spec = ScheduleSpec(**values)
    compile_schedule(spec)  # fail at declaration, with the field named
    return spec


def _option(key: str, value: Any) -> Any:
    """One option, type-checked: a wrong type is bad input naming the option, not a crash."""
    if key in DURATION_KEYS:
        if isinstance(value, str):
            return parse_interval(value, key, minimum=0.0)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise InvalidInputError(key, "must be a duration like 30, 30s, 5m or 2h")
    if key in ("start", "end", "anchor"):
        return _instant(key, value)
    if key == "missed":
        return _choice(key, value, MissedPolicy)
    if key == "overlap":
        return _choice(key, value, OverlapPolicy)
    if key == "exclude":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise InvalidInputError(key, "must be a calendar name or a list of them")
        return tuple(names)
    if key == "params":
        if not isinstance(value, Mapping):
            raise InvalidInputError(key, "must be a mapping of parameter values")
        return dict(value)
    if key == "max_catch_up":
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInputError(key, "must be a whole number")
        return value
    if not isinstance(value, str):  # id, tz
        raise InvalidInputError(key, "must be text")
    return value


def _instant(field: str, value: object) -> datetime:
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(field, f"{value!r} is not an ISO 8601 instant") from None
    if instant.tzinfo is None:
        raise InvalidInputError(field, f"{value!r} needs a UTC offset or Z")
    return instant


_Policy = TypeVar("_Policy", MissedPolicy, OverlapPolicy)


def _choice(field: str, value: object, enum: type[_Policy]) -> _Policy:
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidInputError(field, f"{value!r} is not one of: {allowed}") from None


def cron(expression: str, tz: str | None = None, **options: Any) -> ScheduleSpec:
    """A cron line (5 fields, or 6 with seconds; ``@daily`` and friends)."""
    return _spec(ScheduleKind.CRON, expression, {**options, "tz": tz} if tz else options)


def every(
    *,
    seconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    days: float = 0,
    **options: Any,
) -> ScheduleSpec:
    """An absolute interval, e.g. ``every(seconds=30)``; ``anchor=`` sets the phase."""
    total = seconds + 60 * minutes + 3600 * hours + 86400 * days
    if total < 1:
        raise InvalidInputError("every", "an interval must be at least one second")
    return _spec(ScheduleKind.INTERVAL, format_interval(total), options)


def once(when: str | datetime, **options: Any) -> ScheduleSpec:
    """One instant: an aware datetime or ISO text with an offset or ``[Zone]``."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise InvalidInputError("once", "a naive datetime does not say which instant")
        when = when.isoformat()
    return _spec(ScheduleKind.ONCE, when, options)


def calendar(rrule: str, tz: str | None = None, **options: Any) -> ScheduleSpec:
    """An RFC 5545 RRULE (daily, weekly, monthly, yearly), e.g. ``FREQ=MONTHLY;BYDAY=2TU``."""
    return _spec(ScheduleKind.CALENDAR, rrule, {**options, "tz": tz} if tz else options)


def schedule_from_mapping(entry: object, field: str) -> ScheduleSpec:
    """One ``schedules:`` entry of a YAML job: exactly one of cron/every/once/calendar."""
    if not isinstance(entry, Mapping):
        raise InvalidInputError(field, "must be a mapping like {cron: '0 3 * * *'}")
    kinds = [key for key in entry if key in KIND_KEYS]
    if len(kinds) != 1:
        raise InvalidInputError(field, "needs exactly one of cron, every, once or calendar")
    expression = entry[kinds[0]]
    if isinstance(expression, int | float) and kinds[0] == "every":
        expression = f"{expression}s"
    if not isinstance(expression, str):
        raise InvalidInputError(f"{field}.{kinds[0]}", "must be text")
    options = {k: v for k, v in entry.items() if k != kinds[0]}
    try:
        return _spec(KIND_KEYS[kinds[0]], expression, options)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{field}.{exc.field}", exc.reason) from None


def schedules_option(
    schedule: ScheduleSpec | None, schedules: Sequence[ScheduleSpec] | None
) -> tuple[ScheduleSpec, ...]:
    if schedule is not None and schedules:
        raise InvalidInputError("schedules", "give schedule= or schedules=, not both")
    found = (schedule,) if schedule is not None else tuple(schedules or ())
    for index, item in enumerate(found):
        if not isinstance(item, ScheduleSpec):
            raise InvalidInputError(
                f"schedules[{index}]", "use cron(...), every(...), once(...) or calendar(...)"
            )
    return found


def overlap_option(overlap: str | None, single_instance: bool) -> OverlapPolicy:
    """``single_instance`` is ``overlap: skip``; saying both differently is an error."""
    policy = _choice("overlap", overlap, OverlapPolicy) if overlap else OverlapPolicy.SKIP
    if single_instance and policy is not OverlapPolicy.SKIP:
        raise InvalidInputError("single_instance", f"contradicts overlap: {policy.value}")
    return policy


def settle_schedules(
    definition: JobDefinition, default_tz: str, calendars: set[str], now: datetime
) -> JobDefinition:
    """Fill in the project's zone and check what needs the whole project: the five-year rule,
    the excluded calendars, and that each schedule's parameters are valid for the job."""
    settled = []
    for index, declared in enumerate(definition.schedules):
        field = f"schedules[{index}]"
        spec = declared if declared.tz else replace(declared, tz=default_tz)
        compile_schedule(spec, now=now, field=field)
        for name in spec.exclude:
            if name not in calendars:
                raise InvalidInputError(
                    f"{field}.exclude", f"no business calendar {name!r} in calendars/"
                )
        try:
            definition.params.validate(spec.params, now=now)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{field}.{exc.field}", exc.reason) from None
        settled.append(spec)
    return replace(definition, schedules=tuple(settled))
