"""``render_metrics``: a hand-built snapshot in, Prometheus text out, read back by the
Prometheus parser (so the format, not our reading of it, is what is checked)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rota.model.metrics import (
    DurationStats,
    JobKey,
    MetricsSnapshot,
    QueueStats,
    RunCount,
    ScheduleLateness,
    WorkerMetrics,
)
from rota.model.status import RunStatus
from rota.services.prometheus import render_metrics

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ODD = 'odd "job" \\ with\nnewline'
"""A job id with every character the text format must escape in a label value."""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: bytes) -> tuple[Samples, dict[str, tuple[str, str]]]:
    """Samples as ``(name, sorted labels) -> value``; each family's ``(type, help)``."""
    samples: Samples = {}
    families: dict[str, tuple[str, str]] = {}
    for family in text_string_to_metric_families(text.decode()):
        families[family.name] = (family.type, family.documentation)
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples, families


def lbl(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def of(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


SNAPSHOT = MetricsSnapshot(
    at=AT,
    jobs=(JobKey("default", "quiet.job"),),
    run_counts=(
        RunCount("default", ODD, RunStatus.COMPLETED, 3),
        RunCount("default", ODD, RunStatus.QUEUED, 2),
        RunCount("default", ODD, RunStatus.PENDING, 1),
        RunCount("acme", "b", RunStatus.RUNNING, 4),
    ),
    durations=(
        DurationStats(
            "default",
            ODD,
            RunStatus.COMPLETED,
            count=3,
            sum_seconds=7.5,
            buckets=(0, 1, 1, 2, 2, 3, 3, 3, 3),
        ),
    ),
    queues=(QueueStats("default", ODD, due=2, oldest_age_seconds=42.5),),
    lateness=(
        ScheduleLateness("acme", "b", "b.nightly", runs=2, sum_seconds=3.0, max_seconds=2.5),
    ),
    workers=(
        WorkerMetrics("w-1", 'host "x"\\y', "alive", 1.5, running=3, concurrency=4),
        WorkerMetrics("w-2", "beta", "dead", 95.0, running=1, concurrency=2),
    ),
)

ODD_JOB = {"tenant": "default", "job_id": ODD}
B_JOB = {"tenant": "acme", "job_id": "b"}
QUIET = {"tenant": "default", "job_id": "quiet.job"}


def test_every_family_has_a_type_and_a_help_text() -> None:
    _, families = parse(render_metrics(SNAPSHOT))
    assert {name: kind for name, (kind, _) in families.items()} == {
        "rota_runs": "gauge",
        "rota_runs_pending": "gauge",
        "rota_runs_running": "gauge",
        "rota_run_duration_seconds": "histogram",
        "rota_queue_depth": "gauge",
        "rota_queue_oldest_age_seconds": "gauge",
        "rota_schedule_recent_runs": "gauge",
        "rota_schedule_lateness_sum_seconds": "gauge",
        "rota_schedule_lateness_max_seconds": "gauge",
        "rota_workers": "gauge",
        "rota_worker_heartbeat_age_seconds": "gauge",
        "rota_worker_running_runs": "gauge",
        "rota_worker_concurrency": "gauge",
    }
    assert all(help_text for _, help_text in families.values())
    assert "retention_days" in families["rota_runs"][1]


def test_label_values_with_quotes_backslashes_and_newlines_survive() -> None:
    text = render_metrics(SNAPSHOT)
    assert b'job_id="odd \\"job\\" \\\\ with\\nnewline"' in text

    samples, _ = parse(text)

    assert of(samples, "rota_queue_depth")[lbl(**ODD_JOB)] == 2
    assert of(samples, "rota_worker_running_runs")[lbl(worker_id="w-1", host='host "x"\\y')] == 3


def test_runs_are_reported_for_every_status_of_every_job() -> None:
    samples, _ = parse(render_metrics(SNAPSHOT))
    runs = of(samples, "rota_runs")

    assert len(runs) == 3 * len(RunStatus)
    assert runs[lbl(**ODD_JOB, status="completed")] == 3
    assert runs[lbl(**ODD_JOB, status="queued")] == 2
    assert runs[lbl(**ODD_JOB, status="failed")] == 0
    assert runs[lbl(**B_JOB, status="running")] == 4
    assert runs[lbl(**QUIET, status="completed")] == 0
    assert of(samples, "rota_runs_pending") == {lbl(**ODD_JOB): 1, lbl(**B_JOB): 0, lbl(**QUIET): 0}
    assert of(samples, "rota_runs_running") == {lbl(**ODD_JOB): 0, lbl(**B_JOB): 4, lbl(**QUIET): 0}


def test_durations_become_cumulative_histogram_buckets() -> None:
    samples, _ = parse(render_metrics(SNAPSHOT))
    labels = {**ODD_JOB, "status": "completed"}

    buckets = of(samples, "rota_run_duration_seconds_bucket")

    assert buckets == {
        lbl(**labels, le="0.1"): 0,
        lbl(**labels, le="0.5"): 1,
        lbl(**labels, le="1.0"): 1,
        lbl(**labels, le="5.0"): 2,
        lbl(**labels, le="15.0"): 2,
        lbl(**labels, le="60.0"): 3,
        lbl(**labels, le="300.0"): 3,
        lbl(**labels, le="900.0"): 3,
        lbl(**labels, le="3600.0"): 3,
        lbl(**labels, le="+Inf"): 3,
    }
    assert of(samples, "rota_run_duration_seconds_count") == {lbl(**labels): 3}
    assert of(samples, "rota_run_duration_seconds_sum") == {lbl(**labels): 7.5}


def test_queues_lateness_and_workers() -> None:
    samples, _ = parse(render_metrics(SNAPSHOT))
    schedule = lbl(**B_JOB, schedule_id="b.nightly")

    assert of(samples, "rota_queue_depth") == {lbl(**ODD_JOB): 2, lbl(**B_JOB): 0, lbl(**QUIET): 0}
    assert of(samples, "rota_queue_oldest_age_seconds") == {
        lbl(**ODD_JOB): 42.5,
        lbl(**B_JOB): 0.0,
        lbl(**QUIET): 0.0,
    }
    assert of(samples, "rota_schedule_recent_runs") == {schedule: 2}
    assert of(samples, "rota_schedule_lateness_sum_seconds") == {schedule: 3.0}
    assert of(samples, "rota_schedule_lateness_max_seconds") == {schedule: 2.5}
    assert of(samples, "rota_workers") == {
        lbl(state="alive"): 1,
        lbl(state="dead"): 1,
        lbl(state="stopped"): 0,
    }
    assert of(samples, "rota_worker_heartbeat_age_seconds") == {
        lbl(worker_id="w-1", host='host "x"\\y', state="alive"): 1.5,
        lbl(worker_id="w-2", host="beta", state="dead"): 95.0,
    }
    assert of(samples, "rota_worker_concurrency") == {
        lbl(worker_id="w-1", host='host "x"\\y'): 4,
        lbl(worker_id="w-2", host="beta"): 2,
    }


def test_an_empty_snapshot_still_names_every_family() -> None:
    samples, families = parse(render_metrics(MetricsSnapshot(at=AT)))
    assert len(families) == 13
    assert of(samples, "rota_runs") == {}


def test_a_duration_row_needs_one_count_per_bucket() -> None:
    with pytest.raises(ValueError, match="buckets"):
        DurationStats("default", "a", RunStatus.COMPLETED, count=1, sum_seconds=1.0, buckets=(1,))


def test_rendering_keeps_no_state_between_calls() -> None:
    assert render_metrics(SNAPSHOT) == render_metrics(SNAPSHOT)
