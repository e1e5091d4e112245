"""Scenario 1: ``rota worker`` processes killed with ``kill -9`` at random points (PostgreSQL).

Each round enqueues a target run (idempotent or not, chosen at random) ahead of a few
bystanders, with one or two workers running, and kills the worker holding the target at a
random moment of it: claimed but not started, mid-run, after its side effect, or right when
its side effect lands (before the completion commit). The killed worker is restarted at once.
Nothing may be lost: every run ends with exactly one terminal record, a non-idempotent job
never executes twice (its orphaned run ends ``failed``, ``worker lost``), an idempotent one is
re-queued and completes, and the reaper recovers the orphan within lease + one sweep.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.acceptance.harness import MakeRota, Process, Rota, wait_until
from tests.faults.history import (
    History,
    all_ended,
    check_runs,
    executions_of,
    reaper_changes,
    report,
    runs_by_id,
    seconds,
    spread,
    stale_running,
    tally,
    unfinished,
)
from tests.faults.support import (
    HEARTBEAT_SECONDS,
    IDEMPOTENT,
    JOBS,
    LEASE_SECONDS,
    ONCE,
    SWEEP_SLACK,
    assert_synced,
    enqueue,
    executions,
    holder,
    install_jobs,
    pause,
    registered,
    wait_for_execution,
)

from rota.model.status import RunStatus

pytestmark = [pytest.mark.acceptance, pytest.mark.postgres]

MOMENTS = ("before-start", "mid-run", "after-effect", "before-commit")
BYSTANDERS = 3
ROUND_TIMEOUT = 60.0


def _phase(rota: Rota, run_id: int) -> str:
    """Where the target was when the kill landed, from what it executed and what committed."""
    kinds = {e.kind for e in executions(rota) if e.run_id == run_id and e.attempt == 1}
    run = rota.get_run(run_id)
    if run is not None and run.status is RunStatus.COMPLETED:
        return "after-commit"
    if "effect" in kinds:
        return "after-effect"
    return "mid-run" if "start" in kinds else "before-start"


def _wait_for_batch(
    rota: Rota, batch: list[int], sweeping_since: Callable[[], float | None]
) -> None:
    """Wait until the batch has ended; meanwhile, once a worker has been sweeping for one
    sweep, no run may stay ``running`` on an expired lease."""
    store = rota.store

    def ended() -> bool:
        since = sweeping_since()
        if since is not None and time.time() - since > HEARTBEAT_SECONDS + SWEEP_SLACK:
            stale = stale_running(store, older_than=HEARTBEAT_SECONDS + SWEEP_SLACK)
            assert not stale, f"running on an expired lease after a sweep: {stale}"
        return all_ended(store, batch)

    wait_until(
        ended,
        timeout=ROUND_TIMEOUT,
        interval=0.05,
        what=f"runs {batch} to end",
        describe=lambda: unfinished(store, batch) + "\n" + rota.process_output(),
    )


def _set_workers(rota: Rota, workers: list[Process], want: int) -> None:
    """Start or stop workers until ``want`` run, all registered (the restart of the last
    round's victim has usually come up meanwhile)."""
    while len(workers) < want:
        workers.append(rota.spawn("worker", name=f"worker-{'ab'[len(workers)]}"))
    while len(workers) > want:
        leaving = workers.pop()
        leaving.terminate()  # idle between rounds: a graceful stop is immediate
        leaving.wait()
    wait_until(
        lambda: all(registered(rota, w) is not None for w in workers),
        what="the workers to start",
        describe=rota.process_output,
    )


def _kill_round(
    rota: Rota, history: History, workers: list[Process], number: int, rng: random.Random
) -> dict[str, Any]:
    store = rota.store
    _set_workers(rota, workers, rng.choice((1, 2)))
    idempotent = rng.random() < 0.5
    moment = rng.choice(MOMENTS)
    pre, mid = rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6)
    post = 0.0 if moment == "before-commit" else rng.uniform(0.2, 0.6)
    target = enqueue(
        rota,
        history,
        IDEMPOTENT if idempotent else ONCE,
        {"pre": pre, "mid": mid, "post": post},
        priority=10,
    )
    batch = [target] + [
        enqueue(rota, history, rng.choice((IDEMPOTENT, ONCE)), {"mid": rng.uniform(0.05, 0.2)})
        for _ in range(BYSTANDERS)
    ]

    claimed = wait_until(
        lambda: (r := rota.get_run(target)) is not None and r.status is RunStatus.RUNNING and r,
        interval=0.01,
        what=f"run {target} to be claimed",
        describe=rota.describe(target),
    )
    victim = holder(rota, workers, claimed.worker)
    if moment == "before-start":
        pause(rng.uniform(0, pre * 0.5))
    elif moment == "mid-run":
        wait_for_execution(rota, target, 1, "start")
        pause(rng.uniform(0, mid * 0.5))
    else:
        wait_for_execution(rota, target, 1, "effect")
        if moment == "after-effect":
            pause(rng.uniform(0, post * 0.5))
    kill = history.fault("kill", victim.name, pid=victim.pid, round=number, moment=moment)
    victim.kill()
    others = [w for w in workers if w is not victim]
    survivors = [w for w in others if (registered(rota, w) or math.inf) < kill.at]

    # The victim's runs are frozen now: only the reaper may change them.
    time.sleep(0.2)
    phase = _phase(rota, target)
    orphans = {
        i: r
        for i, r in runs_by_id(store, batch).items()
        if r.status is RunStatus.RUNNING and r.worker == victim.worker_id
    }
    restarted = rota.spawn("worker", name=victim.name)
    workers[workers.index(victim)] = restarted
    history.fault("restart", victim.name, round=number)

    def sweeping_since() -> float | None:
        """Since when a live worker sweeps: a survivor, else whichever starts first."""
        times = [registered(rota, w) for w in [*others, restarted]]
        started = [max(t, kill.at) for t in times if t is not None]
        return min(started, default=None)

    _wait_for_batch(rota, batch, sweeping_since)
    ready: float = wait_until(
        lambda: registered(rota, restarted), what="the restarted worker", describe=restarted.output
    )
    first_sweeper = sweeping_since()
    assert first_sweeper is not None

    runs = check_runs(store, batch)
    lines = executions(rota)
    bound = max(LEASE_SECONDS, first_sweeper - kill.at) + HEARTBEAT_SECONDS
    figures: dict[str, Any] = {
        "round": number,
        "workers": len(workers),
        "survivors": len(survivors),
        "moment": moment,
        "phase": phase,
        "target": "idempotent" if idempotent else "non-idempotent",
        "orphans": [],
        "restart_seconds": round(ready - kill.at, 3),
    }
    for run_id, run in runs.items():
        job_idempotent = history.enqueued[run_id].idempotent
        starts = executions_of(lines, run_id)
        attempts = store.get_attempts(run_id)
        if not job_idempotent:
            assert len(starts) <= 1, f"non-idempotent run {run_id} executed twice: {starts}"
        if run.status is RunStatus.COMPLETED:
            assert isinstance(run.result, dict), run
            assert run.result["attempt"] == run.attempt, run
            effects = executions_of(lines, run_id, "effect")
            assert run.attempt in {e.attempt for e in effects}, (run, effects)
        if run_id not in orphans:
            assert (run.status, run.attempt) == (RunStatus.COMPLETED, 1), (
                f"run {run_id} was not the dead worker's, yet: {run.status} attempt "
                f"{run.attempt}\n{rota.describe(run_id)()}"
            )
            continue
        reaped = reaper_changes(store, run_id)
        assert reaped, f"orphan {run_id} was not recovered by the reaper\n{rota.describe(run_id)()}"
        delay = seconds(reaped[0].at, kill.at)
        orphan: dict[str, Any] = {
            "run": run_id,
            "idempotent": job_idempotent,
            "reap_delay": round(delay, 3),
            "bound": round(bound, 3),
            "executions": len(starts),
        }
        assert attempts[0].outcome == "worker lost", attempts
        if job_idempotent:
            assert run.status is RunStatus.COMPLETED and run.attempt >= 2, rota.describe(run_id)()
            assert reaped[0].to_status is RunStatus.QUEUED, reaped
            history_rows = store.get_history(run_id)
            index = history_rows.index(reaped[0])
            rerun = history_rows[index + 1]
            assert rerun.to_status is RunStatus.RUNNING, history_rows
            orphan["rerun_delay"] = round(seconds(rerun.at, kill.at), 3)
        else:
            assert (run.status, run.reason, run.attempt) == (
                RunStatus.FAILED,
                "worker lost",
                1,
            ), rota.describe(run_id)()
            assert run.error is not None and run.error.type == "WorkerLost", run.error
            assert len(attempts) == 1, attempts
        figures["orphans"].append(orphan)
    return figures


