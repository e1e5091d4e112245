"""Processes against the real store and a real worker (SQLite and PostgreSQL): steps start
when their needs end, data flows between them, error policies, cancel and rerun."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.conftest import running_worker, wait_for_end, wait_until, write_project

from rota.model.runs import Trigger
from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.services.runs import cancel_run, retry_run, start_run
from rota.settings import Settings
from rota.store import Store
from rota.store.base import RunFilter

JOBS = """
import time
from rota import JobFailed, job, process

@job(id="p.extract")
def extract(ctx, day: str):
    ctx.save_info(rows=3)
    return {"path": f"exports/{day}.csv"}

@job(id="p.load")
def load(ctx, file: str, rows: int = 0):
    for i in range(rows):
        ctx.record(f"r{i}", "inserted")
    return {"loaded": file}

@job(id="p.fail")
def fail(ctx):
    raise JobFailed("source system down", retryable=False)

@job(id="p.report")
def report(ctx):
    return "sent"

py_process = process(
    id="p.python",
    params={"day": "date"},
    steps={
        "extract": {"job": "p.extract", "params": {"day": "{{ params.day }}"}},
        "load": {"job": "p.load", "needs": ["extract"], "params": {"file": "{{ steps.extract.result.path }}"}},
    },
)

@job(id="p.wait")
def wait(ctx, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(0.02)
"""

PROCESSES = """
- id: p.sync
  kind: process
  params:
    day: {type: date, default: today}
  steps:
    extract: {job: p.extract, params: {day: "{{ params.day }}"}}
    load:
      job: p.load
      needs: [extract]
      params: {file: "{{ steps.extract.result.path }}", rows: "{{ steps.extract.info.rows }}"}
    report: {job: p.report, needs: [load], when: always}

- id: p.stop
  kind: process
  steps:
    first: {job: p.report}
    middle: {job: p.fail, needs: [first]}
    last: {job: p.report, needs: [middle]}
    cleanup: {job: p.report, needs: [middle], when: always}
    handler: {job: p.report, needs: [middle], when: on_failure}

- id: p.continue
  kind: process
  steps:
    first: {job: p.report}
    middle: {job: p.fail, needs: [first], on_error: continue}
    last: {job: p.report, needs: [middle]}
    other: {job: p.report, needs: [first]}

- id: p.nightly
  kind: process
  schedules:
    - cron: "0 2 * * *"
  steps:
    only: {job: p.report}

- id: p.locked
  kind: process
  steps:
    only: {job: p.wait, params: {seconds: 0}, resources: [{name: lock-x, shared: false}]}

- id: p.long
  kind: process
  steps:
    first: {job: p.wait}
    second: {job: p.report, needs: [first]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"steps.py": JOBS, "processes.yaml": PROCESSES})


def steps_of(store: Store, run_id: int) -> dict[str, tuple[str, str | None]]:
    run = store.get_run(run_id)
    return {s.name: (s.state, s.status.value if s.status else None) for s in run.steps}


def test_data_flows_from_step_to_step_and_the_process_completes(
    synced: Store, settings: Settings
) -> None:
    run = start_run(synced, "p.sync", {"day": "2026-11-20"})
    assert run.status is RunStatus.RUNNING
    assert [s.name for s in run.steps] == ["extract", "load", "report"]
    with running_worker(synced, settings):
        ended = wait_for_end(synced, run.id)
    assert ended.status is RunStatus.COMPLETED
    assert steps_of(synced, run.id) == {
        "extract": ("started", "completed"),
        "load": ("started", "completed"),
        "report": ("started", "completed"),
    }
    load = synced.get_run(next(s.run_id for s in ended.steps if s.name == "load"))  # type: ignore[arg-type]
    assert load.params == {"file": "exports/2026-11-20.csv", "rows": 3}
    assert load.trigger is Trigger.PROCESS and load.parent_id == run.id and load.step == "load"
    assert ended.counters.inserted == 3
    assert len(synced.get_records(run.id)) == 3
    body = ended.to_json()
    assert [(s["name"], s["status"]) for s in body["steps"]] == [  # type: ignore[index, union-attr]
        ("extract", "completed"),
        ("load", "completed"),
        ("report", "completed"),
    ]


def test_a_failing_middle_step_stops_the_process(synced: Store, settings: Settings) -> None:
    run = start_run(synced, "p.stop", {})
    with running_worker(synced, settings):
        ended = wait_for_end(synced, run.id)
    assert ended.status is RunStatus.FAILED
    assert ended.reason == "step middle failed"
    steps = steps_of(synced, run.id)
    assert steps["first"] == ("started", "completed")
    assert steps["middle"] == ("started", "failed")
    assert steps["last"] == ("skipped", None)
    assert steps["cleanup"] == ("started", "completed")
    assert steps["handler"] == ("started", "completed")


def test_continue_runs_the_other_branch_and_ends_partial(synced: Store, settings: Settings) -> None:
    run = start_run(synced, "p.continue", {})
    with running_worker(synced, settings):
        ended = wait_for_end(synced, run.id)
    assert ended.status is RunStatus.PARTIAL
    steps = steps_of(synced, run.id)
    assert steps["middle"] == ("started", "failed")
    assert steps["last"] == ("skipped", None)
    assert steps["other"] == ("started", "completed")


