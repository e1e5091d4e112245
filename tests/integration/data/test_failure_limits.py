"""``stop_after_failures`` through the real worker: a file whose records keep failing stops the
run after the limit (what was read before it is still applied), while a run below the limit ends
``partial`` with every record accounted for. The writer applies chunks in a thread of its own,
so the limit must also count the failures the writer finds (constraint violations)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from tests.integration.data.conftest import add_job, run

from rota.engine.worker import Worker
from rota.model.status import RunStatus
from rota.store import Store

JOB = """
id: members.strict
kind: data
source: {{type: csv, path: members.csv}}
target: {{connection: crm, table: members}}
action: upsert
match: [member_no]
chunk_size: 10
stop_after_failures: {limit}
mapping:
  member_no: {{field: no, type: int}}
  name: {{field: name}}
"""


def write_members(project: Path, bad_rows: set[int], rows: int = 200) -> None:
    lines = ["no,name"]
    for n in range(1, rows + 1):
        lines.append(f"x{n},bad" if n in bad_rows else f"{n},Member {n}")
    (project / "data" / "members.csv").write_text("\n".join(lines) + "\n")


def stored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM members")).scalar_one())


def test_a_run_stops_after_the_limit_and_keeps_what_it_applied(
    store: Store, project: Path, crm: sa.Engine, worker: Worker
) -> None:
    write_members(project, bad_rows=set(range(101, 201)))
    add_job(store, project, "strict", JOB.format(limit=5))

    ended = run(store, "members.strict")

    assert ended.status is RunStatus.FAILED
    assert ended.error is not None and "stopped after 5 failed records" in ended.error.message
    assert stored(crm) == 100  # the good rows before the bad ones were applied
    assert ended.counters.failed == 5


def test_below_the_limit_the_run_ends_partial(
    store: Store, project: Path, crm: sa.Engine, worker: Worker
) -> None:
    write_members(project, bad_rows={3, 50, 150})
    add_job(store, project, "strict", JOB.format(limit=10))

    ended = run(store, "members.strict")

    assert ended.status is RunStatus.PARTIAL
    assert (ended.counters.processed, ended.counters.failed) == (200, 3)
    assert stored(crm) == 197


def test_failures_found_by_the_writer_count_towards_the_limit(
    store: Store, project: Path, crm: sa.Engine, worker: Worker
) -> None:
    with crm.begin() as conn:
        conn.exec_driver_sql("DROP TABLE members")
        conn.exec_driver_sql(
            "CREATE TABLE members (member_no INTEGER PRIMARY KEY,"
            " name TEXT CHECK (name NOT LIKE 'Member 1%'))"
        )
    write_members(project, bad_rows=set(), rows=400)
    add_job(store, project, "strict", JOB.format(limit=20))

    ended = run(store, "members.strict")

    assert ended.status is RunStatus.FAILED
    assert ended.error is not None and "stopped after" in ended.error.message
    assert ended.counters.failed >= 20
    assert ended.counters.processed < 400  # it did not read the whole file
