"""Workers as values: who runs runs, where, since when, and whether they are still there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from rota.model.runs import iso

WorkerState = Literal["alive", "stopped", "dead"]


def worker_state(
    heartbeat_at: datetime, stopped_at: datetime | None, now: datetime, lease_seconds: float
) -> WorkerState:
    """``stopped`` when it said goodbye; ``dead`` when its last heartbeat is older than a lease
    (the leases of its runs have expired by then, so the reaper recovers them); else ``alive``."""
    if stopped_at is not None:
        return "stopped"
    if now - heartbeat_at > timedelta(seconds=lease_seconds):
        return "dead"
    return "alive"


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    hostname: str
    pid: int
    version: str | None
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    state: WorkerState
    running: list[int] = field(default_factory=list)
    """Ids of the runs it holds now (``running`` with its worker id), lowest first."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hostname": self.hostname,
            "pid": self.pid,
            "version": self.version,
            "concurrency": self.concurrency,
            "state": self.state,
            "started_at": iso(self.started_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "stopped_at": iso(self.stopped_at),
            "running": list(self.running),
        }
