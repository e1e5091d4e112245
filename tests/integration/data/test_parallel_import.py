"""A data job split into parts (``parallel: N``) with a real worker on SQLite and PostgreSQL:
parts run as ordinary runs any slot can take, the parent takes back parts nobody took, every
source row is applied exactly once, and the counters and record results add up on the parent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.integration.conftest import wait_for_end
from tests.integration.data.conftest import add_job

from rota.data.connections import open_engine
from rota.engine.worker import Worker
from rota.model.status import RunStatus
from rota.services.runs import start_run
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
def crm_url(crm_url: str, database_url: str, request: pytest.FixtureRequest) -> str:
    """On the store's backend: next to a PostgreSQL store, the session's PostgreSQL target."""
    if database_url.startswith("sqlite"):
        return crm_url
    url: str = request.getfixturevalue("postgres_target_url")
    return url


@pytest.fixture
def table(crm_url: str, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_engine(crm_url, tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS members")
        conn.exec_driver_sql("CREATE TABLE members (member_no INTEGER PRIMARY KEY, email TEXT)")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def job(store: Store, project: Path, table: sa.Engine) -> str:
    (project / "data" / "members.csv").write_text(csv_text())
    add_job(store, project, "bulk", JOB)
    return "members.bulk"


def emails(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT member_no, email FROM members")).all())  # type: ignore[arg-type]


def expected(suffix: str = "") -> dict[int, str]:
    wanted = {n: f"m{n}{suffix}@example.org" for n in range(1, ROWS + 1) if n not in BAD}
    del wanted[DUPLICATE[0]]
    return wanted


def test_parts_apply_every_row_once_and_add_up_on_the_parent(
    store: Store, job: str, table: sa.Engine, worker: Worker
) -> None:
    run = wait_for_end(store, start_run(store, job, {}).id, timeout=90)

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

    again = wait_for_end(store, start_run(store, job, {}).id, timeout=90)
    assert again.counters.unchanged == ROWS - 3
    assert again.data_changed is False


@pytest.mark.parametrize("worker", [1], indirect=True)
def test_with_one_slot_the_parent_takes_every_part_back(
    store: Store, job: str, table: sa.Engine, worker: Worker
) -> None:
    run = wait_for_end(store, start_run(store, job, {}).id, timeout=90)

    assert run.status is RunStatus.PARTIAL
    assert store.list_runs(RunFilter(parent_id=run.id)) == []
    assert run.counters.inserted == ROWS - 3
    assert emails(table) == expected()
