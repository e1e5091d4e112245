"""Runs and what the engine and store exchange about them.

A :class:`Run` is a read model: everything an administrator asks of one execution ("did it
start, did it finish, which records, can I retry it?"). The other classes are the messages of
the store's domain operations (``NewRun`` in, ``Claim`` out, ``Activity`` and ``Outcome`` back).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.resources import ResourceClaim
from rota.model.status import RunStatus


class Trigger(StrEnum):
    MANUAL = "manual"
    API = "api"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    EVENT = "event"
    RETRY = "retry"
    CATCH_UP = "catch-up"
    PARENT = "parent"
    """A part of a larger run, started by that run (a data job split over several workers)."""
    PROCESS = "process"
    """A step of a process run, started by the store when the steps it needs ended."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise InvalidInputError(name, "naive datetime; pass an aware one (UTC)")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``: the one time format of every JSON face."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Progress:
    done: int = 0
    total: int | None = None
    message: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {"done": self.done, "total": self.total, "message": self.message}


COUNTER_NAMES = (
    "processed",
    "succeeded",
    "failed",
    "skipped",
    "inserted",
    "updated",
    "deleted",
    "unchanged",
)

RECORD_ACTIONS = frozenset(
    {"inserted", "updated", "deleted", "unchanged", "skipped", "exported", "failed"}
)
"""Actions a record result may name; each bumps ``processed`` and its counter if it has one
(``exported``, a record written to an export file, counts as succeeded only)."""

DATA_CHANGING_ACTIONS = frozenset({"inserted", "updated", "deleted"})


@dataclass(frozen=True)
class Counters:
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __add__(self, other: Counters) -> Counters:
        return Counters(**{n: getattr(self, n) + getattr(other, n) for n in COUNTER_NAMES})

    @property
    def changed_data(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


def counters_for(action: str, failed: bool) -> Counters:
    """The counter delta of one record result."""
    delta = {"processed": 1}
    if failed or action == "failed":
        delta["failed"] = 1
    else:
        delta["succeeded"] = 1
        if action in COUNTER_NAMES:
            delta[action] = 1
    return Counters(**delta)


@dataclass(frozen=True)
class RunError:
    type: str
    message: str
    traceback: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {"type": self.type, "message": self.message, "traceback": self.traceback}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunError | None:
        if not data:
            return None
        return cls(data["type"], data["message"], data.get("traceback"))


@dataclass(frozen=True, kw_only=True)
class ProcessStep:
    """One step of a process run as shown with it: ``kept`` steps completed in the run this
    one reruns, and ``run_id`` then names that earlier run."""

    name: str
    job: str
    state: str
    """``started``, ``kept``, ``skipped``, ``failed`` (could not start) or ``waiting``."""
    run_id: int | None = None
    status: RunStatus | None = None
    reason: str | None = None
    needs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "job": self.job,
            "state": self.state,
            "run_id": self.run_id,
            "status": self.status.value if self.status else None,
            "reason": self.reason,
            "needs": list(self.needs),
        }


@dataclass(frozen=True, kw_only=True)
class Run:
    id: int
    job: str
    job_version: int
    tenant: str
    trigger: Trigger
    triggered_by: str | None
    run_as: str | None
    params: dict[str, JsonValue]
    status: RunStatus
    priority: int
    created_at: datetime
    queued_at: datetime | None
    due_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempt: int
    max_attempts: int
    progress: Progress
    counters: Counters
    info: dict[str, JsonValue]
    result: JsonValue
    error: RunError | None
    reason: str | None
    external_calls: list[dict[str, JsonValue]]
    data_changed: bool
    retry_of: int | None
    cancel_requested: bool
    worker: str | None
    lease_expires_at: datetime | None
    schedule_id: str | None = None
    scheduled_for: datetime | None = None
    """The nominal time of the schedule fire that created this run."""
    waits_for: int | None = None
    """A ``pending`` run waits for this run to end."""
    parent_id: int | None = None
    """The run that started this one as a part of itself; its records count there too."""
    step: str | None = None
    """The step of the process run ``parent_id`` that this run is."""
    waiting: dict[str, JsonValue] | None = None
    """What a ``pending`` run waits for besides ``waits_for``: resources and their holders."""
    steps: tuple[ProcessStep, ...] = ()
    """A process run's steps (filled by ``get_run``)."""

    @property
    def waiting_for(self) -> dict[str, JsonValue] | None:
        """What a ``pending`` run waits for, in words and ids; None for other runs."""
        if self.status is not RunStatus.PENDING:
            return None
        if self.waiting is not None:
            return self.waiting
        if self.waits_for is not None:
            return {"runs": [self.waits_for], "reason": f"run {self.waits_for} to end"}
        return None

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return (end - self.started_at).total_seconds()

    @property
    def retryable(self) -> bool:
        """A manual retry is offered for ended runs that did not complete; ``data_changed``
        tells the administrator whether the failed attempt already touched data."""
        return self.status in (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.CANCELED)

    def to_json(self) -> dict[str, JsonValue]:
        """The run object of every JSON face (CLI ``--json``, API): an interface, keep it stable."""
        return {
            "id": self.id,
            "job": self.job,
            "job_version": self.job_version,
            "tenant": self.tenant,
            "status": self.status.value,
            "trigger": self.trigger.value,
            "triggered_by": self.triggered_by,
            "run_as": self.run_as,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "priority": self.priority,
            "params": self.params,
            "progress": self.progress.to_json(),
            "counters": self.counters.to_json(),
            "info": self.info,
            "result": self.result,
            "error": self.error.to_json() if self.error else None,
            "reason": self.reason,
            "external_calls": self.external_calls,
            "data_changed": self.data_changed,
            "retryable": self.retryable,
            "retry_of": self.retry_of,
            "cancel_requested": self.cancel_requested,
            "worker": self.worker,
            "created_at": iso(self.created_at),
            "queued_at": iso(self.queued_at),
            "due_at": iso(self.due_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": self.duration,
            "schedule_id": self.schedule_id,
            "scheduled_for": iso(self.scheduled_for),
            "waits_for": self.waits_for,
            "waiting_for": self.waiting_for,
            "parent_id": self.parent_id,
            "step": self.step,
            **({"steps": [s.to_json() for s in self.steps]} if self.steps else {}),
        }


@dataclass(frozen=True, kw_only=True)
class Attempt:
    run_id: int
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: RunError | None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "number": self.number,
            "worker": self.worker,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "outcome": self.outcome,
            "error": self.error.to_json() if self.error else None,
        }


