"""The real scheduler against real stores (SQLite and PostgreSQL).

Only the first test spends real time (a few seconds, with two schedulers and a worker racing);
the others move a controlled clock and call ``Scheduler.tick()`` directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from tests.integration.conftest import wait_until

from rota.engine.scheduler import ScheduleAlert, Scheduler
from rota.engine.worker import Worker
from rota.model.jobs import JobDefinition, JobKind
from rota.model.runs import NewRun, Outcome, Run, Trigger, utcnow
from rota.model.schedules import (
    MissedPolicy,
    OccurrenceOutcome,
    OverlapPolicy,
    ScheduleKind,
    ScheduleSpec,
)
from rota.model.status import RunStatus
from rota.settings import Settings, load_settings
from rota.store import RunFilter, Store, sql_schedules
from rota.store import schema as t
from rota.store.base import OccurrenceFilter

RAN = OccurrenceOutcome.RAN
MISSED = OccurrenceOutcome.SKIPPED_MISSED
COALESCED = OccurrenceOutcome.COALESCED
OVERLAP = OccurrenceOutcome.SKIPPED_OVERLAP
SERVICE = "svc-sched"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

SCHEDULED_JOBS = """
from rota import every, job

@job(id="s.tick", schedule=every(seconds=1, missed="all"), overlap="allow")
def tick(ctx):
    return "tock"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Overrides the worker fixtures' project: one job with a one-second schedule."""
    root = tmp_path / "project"
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "scheduled.py").write_text(SCHEDULED_JOBS)
    return root


@pytest.fixture
def sched_settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(tmp_path, database_url=database_url, service_account=SERVICE)


