"""Time zones and the one DST rule for wall-clock (fixed-time) schedules.

Cron entries with fixed hours and calendar rules produce *wall-clock* times. Two of those do not
map to exactly one instant once a year:

* in the spring-forward gap (02:30 does not exist): the entry runs once, at the instant of the
  jump (the first wall time after the gap);
* in the fall-back fold (02:30 happens twice): the entry runs once, at the first occurrence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rota.model.errors import InvalidInputError

_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")


@lru_cache(maxsize=512)
def zone(name: str, field: str = "tz") -> tzinfo:
    """The IANA zone ``name``; path-like or unknown names are refused."""
    if name.upper() == "UTC":
        return UTC
    if len(name) > 64 or not _ZONE_NAME.fullmatch(name) or ".." in name:
        raise InvalidInputError(field, f"{name!r} is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInputError(
            field, f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None


def is_gap(wall: datetime, tz: tzinfo) -> bool:
    """True when the naive wall time ``wall`` does not exist in ``tz`` (spring-forward)."""
    aware = wall.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall


def wall_to_instant(wall: datetime, tz: tzinfo) -> datetime:
    """The instant (UTC) a fixed wall-clock time fires at, by the rule above."""
    if is_gap(wall, tz):
        # Every IANA transition since 1970 falls on a whole minute: the first wall minute after
        # the gap is the instant of the jump.
        probe = wall.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while is_gap(probe, tz):
            probe += timedelta(minutes=1)
        return probe.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def fold_span(wall: datetime, tz: tzinfo) -> timedelta:
    """How long the fold containing ``wall`` repeats (zero when ``wall`` is not ambiguous)."""
    first = wall.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)
    second = wall.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
    return max(first - second, timedelta(0))


def real_instants(wall: datetime, tz: tzinfo) -> list[datetime]:
    """Every instant whose local time in ``tz`` is ``wall``: none, one or two (a fold)."""
    if is_gap(wall, tz):
        return []
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return [first] if first == second else sorted((first, second))
