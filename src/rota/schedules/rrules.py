"""Calendar schedules: RFC 5545 RRULEs (daily, weekly, monthly, yearly) expanded by dateutil.

rrule counts in wall-clock time, so every occurrence is a fixed wall time read in the schedule's
zone under the same DST rule as fixed-time cron entries (once at the jump, first of a fold).

Without a ``DTSTART`` line the rule must not depend on where it started (no ``INTERVAL`` above
1, no ``COUNT``, ``BYDAY`` for weekly rules); the expansion then starts a year before the asked
instant, which keeps every query fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from rota.model.errors import InvalidInputError
from rota.schedules.zones import wall_to_instant

_FREQS = {"YEARLY": YEARLY, "MONTHLY": MONTHLY, "WEEKLY": WEEKLY, "DAILY": DAILY}
_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_WEEKDAYS = {"MO", "TU", "WE", "TH", "FR"}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MAX_STEPS = 10_000


def rule_parts(expression: str) -> tuple[dict[str, str], str | None]:
    """The RRULE's ``KEY=VALUE`` parts and the DTSTART line, if any."""
    parts: dict[str, str] = {}
    dtstart = None
    for raw in expression.replace(";", "\n;").splitlines():
        line = raw.strip().lstrip(";")
        if not line:
            continue
        if line.upper().startswith("DTSTART"):
            dtstart = line
            continue
        key, _, value = line.removeprefix("RRULE:").removeprefix("rrule:").partition("=")
        parts[key.strip().upper()] = value.strip().upper()
    return parts, dtstart


