"""Scenario 2: a ``rota worker`` frozen with SIGSTOP for twice its lease, then SIGCONT (PostgreSQL).

A frozen worker is the dangerous kind of dead: a long garbage collection, a suspended virtual
machine. Another worker's reaper must take its run over (re-queue it if idempotent, fail it
``worker lost`` if not), and when the frozen worker wakes up its late outcome must be refused
by the lease token: the run keeps the outcome the others gave it, its history has one terminal
record, and the woken worker logs that it lost the lease. The freeze hits either the worker
alone (its job's child process runs on and finishes meanwhile) or the whole process group.
"""

from __future__ import annotations

import random
import signal
import time
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from tests.acceptance.harness import MakeRota, Process, Rota, wait_until, words
from tests.faults.history import (
    History,
    check_runs,
    executions_of,
    reaper_changes,
    report,
    seconds,
    spread,
    stale_running,
    tally,
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
    wait_for_execution,
)

from rota.model.status import RunStatus

pytestmark = [pytest.mark.acceptance, pytest.mark.postgres]

STOPPED_LEASES = 2.0
"""The freeze lasts this many lease lengths (and at least until the run was reaped)."""
BLOCKED_AFTER = 4 * LEASE_SECONDS
"""A freeze that outlasts this without a reap froze the worker inside a transaction (see
:func:`test_a_worker_frozen_inside_its_lease_renewal_still_loses_its_run_to_the_reaper`)."""
RENEWAL = ("UPDATE runs SET lease_expires_at", "SELECT runs.id, runs.lease_token, runs.status")
"""The statements of ``extend_leases`` that run while it holds the runs' row locks."""


def _send(process: Process, sig: signal.Signals, scope: str) -> None:
    if scope == "group":
        process.signal(sig)
    else:
        process.popen.send_signal(sig)


def _connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    libpq = sa.engine.make_url(url).set(drivername="postgresql")
    return psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True)


def _idle_in_transaction(conn: psycopg.Connection[tuple[Any, ...]]) -> list[str]:
    """The last statement of each session that sits in an open transaction."""
    rows = conn.execute(
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
    ).fetchall()
    return [" ".join(str(r[0]).split())[:120] for r in rows]


def _renewing(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[int, Any, str]]:
    """Sessions idle inside a lease renewal: ``(backend pid, transaction start, statement)``."""
    rows = conn.execute(
        "SELECT pid, xact_start, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND state = 'idle in transaction' AND (query LIKE %s OR query LIKE %s)",
        [f"{RENEWAL[0]}%", f"{RENEWAL[1]}%"],
    ).fetchall()
    return [(int(pid), begun, " ".join(str(q).split())[:120]) for pid, begun, q in rows]


def _row_locked(url: str, run_id: int) -> bool:
    """Whether another session holds the run's row lock (what SKIP LOCKED passes by)."""
    with _connect(url) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT id FROM runs WHERE id = %s FOR UPDATE NOWAIT", [run_id])
        except psycopg.errors.LockNotAvailable:
            return True
    return False


def _pause_round(
    rota: Rota, history: History, workers: list[Process], number: int, rng: random.Random
) -> dict[str, Any]:
    store = rota.store
    idempotent = rng.random() < 0.5
    scope = rng.choice(("worker", "group"))
    target = enqueue(rota, history, IDEMPOTENT if idempotent else ONCE, {"mid": rng.uniform(1, 2)})
    claimed = rota.wait_for_run(target, lambda r: r.status is RunStatus.RUNNING, "claimed")
    victim = holder(rota, workers, claimed.worker)
    wait_for_execution(rota, target, 1, "start")
    pause(rng.uniform(0, 0.3))

    stop = history.fault("stop", victim.name, scope=scope, round=number, run=target)
    _send(victim, signal.SIGSTOP, scope)
    blocked: list[str] = []
    try:
        while True:
            elapsed = time.time() - stop.at
            if elapsed >= STOPPED_LEASES * LEASE_SECONDS and reaper_changes(store, target):
                break
            if elapsed >= BLOCKED_AFTER:
                with _connect(rota.database_url) as conn:
                    blocked = _idle_in_transaction(conn)
                break
            time.sleep(0.05)
    finally:
        cont = history.fault("cont", victim.name, scope=scope, round=number, run=target)
        _send(victim, signal.SIGCONT, scope)
    reaped = reaper_changes(store, target)
    figures: dict[str, Any] = {
        "round": number,
        "scope": scope,
        "idempotent": idempotent,
        "stopped_seconds": round(cont.at - stop.at, 3),
        "reaped": bool(reaped),
    }
    if not reaped:
        # Frozen between a write and its commit: the run's row stays locked, and the reapers
        # (SELECT ... FOR UPDATE SKIP LOCKED) pass it by until the worker wakes up.
        figures["idle_in_transaction_sessions"] = blocked
        rota.wait_for_status(target, "completed", "partial", "failed", "canceled")
        check_runs(store, [target])
        return figures
    figures["reap_delay_after_stop"] = round(seconds(reaped[0].at, stop.at), 3)

    run = rota.wait_for_status(target, "completed", "partial", "failed", "canceled")
    noticed = wait_until(
        lambda: f"run {target}: lease lost" in words(victim.stderr.read_text(errors="replace")),
        timeout=15,
        what=f"{victim.name} to log that it lost the lease of run {target}",
        describe=victim.output,
    )
    assert noticed and victim.running(), victim.output()
    figures["noticed_after_cont"] = round(time.time() - cont.at, 3)
    logged = words(victim.stderr.read_text(errors="replace"))
    # The store refused the late outcome (finish_runs: lease token no longer the run's), or
    # the woken worker's heartbeat learnt of the loss first and it wrote nothing.
    figures["refusal"] = (
        "outcome refused by the store"
        if f"run {target}: lease lost before its outcome was written" in logged
        else "heartbeat found the lease lost"
    )
    run = check_runs(store, [target])[target]  # one terminal record, after the wake-up too
    attempts = store.get_attempts(target)
    assert (attempts[0].worker, attempts[0].outcome) == (victim.worker_id, "worker lost"), (
        f"the frozen worker's attempt was not kept as lost: {attempts}"
    )
    if idempotent:
        assert (run.status, reaped[0].to_status) == (RunStatus.COMPLETED, RunStatus.QUEUED), (
            rota.describe(target)()
        )
        assert isinstance(run.result, dict), run
        assert run.result["worker_pid"] != victim.pid, (
            f"run {target} shows the frozen worker's outcome\n{rota.describe(target)()}"
        )
        assert run.result["attempt"] == run.attempt >= 2, run
        assert attempts[-1].worker != victim.worker_id, attempts
    else:
        assert (run.status, run.reason, run.attempt, run.result) == (
            RunStatus.FAILED,
            "worker lost",
            1,
            None,
        ), rota.describe(target)()
        assert len(executions_of(executions(rota), target)) == 1
    figures["status"] = run.status.value
    return figures


