"""``/metrics`` from the real store (SQLite and PostgreSQL): every family's numbers, exactly.

The runs are written through the store's own operations (enqueue, claim, finish, cancel) at
fixed instants around the test's ``now``, so durations, ages and lateness are known to the
microsecond; nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rota.model.jobs import JobDefinition, JobKind
from rota.model.runs import NewRun, Outcome, Run, RunError, Trigger
from rota.model.status import RunStatus
from rota.services.metrics import metrics_text
from rota.services.prometheus import render_metrics
from rota.store import Store

JOB_A = "sync.customers"
JOB_B = "rates.import"
LEASE = 30.0

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: bytes) -> tuple[Samples, dict[str, str]]:
    """Every sample as ``(name, sorted labels) -> value``, and every family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text.decode()):
        types[family.name] = family.type
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples, types


def family(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def lbl(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class Writer:
    """Writes runs through one store at chosen instants (one "process")."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now

    def at(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)

    def request(self, job_id: str, tenant: str, **fields: Any) -> NewRun:
        return NewRun(
            job=job_id,
            job_version=1,
            tenant=tenant,
            trigger=fields.pop("trigger", Trigger.MANUAL),
            params={},
            priority=0,
            max_attempts=1,
            **fields,
        )

    def enqueue(self, job_id: str, tenant: str, at: float, **fields: Any) -> Run:
        return self.store.enqueue_runs([self.request(job_id, tenant, **fields)], self.at(at))[0]

    def ended(
        self,
        job_id: str,
        tenant: str,
        start: float,
        seconds: float,
        status: RunStatus = RunStatus.COMPLETED,
        worker: str = "worker-1",
    ) -> None:
        """A run started at ``now + start`` that ended ``seconds`` later with ``status``."""
        run = self.enqueue(job_id, tenant, start)
        claims = self.store.claim_runs(worker, 10, LEASE, self.at(start))
        assert [c.run_id for c in claims] == [run.id]
        error = RunError(type="Boom", message="boom") if status is RunStatus.FAILED else None
        outcome = Outcome(run_id=run.id, token=claims[0].token, status=status, error=error)
        assert self.store.finish_runs([outcome], self.at(start + seconds))[run.id]


def sync_jobs(store: Store, now: datetime) -> None:
    store.sync_jobs(
        [
            JobDefinition(id=JOB_A, kind=JobKind.PYTHON, spec={"entrypoint": "jobs.a:run"}),
            JobDefinition(
                id=JOB_B, kind=JobKind.PYTHON, spec={"entrypoint": "jobs.b:run"}, tenant="acme"
            ),
            JobDefinition(id="idle.job", kind=JobKind.PYTHON, spec={"entrypoint": "jobs.c:run"}),
        ],
        now - timedelta(hours=3),
    )


def populate(first: Store, second: Store, now: datetime) -> None:
    """Two jobs' runs in every status, written half through ``first``, half through
    ``second``, and four worker registrations."""
    sync_jobs(first, now)
    one, two = Writer(first, now), Writer(second, now)
    # Ended runs of sync.customers (tenant default): 0.5 s sits on a bucket bound (inclusive),
    # 1.000001 s just above one (SQLite must not round it down).
    one.ended(JOB_A, "default", -7200, 0.5)
    one.ended(JOB_A, "default", -7000, 1.000001)
    two.ended(JOB_A, "default", -6000, 61.25, RunStatus.PARTIAL)
    two.ended(JOB_A, "default", -5000, 0.05, RunStatus.FAILED)
    # rates.import (tenant acme): an hour and a half second.
    one.ended(JOB_B, "acme", -10000, 3600.5)
    # A running run held by worker-2, and a run pending until it ends.
    held = two.enqueue(JOB_A, "default", -400)
    assert [c.run_id for c in second.claim_runs("worker-2", 10, LEASE, one.at(-400))] == [held.id]
    two.enqueue(JOB_A, "default", -300, waits_for=held.id)
    # A canceled run.
    canceled = one.enqueue(JOB_A, "default", -250)
    first.request_cancel(canceled.id, "alice", one.at(-250))
    # Queued runs: due 30 s ago, and not due before a minute from now (not in the queue depth).
    one.enqueue(JOB_A, "default", -30)
    one.enqueue(JOB_A, "default", -90, due_at=one.at(60))
    # rates.import: due two minutes and ten seconds ago, each created by a schedule.
    two.enqueue(
        JOB_B,
        "acme",
        -120,
        trigger=Trigger.SCHEDULE,
        schedule_id="rates.hourly",
        scheduled_for=one.at(-121.5),
    )
    two.enqueue(
        JOB_B,
        "acme",
        -10,
        trigger=Trigger.SCHEDULE,
        schedule_id="rates.hourly",
        scheduled_for=one.at(-14.25),
    )
    # Older than the lateness window (one hour): not counted.
    one.enqueue(
        JOB_B,
        "acme",
        -3700,
        trigger=Trigger.SCHEDULE,
        schedule_id="rates.hourly",
        scheduled_for=one.at(-3900),
    )
    # Workers: alive, dead (silent for more than a lease), stopped recently, stopped long ago.
    first.register_worker("worker-1", "alpha", 101, 4, one.at(-600))
    first.worker_heartbeat("worker-1", one.at(-5))
    second.register_worker("worker-2", "beta", 202, 2, one.at(-900))
    second.worker_heartbeat("worker-2", one.at(-100))
    first.register_worker("worker-3", "alpha", 103, 1, one.at(-1200))
    first.stop_worker("worker-3", one.at(-10))
    second.register_worker("worker-0", "gamma", 100, 1, one.at(-9000))
    second.stop_worker("worker-0", one.at(-7200))


@pytest.fixture
def scraped(store: Store, now: datetime) -> tuple[Samples, dict[str, str]]:
    populate(store, store, now)
    return parse(render_metrics(store.metrics_snapshot(now, lease_seconds=LEASE)))


A = {"tenant": "default", "job_id": JOB_A}
B = {"tenant": "acme", "job_id": JOB_B}
IDLE = {"tenant": "default", "job_id": "idle.job"}


def test_it_counts_runs_by_job_and_status(scraped: tuple[Samples, dict[str, str]]) -> None:
    samples, types = scraped
    expected_a = {"completed": 2, "partial": 1, "failed": 1, "running": 1, "pending": 1}
    expected_a |= {"canceled": 1, "queued": 2}
    expected_b = {"completed": 1, "queued": 3}
    expected = {}
    for labels, counts in ((A, expected_a), (B, expected_b), (IDLE, {})):
        for status in RunStatus:
            expected[lbl(**labels, status=status.value)] = counts.get(status.value, 0)
    assert types["rota_runs"] == "gauge"
    assert family(samples, "rota_runs") == expected
    assert family(samples, "rota_runs_pending") == {lbl(**A): 1, lbl(**B): 0, lbl(**IDLE): 0}
    assert family(samples, "rota_runs_running") == {lbl(**A): 1, lbl(**B): 0, lbl(**IDLE): 0}


def test_it_reports_durations_as_a_histogram(scraped: tuple[Samples, dict[str, str]]) -> None:
    samples, types = scraped
    assert types["rota_run_duration_seconds"] == "histogram"
    bounds = ["0.1", "0.5", "1.0", "5.0", "15.0", "60.0", "300.0", "900.0", "3600.0", "+Inf"]

    def buckets(labels: dict[str, str], status: str, counts: list[int]) -> dict[object, float]:
        return {
            lbl(**labels, status=status, le=le): count
            for le, count in zip(bounds, counts, strict=True)
        }

    assert family(samples, "rota_run_duration_seconds_bucket") == {
        **buckets(A, "completed", [0, 1, 1, 2, 2, 2, 2, 2, 2, 2]),
        **buckets(A, "partial", [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]),
        **buckets(A, "failed", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
        **buckets(B, "completed", [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    }
    assert family(samples, "rota_run_duration_seconds_count") == {
        lbl(**A, status="completed"): 2,
        lbl(**A, status="partial"): 1,
        lbl(**A, status="failed"): 1,
        lbl(**B, status="completed"): 1,
    }
    sums = family(samples, "rota_run_duration_seconds_sum")
    assert sums == {
        lbl(**A, status="completed"): pytest.approx(1.500001, abs=1e-9),
        lbl(**A, status="partial"): pytest.approx(61.25, abs=1e-9),
        lbl(**A, status="failed"): pytest.approx(0.05, abs=1e-9),
        lbl(**B, status="completed"): pytest.approx(3600.5, abs=1e-9),
    }


def test_it_reports_the_due_queue_and_its_oldest_age(
    scraped: tuple[Samples, dict[str, str]],
) -> None:
    samples, _ = scraped
    # sync.customers: the run due in a minute is queued but not due yet.
    assert family(samples, "rota_queue_depth") == {lbl(**A): 1, lbl(**B): 3, lbl(**IDLE): 0}
    assert family(samples, "rota_queue_oldest_age_seconds") == {
        lbl(**A): 30.0,
        lbl(**B): 3700.0,
        lbl(**IDLE): 0.0,
    }


def test_it_reports_the_lateness_of_the_last_hours_scheduled_runs(
    scraped: tuple[Samples, dict[str, str]],
) -> None:
    samples, _ = scraped
    schedule = lbl(**B, schedule_id="rates.hourly")
    assert family(samples, "rota_schedule_recent_runs") == {schedule: 2}
    assert family(samples, "rota_schedule_lateness_sum_seconds") == {
        schedule: pytest.approx(1.5 + 4.25, abs=1e-9)
    }
    assert family(samples, "rota_schedule_lateness_max_seconds") == {
        schedule: pytest.approx(4.25, abs=1e-9)
    }


def test_it_reports_workers_and_their_heartbeats(
    scraped: tuple[Samples, dict[str, str]],
) -> None:
    samples, _ = scraped
    assert family(samples, "rota_workers") == {
        lbl(state="alive"): 1,
        lbl(state="dead"): 1,
        lbl(state="stopped"): 1,
    }
    assert family(samples, "rota_worker_heartbeat_age_seconds") == {
        lbl(worker_id="worker-1", host="alpha", state="alive"): 5.0,
        lbl(worker_id="worker-2", host="beta", state="dead"): 100.0,
        lbl(worker_id="worker-3", host="alpha", state="stopped"): 1200.0,
    }
    assert family(samples, "rota_worker_running_runs") == {
        lbl(worker_id="worker-1", host="alpha"): 0,
        lbl(worker_id="worker-2", host="beta"): 1,
        lbl(worker_id="worker-3", host="alpha"): 0,
    }
    assert family(samples, "rota_worker_concurrency") == {
        lbl(worker_id="worker-1", host="alpha"): 4,
        lbl(worker_id="worker-2", host="beta"): 2,
        lbl(worker_id="worker-3", host="alpha"): 1,
    }


def test_every_family_has_help_and_type(scraped: tuple[Samples, dict[str, str]]) -> None:
    _, types = scraped
    assert set(types) == {
        "rota_runs",
        "rota_runs_pending",
        "rota_runs_running",
        "rota_run_duration_seconds",
        "rota_queue_depth",
        "rota_queue_oldest_age_seconds",
        "rota_schedule_recent_runs",
        "rota_schedule_lateness_sum_seconds",
        "rota_schedule_lateness_max_seconds",
        "rota_workers",
        "rota_worker_heartbeat_age_seconds",
        "rota_worker_running_runs",
        "rota_worker_concurrency",
    }


def test_an_empty_store_reports_empty_families(store: Store, now: datetime) -> None:
    samples, types = parse(render_metrics(store.metrics_snapshot(now)))
    assert "rota_runs" in types
    assert family(samples, "rota_workers") == {
        lbl(state="alive"): 0,
        lbl(state="dead"): 0,
        lbl(state="stopped"): 0,
    }
    assert family(samples, "rota_run_duration_seconds_count") == {}


def test_two_processes_on_one_database_report_the_same_numbers(
    store: Store, open_peer: Callable[[], Store], now: datetime
) -> None:
    """Each store object writes half of the runs and registers its own workers; either one
    reports all of them (no process-local counter)."""
    peer = open_peer()
    populate(store, peer, now)

    mine = render_metrics(store.metrics_snapshot(now, lease_seconds=LEASE))
    theirs = render_metrics(peer.metrics_snapshot(now, lease_seconds=LEASE))

    assert mine == theirs
    samples, _ = parse(mine)
    assert family(samples, "rota_run_duration_seconds_count")[lbl(**A, status="completed")] == 2
    assert family(samples, "rota_worker_running_runs") == {
        lbl(worker_id="worker-1", host="alpha"): 0,
        lbl(worker_id="worker-2", host="beta"): 1,
        lbl(worker_id="worker-3", host="alpha"): 0,
    }


def test_the_service_dates_the_snapshot_with_the_stores_clock(store: Store, now: datetime) -> None:
    sync_jobs(store, now)
    Writer(store, now).ended(JOB_A, "default", -100, 2.0)

    samples, _ = parse(metrics_text(store))

    assert family(samples, "rota_runs")[lbl(**A, status="completed")] == 1
    assert family(samples, "rota_run_duration_seconds_sum") == {
        lbl(**A, status="completed"): pytest.approx(2.0, abs=1e-9)
    }
