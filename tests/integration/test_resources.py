"""Resources against the real store and a real worker (SQLite and PostgreSQL): runs holding
one exclusive resource never overlap, waiting runs say what they wait for, shared holders
overlap each other, waiters are served by priority, and job-level rules and limits hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.conftest import running_worker, wait_for_end, wait_until, write_project

from rota.model.resources import ResourceDefinition
from rota.model.runs import Run, utcnow
from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.services.runs import cancel_run, start_run
from rota.settings import Settings
from rota.store import Store

JOBS = """
import time
from rota import job, shared

def _hold(seconds):
    start = time.time()
    time.sleep(seconds)
    return {"start": start, "end": time.time()}

@job(id="r.import", resources=["erp-customers"])
def erp_import(ctx, seconds: float = 0.05):
    return _hold(seconds)

@job(id="r.update", resources=["erp-customers", "erp-orders"])
def erp_update(ctx, seconds: float = 0.05):
    return _hold(seconds)

@job(id="r.report", resources=[shared("erp-customers")])
def erp_report(ctx, seconds: float = 0.05):
    return _hold(seconds)

@job(id="r.plain")
def plain(ctx, seconds: float = 0.05):
    return _hold(seconds)

@job(id="r.meet")
def meet(ctx, folder: str, name: str):
    from pathlib import Path
    start = time.time()
    Path(folder, name).touch()
    deadline = time.monotonic() + 30
    while len(list(Path(folder).iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"start": start, "end": time.time()}

@job(id="r.backup", excludes=["r.plain"])
def backup(ctx, seconds: float = 0.05):
    return _hold(seconds)

@job(id="r.single", concurrency=1)
def single(ctx, seconds: float = 0.05):
    return _hold(seconds)

@job(id="r.grouped", group="imports")
def grouped(ctx):
    return _hold(0)

@job(id="r.after", after=["r.plain"])
def after(ctx):
    return _hold(0)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"locks.py": JOBS})


def interval(run: Run) -> tuple[float, float]:
    assert isinstance(run.result, dict), run
    return float(run.result["start"]), float(run.result["end"])  # type: ignore[arg-type]


def overlapping(a: Run, b: Run) -> bool:
    (s1, e1), (s2, e2) = interval(a), interval(b)
    return s1 < e2 and s2 < e1


def test_runs_holding_one_exclusive_resource_never_overlap(
    synced: Store, settings: Settings
) -> None:
    jobs = ["r.import", "r.update"] * 8
    created = [start_run(synced, job, {"seconds": 0.05}) for job in jobs]
    with running_worker(synced, settings):
        ended = [wait_for_end(synced, run.id, timeout=60) for run in created]
    assert all(run.status is RunStatus.COMPLETED for run in ended)
    for i, a in enumerate(ended):
        for b in ended[i + 1 :]:
            assert not overlapping(a, b), (a.id, b.id, interval(a), interval(b))


def test_plain_runs_do_overlap_on_two_slots(
    synced: Store, settings: Settings, tmp_path: Path
) -> None:
    """The check above can fail: without a resource two slots do run at once (each of these
    waits, up to 30 s, until the other has started too)."""
    folder = tmp_path / "met"
    folder.mkdir()
    created = [start_run(synced, "r.meet", {"folder": str(folder), "name": name}) for name in "ab"]
    with running_worker(synced, settings):
        a, b = (wait_for_end(synced, run.id) for run in created)
    assert overlapping(a, b)


def test_a_waiting_run_is_pending_and_says_what_it_waits_for(synced: Store) -> None:
    holder = start_run(synced, "r.import", {})
    assert holder.status is RunStatus.QUEUED
    waiter = start_run(synced, "r.update", {})
    assert waiter.status is RunStatus.PENDING
    body = synced.get_run(waiter.id).to_json()
    assert body["waiting_for"] == {
        "resources": ["erp-customers"],
        "held_by": [holder.id],
        "behind": [],
        "reason": f"resource erp-customers is held by run {holder.id}",
    }
    [customers] = [r for r in synced.list_resources() if r.name == "erp-customers"]
    assert [h.run_id for h in customers.holders] == [holder.id]
    assert [w.run_id for w in customers.waiters] == [waiter.id]
    cancel_run(synced, holder.id)
    after = synced.get_run(waiter.id)
    assert after.status is RunStatus.QUEUED and after.waiting_for is None
    history = [(h.to_status.value, h.reason) for h in synced.get_history(waiter.id)]
    assert history[-1] == ("queued", "resources free")