def test_workers_killed_at_random_points_lose_no_run_and_run_nothing_twice(
    make_rota: MakeRota,
    postgres_database: str,
    rounds: int,
    rng: random.Random,
    history: History,
) -> None:
    rota = install_jobs(make_rota, postgres_database)
    workers = [rota.worker("worker-a")]
    assert_synced(rota, JOBS)
    started = time.monotonic()
    per_round = [_kill_round(rota, history, workers, n, rng) for n in range(1, rounds + 1)]

    runs = check_runs(rota.store, history.enqueued)  # every enqueued run ended, once
    orphans = [o for r in per_round for o in r["orphans"]]
    late = [o for o in orphans if o["reap_delay"] > o["bound"] + SWEEP_SLACK]
    lines = executions(rota)
    once_runs = [i for i, e in history.enqueued.items() if not e.idempotent]
    figures = {
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 1),
        "runs": len(runs),
        "statuses": tally(r.status.value for r in runs.values()),
        "lost_runs": len(set(history.enqueued) - set(runs)),
        "duplicate_completions": 0,  # check_runs: one terminal record, <= 1 completed attempt
        "max_executions_non_idempotent": max(
            (len(executions_of(lines, i)) for i in once_runs), default=0
        ),
        "rounds_with_a_surviving_worker": sum(r["survivors"] > 0 for r in per_round),
        "moments": tally(r["moment"] for r in per_round),
        "phases_at_kill": tally(r["phase"] for r in per_round),
        "orphans": len(orphans),
        "orphans_requeued": sum(o["idempotent"] for o in orphans),
        "orphans_failed_worker_lost": sum(not o["idempotent"] for o in orphans),
        "reap_delay_after_kill": spread([o["reap_delay"] for o in orphans]),
        "reap_delay_with_a_surviving_worker": spread(
            [o["reap_delay"] for r in per_round if r["survivors"] for o in r["orphans"]]
        ),
        "rerun_delay_after_kill": spread([o["rerun_delay"] for o in orphans if "rerun_delay" in o]),
        "restart_seconds": spread([r["restart_seconds"] for r in per_round]),
        "reap_bound": f"lease {LEASE_SECONDS}s (or the restart) + sweep {HEARTBEAT_SECONDS}s "
        f"+ slack {SWEEP_SLACK}s",
        "late_reaps": late,
    }
    history.details["rounds"] = per_round
    report(history, figures)
    assert not late, f"orphans recovered later than lease + sweep: {late}"