def test_a_frozen_worker_is_reaped_and_its_late_outcome_is_refused(
    make_rota: MakeRota,
    postgres_database: str,
    rounds: int,
    rng: random.Random,
    history: History,
) -> None:
    rota = install_jobs(make_rota, postgres_database)
    workers = [rota.worker("worker-a"), rota.worker("worker-b")]
    assert_synced(rota, JOBS)
    started = time.monotonic()
    count = max(3, rounds // 2)
    per_round = [_pause_round(rota, history, workers, n, rng) for n in range(1, count + 1)]

    runs = check_runs(rota.store, history.enqueued)
    fenced = [r for r in per_round if r["reaped"]]
    blocked = [r for r in per_round if not r["reaped"]]
    history.details["rounds"] = per_round
    figures = {
        "rounds": count,
        "seconds": round(time.monotonic() - started, 1),
        "statuses": tally(r.status.value for r in runs.values()),
        "scopes": tally(r["scope"] for r in per_round),
        "reaped_while_frozen": len(fenced),
        "late_outcomes_refused": len(fenced),
        "second_terminal_records": 0,  # check_runs
        "frozen_inside_a_transaction": len(blocked),
        "stopped_seconds": spread([r["stopped_seconds"] for r in per_round]),
        "reap_delay_after_stop": spread([r["reap_delay_after_stop"] for r in fenced]),
        "lease_loss_logged_after_cont": spread([r["noticed_after_cont"] for r in fenced]),
        "how_the_late_outcome_was_refused": tally(r["refusal"] for r in fenced),
    }
    report(history, figures)
    assert len(fenced) >= max(1, count // 2), f"too few rounds reaped while frozen: {per_round}"


# A worker frozen between the lease-renewal UPDATE and its COMMIT held its runs' rows locked and
# the reaper (SKIP LOCKED) passed them by for as long as the freeze lasted; PostgreSQL now ends
# sessions idle in a transaction after 5 s (rota.store.postgres.CONNECT_ARGS).
def test_a_worker_frozen_inside_its_lease_renewal_still_loses_its_run_to_the_reaper(
    make_rota: MakeRota, postgres_database: str, rng: random.Random, history: History
) -> None:
    rota = install_jobs(make_rota, postgres_database)
    frozen = rota.worker("worker-a")
    assert_synced(rota, JOBS)
    target = enqueue(rota, history, IDEMPOTENT, {"mid": 30})
    wait_for_execution(rota, target, 1, "start")
    rota.worker("worker-b")  # idle: its reaper sweeps every heartbeat

    # Catch worker A inside the transaction that renews its lease, as a VM paused at that
    # instant would be: watch its session, and freeze the worker the moment the session sits
    # "idle in transaction" after the lease UPDATE (holding the run's row lock); keep the
    # freeze if that transaction is still open once the worker is stopped.
    caught: str | None = None
    tries = 0
    with _connect(rota.database_url) as conn:
        deadline = time.monotonic() + 60
        while caught is None and time.monotonic() < deadline:
            inside = _renewing(conn)
            if not inside:
                continue
            tries += 1
            frozen.signal(signal.SIGSTOP)
            time.sleep(0.01)
            still = {(pid, begun): q for pid, begun, q in _renewing(conn)}
            caught = next((q for pid, begun, q in inside if (pid, begun) in still), None)
            if caught is None:
                frozen.signal(signal.SIGCONT)
    if caught is None:
        pytest.skip(f"worker A was never frozen inside its lease renewal ({tries} tries)")
    stop = history.fault("stop", frozen.name, scope="group", tries=tries, statement=caught)
    try:
        # Its lease runs out at most one lease after this (uncommitted) renewal; worker B's
        # next sweep must then recover the run.
        deadline = stop.at + LEASE_SECONDS + HEARTBEAT_SECONDS + SWEEP_SLACK + LEASE_SECONDS
        while time.time() < deadline and not reaper_changes(rota.store, target):
            time.sleep(0.05)
        stale = stale_running(rota.store, older_than=HEARTBEAT_SECONDS + SWEEP_SLACK)
        reaped = reaper_changes(rota.store, target)
        report(
            history,
            {
                "tries": tries,
                "frozen_seconds": round(time.time() - stop.at, 3),
                "reaped": bool(reaped),
                "stale_running": stale,
                "row_locked": _row_locked(rota.database_url, target),
            },
        )
        assert reaped, (
            f"run {target} was not reaped {time.time() - stop.at:.1f}s into the freeze; "
            f"running on an expired lease: {stale}"
        )
    finally:
        frozen.signal(signal.SIGCONT)
