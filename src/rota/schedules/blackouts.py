"""Business calendars: does a nominal time fall in a blackout (holiday, range, window, day)?"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr

from rota.model.errors import InvalidInputError
from rota.model.schedules import BusinessCalendar, TimeWindow
from rota.schedules.zones import zone


@lru_cache(maxsize=256)
def _day_rule(expression: str, year: int) -> rrule:
    rule = rrulestr(expression, dtstart=datetime(year, 1, 1), forceset=False)
    if not isinstance(rule, rrule):
        raise ValueError("one RRULE expected")
    return rule


def _matches_day(expression: str, day: datetime) -> bool:
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    hit = _day_rule(expression, start.year - 1).after(start - timedelta(seconds=1))
    return hit is not None and hit.date() == start.date()


def _clock(text: str, field: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(field, f"{text!r} is not a time like 02:00") from None


def check_calendar(calendar: BusinessCalendar) -> None:
    """Reject a calendar whose zone, rules or windows cannot be read (names the field)."""
    zone(calendar.tz, "tz")
    for a, b in calendar.ranges:
        if b < a:
            raise InvalidInputError("ranges", f"{a} to {b}: the end is before the start")
    rules = [("exclude_days", calendar.rrule)] + [
        (f"windows[{i}].rrule", w.rrule) for i, w in enumerate(calendar.windows)
    ]
    for field, expression in rules:
        if expression:
            try:
                _day_rule(expression, 2000)
            except (ValueError, TypeError) as exc:
                raise InvalidInputError(field, f"{expression!r}: {exc}") from None
    for i, window in enumerate(calendar.windows):
        absolute = window.start is not None or window.end is not None
        daily = window.from_time is not None or window.to_time is not None
        if absolute == daily:
            raise InvalidInputError(
                f"windows[{i}]", "give either start and end (instants) or from and to (HH:MM)"
            )
        if absolute:
            for name in ("start", "end"):
                value = getattr(window, name)
                if value is not None and value.tzinfo is None:
                    raise InvalidInputError(f"windows[{i}].{name}", "needs a UTC offset or Z")
            if window.start is None or window.end is None or window.end <= window.start:
                raise InvalidInputError(f"windows[{i}]", "needs start before end")
        else:
            for name, key in (("from_time", "from"), ("to_time", "to")):
                value = getattr(window, name)
                if value is None:
                    raise InvalidInputError(f"windows[{i}].{key}", "is required")
                _clock(value, f"windows[{i}].{key}")


def _in_window(window: TimeWindow, instant: datetime, local: datetime) -> bool:
    if window.start is not None and window.end is not None:
        return window.start <= instant < window.end
    begin = _clock(window.from_time or "00:00", "from")
    end = _clock(window.to_time or "00:00", "to")
    clock = local.time().replace(tzinfo=None)
    if begin <= end:
        inside, day = begin <= clock < end, local
    else:  # over midnight: 22:00-02:00 belongs to the day it starts on
        inside = clock >= begin or clock < end
        day = local if clock >= begin else local - timedelta(days=1)
    return inside and (window.rrule is None or _matches_day(window.rrule, day))


def blackout_reason(calendar: BusinessCalendar, instant: datetime) -> str | None:
    """Why ``instant`` is blacked out by ``calendar``, or None."""
    local = instant.astimezone(zone(calendar.tz)).replace(tzinfo=None)
    day = local.date()
    if day in calendar.dates:
        return f"{calendar.id}: holiday {day.isoformat()}"
    for a, b in calendar.ranges:
        if a <= day <= b:
            return f"{calendar.id}: {a.isoformat()} to {b.isoformat()}"
    if calendar.rrule and _matches_day(calendar.rrule, local):
        return f"{calendar.id}: excluded day {day.isoformat()}"
    for window in calendar.windows:
        if _in_window(window, instant, local):
            return f"{calendar.id}: maintenance window"
    return None


class Blackouts:
    """The calendars one schedule excludes."""

    def __init__(self, calendars: Sequence[BusinessCalendar]) -> None:
        self.calendars = tuple(calendars)

    def reason(self, instant: datetime) -> str | None:
        for calendar in self.calendars:
            why = blackout_reason(calendar, instant)
            if why is not None:
                return why
        return None