def test_shared_holders_overlap_and_an_exclusive_one_waits_for_them(
    synced: Store, settings: Settings
) -> None:
    readers = [start_run(synced, "r.report", {"seconds": 0.6}) for _ in range(2)]
    writer = start_run(synced, "r.import", {"seconds": 0.05})
    assert [r.status for r in readers] == [RunStatus.QUEUED, RunStatus.QUEUED]
    assert writer.status is RunStatus.PENDING
    late_reader = start_run(synced, "r.report", {"seconds": 0.05})
    # A reader never overtakes a waiting writer (no starvation).
    assert late_reader.status is RunStatus.PENDING
    assert f"promised to run {writer.id}" in str(late_reader.to_json()["waiting_for"])
    with running_worker(synced, settings):
        r1, r2 = (wait_for_end(synced, r.id) for r in readers)
        w = wait_for_end(synced, writer.id)
        late = wait_for_end(synced, late_reader.id)
    assert overlapping(r1, r2)
    assert not overlapping(w, r1) and not overlapping(w, r2) and not overlapping(w, late)
    assert interval(w)[0] < interval(late)[0]


def test_waiters_are_served_by_priority_then_age(synced: Store) -> None:
    holder = start_run(synced, "r.import", {})
    low = start_run(synced, "r.import", {}, priority=0)
    high = start_run(synced, "r.import", {}, priority=5)
    also_low = start_run(synced, "r.import", {}, priority=0)
    order = []
    current = holder.id
    for _ in range(3):
        cancel_run(synced, current)
        [nxt] = [
            r.id for r in (low, high, also_low) if synced.get_run(r.id).status is RunStatus.QUEUED
        ]
        order.append(nxt)
        current = nxt
    assert order == [high.id, low.id, also_low.id]


def test_a_job_never_runs_while_a_job_it_excludes_runs(synced: Store) -> None:
    plain = start_run(synced, "r.plain", {})
    backup = start_run(synced, "r.backup", {})
    assert backup.status is RunStatus.PENDING
    assert "running:r.plain" in str(backup.to_json()["waiting_for"])
    cancel_run(synced, plain.id)
    assert synced.get_run(backup.id).status is RunStatus.QUEUED
    # ... and the excluded job waits for it in turn.
    second = start_run(synced, "r.plain", {})
    assert second.status is RunStatus.PENDING


def test_a_concurrency_limit_of_one_queues_one_run_at_a_time(synced: Store) -> None:
    first = start_run(synced, "r.single", {})
    second = start_run(synced, "r.single", {})
    assert (first.status, second.status) == (RunStatus.QUEUED, RunStatus.PENDING)
    cancel_run(synced, first.id)
    assert synced.get_run(second.id).status is RunStatus.QUEUED


def test_a_tenant_limit_configured_later_counts_for_new_runs(synced: Store) -> None:
    synced.sync_resources([ResourceDefinition(name="tenant:default", capacity=2)], utcnow())
    runs = [start_run(synced, "r.plain", {}) for _ in range(3)]
    assert [r.status for r in runs] == [RunStatus.QUEUED, RunStatus.QUEUED, RunStatus.PENDING]
    # Raising the limit lets the waiter go at once.
    synced.sync_resources([ResourceDefinition(name="tenant:default", capacity=3)], utcnow())
    assert synced.get_run(runs[2].id).status is RunStatus.QUEUED


def test_after_waits_for_the_running_instance(synced: Store, settings: Settings) -> None:
    plain = start_run(synced, "r.plain", {"seconds": 0.3})
    follower = start_run(synced, "r.after", {})
    assert follower.status is RunStatus.PENDING and follower.waits_for == plain.id
    with running_worker(synced, settings):
        ended = wait_for_end(synced, follower.id)
    assert interval(ended)[0] >= interval(synced.get_run(plain.id))[1]


def test_a_waiting_run_that_is_canceled_lets_the_next_one_go(synced: Store) -> None:
    holder = start_run(synced, "r.import", {})
    first_waiter = start_run(synced, "r.update", {})
    second_waiter = start_run(synced, "r.import", {})
    cancel_run(synced, first_waiter.id)
    assert synced.get_run(second_waiter.id).status is RunStatus.PENDING  # still held
    cancel_run(synced, holder.id)
    wait_until(lambda: synced.get_run(second_waiter.id).status is RunStatus.QUEUED)


def test_a_group_limit_from_settings_holds_for_the_group_jobs_only(
    store: Store, project: Path, database_url: str
) -> None:
    from rota.settings import load_settings

    (project / "rota.toml").write_text("[limits.groups]\nimports = 1\n")
    configured = load_settings(project, database_url=database_url)
    assert not sync_project(store, project, resources=configured.resource_definitions).errors
    first, second = (start_run(store, "r.grouped", {}) for _ in range(2))
    other = start_run(store, "r.plain", {})
    assert (first.status, second.status, other.status) == (
        RunStatus.QUEUED,
        RunStatus.PENDING,
        RunStatus.QUEUED,
    )
    assert "group:imports" in str(second.to_json()["waiting_for"])
