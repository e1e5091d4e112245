"""Data jobs: an engine on the target database of the test (``target_url``, from
``tests/integration/conftest.py``), and a project with a CRM database and a real worker, for data
jobs run end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.integration.conftest import running_worker, wait_for_end

from rota.data.connections import open_engine
from rota.engine.worker import Worker
from rota.model.runs import Run
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.settings import load_settings
from rota.store import Store


@pytest.fixture
def target_engine(target_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(target_url, tmp_path)
    try:
        yield engine
    finally:
        engine.dispose()


# -- a project with a CRM database and a real worker, for data jobs run end to end ---------------


@pytest.fixture
def crm_url(tmp_path: Path) -> str:
    """The project's connection ``crm``."""
    return f"sqlite:///{tmp_path}/crm.db"


@pytest.fixture
def project(tmp_path: Path, crm_url: str) -> Path:
    root = tmp_path / "project"
    (root / "jobs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "rota.toml").write_text(
        f'[connections]\ncrm = "{crm_url}"\n\n[data]\nfolders = ["data"]\n'
    )
    return root


@pytest.fixture
def crm(crm_url: str, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_engine(crm_url, tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE members (member_no INTEGER PRIMARY KEY, name TEXT, email TEXT)"
        )
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def worker(
    store: Store, project: Path, database_url: str, request: pytest.FixtureRequest
) -> Iterator[Worker]:
    """A started worker with two slots; another number through indirect parametrization:
    ``@pytest.mark.parametrize("worker", [1], indirect=True)``."""
    settings = load_settings(
        project,
        database_url=database_url,
        heartbeat_seconds=0.5,
        lease_seconds=3,
        poll_seconds=0.05,
        worker_concurrency=getattr(request, "param", 2),
    )
    with running_worker(store, settings) as started:
        yield started


def add_job(store: Store, project: Path, name: str, text: str) -> None:
    (project / "jobs" / f"{name}.yaml").write_text(text)
    report = sync_project(store, project)
    assert not report.errors, report.errors


def run(store: Store, job: str, params: dict[str, Any] | None = None) -> Run:
    return wait_for_end(store, start_run(store, job, params or {}).id, timeout=60)
