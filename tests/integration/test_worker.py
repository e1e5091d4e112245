"""The worker against real stores: claim, report, retry, timeout, cancel, reap, fence."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.integration.conftest import wait_for_end, wait_for_status, wait_until

from rota.engine.worker import Worker
from rota.model.runs import utcnow
from rota.model.status import RunStatus
from rota.services.runs import cancel_run, start_run
from rota.settings import Settings
from rota.store import Store


def test_it_runs_a_python_job_and_keeps_its_records_log_info_and_result(
    synced: Store, worker: Worker
) -> None:
    run = start_run(synced, "t.ok", {"n": "3"})
    done = wait_for_end(synced, run.id)
    assert done.status is RunStatus.COMPLETED
    assert done.result == {"n": 3}
    assert done.info == {"done": 3}
    assert done.counters.inserted == 3 and done.data_changed
    assert [r.key for r in synced.get_records(run.id)] == ["k0", "k1", "k2"]
    messages = [line.message for line in synced.get_logs(run.id)]
    assert "recorded 3" in messages and "printed line" in messages
    assert [a.outcome for a in synced.get_attempts(run.id)] == ["completed"]


def test_it_ends_a_run_with_some_failed_records_partial(synced: Store, worker: Worker) -> None:
    run = start_run(synced, "t.some_bad", {})
    done = wait_for_end(synced, run.id)
    assert done.status is RunStatus.PARTIAL
    assert [r.error for r in synced.get_records(run.id, failed_only=True)] == ["bad value"]


def test_it_retries_a_failing_job_until_max_attempts(synced: Store, worker: Worker) -> None:
    run = start_run(synced, "t.fail", {})
    done = wait_for_end(synced, run.id)
    assert done.status is RunStatus.FAILED
    assert done.attempt == 3
    attempts = synced.get_attempts(run.id)
    assert [a.error.message for a in attempts if a.error] == ["boom 1", "boom 2", "boom 3"]
    assert done.error is not None and "Traceback" in (done.error.traceback or "")


def test_it_does_not_retry_a_job_that_says_its_failure_is_final(
    synced: Store, worker: Worker
) -> None:
    done = wait_for_end(synced, start_run(synced, "t.fatal", {}).id)
    assert done.status is RunStatus.FAILED and done.attempt == 1
    assert done.error is not None and done.error.message == "bad configuration"


def test_it_fails_a_run_whose_result_is_not_json(synced: Store, worker: Worker) -> None:
    done = wait_for_end(synced, start_run(synced, "t.notjson", {}).id)
    assert done.status is RunStatus.FAILED
    assert done.error is not None and done.error.type == "ResultNotJSON"


def test_it_stops_a_run_at_its_timeout_by_force(synced: Store, worker: Worker) -> None:
    done = wait_for_end(synced, start_run(synced, "t.slow", {}).id)
    assert done.status is RunStatus.FAILED
    assert done.reason == "timeout"


def test_it_cancels_a_cooperating_run_at_its_next_progress_call(
    synced: Store, worker: Worker
) -> None:
    run = start_run(synced, "t.coop", {})
    wait_until(lambda: synced.get_run(run.id).progress.done > 0, what="progress")
    cancel_run(synced, run.id, actor="tester")
    done = wait_for_end(synced, run.id)
    assert done.status is RunStatus.CANCELED
    assert done.reason == "canceled"


def test_it_stops_a_run_that_ignores_cancellation_after_the_grace_period(
    synced: Store, worker: Worker
) -> None:
    run = start_run(synced, "t.spin", {})
    wait_for_status(synced, run.id, RunStatus.RUNNING)
    cancel_run(synced, run.id)
    done = wait_for_end(synced, run.id)
    assert done.status is RunStatus.CANCELED
    assert "grace" in (done.reason or "")


def test_it_keeps_a_run_longer_than_its_lease_alive_by_heartbeats(
    synced: Store, worker: Worker
) -> None:
    run = start_run(synced, "t.long", {"seconds": 3.5})
    done = wait_for_end(synced, run.id)
    assert done.status is RunStatus.COMPLETED
    assert done.attempt == 1 and done.result == "done"


def test_it_reaps_runs_of_a_dead_worker(synced: Store, settings: Settings) -> None:
    idem = start_run(synced, "t.idem", {})
    other = start_run(synced, "t.long", {"seconds": 0.1})
    ghost = synced.claim_runs("ghost", 2, 0.5, utcnow())
    assert {c.run_id for c in ghost} == {idem.id, other.id}
    live = Worker(synced, settings)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    try:
        resumed = wait_for_end(synced, idem.id)
        lost = wait_for_end(synced, other.id)
    finally:
        live.stop()
        thread.join(30)
    assert resumed.status is RunStatus.COMPLETED
    assert resumed.result == 2
    assert [a.outcome for a in synced.get_attempts(idem.id)] == ["worker lost", "completed"]
    assert lost.status is RunStatus.FAILED and lost.reason == "worker lost"
    assert len(synced.get_attempts(other.id)) == 1


def test_it_never_writes_the_outcome_of_a_run_whose_lease_it_lost(
    synced: Store, worker: Worker
) -> None:
    run = start_run(synced, "t.long", {"seconds": 2.0})
    wait_for_status(synced, run.id, RunStatus.RUNNING)
    # Another node's reaper, with a clock far ahead, decides this worker is gone.
    reaped = synced.reap_expired(utcnow() + timedelta(hours=1))
    assert [r.run_id for r in reaped] == [run.id]
    wait_until(lambda: not worker._held, timeout=10, what="the worker to drop the run")
    final = synced.get_run(run.id)
    assert final.status is RunStatus.FAILED and final.reason == "worker lost"
    assert final.result is None
