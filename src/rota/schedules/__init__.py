"""Schedules as pure objects: parse a :class:`ScheduleSpec`, answer "next fire after t".

No clock is read here; callers pass ``now``. See ``docs/schedules.md`` for the DST table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from rota.model.errors import InvalidInputError
from rota.model.schedules import ScheduleKind, ScheduleSpec
from rota.schedules.cron import NEVER_HORIZON, CronTimetable
from rota.schedules.interval import IntervalTimetable, parse_interval
from rota.schedules.once import OnceTimetable, parse_instant
from rota.schedules.rrules import CalendarTimetable
from rota.schedules.zones import zone


class Timetable(Protocol):
    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after``, in UTC; None when there is none."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class CompiledSchedule:
    """A checked spec with its timetable; start and end (expiry) applied."""

    spec: ScheduleSpec
    timetable: Timetable

    @property
    def description(self) -> str:
        text = self.timetable.describe()
        zoned = self.spec.kind in (ScheduleKind.CRON, ScheduleKind.CALENDAR)
        if zoned and self.spec.tz.upper() not in ("", "UTC"):
            text += f" ({self.spec.tz})"
        return text

    def next_after(self, after: datetime) -> datetime | None:
        start = self.spec.start
        if start is not None and after < start:
            after = start - timedelta(microseconds=1)
        fire = self.timetable.next_after(after)
        if fire is None or (self.spec.end is not None and fire > self.spec.end):
            return None
        return fire

    def fire_times(self, after: datetime, limit: int | None = None) -> Iterator[datetime]:
        count = 0
        fire = self.next_after(after)
        while fire is not None and (limit is None or count < limit):
            yield fire
            count += 1
            fire = self.next_after(fire)

    def jitter(self, job_id: str) -> timedelta:
        """The job's fixed delay within ``spec.jitter``: spreads jobs, same delay every time."""
        if self.spec.jitter <= 0:
            return timedelta(0)
        digest = int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big")
        return timedelta(seconds=self.spec.jitter * (digest / 2**64))


def compile_schedule(
    spec: ScheduleSpec, *, now: datetime | None = None, field: str = ""
) -> CompiledSchedule:
    """Check ``spec`` and build its timetable. With ``now``, cron and calendar rules that would
    not fire within five years are refused. Errors name ``field`` + the spec's field."""
    prefix = f"{field}." if field else ""
    tz = zone(spec.tz or "UTC", f"{prefix}tz")
    where = prefix + spec.key
    timetable: Timetable
    if spec.kind is ScheduleKind.CRON:
        timetable = CronTimetable(spec.expression, tz, where)
    elif spec.kind is ScheduleKind.INTERVAL:
        timetable = IntervalTimetable(parse_interval(spec.expression, where), spec.anchor)
    elif spec.kind is ScheduleKind.ONCE:
        timetable = OnceTimetable(parse_instant(spec.expression, where))
    else:
        timetable = CalendarTimetable(spec.expression, tz, where)
    compiled = CompiledSchedule(spec, timetable)
    if now is not None and spec.kind in (ScheduleKind.CRON, ScheduleKind.CALENDAR):
        after = max(now, spec.start) if spec.start else now
        first = timetable.next_after(after.astimezone(UTC))
        if first is None or first > after + NEVER_HORIZON:
            raise InvalidInputError(where, f"{spec.expression!r} never fires in the next 5 years")
    return compiled


__all__ = ["CompiledSchedule", "Timetable", "compile_schedule"]