@dataclass(frozen=True, kw_only=True)
class StatusChange:
    run_id: int
    from_status: RunStatus | None
    to_status: RunStatus
    at: datetime
    reason: str | None
    actor: str | None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value,
            "at": iso(self.at),
            "reason": self.reason,
            "actor": self.actor,
        }


@dataclass(frozen=True, kw_only=True)
class RecordResult:
    key: str
    action: str
    error: str | None = None
    attempt: int = 0
    seq: int = 0
    row: int | None = None
    """Where the record came from (a data job's source row), when the job says."""

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "key": self.key,
            "action": self.action,
            "error": self.error,
            "attempt": self.attempt,
            "row": self.row,
        }


@dataclass(frozen=True, kw_only=True)
class LogLine:
    at: datetime
    level: str
    message: str
    attempt: int = 0
    seq: int = 0

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "seq": self.seq,
            "at": iso(self.at),
            "level": self.level,
            "message": self.message,
            "attempt": self.attempt,
        }


@dataclass(frozen=True, kw_only=True)
class NewRun:
    """A validated request to create a run; the services layer builds it."""

    job: str
    job_version: int
    tenant: str
    trigger: Trigger
    params: dict[str, JsonValue]
    priority: int
    max_attempts: int
    triggered_by: str | None = None
    run_as: str | None = None
    due_at: datetime | None = None
    retry_of: int | None = None
    schedule_id: str | None = None
    scheduled_for: datetime | None = None
    waits_for: int | None = None
    """Create the run ``pending``: it is queued when that run ends."""
    parent_id: int | None = None
    resources: tuple[ResourceClaim, ...] = ()
    """What the run holds from queued to its end; it waits ``pending`` until it gets all."""
    after: tuple[str, ...] = ()
    """Jobs whose unfinished run this run waits for (when ``waits_for`` is not given)."""
    process: bool = False
    """A process run: the store starts its first steps instead of queuing it for a worker."""
    step: str | None = None

    def __post_init__(self) -> None:
        check_aware("due_at", self.due_at)
        check_aware("scheduled_for", self.scheduled_for)


def new_lease_token() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A run a worker now holds: ``token`` fences every later write for this attempt."""

    run_id: int
    job: str
    job_version: int
    params: dict[str, JsonValue]
    attempt: int
    max_attempts: int
    token: str
    lease_expires_at: datetime
    tenant: str
    trigger: Trigger = Trigger.MANUAL
    """What started the run: scheduled runs are pre-flight checked before they start."""


@dataclass
class Activity:
    """What a running attempt reports between heartbeats, written in one transaction.

    Buffered by the worker so that a job logging thousands of records costs a few commits.
    """

    logs: list[LogLine] = field(default_factory=list)
    records: list[RecordResult] = field(default_factory=list)
    progress: Progress | None = None
    info: dict[str, JsonValue] | None = None
    external_calls: list[dict[str, JsonValue]] = field(default_factory=list)
    absorbed: Counters | None = None
    """Counters of finished child runs added to this run's own (their records stay theirs)."""

    def empty(self) -> bool:
        return not (
            self.logs
            or self.records
            or self.progress
            or self.info
            or self.external_calls
            or self.absorbed
        )

    def merge(self, other: Activity) -> None:
        if other.absorbed is not None:
            self.absorbed = (self.absorbed or Counters()) + other.absorbed
        self.logs.extend(other.logs)
        self.records.extend(other.records)
        self.external_calls.extend(other.external_calls)
        if other.progress is not None:
            self.progress = other.progress
        if other.info is not None:
            self.info = {**(self.info or {}), **other.info}


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How an attempt ended. ``status=QUEUED`` with ``retry_at`` re-queues it for a retry."""

    run_id: int
    token: str
    status: RunStatus
    reason: str | None = None
    error: RunError | None = None
    result: JsonValue = None
    retry_at: datetime | None = None
    activity: Activity | None = None


class LeaseState(StrEnum):
    HELD = "held"
    LOST = "lost"
    CANCEL_REQUESTED = "cancel_requested"


def settle(counters: Counters) -> RunStatus:
    """The status of a run whose job returned normally, from its record counters.

    Some failed records make it ``partial``; records that all failed make it ``failed``.
    """
    if counters.failed == 0:
        return RunStatus.COMPLETED
    if counters.failed >= counters.processed:
        return RunStatus.FAILED
    return RunStatus.PARTIAL