def test_a_rerun_keeps_completed_steps_and_runs_the_failed_ones_again(
    synced: Store, settings: Settings
) -> None:
    first = start_run(synced, "p.stop", {})
    with running_worker(synced, settings):
        wait_for_end(synced, first.id)
        kept_run = next(s.run_id for s in synced.get_run(first.id).steps if s.name == "first")
        rerun = retry_run(synced, first.id)
        ended = wait_for_end(synced, rerun.id)
    assert ended.retry_of == first.id and ended.status is RunStatus.FAILED
    steps = {s.name: s for s in ended.steps}
    assert steps["first"].state == "kept" and steps["first"].run_id == kept_run
    assert steps["middle"].state == "started" and steps["middle"].run_id != kept_run
    # The kept step ran once in all: only one run of it has this process as parent.
    own = synced.list_runs(RunFilter(parent_id=rerun.id))
    assert sorted(r.step or "" for r in own) == ["cleanup", "handler", "middle"]
    assert steps["last"].state == "skipped"


def test_cancel_a_process_cancels_its_running_step_and_skips_the_rest(
    synced: Store, settings: Settings
) -> None:
    run = start_run(synced, "p.long", {})
    with running_worker(synced, settings):
        first = next(s.run_id for s in run.steps if s.name == "first")
        assert first is not None
        wait_until(lambda: synced.get_run(first).status is RunStatus.RUNNING, what="step runs")
        cancel_run(synced, run.id, actor="alice")
        ended = wait_for_end(synced, run.id)
    assert ended.status is RunStatus.CANCELED
    assert steps_of(synced, run.id) == {
        "first": ("started", "canceled"),
        "second": ("skipped", None),
    }


def test_a_step_whose_parameters_do_not_render_fails_without_a_run(
    store: Store, project: Path, settings: Settings
) -> None:
    (project / "jobs" / "bad.yaml").write_text(
        """
id: p.badref
kind: process
steps:
  extract: {job: p.report}
  load: {job: p.load, needs: [extract], params: {file: "{{ steps.extract.result.path }}"}}
"""
    )
    assert not sync_project(store, project).errors
    run = start_run(store, "p.badref", {})
    with running_worker(store, settings):
        ended = wait_for_end(store, run.id)
    assert ended.status is RunStatus.FAILED
    load = next(s for s in ended.steps if s.name == "load")
    assert load.state == "failed" and load.run_id is None
    assert "path" in (load.reason or "")


def test_retention_prunes_an_ended_process_run_with_its_steps(
    synced: Store, settings: Settings
) -> None:
    from datetime import timedelta

    from rota.model.errors import NotFoundError
    from rota.model.runs import utcnow

    run = start_run(synced, "p.sync", {"day": "2026-11-20"})
    with running_worker(synced, settings):
        wait_for_end(synced, run.id)
    pruned = synced.prune(utcnow() + timedelta(days=1))
    assert pruned.runs == 4 and not pruned.more
    with pytest.raises(NotFoundError):
        synced.get_run(run.id)


def test_a_process_declared_in_python_runs_like_a_yaml_one(
    synced: Store, settings: Settings
) -> None:
    run = start_run(synced, "p.python", {"day": "2026-11-19"})
    with running_worker(synced, settings):
        ended = wait_for_end(synced, run.id)
    assert ended.status is RunStatus.COMPLETED
    load = synced.get_run(next(s.run_id for s in ended.steps if s.name == "load"))  # type: ignore[arg-type]
    assert load.params == {"file": "exports/2026-11-19.csv", "rows": 0}


def test_a_step_holds_the_resources_it_declares(synced: Store) -> None:
    first = start_run(synced, "p.locked", {})
    second = start_run(synced, "p.locked", {})
    [held] = [s.run_id for s in first.steps]
    [waiting] = [s.run_id for s in second.steps]
    assert held is not None and waiting is not None
    assert synced.get_run(held).status is RunStatus.QUEUED
    pending = synced.get_run(waiting)
    assert pending.status is RunStatus.PENDING
    assert pending.to_json()["waiting_for"] == {
        "resources": ["lock-x"],
        "held_by": [held],
        "behind": [],
        "reason": f"resource lock-x is held by run {held}",
    }


def test_a_schedule_starts_a_process_as_the_service_account(synced: Store) -> None:
    [schedule] = synced.list_schedules(job="p.nightly")
    assert schedule.next_fire_at is not None
    [report] = synced.fire_due_schedules(schedule.next_fire_at, service_account="svc")
    [(_, outcome, run_id)] = report.occurrences
    assert outcome.value == "ran" and run_id is not None
    run = synced.get_run(run_id)
    assert run.status is RunStatus.RUNNING and run.run_as == "svc"
    assert [(s.name, s.state) for s in run.steps] == [("only", "started")]
    step = synced.get_run(run.steps[0].run_id)  # type: ignore[arg-type]
    assert step.run_as == "svc" and step.status is RunStatus.QUEUED
