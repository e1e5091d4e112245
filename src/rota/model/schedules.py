"""Schedules, business calendars and occurrences as values.

A :class:`ScheduleSpec` says *when* a job starts by itself; :mod:`rota.schedules` turns it into
fire times. An :class:`Occurrence` accounts for one nominal time: it ran, or why it did not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.runs import check_aware, iso

MAX_EXPRESSION_LENGTH = 256
SCHEDULE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,159}$")


class ScheduleKind(StrEnum):
    CRON = "cron"
    INTERVAL = "interval"
    ONCE = "once"
    CALENDAR = "calendar"


class MissedPolicy(StrEnum):
    """What to do with nominal times that passed while no scheduler ran (Qorus ``run_skipped``)."""

    SKIP = "skip"
    LATEST = "latest"
    ALL = "all"


class OverlapPolicy(StrEnum):
    """What a fire does while the job still has an unfinished run."""

    SKIP = "skip"
    QUEUE = "queue"
    ALLOW = "allow"
    CANCEL_PREVIOUS = "cancel_previous"


class OccurrenceOutcome(StrEnum):
    RAN = "ran"
    SKIPPED_OVERLAP = "skipped:overlap"
    SKIPPED_MISSED = "skipped:missed"
    SKIPPED_BLACKOUT = "skipped:blackout"
    COALESCED = "coalesced"


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """One schedule of a job. ``expression`` is read according to ``kind``:

    a cron line, an interval (``30s``, ``5m``, ``1h``, ``1d`` or seconds), an ISO 8601 instant,
    or an RFC 5545 RRULE. :func:`rota.schedules.compile_schedule` checks it.
    """

    kind: ScheduleKind
    expression: str
    tz: str = ""
    """IANA zone; empty means the project's default (``timezone`` in rota.toml, else UTC)."""
    id: str = ""
    """Stable name (``job:1`` unless declared); occurrences and pauses are kept by it."""
    start: datetime | None = None
    end: datetime | None = None
    """Expiry: no fire after this instant."""
    jitter: float = 0.0
    """Upper bound (seconds) of a per-job delay derived from the job id: same job, same delay."""
    params: dict[str, JsonValue] = field(default_factory=dict)
    missed: MissedPolicy = MissedPolicy.LATEST
    grace: float = 60.0
    """A fire later than this (seconds) after its nominal time counts as missed."""
    catch_up_window: float = 86_400.0
    """``missed: all`` replays missed times at most this old (seconds)."""
    max_catch_up: int = 10
    """``missed: all`` replays at most this many missed times (the latest ones)."""
    overlap: OverlapPolicy | None = None
    """Overrides the job's overlap policy for this schedule's runs."""
    exclude: tuple[str, ...] = ()
    """Business calendars whose blackouts skip a nominal time."""
    anchor: datetime | None = None
    """``interval`` only: fires at ``anchor + k * interval`` (default: the Unix epoch)."""

    @property
    def key(self) -> str:
        """The word a definition uses for this kind (``every`` for intervals)."""
        return "every" if self.kind is ScheduleKind.INTERVAL else self.kind.value

    def __post_init__(self) -> None:
        if not self.expression.strip():
            raise InvalidInputError(self.key, "must not be empty")
        if len(self.expression) > MAX_EXPRESSION_LENGTH:
            raise InvalidInputError(
                self.key,
                f"is {len(self.expression)} characters long; the limit is {MAX_EXPRESSION_LENGTH}",
            )
        if self.id and not SCHEDULE_ID_PATTERN.fullmatch(self.id):
            raise InvalidInputError(
                "id", f"{self.id!r} must be lowercase letters, digits, '.', ':', '_' or '-'"
            )
        for name in ("start", "end", "anchor"):
            check_aware(name, getattr(self, name))
        if self.start and self.end and self.end <= self.start:
            raise InvalidInputError("end", "must be after start")
        if self.jitter < 0:
            raise InvalidInputError("jitter", "must not be negative")
        if self.grace < 0:
            raise InvalidInputError("grace", "must not be negative")
        if self.catch_up_window <= 0:
            raise InvalidInputError("catch_up_window", "must be positive")
        if not 1 <= self.max_catch_up <= 10_000:
            raise InvalidInputError("max_catch_up", "must be between 1 and 10000")

    def with_id(self, schedule_id: str) -> ScheduleSpec:
        return replace(self, id=schedule_id)

    def to_json(self) -> dict[str, JsonValue]:
        body: dict[str, JsonValue] = {
            "id": self.id,
            "kind": self.kind.value,
            "expression": self.expression,
            "tz": self.tz,
            "start": iso(self.start),
            "end": iso(self.end),
            "jitter": self.jitter,
            "params": self.params,
            "missed": self.missed.value,
            "grace": self.grace,
            "catch_up_window": self.catch_up_window,
            "max_catch_up": self.max_catch_up,
            "overlap": self.overlap.value if self.overlap else None,
            "exclude": list(self.exclude),
            "anchor": iso(self.anchor),
        }
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleSpec:
        def instant(name: str) -> datetime | None:
            value = data.get(name)
            return datetime.fromisoformat(value) if value else None

        overlap = data.get("overlap")
        return cls(
            id=data.get("id", ""),
            kind=ScheduleKind(data["kind"]),
            expression=data["expression"],
            tz=data.get("tz", ""),
            start=instant("start"),
            end=instant("end"),
            jitter=float(data.get("jitter", 0.0)),
            params=dict(data.get("params", {})),
            missed=MissedPolicy(data.get("missed", MissedPolicy.LATEST)),
            grace=float(data.get("grace", 60.0)),
            catch_up_window=float(data.get("catch_up_window", 86_400.0)),
            max_catch_up=int(data.get("max_catch_up", 10)),
            overlap=OverlapPolicy(overlap) if overlap else None,
            exclude=tuple(data.get("exclude", ())),
            anchor=instant("anchor"),
        )


