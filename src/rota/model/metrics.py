"""A snapshot of what ``/metrics`` reports, as values: aggregated by the store, rendered by
:mod:`rota.services.prometheus`.

Every number comes from the database, not from counters kept in one process, so that any
process (a web node, ``rota up``) answers the same for all workers and schedulers of every
machine. The counts therefore cover the runs *still in the database*: ended runs are pruned
after ``retention_days``, so they are gauges of "what the database holds now", not monotonic
counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rota.model.status import RunStatus
from rota.model.workers import WorkerState

DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
"""Upper bounds (seconds, inclusive) of the run duration histogram; ``+Inf`` is implied: from
a tenth of a second (a no-op job) to an hour (a nightly import)."""

DURATION_STATUSES: tuple[RunStatus, ...] = (
    RunStatus.COMPLETED,
    RunStatus.PARTIAL,
    RunStatus.FAILED,
)
"""The ended statuses whose runs have a meaningful duration: a canceled run may never have
started, and its duration says how long until someone gave up, not how long the work takes."""

LATENESS_WINDOW = timedelta(hours=1)
"""Schedule lateness covers the runs schedules created this long before the snapshot: recent
enough to alert on, independent of how long runs are kept."""

STOPPED_WORKER_WINDOW = timedelta(hours=1)
"""Workers that said goodbye stay in the snapshot this long (a restart is visible for a while);
older registrations are history, and would only grow the number of series."""


@dataclass(frozen=True, order=True)
class JobKey:
    """A job as the metrics label it: its tenant and its id."""

    tenant: str
    job_id: str


@dataclass(frozen=True)
class RunCount:
    """How many runs of one job are in the database with one status."""

    tenant: str
    job_id: str
    status: RunStatus
    runs: int


@dataclass(frozen=True)
class DurationStats:
    """Durations (first start to end) of one job's ended runs with one status.

    ``buckets`` holds one cumulative count per bound of :data:`DURATION_BUCKETS` (runs that took
    at most that long); the ``+Inf`` bucket is ``count``.
    """

    tenant: str
    job_id: str
    status: RunStatus
    count: int
    sum_seconds: float
    buckets: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.buckets) != len(DURATION_BUCKETS):
            raise ValueError(
                f"buckets: {len(DURATION_BUCKETS)} counts expected, got {len(self.buckets)}"
            )


@dataclass(frozen=True)
class QueueStats:
    """The runs of one job a worker could claim now: queued and due."""

    tenant: str
    job_id: str
    due: int
    oldest_age_seconds: float
    """How long the longest-waiting of them has been due (0 when there is none)."""


@dataclass(frozen=True)
class ScheduleLateness:
    """How late one schedule's runs of the last :data:`LATENESS_WINDOW` were created after
    their fire time (the scheduler's delay, not the queue's)."""

    tenant: str
    job_id: str
    schedule_id: str
    runs: int
    sum_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class WorkerMetrics:
    """One registered worker: where it is, whether it is there, and how busy it is."""

    worker_id: str
    hostname: str
    state: WorkerState
    heartbeat_age_seconds: float
    running: int
    concurrency: int


@dataclass(frozen=True)
class MetricsSnapshot:
    """Everything ``/metrics`` reports, read from the store at ``at``."""

    at: datetime
    jobs: tuple[JobKey, ...] = ()
    """Jobs to report even without runs (their counts are then zero): the defined jobs and
    every job that has runs in the database."""
    run_counts: tuple[RunCount, ...] = ()
    durations: tuple[DurationStats, ...] = ()
    queues: tuple[QueueStats, ...] = ()
    lateness: tuple[ScheduleLateness, ...] = ()
    workers: tuple[WorkerMetrics, ...] = ()

    def all_jobs(self) -> list[JobKey]:
        """The jobs of :attr:`jobs` and of every per-job row, sorted, each once."""
        keys = set(self.jobs)
        for rows in (self.run_counts, self.durations, self.queues, self.lateness):
            keys.update(JobKey(row.tenant, row.job_id) for row in rows)
        return sorted(keys)
