"""A data job split into parts (``parallel: N``) with a real worker on SQLite and PostgreSQL:
parts run as ordinary runs any slot can take, the parent takes back parts nobody took, every
source row is applied exactly once, and the counters and record results add up on the parent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.integration.conftest import wait_for_end

from rota.data.connections import open_engine
from rota.engine.worker import Worker
from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.settings import Settings, load_settings
from rota.store import Store
from rota.store.base import RunFilter

ROWS = 1200
BAD = {7: "x7", 500: "x500"}  # row number -> a member number that is not a number
DUPLICATE = (900, 40)  # row 900 repeats the member number of row 40

JOB = """
id: members.bulk
kind: data
source: {type: csv, path: members.csv}
target: {connection: crm, table: members}
action: upsert
match: [member_no]
chunk_size: 100
parallel: 3
mapping:
  member_no: {field: no, type: int, required: true}
  email: {field: email, transform: [trim, lower]}
"""


def csv_text(suffix: str = "") -> str:
    lines = ["no,email"]
    for n in range(1, ROWS + 1):
        number = BAD.get(n, str(DUPLICATE[1] if n == DUPLICATE[0] else n))
        lines.append(f"{number}, M{n}{suffix}@Example.org ")
    return "\n".join(lines) + "\n"


@pytest.fixture
def target_db(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/crm.db"
    url: str = request.getfixturevalue("postgres_target_url")
    return url


@pytest.fixture
def table(target_db: str, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_engine(target_db, tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS members")
        conn.exec_driver_sql("CREATE TABLE members (member_no INTEGER PRIMARY KEY, email TEXT)")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def project(tmp_path: Path, target_db: str) -> Path:
    root = tmp_path / "project"
    (root / "jobs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "jobs" / "bulk.yaml").write_text(JOB)
    (root / "data" / "members.csv").write_text(csv_text())
    (root / "rota.toml").write_text(
        f'[connections]\ncrm = "{target_db}"\n\n[data]\nfolders = ["data"]\n'
    )
    return root


def start_worker(store: Store, settings: Settings) -> tuple[Worker, threading.Thread]:
    worker = Worker(store, settings)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, thread


@pytest.fixture
def running(
    store: Store, project: Path, database_url: str, table: sa.Engine, request: pytest.FixtureRequest
) -> Iterator[Store]:
    report = sync_project(store, project)
    assert not report.errors, report.errors
    slots = getattr(request, "param", 2)
    settings = load_settings(
        project,
        database_url=database_url,
        heartbeat_seconds=0.5,
        lease_seconds=3,
        poll_seconds=0.05,
        worker_concurrency=slots,
    )
    worker, thread = start_worker(store, settings)
    yield store
    worker.stop()
    thread.join(30)
    assert not thread.is_alive()


def emails(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT member_no, email FROM members")).all())  # type: ignore[arg-type]


def expected(suffix: str = "") -> dict[int, str]:
    wanted = {n: f"m{n}{suffix}@example.org" for n in range(1, ROWS + 1) if n not in BAD}
    del wanted[DUPLICATE[0]]
    return wanted


def test_parts_apply_every_row_once_and_add_up_on_the_parent(
    running: Store, table: sa.Engine
) -> None:
    store = running
    run = wait_for_end(store, start_run(store, "members.bulk", {}).id, timeout=90)

    assert run.status is RunStatus.PARTIAL, run.error
    assert run.result == {"dry_run": False, "records": ROWS, "failed": 3, "parts": 3}
    counters = run.counters
    assert (counters.processed, counters.inserted, counters.failed) == (ROWS, ROWS - 3, 3)
    assert emails(table) == expected()
    records = store.get_records(run.id, limit=ROWS * 2)
    assert sorted(r.row or 0 for r in records) == list(range(1, ROWS + 1))
    failed = {r.row: r.error for r in store.get_records(run.id, failed_only=True)}
    assert failed == {
        7: "member_no: 'x7' is not a whole number (declared: no thousands)",
        500: "member_no: 'x500' is not a whole number (declared: no thousands)",
        900: "duplicate key, also in row 40",
    }
    parts = store.list_runs(RunFilter(parent_id=run.id))
    assert all(p.status.terminal and p.parent_id == run.id for p in parts)
    assert all(p.trigger.value == "parent" for p in parts)
    assert len(parts) <= 2  # parts the parent took back never became runs

    again = wait_for_end(store, start_run(store, "members.bulk", {}).id, timeout=90)
    assert again.counters.unchanged == ROWS - 3
    assert again.data_changed is False


@pytest.mark.parametrize("running", [1], indirect=True)
def test_with_one_slot_the_parent_takes_every_part_back(running: Store, table: sa.Engine) -> None:
    store = running
    run = wait_for_end(store, start_run(store, "members.bulk", {}).id, timeout=90)

    assert run.status is RunStatus.PARTIAL
    assert store.list_runs(RunFilter(parent_id=run.id)) == []
    assert run.counters.inserted == ROWS - 3
    assert emails(table) == expected()
