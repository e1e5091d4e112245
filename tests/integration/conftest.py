"""A real worker, in-process, against the real store of the test (SQLite and PostgreSQL); target
databases for jobs that read and write one: a SQLite file per test, one PostgreSQL database per
session (each test uses its own table names there)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.conftest import _create_database, _drop_database, _name_prefix

from rota.engine.worker import Worker
from rota.model.runs import Run
from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.settings import Settings, load_settings
from rota.store import Store

JOBS = """
import time
from rota import JobFailed, job

@job(id="t.ok")
def ok(ctx, n: int = 1):
    for i in range(n):
        ctx.record(f"k{i}", "inserted")
    ctx.log.info("recorded %d", n)
    print("printed line")
    ctx.save_info(done=n)
    return {"n": n}

@job(id="t.some_bad")
def some_bad(ctx):
    ctx.record("a", "inserted")
    ctx.record("b", "insert", error="bad value")

@job(id="t.fail", retry={"max_attempts": 3, "backoff_seconds": 0, "jitter": False})
def fail(ctx):
    raise RuntimeError(f"boom {ctx.attempt}")

@job(id="t.fatal", retry={"max_attempts": 3, "backoff_seconds": 0})
def fatal(ctx):
    raise JobFailed("bad configuration", retryable=False)

@job(id="t.slow", timeout=1)
def slow(ctx):
    time.sleep(60)

@job(id="t.spin")
def spin(ctx):
    while True:
        pass

@job(id="t.coop")
def coop(ctx):
    i = 0
    while True:
        ctx.progress(i)
        i += 1
        time.sleep(0.01)

@job(id="t.long")
def long(ctx, seconds: float = 3.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return "done"

@job(id="t.idem", idempotent=True)
def idem(ctx):
    return ctx.attempt

@job(id="t.notjson")
def notjson(ctx):
    return object()
"""


def write_project(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project folder whose ``jobs/`` holds these files; a test module's ``project`` fixture
    calls it with its own jobs, and ``synced`` below then syncs them."""
    root = tmp_path / "project"
    (root / "jobs").mkdir(parents=True)
    for name, text in files.items():
        (root / "jobs" / name).write_text(text)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"testjobs.py": JOBS})


@pytest.fixture
def settings(project: Path, database_url: str) -> Settings:
    return load_settings(
        project,
        database_url=database_url,
        heartbeat_seconds=0.5,
        lease_seconds=1.5,
        poll_seconds=0.05,
        cancel_grace_seconds=0.5,
        shutdown_grace_seconds=1.0,
        worker_concurrency=2,
    )


@pytest.fixture
def synced(store: Store, project: Path) -> Store:
    report = sync_project(store, project)
    assert not report.errors, report.errors
    return store


@contextmanager
def running_worker(store: Store, settings: Settings) -> Iterator[Worker]:
    """A worker running in a thread of this process; stopped (and joined) at the end."""
    started = Worker(store, settings)
    thread = threading.Thread(target=started.run, daemon=True)
    thread.start()
    yield started
    started.stop()
    thread.join(30)
    assert not thread.is_alive(), "worker did not stop"


@pytest.fixture
def worker(synced: Store, settings: Settings) -> Iterator[Worker]:
    """A started worker; stopped (and joined) after the test."""
    with running_worker(synced, settings) as started:
        yield started


def wait_until(
    predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_end(store: Store, run_id: int, timeout: float = 30.0) -> Run:
    wait_until(lambda: store.get_run(run_id).status.terminal, timeout, f"run {run_id} to end")
    return store.get_run(run_id)


def wait_for_status(store: Store, run_id: int, status: RunStatus, timeout: float = 30.0) -> Run:
    wait_until(lambda: store.get_run(run_id).status is status, timeout, f"run {run_id} {status}")
    return store.get_run(run_id)


# -- target databases ------------------------------------------------------------------------

_tables = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_target_url(postgres_url: str) -> Iterator[str]:
    name = f"rota_t_{_name_prefix()}"
    url = _create_database(postgres_url, name)
    try:
        yield url
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/target.db"
    url: str = request.getfixturevalue("postgres_target_url")
    return url


@pytest.fixture
def table_name() -> str:
    """A table name no other test of the session uses."""
    return f"members_{next(_tables)}"
