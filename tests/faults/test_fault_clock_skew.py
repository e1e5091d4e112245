"""Scenario 5: clock skew. Three ``rota scheduler`` processes against one PostgreSQL, one of
them with its wall clock 30 s ahead and one 30 s behind (time-machine inside the process,
the stand-in for libfaketime: it moves ``time.time`` and ``datetime.now`` but not the monotonic
clock, as a skewed or NTP-stepped machine would). Because the engine tells time by the
database, every nominal time of a one-second schedule becomes exactly one run, none early and
none late beyond the normal lateness."""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.integration.conftest import write_project

from rota.services.jobs import sync_project
from rota.store import Store, open_store
from rota.store.base import OccurrenceFilter, RunFilter

pytestmark = pytest.mark.postgres

JOBS = """
from rota import every, job

@job(id="skew.tick", schedule=every(seconds=1), overlap="allow")
def tick(ctx):
    return None
"""

SKEWED = """
import sys
from datetime import datetime, timedelta, timezone
import time_machine
skew = float(sys.argv.pop(1))
time_machine.travel(datetime.now(timezone.utc) + timedelta(seconds=skew), tick=True).start()
from rota.cli.main import main
main()
"""


def _scheduler(project: Path, url: str, skew: float, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
    env.update(ROTA_PROJECT=str(project), ROTA_DATABASE_URL=url)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", SKEWED, str(skew), "scheduler"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_skewed_schedulers_fire_every_nominal_time_once_and_on_time(
    postgres_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path, {"skew.py": JOBS})
    store: Store = open_store(postgres_database)
    try:
        store.upgrade()
        assert not sync_project(store, project).errors
        seconds = float(os.environ.get("ROTA_FAULTS_SKEW_SECONDS", "20"))
        processes = [
            _scheduler(project, postgres_database, skew, tmp_path / f"scheduler{n}.log")
            for n, skew in enumerate((0.0, 30.0, -30.0))
        ]
        # Lateness counts from when the processes run (starting one takes a second or two).
        steady_from = datetime.now(UTC) + timedelta(seconds=5)
        try:
            time.sleep(seconds)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(15)
        occurrences = store.list_occurrences(OccurrenceFilter(job="skew.tick", limit=10_000))
        runs = store.list_runs(RunFilter(job="skew.tick", limit=10_000))
    finally:
        store.close()
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log"))
    assert occurrences, logs
    nominal = sorted(o.nominal_time for o in occurrences)
    assert len(nominal) == len(set(nominal)), "a nominal time was accounted twice"
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(nominal)}
    assert steps <= {1.0}, f"nominal times missing between the first and the last: {steps}"
    by_nominal = [r.scheduled_for for r in runs]
    assert len(by_nominal) == len(set(by_nominal)), "two runs for one nominal time"
    # Every nominal time is an occurrence; those the missed-run policy did not coalesce into
    # one catch-up run each have their own run.
    ran = [o for o in occurrences if o.run_id is not None]
    assert {o.run_id for o in ran} == {r.id for r in runs}
    assert all(o.outcome.value in ("ran", "coalesced") for o in occurrences), occurrences
    every = sorted(
        (r.created_at - r.scheduled_for).total_seconds() for r in runs if r.scheduled_for
    )
    early = [x for x in every if x < -0.1]
    lateness = sorted(
        (r.created_at - r.scheduled_for).total_seconds()
        for r in runs
        if r.scheduled_for and r.scheduled_for >= steady_from
    )
    assert lateness, "no fire after the schedulers had started"
    p99 = lateness[max(0, int(len(lateness) * 0.99) - 1)]
    with capsys.disabled():
        print(
            f"\nclock skew: {len(runs)} nominal times, each once; lateness p50 "
            f"{statistics.median(lateness) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {lateness[-1] * 1000:.0f} ms; fired early: {len(early)}"
        )
    assert not early, f"fires before their time (a skewed clock won): {early[:5]}"
    assert p99 <= 1.0, lateness[-10:]
