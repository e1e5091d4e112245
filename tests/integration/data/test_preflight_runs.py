"""Scheduled runs are pre-flight checked by the worker: a scheduled import whose source file
disappeared ends ``failed`` with "source missing" before a record is touched; a run started by
hand is not held back (its person sees what happens), and a scheduled run whose checks pass
runs as usual."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.integration.conftest import wait_for_end
from tests.integration.data.conftest import add_job

from rota.engine.worker import Worker
from rota.model.runs import NewRun, Run, Trigger, utcnow
from rota.model.status import RunStatus
from rota.store import Store

JOB = """
id: members.nightly
kind: data
source: {type: csv, path: members.csv}
target: {connection: crm, table: members}
action: upsert
match: [member_no]
mapping:
  member_no: {field: no, type: int}
  name: {field: name}
"""


@pytest.fixture
def job(store: Store, project: Path, crm: sa.Engine) -> Iterator[str]:
    (project / "data" / "members.csv").write_text("no,name\n1,Ada\n2,Grace\n")
    add_job(store, project, "nightly", JOB)
    yield "members.nightly"


def enqueue(store: Store, job: str, trigger: Trigger) -> Run:
    version = store.get_job(job).version
    request = NewRun(
        job=job,
        job_version=version,
        tenant="default",
        trigger=trigger,
        params={"dry_run": False},
        priority=0,
        max_attempts=3,
        triggered_by="rota",
    )
    (run,) = store.enqueue_runs([request], utcnow())
    return wait_for_end(store, run.id, timeout=60)


def rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM members")).scalar_one())


def test_a_scheduled_run_whose_source_is_gone_fails_before_touching_a_record(
    store: Store, project: Path, job: str, crm: sa.Engine, worker: Worker
) -> None:
    (project / "data" / "members.csv").unlink()

    run = enqueue(store, job, Trigger.SCHEDULE)

    assert run.status is RunStatus.FAILED
    assert (run.reason or "").startswith("source missing"), run.reason
    assert run.error is not None and run.error.type == "PreflightFailed"
    assert "pre-flight check source" in run.error.message
    assert run.counters.processed == 0 and store.get_records(run.id) == []
    assert run.attempt == 1  # not retried: the file will not appear by itself in a second
    assert rows(crm) == 0


def test_a_scheduled_run_whose_checks_pass_runs(
    store: Store, job: str, crm: sa.Engine, worker: Worker
) -> None:
    run = enqueue(store, job, Trigger.CATCH_UP)

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.counters.inserted == 2
    assert rows(crm) == 2


def test_a_missing_target_table_fails_the_scheduled_run_naming_it(
    store: Store, job: str, crm: sa.Engine, worker: Worker
) -> None:
    with crm.begin() as conn:
        conn.exec_driver_sql("DROP TABLE members")

    run = enqueue(store, job, Trigger.SCHEDULE)

    assert run.status is RunStatus.FAILED
    assert run.error is not None and "pre-flight check target" in run.error.message
    assert "members" in (run.reason or "")


def test_a_run_started_by_hand_is_not_held_back(
    store: Store, project: Path, job: str, worker: Worker
) -> None:
    (project / "data" / "members.csv").unlink()

    run = enqueue(store, job, Trigger.MANUAL)

    assert run.status is RunStatus.FAILED
    assert run.error is not None and run.error.type == "JobFailed"  # the job's own failure
