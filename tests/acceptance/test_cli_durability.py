"""Durability through the CLI: workers killed with ``kill -9``, stopped with SIGTERM, and retries.

A worker here is a real ``rota worker`` process group; ``kill -9`` takes its job processes down
with it, as a crashed machine would. Another worker's reaper then recovers the run once its
lease (1.5s here) has run out.
"""

from __future__ import annotations

import signal

import pytest
from tests.acceptance.harness import LEASE_SECONDS, MakeRota, Rota, stays, transitions, words

from rota.model.status import RunStatus

pytestmark = pytest.mark.acceptance

TERMINAL = ("completed", "partial", "failed", "canceled")


def test_it_resumes_an_idempotent_run_from_its_checkpoint_on_another_worker_after_kill_9(
    make_rota: MakeRota, database_url: str
) -> None:
    rota = make_rota(database_url=database_url)
    first = rota.worker("worker-a")
    run_id = rota.start_run("archive.rebuild", "items=300", "chunk=20", "pace=0.02")
    lost = rota.wait_for_progress(run_id, 60)  # three checkpoints or more are saved

    first.kill()
    rota.worker("worker-b")

    rota.wait_for_status(run_id, *TERMINAL)
    shown = rota.show(run_id)
    assert shown["status"] == "completed", shown
    attempts = shown["attempts"]
    assert [(a["number"], a["outcome"]) for a in attempts] == [(1, "worker lost"), (2, "completed")]
    assert attempts[0]["worker"] == lost.worker
    assert attempts[1]["worker"] != lost.worker
    assert ("running", "queued") in transitions(shown)
    assert shown["result"]["indexed"] == 300
    assert shown["result"]["resumed_from"] > 0
    assert shown["counters"]["processed"] == 300
    records = rota.json("runs", "records", str(run_id))
    keys = [r["key"] for r in records]
    assert len(keys) == 300
    assert set(keys) == {f"doc-{n:06d}" for n in range(300)}  # each document exactly once
    assert {r["attempt"] for r in records} == {1, 2}


def test_it_fails_a_non_idempotent_run_whose_worker_was_killed_and_never_runs_it_again(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    first = rota.worker("worker-a")
    run_id = rota.start_run("reports.send", "pace=0.2")
    rota.wait_for_progress(run_id, 2)

    first.kill()
    outbox = rota.project / ".rota" / "outbox"
    sent = sorted(outbox.glob(f"run{run_id}-*.eml"))
    assert 2 <= len(sent) < 30
    rota.worker("worker-b")

    rota.wait_for_status(run_id, *TERMINAL)
    shown = rota.show(run_id)
    assert (shown["status"], shown["reason"], shown["attempt"]) == ("failed", "worker lost", 1)
    assert shown["error"]["type"] == "WorkerLost"
    assert [(a["number"], a["outcome"]) for a in shown["attempts"]] == [(1, "worker lost")]
    assert transitions(shown)[-1] == ("running", "failed")

    # Worker B keeps claiming work, and over several lease periods the lost run stays failed.
    later = rota("run", "rates.import", "-p", "date=2026-11-19", "-p", "pace=0", "--wait")
    assert later.code == 0, later

    def unchanged() -> bool:
        run = rota.get_run(run_id)
        return (
            run is not None
            and run.status is RunStatus.FAILED
            and run.attempt == 1
            and len(rota.store.get_attempts(run_id)) == 1
        )

    stays(
        unchanged,
        seconds=3 * LEASE_SECONDS,
        what=f"run {run_id} failed after one attempt",
        describe=rota.describe(run_id),
    )
    again = rota.show(run_id)
    assert (again["status"], again["attempt"], len(again["attempts"])) == ("failed", 1, 1)
    assert sorted(outbox.glob(f"run{run_id}-*.eml")) == sent  # nobody was e-mailed twice


@pytest.mark.parametrize(
    "target",
    [
        "worker",
        "process-group",
    ],
)
def test_it_lets_a_running_job_finish_when_its_worker_is_stopped_with_sigterm(
    synced_rota: Rota, target: str
) -> None:
    rota = synced_rota
    # A long grace period: this test is about a job that ends within it.
    worker = rota.worker(env={"ROTA_SHUTDOWN_GRACE_SECONDS": "60"})
    run_id = rota.start_run("rates.import", "date=2026-11-19", "pace=0.5")
    rota.wait_for_progress(run_id, 1)

    if target == "worker":
        worker.terminate()
    else:
        worker.signal(signal.SIGTERM)

    assert worker.wait() == 0, worker.output()
    assert "stopping: no new runs" in words(worker.output())
    shown = rota.show(run_id)
    assert (shown["status"], shown["counters"]["processed"]) == ("completed", 4), shown
    assert [(a["number"], a["outcome"]) for a in shown["attempts"]] == [(1, "completed")]


def test_it_puts_a_long_job_back_in_the_queue_when_its_worker_stops_and_another_resumes_it(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    first = rota.worker("worker-a")
    run_id = rota.start_run("archive.rebuild", "items=100000", "pace=0.01")
    held = rota.wait_for_progress(run_id, 20)  # a checkpoint is saved

    first.terminate()

    assert first.wait() == 0, first.output()
    shown = rota.show(run_id)
    assert shown["status"] == "queued", shown
    assert transitions(shown)[-1] == ("running", "queued")
    assert shown["history"][-1]["reason"] == "worker shutdown"

    rota.worker("worker-b")
    rota.wait_for_run(
        run_id,
        lambda r: r.status is RunStatus.RUNNING and r.worker not in (None, held.worker),
        "running on the second worker",
    )
    rota.ok("runs", "cancel", str(run_id))
    rota.wait_for_status(run_id, "canceled")
    assert "resuming at document" in rota.ok("runs", "logs", str(run_id)).out
    keys = [r["key"] for r in rota.json("runs", "records", str(run_id))]
    assert len(keys) == len(set(keys)), "a document was recorded twice"


FLAKY = """\
id: flaky
kind: shell
retry: {max_attempts: 3, backoff: 0.1s, jitter: false}
command: [sh, -c, "exit 1"]
"""


def test_it_retries_a_failing_job_as_its_retry_policy_says_then_fails_it(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    rota.add_job_file("flaky.yaml", FLAKY)
    rota.worker()

    run = rota.json("run", "flaky", "--wait", code=1)

    assert (run["status"], run["reason"]) == ("failed", "failed")
    assert (run["attempt"], run["max_attempts"]) == (3, 3)
    assert run["error"]["type"] == "JobFailed"
    assert "exited with code 1" in run["error"]["message"]
    shown = rota.show(run["id"])
    attempts = shown["attempts"]
    assert [(a["number"], a["outcome"]) for a in attempts] == [
        (1, "queued"),
        (2, "queued"),
        (3, "failed"),
    ]
    assert all(a["error"]["type"] == "JobFailed" for a in attempts)
    assert transitions(shown) == [
        (None, "queued"),
        *[("queued", "running"), ("running", "queued")] * 2,
        ("queued", "running"),
        ("running", "failed"),
    ]
    reasons = [h["reason"] for h in shown["history"] if h["to"] == "queued"][1:]
    assert reasons == ["retry 2 of 3 in 0.1s", "retry 3 of 3 in 0.2s"]
