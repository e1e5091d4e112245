"""What a fault-injection test did and saw, and the invariants checked against the store.

A :class:`History` is written as the test goes: every run it enqueued (and whether the request
was acknowledged), every fault it injected (kill -9, SIGSTOP/SIGCONT) with its wall-clock
instant, and what the jobs really executed (``executions.log``: each Python job appends one
line per step with ``os.write`` on an ``O_APPEND`` file, so lines of concurrent processes never
mix). At the end the invariants are checked on what the store says (``open_store(url)``:
``list_runs``, ``get_history``, ``get_attempts``, ``list_occurrences``), and the figures are
printed (``-s`` or ``-rA`` shows them) and saved as JSON next to the test's logs.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rota.model.runs import Run, StatusChange
from rota.model.status import RunStatus
from rota.store import Store
from rota.store.base import RunFilter

EVERYTHING = 1_000_000
"""A page size that takes every row a test can have written."""

# -- what the jobs executed ------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """One line of ``executions.log``: ``AT KIND RUN ATTEMPT PID PPID``."""

    at: float
    kind: str
    run_id: int
    attempt: int
    pid: int
    ppid: int


def read_executions(path: Path) -> list[Execution]:
    if not path.exists():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 6:  # a line cut by a kill -9 mid-write (never seen, but possible)
            continue
        at, kind, run_id, attempt, pid, ppid = parts
        lines.append(Execution(float(at), kind, int(run_id), int(attempt), int(pid), int(ppid)))
    return lines


def executions_of(lines: Iterable[Execution], run_id: int, kind: str = "start") -> list[Execution]:
    return [e for e in lines if e.run_id == run_id and e.kind == kind]


# -- the history -----------------------------------------------------------------------------


@dataclass
class Enqueued:
    run_id: int
    job: str
    idempotent: bool
    at: float
    how: str
    """``api`` (the run service, in process) or ``cli`` (``rota run --json`` answered)."""


@dataclass
class Fault:
    at: float
    kind: str
    """``kill``, ``stop``, ``cont``, ``restart`` ..."""
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class History:
    name: str
    folder: Path
    seed: int
    enqueued: dict[int, Enqueued] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    """Requests that were not acknowledged (a CLI exit code other than 0)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Saved with the figures, not printed (per-round figures)."""

    def enqueue(self, run: Run, *, idempotent: bool, how: str = "api") -> None:
        self.acknowledge(run.id, run.job, idempotent=idempotent, how=how)

    def acknowledge(self, run_id: int, job: str, *, idempotent: bool, how: str) -> None:
        """A request answered with a run id: that run must exist and end."""
        self.enqueued[run_id] = Enqueued(run_id, job, idempotent, time.time(), how)

    def fault(self, kind: str, target: str, **detail: Any) -> Fault:
        event = Fault(time.time(), kind, target, dict(detail))
        self.faults.append(event)
        return event

    def kills(self) -> list[Fault]:
        return [f for f in self.faults if f.kind == "kill"]

    def save(self, figures: dict[str, Any]) -> Path:
        path = self.folder / f"{self.name}.json"
        data = {
            "name": self.name,
            "seed": self.seed,
            "figures": figures,
            "enqueued": [vars(e) for e in self.enqueued.values()],
            "faults": [vars(f) for f in self.faults],
            "refused": self.refused,
            "details": self.details,
        }
        path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        return path


def report(history: History, figures: dict[str, Any]) -> None:
    """Print the figures of a scenario (for quoting) and save them with the history."""
    path = history.save(figures)
    print(f"\nFAULTS {history.name} (seed {history.seed}): {json.dumps(figures, default=str)}")
    print(f"FAULTS {history.name}: history in {path}")


# -- reading the store -----------------------------------------------------------------------


def all_runs(store: Store, job: str | None = None) -> dict[int, Run]:
    return {r.id: r for r in store.list_runs(RunFilter(job=job, limit=EVERYTHING))}


def runs_by_id(store: Store, ids: Iterable[int]) -> dict[int, Run]:
    wanted = set(ids)
    return {i: r for i, r in all_runs(store).items() if i in wanted}


def all_ended(store: Store, ids: Iterable[int]) -> bool:
    wanted = set(ids)
    runs = runs_by_id(store, wanted)
    return len(runs) == len(wanted) and all(r.status.terminal for r in runs.values())


def unfinished(store: Store, ids: Iterable[int]) -> str:
    runs = runs_by_id(store, ids)
    missing = sorted(set(ids) - set(runs))
    open_runs = {i: (r.status.value, r.worker, r.attempt) for i, r in runs.items()}
    open_runs = {i: s for i, s in open_runs.items() if not RunStatus(s[0]).terminal}
    return f"missing runs: {missing}\nruns not ended: {open_runs}"


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def seconds(later: datetime, earlier: datetime | float) -> float:
    if isinstance(earlier, float | int):
        earlier = utc(float(earlier))
    return (later - earlier).total_seconds()


# -- invariants ------------------------------------------------------------------------------


def check_history(run: Run, history: Sequence[StatusChange]) -> list[str]:
    """A run's status history: a chain of legal steps from ``None`` and, once the run has
    ended, exactly one transition into a terminal status, the last one, matching the run."""
    problems = []
    previous: RunStatus | None = None
    for change in history:
        if change.from_status != previous:
            problems.append(
                f"run {run.id}: history jumps from {previous} to {change.from_status}->"
                f"{change.to_status}"
            )
        previous = change.to_status
    terminal = [h for h in history if h.to_status.terminal]
    if run.status.terminal:
        if len(terminal) != 1:
            problems.append(
                f"run {run.id}: {len(terminal)} terminal records "
                f"{[(h.to_status.value, h.reason, h.actor) for h in terminal]}"
            )
        elif history[-1] is not terminal[0] or terminal[0].to_status != run.status:
            problems.append(f"run {run.id}: its terminal record is not its last or its status")
    elif terminal:
        problems.append(f"run {run.id}: {run.status} after a terminal record")
    return problems


def check_runs(store: Store, ids: Iterable[int]) -> dict[int, Run]:
    """Every id exists and has ended, with exactly one terminal record and at most one
    completed attempt; returns the runs. Fails with every problem found, not the first."""
    wanted = sorted(set(ids))
    runs = runs_by_id(store, wanted)
    problems = [f"acknowledged run {i} does not exist" for i in wanted if i not in runs]
    for run in runs.values():
        if not run.status.terminal:
            problems.append(f"run {run.id} did not end: {run.status.value}")
        problems.extend(check_history(run, store.get_history(run.id)))
        attempts = store.get_attempts(run.id)
        completed = [a for a in attempts if a.outcome == RunStatus.COMPLETED.value]
        if len(completed) > 1:
            problems.append(f"run {run.id}: {len(completed)} completed attempts")
        if [a.number for a in attempts] != list(range(1, len(attempts) + 1)):
            problems.append(f"run {run.id}: attempts {[a.number for a in attempts]}")
    assert not problems, "\n".join(problems)
    return runs


def stale_running(store: Store, older_than: float) -> list[tuple[int, str | None, float]]:
    """Running runs whose lease expired more than ``older_than`` seconds ago: ``(id, worker,
    seconds past expiry)``. After one reaper sweep with a worker alive there must be none."""
    now = datetime.now(UTC)
    stale = []
    for run in store.list_runs(RunFilter(status=RunStatus.RUNNING, limit=EVERYTHING)):
        if run.lease_expires_at is None:
            stale.append((run.id, run.worker, math.inf))
            continue
        late = (now - run.lease_expires_at).total_seconds()
        if late > older_than:
            stale.append((run.id, run.worker, late))
    return stale


def reaper_changes(store: Store, run_id: int) -> list[StatusChange]:
    return [h for h in store.get_history(run_id) if h.actor == "reaper"]


# -- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, p50, p90, p99 and max, rounded to the millisecond."""

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {
        "n": len(values),
        "p50": r(percentile(values, 50)),
        "p90": r(percentile(values, 90)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values) if values else None),
    }


def tally(values: Iterable[Any]) -> dict[str, int]:
    return dict(sorted(Counter(str(v) for v in values).items()))


def group(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for key, value in pairs:
        grouped[key].append(value)
    return grouped