@dataclass(frozen=True, kw_only=True)
class TimeWindow:
    """A blackout window: absolute (``start``/``end`` instants) or daily local times
    (``from_time``/``to_time`` ``HH:MM``) on the days an optional RRULE names."""

    start: datetime | None = None
    end: datetime | None = None
    from_time: str | None = None
    to_time: str | None = None
    rrule: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "from_time": self.from_time,
            "to_time": self.to_time,
            "rrule": self.rrule,
        }


@dataclass(frozen=True, kw_only=True)
class BusinessCalendar:
    """Named blackouts a schedule can exclude: holidays, date ranges, windows, excluded days."""

    id: str
    tz: str = "UTC"
    description: str = ""
    dates: tuple[date, ...] = ()
    ranges: tuple[tuple[date, date], ...] = ()
    """Inclusive date ranges (local dates in ``tz``)."""
    windows: tuple[TimeWindow, ...] = ()
    rrule: str | None = None
    """An RRULE whose days are excluded entirely (e.g. weekends)."""
    source: str = ""

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "tz": self.tz,
            "description": self.description,
            "dates": [d.isoformat() for d in self.dates],
            "ranges": [[a.isoformat(), b.isoformat()] for a, b in self.ranges],
            "windows": [w.to_json() for w in self.windows],
            "rrule": self.rrule,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BusinessCalendar:
        def instant(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=data["id"],
            tz=data.get("tz", "UTC"),
            description=data.get("description", ""),
            dates=tuple(date.fromisoformat(d) for d in data.get("dates", ())),
            ranges=tuple(
                (date.fromisoformat(a), date.fromisoformat(b)) for a, b in data.get("ranges", ())
            ),
            windows=tuple(
                TimeWindow(
                    start=instant(w.get("start")),
                    end=instant(w.get("end")),
                    from_time=w.get("from_time"),
                    to_time=w.get("to_time"),
                    rrule=w.get("rrule"),
                )
                for w in data.get("windows", ())
            ),
            rrule=data.get("rrule"),
            source=data.get("source", ""),
        )


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A schedule as the store knows it: its spec plus the scheduler's bookkeeping."""

    spec: ScheduleSpec
    job: str
    tenant: str
    origin: str
    """``definition`` (from a job definition, replaced at every sync) or ``api``."""
    paused: bool
    pause_note: str | None
    paused_by: str | None
    next_fire_at: datetime | None
    last_nominal: datetime | None
    last_outcome: str | None
    """An :class:`OccurrenceOutcome` value, or ``error`` when the schedule could not be read."""
    description: str
    removed: bool
    updated_at: datetime

    @property
    def id(self) -> str:
        return self.spec.id

    def to_json(self) -> dict[str, JsonValue]:
        return {
            **self.spec.to_json(),
            "job": self.job,
            "tenant": self.tenant,
            "origin": self.origin,
            "description": self.description,
            "paused": self.paused,
            "pause_note": self.pause_note,
            "paused_by": self.paused_by,
            "next_fire_at": iso(self.next_fire_at),
            "last_nominal": iso(self.last_nominal),
            "last_outcome": self.last_outcome,
            "removed": self.removed,
        }


@dataclass(frozen=True, kw_only=True)
class Occurrence:
    id: int
    schedule_id: str
    job: str
    nominal_time: datetime
    outcome: OccurrenceOutcome
    run_id: int | None
    recorded_at: datetime
    detail: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "schedule_id": self.schedule_id,
            "job": self.job,
            "nominal_time": iso(self.nominal_time),
            "outcome": self.outcome.value,
            "run_id": self.run_id,
            "recorded_at": iso(self.recorded_at),
            "detail": self.detail,
        }
