"""Event triggers: "when job X (or any job tagged T) ends with status S, start job Y".

Declared on the job they start (``triggers:`` in YAML), so a job says what starts it just as
its schedules do. The store fires them in the transaction that ends the source run: a trigger
fires exactly once per ended run, whoever ends it and whatever dies afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from rota.model.errors import InvalidInputError
from rota.model.ids import JOB_ID_PATTERN
from rota.model.params import JsonValue
from rota.model.status import RunStatus

TAG_PREFIX = "tag:"
DEFAULT_STATUSES = (RunStatus.COMPLETED,)


@dataclass(frozen=True, kw_only=True)
class EventTrigger:
    id: str
    source: str
    """A job (or process) id, or ``tag:T`` for any job tagged ``T``."""
    target: str
    statuses: tuple[RunStatus, ...] = DEFAULT_STATUSES
    params: dict[str, JsonValue]
    """Target parameters; may refer to the ended run as ``{{ run.result.path }}``,
    ``{{ run.info.count }}``, ``{{ run.params.day }}``, ``{{ run.id }}``, ``{{ run.status }}``."""

    def __post_init__(self) -> None:
        name = self.source.removeprefix(TAG_PREFIX)
        if not name or (
            not self.source.startswith(TAG_PREFIX) and not JOB_ID_PATTERN.fullmatch(name)
        ):
            raise InvalidInputError(f"triggers.{self.id}.on", f"{self.source!r} is not a job id")
        if not self.statuses:
            raise InvalidInputError(f"triggers.{self.id}.status", "name at least one status")
        for status in self.statuses:
            if not status.terminal:
                raise InvalidInputError(
                    f"triggers.{self.id}.status",
                    f"{status.value!r} is not an end status (completed, partial, failed, canceled)",
                )

    @property
    def tag(self) -> str | None:
        return self.source.removeprefix(TAG_PREFIX) if self.source.startswith(TAG_PREFIX) else None

    def describe(self) -> str:
        what = f"a job tagged {self.tag}" if self.tag else self.source
        return f"when {what} ends {' or '.join(s.value for s in self.statuses)}"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "on": self.source,
            "target": self.target,
            "status": [s.value for s in self.statuses],
            "params": self.params,
        }

    @classmethod
    def from_json(cls, data: dict[str, JsonValue]) -> EventTrigger:
        statuses = data.get("status") or [s.value for s in DEFAULT_STATUSES]
        assert isinstance(statuses, list)
        params = data.get("params") or {}
        assert isinstance(params, dict)
        return cls(
            id=str(data["id"]),
            source=str(data["on"]),
            target=str(data["target"]),
            statuses=tuple(RunStatus(str(s)) for s in statuses),
            params=params,
        )
