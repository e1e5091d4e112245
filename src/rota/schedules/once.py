"""One-time schedules: one ISO 8601 instant with an offset or a zone, never a naive time."""

from __future__ import annotations

from datetime import UTC, datetime

from rota.model.errors import InvalidInputError
from rota.schedules.zones import wall_to_instant, zone


def parse_instant(text: str, field: str = "once") -> datetime:
    """``2026-12-24T18:00:00+01:00``, ``…Z`` or ``2026-12-24T18:00[Europe/Berlin]`` -> UTC.

    A naive time is an error: "18:00" alone does not say which 18:00.
    """
    value = text.strip()
    zone_name = None
    if value.endswith("]") and "[" in value:
        value, zone_name = value[:-1].split("[", 1)
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(field, f"{text!r} is not an ISO 8601 date and time") from None
    if zone_name is not None:
        if instant.tzinfo is not None:
            raise InvalidInputError(field, f"{text!r}: give an offset or a [zone], not both")
        return wall_to_instant(instant, zone(zone_name, field))
    if instant.tzinfo is None:
        raise InvalidInputError(
            field,
            f"{text!r} has no UTC offset; write e.g. {value}+01:00, {value}Z "
            f"or {value}[Europe/Berlin]",
        )
    return instant.astimezone(UTC)


class OnceTimetable:
    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def next_after(self, after: datetime) -> datetime | None:
        return self.instant if self.instant > after else None

    def describe(self) -> str:
        return f"Once at {self.instant.isoformat().replace('+00:00', 'Z')}"
