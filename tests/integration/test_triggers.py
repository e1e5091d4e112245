"""Event triggers against the real store and worker (SQLite and PostgreSQL): a run's end
starts the jobs that wait for it, with parameters from its result, exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.conftest import running_worker, wait_for_end, wait_until, write_project

from rota.model.runs import Trigger
from rota.model.status import RunStatus
from rota.services.runs import start_run
from rota.settings import Settings
from rota.store import Store
from rota.store.base import RunFilter

JOBS = """
from rota import JobFailed, job

@job(id="e.export", tags=["nightly"])
def export(ctx, fail: bool = False):
    if fail:
        raise JobFailed("export broke", retryable=False)
    ctx.save_info(rows=12)
    return {"path": "exports/members.csv"}

@job(id="e.import", triggers=[
    {"on": "e.export", "status": "completed",
     "params": {"file": "{{ run.result.path }}", "rows": "{{ run.info.rows }}"}},
])
def import_(ctx, file: str, rows: int):
    return {"file": file, "rows": rows}

@job(id="e.alert", triggers=[
    {"on": {"tag": "nightly"}, "status": ["failed", "partial"],
     "params": {"about": "run {{ run.id }} of {{ run.job }} ended {{ run.status }}"}},
])
def alert(ctx, about: str):
    return about

@job(id="e.bad", triggers=[{"on": "e.export", "params": {"count": "{{ run.result.path }}"}}])
def bad(ctx, count: int):
    return count
"""


PROCESS = """
id: e.flow
kind: process
params:
  file: {type: str}
steps:
  load: {job: e.import, params: {file: "{{ params.file }}", rows: 1}}
triggers:
  - on: e.export
    params: {file: "{{ run.result.path }}"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"events.py": JOBS, "flow.yaml": PROCESS})


def runs_of(store: Store, job: str) -> list[int]:
    """Runs of ``job`` that an event started (not the steps of a process)."""
    return [r.id for r in store.list_runs(RunFilter(job=job)) if r.trigger is Trigger.EVENT]


def test_a_completed_run_starts_its_follower_with_its_result(
    synced: Store, settings: Settings
) -> None:
    export = start_run(synced, "e.export", {})
    with running_worker(synced, settings):
        wait_for_end(synced, export.id)
        wait_until(lambda: len(runs_of(synced, "e.import")) == 1, what="the follower")
        follower = wait_for_end(synced, runs_of(synced, "e.import")[0])
    assert follower.status is RunStatus.COMPLETED
    assert follower.params == {"file": "exports/members.csv", "rows": 12}
    assert follower.trigger is Trigger.EVENT and follower.triggered_by == f"run {export.id}"
    assert follower.run_as == "rota"  # the store's service account
    assert runs_of(synced, "e.alert") == []  # completed is not what the alert waits for


def test_a_failed_run_of_a_tagged_job_starts_the_alert_only(
    synced: Store, settings: Settings
) -> None:
    export = start_run(synced, "e.export", {"fail": True})
    with running_worker(synced, settings):
        wait_for_end(synced, export.id)
        wait_until(lambda: len(runs_of(synced, "e.alert")) == 1, what="the alert")
        alert = wait_for_end(synced, runs_of(synced, "e.alert")[0])
    assert alert.result == f"run {export.id} of e.export ended failed"
    assert runs_of(synced, "e.import") == []


def test_a_follower_whose_parameters_do_not_fit_is_logged_on_the_ended_run(
    synced: Store, settings: Settings
) -> None:
    export = start_run(synced, "e.export", {})
    with running_worker(synced, settings):
        wait_for_end(synced, export.id)
    assert runs_of(synced, "e.bad") == []
    messages = [line.message for line in synced.get_logs(export.id)]
    assert any("e.bad not started" in m and "count" in m for m in messages), messages


def test_triggers_are_listed(synced: Store) -> None:
    listed = {t.id: t for t in synced.list_triggers()}
    assert listed["e.alert:on:1"].describe() == "when a job tagged nightly ends failed or partial"
    assert listed["e.import:on:1"].source == "e.export"


def test_an_event_starts_a_process_like_a_job(synced: Store, settings: Settings) -> None:
    export = start_run(synced, "e.export", {})
    with running_worker(synced, settings):
        wait_for_end(synced, export.id)
        wait_until(lambda: len(runs_of(synced, "e.flow")) == 1, what="the process")
        flow = wait_for_end(synced, runs_of(synced, "e.flow")[0])
    assert flow.status is RunStatus.COMPLETED and flow.trigger is Trigger.EVENT
    assert flow.params == {"file": "exports/members.csv"}
    [load] = flow.steps
    assert load.status is RunStatus.COMPLETED
