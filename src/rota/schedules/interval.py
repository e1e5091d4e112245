"""Interval schedules: every N seconds/minutes/hours/days from an anchor instant.

Intervals are absolute time: "every 1h" is 3600 real seconds, so DST never adds or drops one.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from rota.model.errors import InvalidInputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)?")


def parse_interval(text: str, field: str = "every", minimum: float = 1.0) -> float:
    """``30s``, ``5m``, ``1h30m``, ``2 days``, ``90`` (seconds) -> seconds; at least
    ``minimum`` (one second for a schedule's interval)."""
    compact = text.strip().lower()
    total = 0.0
    position = 0
    for match in _PART.finditer(compact):
        if compact[position : match.start()].strip():
            break
        unit = match.group(2)
        if unit is not None and unit not in _UNITS:
            raise InvalidInputError(field, f"{text!r}: unknown unit {unit!r} (use s, m, h or d)")
        total += float(match.group(1)) * _UNITS[unit or "s"]
        position = match.end()
    if position == 0 or compact[position:].strip():
        raise InvalidInputError(field, f"{text!r} is not an interval like 30s, 5m, 1h or 2d")
    if total < minimum:
        least = "an interval must be at least one second" if minimum == 1.0 else "too short"
        raise InvalidInputError(field, f"{text!r}: {least}")
    return total


def format_interval(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class IntervalTimetable:
    def __init__(self, seconds: float, anchor: datetime | None = None) -> None:
        self.period = timedelta(seconds=seconds)
        self.anchor = (anchor or EPOCH).astimezone(UTC)

    def next_after(self, after: datetime) -> datetime | None:
        elapsed = (after - self.anchor) / self.period
        steps = math.floor(elapsed) + 1 if elapsed >= 0 else 0
        return self.anchor + steps * self.period

    def describe(self) -> str:
        text = format_interval(self.period.total_seconds())
        number, unit = text[:-1], {"s": "second", "m": "minute", "h": "hour", "d": "day"}[text[-1]]
        every = f"Every {unit}" if number == "1" else f"Every {number} {unit}s"
        if self.anchor != EPOCH:
            every += f" from {self.anchor.isoformat().replace('+00:00', 'Z')}"
        return every
