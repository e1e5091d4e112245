"""Cron schedules, iterated with ``cronsim`` (Debian cron semantics) under Rota's DST rule.

Two ways to read an entry in a zone with DST:

* **fixed-time** — the minute and hour fields are plain numbers, ranges or lists (``30 2 * * *``,
  ``0 9,17 * * 1-5``): the entry names wall-clock times; gaps and folds follow
  :func:`rota.schedules.zones.wall_to_instant` (once at the jump, once at the first occurrence);
* **real instants** — a ``*`` or a step in the minute or hour field (``0 * * * *``, ``*/15 * * * *``,
  ``0 1-23/2 * * *``): the entry follows the clock as it is, so an hourly entry fires 23 times on
  spring-forward day and 25 times on fall-back day.

cronsim's own DST handling applies the first reading to 5-field lines only; Rota iterates wall
time itself (naive datetimes) or real time (aware datetimes) so 6-field lines follow the same rule.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from cronsim import CronSim, CronSimError
from cronsim.cronsim import RANGES, Field

from rota.model.errors import InvalidInputError
from rota.schedules.zones import fold_span, real_instants, wall_to_instant

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELD_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
FIELD_SPANS = {
    Field.SECOND: "0-59",
    Field.MINUTE: "0-59",
    Field.HOUR: "0-23",
    Field.DAY: "1-31",
    Field.MONTH: "1-12 or JAN-DEC",
    Field.DOW: "0-7 or SUN-SAT",
}
NEVER_HORIZON = timedelta(days=5 * 366)
_NEAREST_WEEKDAY = re.compile(r"^(\d{1,2})W$")
_FIXED = re.compile(r"^[0-9,\-]+$")
_ONE_VALUE_RANGE = re.compile(r"(?<![0-9A-Z])([0-9]+|[A-Z]{3})-\1/[0-9]+(?![0-9])")
_MAX_STEPS = 100_000


class CronTimetable:
    """Fire times of one cron line in one zone."""

    def __init__(self, expression: str, tz: tzinfo, field: str = "cron") -> None:
        self.expression = expression
        self.tz = tz
        self._field = field
        six = _six_fields(expression, field)
        self._fixed = bool(_FIXED.match(six[1]) and _FIXED.match(six[2]))
        self._nearest, six[3] = _nearest_weekdays(six, field)
        self._line = " ".join(six)
        _check_fields(expression, six, field)
        try:
            CronSim(self._line, datetime(2000, 1, 1))
        except CronSimError:
            raise InvalidInputError(
                field,
                f"{expression!r} never fires: that day-of-month does not exist in the months given",
            ) from None

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` (aware), in UTC; None if none in 50 years."""
        after = after.astimezone(UTC)
        if self._fixed:
            wall = after.astimezone(self.tz).replace(tzinfo=None)
            iterator = CronSim(self._line, wall)
            for _ in range(_MAX_STEPS):
                candidate = _next(iterator)
                if candidate is None:
                    return None
                if self._nearest and not self._nearest_ok(candidate.date()):
                    continue
                instant = wall_to_instant(candidate, self.tz)
                if instant > after:
                    return instant
            return None
        return self._next_real(after)

    def _next_real(self, after: datetime) -> datetime | None:
        """Real-instant reading: each matching wall time fires at every instant that shows it
        (none in a gap, two in a fold), found by iterating wall time, so it works for offsets
        that change by half hours or at midnight, where cronsim's aware stepping does not."""
        local = after.astimezone(self.tz)
        wall = local.replace(tzinfo=None)
        span = fold_span(wall, self.tz)
        if span and local.fold == 0:
            wall -= span  # the second pass of this fold still lies ahead
        iterator = CronSim(self._line, wall - timedelta(seconds=1))
        best: datetime | None = None
        horizon: datetime | None = None
        for _ in range(_MAX_STEPS):
            candidate = _next(iterator)
            if candidate is None or (horizon is not None and candidate >= horizon):
                break
            if self._nearest and not self._nearest_ok(candidate.date()):
                continue
            for instant in real_instants(candidate, self.tz):
                if instant > after and (best is None or instant < best):
                    best = instant
            if best is not None and horizon is None:
                # Inside a fold a later wall time may still show an earlier instant.
                horizon = candidate + fold_span(candidate, self.tz)
                if horizon == candidate:
                    break
        return best

    def _nearest_ok(self, day: date) -> bool:
        return any(day.day == nearest_weekday(day.year, day.month, n) for n in self._nearest)

    def describe(self) -> str:
        """cronsim's plain-English explanation (``nW`` days noted after it)."""
        six = self._line.split()
        if self._nearest:
            six[3] = ",".join(str(n) for n in sorted(self._nearest))
        text = CronSim(" ".join(six), datetime(2000, 1, 1)).explain()
        if len(self.expression.split()) == 5 or self.expression.startswith("@"):
            text = text.replace(" every second,", "").replace("At second 0 past ", "")
        if not six[3].startswith("*") and not six[5].startswith("*"):
            # Both day fields restricted: cron fires on either day, not on days matching both.
            text = text.replace(" day of month and on ", " day of month or on ").replace(
                " of the month and on ", " of the month or on "
            )
        if self._nearest:
            text += " (moved to the nearest weekday when that day is a Saturday or Sunday)"
        return text


