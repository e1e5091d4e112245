"""``/metrics``: a :class:`MetricsSnapshot` in the Prometheus text exposition format.

A pure function of the snapshot: ``prometheus_client`` writes the format (escaping of label
values, ``HELP``/``TYPE`` lines, histogram samples) from a collector built for this one call on
a registry of its own, so nothing is kept between scrapes and no process-local counter can
disagree with the database.

Why gauges: every figure is read from the rows the database holds now, and ended runs are
pruned after ``retention_days``, so the counts go down as well as up; calling them counters
would make Prometheus see a reset at every pruning. The duration histogram keeps the
``histogram`` type because only that type lets ``histogram_quantile`` and dashboards read
buckets; it follows the same rows, so read it as the distribution of the runs still kept
(``histogram_quantile(0.9, rota_run_duration_seconds_bucket)``) rather than with ``rate()``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from rota.model.metrics import DURATION_BUCKETS, JobKey, MetricsSnapshot
from rota.model.status import RunStatus
from rota.model.workers import WorkerState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of the classic Prometheus text format, for the HTTP response."""

KEPT = "Counts the runs still in the database (ended runs are pruned after retention_days)."

JOB_LABELS = ["tenant", "job_id"]
WORKER_STATES: tuple[WorkerState, ...] = ("alive", "dead", "stopped")


def render_metrics(snapshot: MetricsSnapshot) -> bytes:
    """The snapshot as Prometheus text: every family has ``HELP`` and ``TYPE`` lines."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)


class _SnapshotCollector(Collector):
    """Yields the metric families of one snapshot (registered on a registry of its own)."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        yield from _run_families(self.snapshot)
        yield _duration_family(self.snapshot)
        yield from _queue_families(self.snapshot)
        yield from _lateness_families(self.snapshot)
        yield from _worker_families(self.snapshot)

    def describe(self) -> Iterable[Metric]:
        return ()


def _run_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    counts: Counter[tuple[JobKey, RunStatus]] = Counter()
    for row in snapshot.run_counts:
        counts[JobKey(row.tenant, row.job_id), row.status] += row.runs
    runs = GaugeMetricFamily(
        "rota_runs",
        "Runs by tenant, job and status (every status, 0 when none). " + KEPT,
        labels=[*JOB_LABELS, "status"],
    )
    pending = GaugeMetricFamily(
        "rota_runs_pending",
        "Runs waiting for another run, a lock or a resource before they are queued.",
        labels=JOB_LABELS,
    )
    running = GaugeMetricFamily("rota_runs_running", "Runs a worker holds now.", labels=JOB_LABELS)
    for key in snapshot.all_jobs():
        labels = [key.tenant, key.job_id]
        for status in RunStatus:
            runs.add_metric([*labels, status.value], counts[key, status])
        pending.add_metric(labels, counts[key, RunStatus.PENDING])
        running.add_metric(labels, counts[key, RunStatus.RUNNING])
    yield from (runs, pending, running)


def _duration_family(snapshot: MetricsSnapshot) -> Metric:
    family = HistogramMetricFamily(
        "rota_run_duration_seconds",
        "Duration from first start to end of completed, partial and failed runs. " + KEPT,
        labels=[*JOB_LABELS, "status"],
    )
    for row in snapshot.durations:
        buckets = [
            (repr(float(bound)), float(count))
            for bound, count in zip(DURATION_BUCKETS, row.buckets, strict=True)
        ]
        buckets.append(("+Inf", float(row.count)))
        family.add_metric([row.tenant, row.job_id, row.status.value], buckets, row.sum_seconds)
    return family


def _queue_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    by_job = {JobKey(row.tenant, row.job_id): row for row in snapshot.queues}
    depth = GaugeMetricFamily(
        "rota_queue_depth",
        "Queued runs that are due: what workers could claim now.",
        labels=JOB_LABELS,
    )
    age = GaugeMetricFamily(
        "rota_queue_oldest_age_seconds",
        "How long the longest-waiting due queued run has been due (0 when none is).",
        labels=JOB_LABELS,
    )
    for key in snapshot.all_jobs():
        labels = [key.tenant, key.job_id]
        row = by_job.get(key)
        depth.add_metric(labels, row.due if row else 0)
        age.add_metric(labels, row.oldest_age_seconds if row else 0.0)
    yield from (depth, age)


def _lateness_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    labels = [*JOB_LABELS, "schedule_id"]
    window = "created by schedules in the last hour"
    runs = GaugeMetricFamily("rota_schedule_recent_runs", f"Runs {window}.", labels=labels)
    total = GaugeMetricFamily(
        "rota_schedule_lateness_sum_seconds",
        f"Sum over the runs {window} of created_at - scheduled_for (divide by "
        "rota_schedule_recent_runs for the mean).",
        labels=labels,
    )
    most = GaugeMetricFamily(
        "rota_schedule_lateness_max_seconds",
        f"Largest created_at - scheduled_for of the runs {window}.",
        labels=labels,
    )
    for row in snapshot.lateness:
        values = [row.tenant, row.job_id, row.schedule_id]
        runs.add_metric(values, row.runs)
        total.add_metric(values, row.sum_seconds)
        most.add_metric(values, row.max_seconds)
    yield from (runs, total, most)


def _worker_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    states = Counter(worker.state for worker in snapshot.workers)
    workers = GaugeMetricFamily(
        "rota_workers",
        "Registered workers by state: alive, dead (silent for more than a lease) or stopped "
        "(in the last hour).",
        labels=["state"],
    )
    for state in WORKER_STATES:
        workers.add_metric([state], states[state])
    heartbeat = GaugeMetricFamily(
        "rota_worker_heartbeat_age_seconds",
        "Seconds since the worker's last heartbeat.",
        labels=["worker_id", "host", "state"],
    )
    running = GaugeMetricFamily(
        "rota_worker_running_runs",
        "Runs the worker holds now.",
        labels=["worker_id", "host"],
    )
    concurrency = GaugeMetricFamily(
        "rota_worker_concurrency",
        "Runs the worker may run at once.",
        labels=["worker_id", "host"],
    )
    for worker in snapshot.workers:
        where = [worker.worker_id, worker.hostname]
        heartbeat.add_metric([*where, worker.state], worker.heartbeat_age_seconds)
        running.add_metric(where, worker.running)
        concurrency.add_metric(where, worker.concurrency)
    yield from (workers, heartbeat, running, concurrency)