def minute(minutes: float, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def every(seconds: int = 60, **options: Any) -> ScheduleSpec:
    return ScheduleSpec(kind=ScheduleKind.INTERVAL, expression=f"{seconds}s", **options)


def job(job_id: str, *schedules: ScheduleSpec, **fields: Any) -> JobDefinition:
    return JobDefinition(
        id=job_id,
        kind=JobKind.PYTHON,
        spec={"function": "jobs.x.run"},
        schedules=schedules,
        **fields,
    )


def runs_of(store: Store, job_id: str) -> list[Run]:
    return list(reversed(store.list_runs(RunFilter(job=job_id, limit=1000))))


def outcomes(store: Store, schedule_id: str) -> list[tuple[datetime, OccurrenceOutcome]]:
    found = store.list_occurrences(OccurrenceFilter(schedule_id=schedule_id, limit=1000))
    return [(o.nominal_time, o.outcome) for o in reversed(found)]


def manual_run(job_id: str) -> NewRun:
    return NewRun(
        job=job_id,
        job_version=1,
        tenant="default",
        trigger=Trigger.MANUAL,
        params={},
        priority=0,
        max_attempts=1,
        triggered_by="alice",
    )


def complete_one(store: Store, at: datetime) -> int:
    """What a worker does: claim one due run and end it ``completed``; returns its id."""
    [claim] = store.claim_runs("test-worker", 1, 30.0, at)
    store.finish_runs(
        [Outcome(run_id=claim.run_id, token=claim.token, status=RunStatus.COMPLETED)], at
    )
    return claim.run_id


# -- (a) two schedulers and a worker in real time ----------------------------------------------


def test_two_schedulers_and_a_worker_run_each_nominal_time_exactly_once(
    synced: Store,
    worker: Worker,
    settings: Settings,
    open_peer: Callable[[], Store],
) -> None:
    schedule = synced.get_schedule("s.tick:1")
    assert schedule.next_fire_at is not None
    first_due = schedule.next_fire_at
    alerts: list[ScheduleAlert] = []
    schedulers = [Scheduler(open_peer(), settings, alert_hooks=[alerts.append]) for _ in range(2)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in schedulers]
    for thread in threads:
        thread.start()
    try:
        time.sleep(4.5)
    finally:
        for scheduler in schedulers:
            scheduler.stop()
        for thread in threads:
            thread.join(10)
    stopped_at = utcnow()
    assert not any(thread.is_alive() for thread in threads), "a scheduler did not stop"

    found = synced.list_occurrences(OccurrenceFilter(schedule_id="s.tick:1", limit=1000))
    nominal = sorted(o.nominal_time for o in found)
    assert len(nominal) >= 4, nominal
    assert nominal[0] == first_due
    assert nominal == [first_due + timedelta(seconds=n) for n in range(len(nominal))]
    assert nominal[-1] >= stopped_at - timedelta(seconds=3)
    assert {o.outcome for o in found} == {RAN}
    runs = runs_of(synced, "s.tick")
    assert Counter((r.schedule_id, r.scheduled_for) for r in runs) == {
        ("s.tick:1", n): 1 for n in nominal
    }
    assert {o.run_id for o in found} == {r.id for r in runs}
    assert {(r.trigger, r.run_as) for r in runs} == {(Trigger.SCHEDULE, settings.service_account)}
    assert alerts == []
    assert synced.get_schedule("s.tick:1").next_fire_at == nominal[-1] + timedelta(seconds=1)

    wait_until(
        lambda: all(r.status.terminal for r in runs_of(synced, "s.tick")),
        timeout=30,
        what="the worker to run every scheduled run",
    )
    assert {r.status for r in runs_of(synced, "s.tick")} == {RunStatus.COMPLETED}


# -- (b) downtime catch-up, with the clock moved by time_machine -------------------------------


@pytest.mark.parametrize(
    ("policy", "expected", "runs"),
    [
        (MissedPolicy.SKIP, [MISSED] * 9, []),
        (MissedPolicy.LATEST, [COALESCED] * 8 + [RAN], [minute(10)]),
        (MissedPolicy.ALL, [MISSED] * 6 + [RAN] * 3, [minute(8), minute(9), minute(10)]),
    ],
)
def test_a_scheduler_back_from_downtime_applies_the_missed_policy(
    store: Store,
    sched_settings: Settings,
    policy: MissedPolicy,
    expected: list[OccurrenceOutcome],
    runs: list[datetime],
) -> None:
    spec = every(60, missed=policy, grace=10, catch_up_window=300, max_catch_up=3)
    with time_machine.travel(T0, tick=False) as traveller:
        store.sync_jobs([job("d.job", spec)], utcnow())
        # The machine's clock, travelled: the database's clock does not travel.
        scheduler = Scheduler(store, sched_settings, clock=utcnow, alert_hooks=[])

        traveller.shift(timedelta(minutes=1))
        [report] = scheduler.tick()
        assert report.occurrences[0][:2] == (minute(1), RAN)
        first = complete_one(store, utcnow())

        traveller.shift(timedelta(minutes=9, seconds=30))  # down until 08:10:30
        reports = scheduler.tick()

        assert utcnow() == minute(10, 30)
        assert [r.schedule_id for r in reports] == ["d.job:1"]
        assert outcomes(store, "d.job:1") == [(minute(1), RAN)] + [
            (minute(m), outcome) for m, outcome in zip(range(2, 11), expected, strict=True)
        ]
        caught_up = [r for r in runs_of(store, "d.job") if r.id != first]
        assert [r.scheduled_for for r in caught_up] == runs
        assert {r.trigger for r in caught_up} <= {Trigger.CATCH_UP}
        assert [r.waits_for for r in caught_up[1:]] == [r.id for r in caught_up[:-1]]
        assert store.next_fire_time() == minute(11)
        assert scheduler.tick() == []

        # Catch-up runs replay one after the other as a worker ends them.
        for _ in runs:
            traveller.shift(timedelta(seconds=1))
            complete_one(store, utcnow())
        assert all(r.status is RunStatus.COMPLETED for r in runs_of(store, "d.job"))


def test_a_backlog_longer_than_one_pass_is_caught_up_within_one_tick(
    store: Store, sched_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pass accounts for at most BACKLOG_CHUNK nominal times (10,000); tick() must keep
    # passing until the backlog is gone. A small chunk shows the same in milliseconds.
    monkeypatch.setattr(sql_schedules, "BACKLOG_CHUNK", 7)
    store.sync_jobs([job("d.job", every(1, missed=MissedPolicy.LATEST, grace=0))], T0)
    with time_machine.travel(T0 + timedelta(seconds=40), tick=False):
        reports = Scheduler(store, sched_settings, clock=utcnow, alert_hooks=[]).tick()

    assert len(reports) == 6  # 7 + 7 + 7 + 7 + 7 + 5 nominal times
    assert sum(len(r.occurrences) for r in reports) == 40
    [run] = runs_of(store, "d.job")
    assert run.scheduled_for == T0 + timedelta(seconds=40)
    assert outcomes(store, "d.job:1") == [
        (T0 + timedelta(seconds=n), COALESCED) for n in range(1, 40)
    ] + [(T0 + timedelta(seconds=40), RAN)]
    assert store.get_schedule("d.job:1").next_fire_at == T0 + timedelta(seconds=41)


# -- (c) alert hooks ---------------------------------------------------------------------------


def test_alert_hooks_hear_about_missed_coalesced_overlapping_and_broken_schedules(
    store: Store, sched_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store.sync_jobs(
        [
            job("m.job", every(60, missed=MissedPolicy.SKIP, grace=10)),
            job(
                "c.job",
                every(60, missed=MissedPolicy.LATEST, grace=10),
                overlap=OverlapPolicy.ALLOW,
            ),
            job("o.job", every(60, missed=MissedPolicy.SKIP, grace=600)),
            job("x.job", every(60)),
            job(
                "ok.job", every(60, grace=600, missed=MissedPolicy.ALL), overlap=OverlapPolicy.ALLOW
            ),
        ],
        T0,
    )
    [manual] = store.enqueue_runs([manual_run("o.job")], T0)
    [claim] = store.claim_runs("test-worker", 1, 600.0, T0)
    assert claim.run_id == manual.id
    engine: sa.Engine = store._engine  # type: ignore[attr-defined]
    broken = {**store.get_schedule("x.job:1").spec.to_json(), "kind": "cron", "expression": "x"}
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.schedules).where(t.schedules.c.id == "x.job:1").values(spec=broken)
        )

    heard: list[ScheduleAlert] = []

    def explode(alert: ScheduleAlert) -> None:
        raise RuntimeError(f"pager down ({alert.schedule_id})")

    clock = [minute(3, 30)]
    scheduler = Scheduler(
        store, sched_settings, clock=lambda: clock[0], alert_hooks=[explode, heard.append]
    )

    with caplog.at_level(logging.ERROR, logger="rota.scheduler"):
        reports = scheduler.tick()

    assert sorted(r.schedule_id for r in reports) == [
        "c.job:1",
        "m.job:1",
        "o.job:1",
        "ok.job:1",
        "x.job:1",
    ]
    by_id = {a.schedule_id: a for a in heard}
    assert sorted(by_id) == ["c.job:1", "m.job:1", "o.job:1", "x.job:1"]
    assert len(heard) == 4
    assert by_id["m.job:1"] == ScheduleAlert(
        "m.job:1", "m.job", {"skipped:missed": 3}, minute(1), minute(3)
    )
    assert by_id["c.job:1"] == ScheduleAlert(
        "c.job:1", "c.job", {"coalesced": 2}, minute(1), minute(2)
    )
    assert by_id["o.job:1"] == ScheduleAlert(
        "o.job:1", "o.job", {"skipped:overlap": 3}, minute(1), minute(3)
    )
    assert by_id["x.job:1"].error is not None and by_id["x.job:1"].outcomes == {}
    assert by_id["m.job:1"].describe() == "schedule m.job:1 (m.job): 3 skipped:missed"
    assert by_id["x.job:1"].describe().startswith("schedule x.job:1 (x.job) cannot fire: ")
    assert [r.scheduled_for for r in runs_of(store, "ok.job")] == [minute(1), minute(2), minute(3)]
    failures = [r for r in caplog.records if "alert hook" in r.getMessage()]
    assert len(failures) == 4

    # The scheduler keeps going: the next minute fires, and the broken schedule stays quiet.
    clock[0] = minute(4)
    heard.clear()
    later = scheduler.tick()
    assert sorted(r.schedule_id for r in later) == ["c.job:1", "m.job:1", "o.job:1", "ok.job:1"]
    assert [a.schedule_id for a in heard] == ["o.job:1"]