def _next(iterator: CronSim) -> datetime | None:
    try:
        return next(iterator)
    except StopIteration:
        return None


def nearest_weekday(year: int, month: int, day: int) -> int:
    """Quartz's ``W``: the weekday nearest ``day``, never leaving the month."""
    last = calendar.monthrange(year, month)[1]
    day = min(day, last)
    weekday = date(year, month, day).weekday()
    if weekday == 5:  # Saturday -> Friday, or Monday when the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday -> Monday, or Friday when the last day
        return day + 1 if day < last else day - 2
    return day


def _six_fields(expression: str, field: str) -> list[str]:
    text = expression.strip()
    if text.startswith("@"):
        alias = ALIASES.get(text.lower())
        if alias is None:
            raise InvalidInputError(
                field, f"unknown alias {text!r}; known: {', '.join(sorted(ALIASES))}"
            )
        text = alias
    # cronsim reads a one-value range with a step ("5-5/10") like "5/10"; cron means 5 alone.
    parts = [_ONE_VALUE_RANGE.sub(r"\1", p) for p in text.upper().split()]
    if len(parts) not in (5, 6):
        raise InvalidInputError(
            field,
            f"{expression!r} has {len(parts)} fields; a cron line has 5 "
            "(minute hour day-of-month month day-of-week) or 6 (seconds first)",
        )
    return ["0", *parts] if len(parts) == 5 else parts


def _nearest_weekdays(six: list[str], field: str) -> tuple[frozenset[int], str]:
    """Split ``nW`` items out of the day-of-month field (cronsim knows only ``LW``).

    Each becomes the candidate days ``n-2..n+2``; fire times are then filtered to the nearest
    weekday. Like Quartz, ``W`` needs the day-of-week field to be ``*``.
    """
    items = six[3].split(",")
    nearest = {int(m.group(1)) for i in items if (m := _NEAREST_WEEKDAY.match(i))}
    if not nearest:
        return frozenset(), six[3]
    if six[5] != "*":
        raise InvalidInputError(field, "a 'W' day-of-month needs '*' as the day-of-week field")
    if any(not 1 <= n <= 31 for n in nearest) or len(nearest) != len(items):
        raise InvalidInputError(
            field, "'W' takes one day 1-31 (e.g. 15W) and cannot be mixed with other days"
        )
    days: set[int] = set()
    for n in nearest:
        # A day past the month's end is first clamped to the last day (28 at least), which
        # may then move back two more days.
        days.update(range(max(1, min(n, 28) - 2), min(31, n + 2) + 1))
    return frozenset(nearest), ",".join(str(d) for d in sorted(days))


def _check_fields(expression: str, six: list[str], field: str) -> None:
    """Find the first bad item and say where it is and why (cronsim only says "Bad minute")."""
    written = list(re.finditer(r"\S+", expression))
    shift = len(six) - len(written)  # 1 when the seconds field was added for a 5-field line
    for index, part in enumerate(six):
        kind = Field(index)
        try:
            kind.parse(part)
            continue
        except (CronSimError, ValueError, IndexError):
            pass
        where = f"field {index + 1 - shift} ({FIELD_NAMES[index]})"
        if 0 <= index - shift < len(written) and not expression.startswith("@"):
            where += f" at column {written[index - shift].start() + 1}"
        for item in part.split(","):
            try:
                kind.parse(item)
            except (CronSimError, ValueError, IndexError):
                raise InvalidInputError(field, f"{where}: {_why(kind, item)}") from None
        raise InvalidInputError(field, f"{where}: {part!r} is not valid")


def _why(kind: Field, item: str) -> str:
    if "/" in item:
        step = item.split("/", 1)[1]
        if step.isdigit() and int(step) == 0:
            return f"{item!r}: a step must be at least 1"
    numbers = [int(n) for n in re.findall(r"\d+", item.split("/", 1)[0].split("#", 1)[0])]
    span = RANGES[kind]
    for number in numbers:
        if number not in span:
            return f"{item!r}: {number} is out of range {FIELD_SPANS[kind]}"
    if "-" in item:
        low, _, high = item.split("/", 1)[0].partition("-")
        if low.isdigit() and high.isdigit() and int(high) < int(low):
            return f"{item!r}: a range must go from low to high"
    return f"{item!r} is not valid here (allowed: {FIELD_SPANS[kind]}, '*', ',', '-', '/'{_extras(kind)})"


def _extras(kind: Field) -> str:
    if kind is Field.DAY:
        return ", 'L', 'LW', 'nW'"
    if kind is Field.DOW:
        return ", 'nL', 'n#k'"
    return ""
