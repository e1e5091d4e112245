"""A lost database (PostgreSQL made unreachable for real, not mocked): a worker stops its runs
before their leases can expire, gives up after ``unreachable_exit_seconds`` for its supervisor
to see, and another worker recovers the runs once the database is back; the scheduler gives
up alike. The database's clock is the engine's clock."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.conftest import _create_database, _drop_database, _libpq_url, _name_prefix
from tests.integration.conftest import running_worker, wait_for_end, wait_until, write_project

from rota.engine.scheduler import Scheduler
from rota.engine.worker import Worker
from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.settings import Settings, load_settings
from rota.store import Store, open_store

pytestmark = pytest.mark.postgres

JOBS = """
import time
from pathlib import Path
from rota import job

@job(id="o.tick", idempotent=True)
def tick(ctx, file: str, seconds: float = 60):
    if ctx.attempt > 1:
        return "second attempt"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        Path(file).write_text(repr(time.time()))
        time.sleep(0.05)
"""

_numbers = itertools.count(1)


@pytest.fixture
def database(postgres_url: str, postgres_template: str) -> Iterator[tuple[str, str]]:
    """A database of its own: the test cuts every connection to it."""
    name = f"rota_out_{_name_prefix()}_{next(_numbers)}"
    url = _create_database(postgres_url, name, template=postgres_template)
    try:
        yield name, url
    finally:
        _set_reachable(postgres_url, name, True)
        _drop_database(postgres_url, name)


def _set_reachable(postgres_url: str, name: str, reachable: bool) -> None:
    with psycopg.connect(_libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if reachable else "false")
            )
        )
        if not reachable:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"outage.py": JOBS})


def outage_settings(project: Path, url: str) -> Settings:
    return load_settings(
        project,
        database_url=url,
        heartbeat_seconds=0.5,
        lease_seconds=4,
        poll_seconds=0.05,
        unreachable_exit_seconds=5,
        worker_concurrency=1,
    )


def test_a_worker_without_its_database_stops_its_runs_in_time_and_gives_up(
    database: tuple[str, str], postgres_url: str, project: Path, tmp_path: Path
) -> None:
    name, url = database
    settings = outage_settings(project, url)
    store = open_store(url)
    try:
        assert not sync_project(store, project).errors
        ticks = tmp_path / "ticks"
        run = start_run(store, "o.tick", {"file": str(ticks)})
        worker = Worker(store, settings)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        wait_until(ticks.exists, what="the job to tick")

        cut = time.time()
        _set_reachable(postgres_url, name, False)
        thread.join(30)
        gave_up = time.time() - cut
        assert not thread.is_alive(), "the worker did not give up"
        assert worker.failure is not None and "did not answer" in worker.failure
        last_tick = float(ticks.read_text())
        # The job stopped before its lease (renewed at most a heartbeat before the cut) ran
        # out, so no other worker could have started it while it still ran here.
        assert last_tick < cut + settings.lease_seconds, (last_tick - cut, gave_up)
        assert gave_up < settings.unreachable_exit_seconds + 5
        print(
            f"job stopped {last_tick - cut:.2f}s after the cut; worker gave up after {gave_up:.1f}s"
        )

        _set_reachable(postgres_url, name, True)
    finally:
        store.close()
    # Back: another worker (another process, on another machine) recovers the run.
    again = open_store(url)
    try:
        with running_worker(again, settings):
            ended = wait_for_end(again, run.id, timeout=30)
        assert ended.status is RunStatus.COMPLETED and ended.result == "second attempt"
        attempts = again.get_attempts(run.id)
        assert [a.outcome for a in attempts] == ["worker lost", "completed"]
    finally:
        again.close()


def test_a_scheduler_without_its_database_gives_up(
    database: tuple[str, str], postgres_url: str, project: Path
) -> None:
    name, url = database
    settings = outage_settings(project, url)
    store = open_store(url)
    try:
        scheduler = Scheduler(store, settings)
        thread = threading.Thread(target=scheduler.run, daemon=True)
        thread.start()
        time.sleep(0.5)
        cut = time.monotonic()
        _set_reachable(postgres_url, name, False)
        thread.join(30)
        assert not thread.is_alive() and scheduler.failure is not None
        assert time.monotonic() - cut < settings.unreachable_exit_seconds + 6
    finally:
        store.close()


def test_the_engine_tells_the_time_by_the_database(store: Store, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs on one machine: its clock is the machine's")
    with psycopg.connect(_libpq_url(database_url)) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    assert abs((store.now() - row[0]).total_seconds()) < 0.5
    # Between two readings the store counts monotonic time: a jump of the local wall clock
    # (a skewed node, an NTP step) does not move it.
    first = store.now()
    second = store.now()
    assert 0 <= (second - first).total_seconds() < 0.5