class CalendarTimetable:
    def __init__(self, expression: str, tz: tzinfo, field: str = "calendar") -> None:
        self.expression = expression
        self.tz = tz
        parts, dtstart = rule_parts(expression)
        freq = parts.get("FREQ")
        if freq not in _FREQS:
            raise InvalidInputError(
                field,
                f"FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY, not {freq!r} "
                "(use cron or an interval for times within a day)",
            )
        try:
            rule = rrulestr(expression, dtstart=datetime(2000, 1, 1), forceset=False)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(field, f"{expression!r}: {exc}") from None
        if not isinstance(rule, rrule):
            raise InvalidInputError(field, "give one RRULE (no RDATE or EXDATE)")
        if dtstart is not None and ("TZID" in dtstart.upper() or dtstart.upper().endswith("Z")):
            raise InvalidInputError(
                field, "DTSTART is read in the schedule's tz: write it without Z or TZID"
            )
        if dtstart is None:
            for key, reason in (
                ("INTERVAL", "an INTERVAL above 1"),
                ("COUNT", "COUNT"),
            ):
                if key in parts and not (key == "INTERVAL" and parts[key] == "1"):
                    raise InvalidInputError(
                        field, f"{reason} counts from a start: add a DTSTART line"
                    )
            if freq == "WEEKLY" and "BYDAY" not in parts:
                raise InvalidInputError(field, "a weekly rule needs BYDAY (or a DTSTART line)")
        _check_month_days(parts, field, expression)
        self._rule = rule
        self._parts = parts
        self._freq = freq
        self._interval = int(parts.get("INTERVAL", "1"))
        self._start: datetime | None = None
        if dtstart is not None:
            self._start = rrulestr(f"{dtstart}\nRRULE:FREQ=DAILY;COUNT=1")[0]
            self._rule = rrulestr(expression, forceset=False, cache=True)  # type: ignore[assignment]
        start = self._start or datetime(2000, 1, 1)
        self._start_clock = (start.hour, start.minute)
        self._pinned = self._pinned_defaults(start)
        self._rules: dict[datetime, rrule] = {}

    def _pinned_defaults(self, start: datetime) -> dict[str, object]:
        """The BY* values rrule would take from DTSTART, written out, so that moving DTSTART by
        whole periods (to keep expansion short) cannot change which days match."""
        parts = self._parts
        if any(k in parts for k in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")):
            return {}
        if self._freq == "WEEKLY":
            return {"byweekday": start.weekday()}
        if self._freq == "MONTHLY":
            return {"bymonthday": start.day}
        if self._freq == "YEARLY":
            pinned: dict[str, object] = {"bymonthday": start.day}
            if "BYMONTH" not in parts:
                pinned["bymonth"] = start.month
            return pinned
        return {}

    def _step(self, periods: int) -> relativedelta:
        n = periods * self._interval
        if self._freq == "DAILY":
            return relativedelta(days=n)
        if self._freq == "WEEKLY":
            return relativedelta(weeks=n)
        if self._freq == "MONTHLY":
            return relativedelta(months=n)
        return relativedelta(years=n)

    def _rule_for(self, wall: datetime) -> rrule:
        """The rule with a DTSTART shortly before ``wall`` (expansion costs a few periods, not
        the years since the original DTSTART) and an UNTIL six years on (a rule that matches
        less often than the five-year rule allows has no next fire)."""
        if self._start is not None and "COUNT" in self._parts:
            return self._rule  # COUNT counts from DTSTART: expand from there (cached)
        if self._start is None:
            first = wall.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            start = first.replace(month=1) - relativedelta(years=1)
            if self._freq != "YEARLY":
                start = first - relativedelta(months=1)
        else:
            start = self._start
            periods = _periods_between(self._freq, self._interval, self._start, wall) - 1
            if periods > 0:
                start = self._start + self._step(periods)
        rule = self._rules.get(start)
        if rule is None:
            extra: dict[str, object] = {"dtstart": start, **self._pinned}
            if "UNTIL" not in self._parts:
                extra["until"] = start + self._step(2) + relativedelta(years=6)
            rule = self._rules[start] = self._rule.replace(**extra)  # type: ignore[arg-type]
        return rule

    def next_after(self, after: datetime) -> datetime | None:
        after = after.astimezone(UTC)
        cursor = after.astimezone(self.tz).replace(tzinfo=None)
        for _ in range(_MAX_STEPS):
            wall = self._rule_for(cursor).after(cursor)
            if wall is None:
                return None
            instant = wall_to_instant(wall, self.tz)
            if instant > after:
                return instant
            cursor = wall
        return None

    def describe(self) -> str:
        return describe_rule(self._parts, self._start_clock)


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_month_days(parts: dict[str, str], field: str, expression: str) -> None:
    """Refuse BYMONTHDAY values no BYMONTH month has (dateutil would search until year 9999)."""
    if "BYMONTHDAY" not in parts:
        return
    try:
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
        months = [int(m) for m in parts.get("BYMONTH", "1,2,3,4,5,6,7,8,9,10,11,12").split(",")]
    except ValueError:
        return  # dateutil already refused what is not a number
    longest = max((_MONTH_DAYS[m - 1] for m in months if 1 <= m <= 12), default=31)
    if all(abs(d) > longest for d in days):
        raise InvalidInputError(
            field, f"{expression!r} never fires: no month given has day {', '.join(map(str, days))}"
        )


def _periods_between(freq: str, interval: int, start: datetime, wall: datetime) -> int:
    """Whole rule periods from ``start`` to ``wall`` (0 when ``wall`` is earlier)."""
    if wall <= start:
        return 0
    if freq in ("DAILY", "WEEKLY"):
        days = (wall - start).days
        return days // (interval * (7 if freq == "WEEKLY" else 1))
    months = (wall.year - start.year) * 12 + wall.month - start.month
    return months // (interval * (12 if freq == "YEARLY" else 1))


def describe_rule(parts: dict[str, str], start_clock: tuple[int, int]) -> str:
    """A plain-English reading of the common shapes; the RRULE itself says the rest."""
    freq = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}[freq]
    text = f"Every {unit}" if interval == 1 else f"Every {interval} {unit}s"
    days = parts.get("BYDAY", "")
    setpos = parts.get("BYSETPOS")
    if days:
        names = [_day(d) for d in days.split(",")]
        if set(days.split(",")) == _WEEKDAYS:
            names = ["weekday"]
        if setpos:
            text += f" on the {_ordinal(int(setpos))} {_join(names, 'or')}"
        else:
            text += f" on {_join(names, 'and')}"
    if "BYMONTHDAY" in parts:
        text += " on day " + _join([_monthday(d) for d in parts["BYMONTHDAY"].split(",")], "and")
    if "BYMONTH" in parts:
        text += " in " + _join([_MONTHS[int(m) - 1] for m in parts["BYMONTH"].split(",")], "and")
    hours = sorted(int(h) for h in parts.get("BYHOUR", str(start_clock[0])).split(","))
    minutes = sorted(int(m) for m in parts.get("BYMINUTE", str(start_clock[1])).split(","))
    if len(hours) * len(minutes) <= 6:
        text += " at " + _join([f"{h:02d}:{m:02d}" for h in hours for m in minutes], "and")
    if "UNTIL" in parts:
        text += f" until {parts['UNTIL']}"
    if "COUNT" in parts:
        text += f", {parts['COUNT']} times"
    return text


def _day(token: str) -> str:
    prefix, code = token[:-2], token[-2:]
    name = _DAYS.get(code, code)
    return f"the {_ordinal(int(prefix))} {name}" if prefix and prefix not in "+-" else name


def _monthday(token: str) -> str:
    number = int(token)
    return "last" if number == -1 else (_ordinal(number) + " last" if number < 0 else str(number))


def _ordinal(n: int) -> str:
    if n == -1:
        return "last"
    if n < 0:
        return f"{_ordinal(-n)} last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]
