"""Run statuses and the only place that says which transitions are legal.

``pending`` waits for dependencies, locks or resources; ``queued`` waits for a worker;
terminal statuses (``completed``, ``partial``, ``failed``, ``canceled``) never change.
``running -> queued`` covers retries with backoff, the reaper re-queueing an idempotent run of a
lost worker, and a worker releasing its runs on shutdown.
"""

from __future__ import annotations

from enum import StrEnum

from rota.model.errors import ConflictError


class RunStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELED})

TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset({RunStatus.QUEUED, RunStatus.CANCELED}),
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.PENDING, RunStatus.CANCELED}),
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.QUEUED,
            RunStatus.COMPLETED,
            RunStatus.PARTIAL,
            RunStatus.FAILED,
            RunStatus.CANCELED,
        }
    ),
    RunStatus.COMPLETED: frozenset(),
    RunStatus.PARTIAL: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELED: frozenset(),
}


def can_transition(old: RunStatus, new: RunStatus) -> bool:
    return new in TRANSITIONS[old]


def check_transition(old: RunStatus, new: RunStatus) -> None:
    """Raise :class:`ConflictError` unless ``old -> new`` is legal."""
    if not can_transition(old, new):
        if old.terminal:
            raise ConflictError(f"run is {old.value}; terminal statuses never change")
        raise ConflictError(f"illegal status change {old.value} -> {new.value}")


def sources_of(new: RunStatus) -> frozenset[RunStatus]:
    """Statuses from which ``new`` may be reached; stores use it in guarded UPDATEs."""
    return frozenset(old for old, targets in TRANSITIONS.items() if new in targets)
