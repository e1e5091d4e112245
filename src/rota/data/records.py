"""What flows through a data job: source rows, mapped records, and why a record failed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record as read: ``number`` counts data rows from 1 (a CSV's header is not one).

    A row that could not be read (ragged, bad bytes, bad JSON) has ``values=None`` and an
    ``error``: it becomes a failed record result, not a crashed run.
    """

    number: int
    values: dict[str, Any] | None
    error: str | None = None


class RecordError(Exception):
    """One record cannot be mapped or written: ``field`` names where, ``reason`` says why."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class Source(Protocol):
    """A readable source. Opening it may fail as a whole (missing file, no header, unreadable
    encoding declared wrongly for the first bytes): that raises :class:`SourceError`."""

    @property
    def fields(self) -> list[str]:
        """The field names records carry (a CSV's header), known after opening."""

    def total(self) -> int | None:
        """How many records there are, when the source can say without reading them all."""

    def rows(self) -> Iterator[SourceRow]: ...

    def close(self) -> None: ...


class SourceError(Exception):
    """The source as a whole cannot be read; the run fails with this message."""
