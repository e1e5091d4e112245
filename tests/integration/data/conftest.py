"""Target databases for data jobs: a SQLite file per test, one PostgreSQL database per session
(each test uses its own table names there)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.conftest import _create_database, _drop_database, _name_prefix
from tests.integration.conftest import wait_for_end

from rota.data.connections import open_engine
from rota.engine.worker import Worker
from rota.model.runs import Run
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.settings import load_settings
from rota.store import Store

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
def target_engine(target_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(target_url, tmp_path)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def table_name() -> str:
    """A table name no other test of the session uses."""
    return f"members_{next(_tables)}"


# -- a project with a CRM database and a real worker, for data jobs run end to end ---------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "jobs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "rota.toml").write_text(
        f'[connections]\ncrm = "sqlite:///{tmp_path}/crm.db"\n\n[data]\nfolders = ["data"]\n'
    )
    return root


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_engine(f"sqlite:///{tmp_path}/crm.db", tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE members (member_no INTEGER PRIMARY KEY, name TEXT, email TEXT)"
        )
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def worker(store: Store, project: Path, database_url: str) -> Iterator[Worker]:
    settings = load_settings(
        project,
        database_url=database_url,
        heartbeat_seconds=0.5,
        lease_seconds=3,
        poll_seconds=0.05,
        worker_concurrency=2,
    )
    started = Worker(store, settings)
    thread = threading.Thread(target=started.run, daemon=True)
    thread.start()
    yield started
    started.stop()
    thread.join(30)
    assert not thread.is_alive(), "worker did not stop"


def add_job(store: Store, project: Path, name: str, text: str) -> None:
    (project / "jobs" / f"{name}.yaml").write_text(text)
    report = sync_project(store, project)
    assert not report.errors, report.errors


def run(store: Store, job: str, params: dict[str, Any] | None = None) -> Run:
    return wait_for_end(store, start_run(store, job, params or {}).id, timeout=60)
