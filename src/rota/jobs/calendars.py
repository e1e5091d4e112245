"""Business calendars from ``calendars/*.yaml``: holidays, date ranges, maintenance windows and
an RRULE of excluded days, which schedules name in ``exclude:``.

```yaml
id: de-holidays
tz: Europe/Berlin
dates: [2026-12-24, 2026-12-25]
ranges: [{from: 2026-12-27, to: 2027-01-01}]
windows: [{from: "02:00", to: "04:00", rrule: "FREQ=WEEKLY;BYDAY=SU"}]
exclude_days: "FREQ=WEEKLY;BYDAY=SA,SU"
```
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rota.jobs import yamlsafe
from rota.model.errors import DefinitionError, InvalidInputError
from rota.model.schedules import BusinessCalendar, TimeWindow
from rota.schedules.blackouts import check_calendar

CALENDARS_FOLDER = "calendars"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RangeModel(_Strict):
    start: date = Field(alias="from")
    end: date = Field(alias="to")


class WindowModel(_Strict):
    start: datetime | None = None
    end: datetime | None = None
    from_time: str | None = Field(default=None, alias="from")
    to_time: str | None = Field(default=None, alias="to")
    rrule: str | None = None


class CalendarModel(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}$")
    tz: str = "UTC"
    description: str = ""
    dates: list[date] = Field(default_factory=list)
    ranges: list[RangeModel] = Field(default_factory=list)
    windows: list[WindowModel] = Field(default_factory=list)
    exclude_days: str | None = None


def load_calendars(root: Path) -> tuple[list[BusinessCalendar], list[DefinitionError]]:
    folder = root / CALENDARS_FOLDER
    calendars: list[BusinessCalendar] = []
    errors: list[DefinitionError] = []
    if not folder.is_dir():
        return calendars, errors
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        source = str(path.relative_to(root))
        try:
            data = yamlsafe.load(path.read_text(encoding="utf-8"))
            items = data if isinstance(data, list) else [data]
            for item in items:
                calendars.append(_calendar(CalendarModel.model_validate(item), source))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            errors.append(DefinitionError(source, field, first["msg"]))
        except InvalidInputError as exc:
            errors.append(DefinitionError(source, exc.field, exc.reason))
        except Exception as exc:  # unreadable file or YAML syntax
            errors.append(DefinitionError(source, "yaml", str(exc).replace("\n", " ")))
    seen: set[str] = set()
    for calendar in list(calendars):
        if calendar.id in seen:
            errors.append(DefinitionError(calendar.source, "id", f"{calendar.id!r} twice"))
            calendars.remove(calendar)
        seen.add(calendar.id)
    return calendars, errors


def _calendar(model: CalendarModel, source: str) -> BusinessCalendar:
    calendar = BusinessCalendar(
        id=model.id,
        tz=model.tz,
        description=model.description,
        dates=tuple(model.dates),
        ranges=tuple((r.start, r.end) for r in model.ranges),
        windows=tuple(
            TimeWindow(
                start=w.start, end=w.end, from_time=w.from_time, to_time=w.to_time, rrule=w.rrule
            )
            for w in model.windows
        ),
        rrule=model.exclude_days,
        source=source,
    )
    check_calendar(calendar)
    return calendar
