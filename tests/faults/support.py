"""The fault-injection suite's project, settings and helpers around the acceptance harness.

The project is the example project with its jobs replaced by :data:`JOBS_PY`: Python jobs that
note each step in ``executions.log`` (so a test counts what really executed, not only what the
store says), in an idempotent and a non-idempotent flavour, and two poison jobs. Engine timings
are short (heartbeat 0.5 s, lease 2 s) so that a round of kills takes seconds.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from typing import Any

from tests.acceptance.harness import MakeRota, Process, Rota, wait_until
from tests.faults.history import Execution, History, read_executions

from rota.services.runs import start_run

HEARTBEAT_SECONDS = 0.5
LEASE_SECONDS = 2.0
FAST = {
    "ROTA_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
    "ROTA_LEASE_SECONDS": str(LEASE_SECONDS),
    "ROTA_POLL_SECONDS": "0.05",
}
SWEEP_SLACK = 1.0
"""Slack on top of one sweep (``heartbeat_seconds``): the control loop ticks every 0.25 s,
and two tests share two cores."""

IDEMPOTENT = "fault.idempotent"
ONCE = "fault.once"
CHILD_POISON = "fault.poison"
WORKER_POISON = "fault.poison_worker"
CHILD_POISON_ATTEMPTS = 3
WORKER_POISON_LOSSES = 2

JOBS_PY = f'''\
"""Jobs of the fault-injection suite: each notes its steps in executions.log."""

import os
import signal
import time
from pathlib import Path

from rota import job

LOG = Path(__file__).resolve().parent.parent / "executions.log"


def _note(ctx, kind):
    line = f"{{time.time():.6f}} {{kind}} {{ctx.run_id}} {{ctx.attempt}} {{os.getpid()}} {{os.getppid()}}\\n"
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _work(ctx, pre, mid, post):
    time.sleep(pre)
    _note(ctx, "start")
    time.sleep(mid)
    _note(ctx, "effect")  # the side effect: an e-mail sent, a row written elsewhere
    time.sleep(post)
    return {{"attempt": ctx.attempt, "worker_pid": os.getppid()}}


@job(id="{IDEMPOTENT}", idempotent=True)
def idempotent(ctx, pre: float = 0.0, mid: float = 0.0, post: float = 0.0):
    return _work(ctx, pre, mid, post)


@job(id="{ONCE}")
def once(ctx, pre: float = 0.0, mid: float = 0.0, post: float = 0.0):
    return _work(ctx, pre, mid, post)


@job(
    id="{CHILD_POISON}",
    retry={{"max_attempts": {CHILD_POISON_ATTEMPTS}, "backoff_seconds": 0.1, "jitter": False}},
)
def poison(ctx):
    """Kills the process it runs in: the worker slot's child process."""
    _note(ctx, "start")
    os.kill(os.getpid(), signal.SIGKILL)


@job(id="{WORKER_POISON}", idempotent=True, retry={{"max_worker_losses": {WORKER_POISON_LOSSES}}})
def poison_worker(ctx):
    """Kills the worker that runs it (the parent of the slot's child process)."""
    _note(ctx, "start")
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(60)
'''

JOBS = {IDEMPOTENT, ONCE, CHILD_POISON, WORKER_POISON}


def install(
    make_rota: MakeRota,
    files: dict[str, str],
    *,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
) -> Rota:
    """A Rota installation whose jobs/ holds only ``files`` (name -> text)."""
    rota = make_rota(database_url=database_url, env={**FAST, **(env or {})})
    shutil.rmtree(rota.project / "jobs")
    shutil.rmtree(rota.project / "calendars")
    (rota.project / "jobs").mkdir()
    for name, text in files.items():
        (rota.project / "jobs" / name).write_text(text, encoding="utf-8")
    return rota


def install_jobs(make_rota: MakeRota, database_url: str | None = None) -> Rota:
    return install(make_rota, {"faults.py": JOBS_PY}, database_url=database_url)


def assert_synced(rota: Rota, jobs: set[str]) -> None:
    """The first process started has synced the project: its jobs are all in the store."""
    stored = {j.id for j in rota.store.list_jobs()}
    assert stored == jobs, f"synced {sorted(stored)}, expected {sorted(jobs)}\n" + (
        rota.process_output()
    )


def rounds_setting() -> int:
    return int(os.environ.get("ROTA_FAULTS_ROUNDS", "10"))


def executions(rota: Rota) -> list[Execution]:
    return read_executions(rota.project / "executions.log")


def enqueue(
    rota: Rota, history: History, job: str, params: dict[str, Any] | None = None, **kw: Any
) -> int:
    """Enqueue through the run service (what the API and ``rota run`` call), in process."""
    run = start_run(rota.store, job, params or {}, actor="faults", **kw)
    history.enqueue(run, idempotent=job in {IDEMPOTENT, WORKER_POISON})
    return run.id


def wait_for_execution(
    rota: Rota, run_id: int, attempt: int, kind: str, timeout: float = 30.0
) -> Execution:
    """Poll executions.log every few milliseconds for a job's step."""

    def seen() -> Execution | None:
        for line in executions(rota):
            if (line.run_id, line.attempt, line.kind) == (run_id, attempt, kind):
                return line
        return None

    found: Execution = wait_until(
        seen,
        timeout=timeout,
        interval=0.003,
        what=f"run {run_id} attempt {attempt}: {kind}",
        describe=rota.describe(run_id),
    )
    return found


def registered(rota: Rota, process: Process) -> float | None:
    """When ``process`` (a ``rota worker``) registered in the store (epoch seconds): its
    control thread, the one that sweeps, starts right after. None while it is starting."""
    for info in rota.store.list_workers(datetime.now(UTC), LEASE_SECONDS):
        if info.pid == process.pid and info.stopped_at is None:
            return info.started_at.timestamp()
    return None


def holder(rota: Rota, processes: list[Process], worker_id: str | None) -> Process:
    """The process of a worker id (worker ids are ``host:pid:random``)."""
    for info in rota.store.list_workers(datetime.now(UTC), LEASE_SECONDS):
        if info.id == worker_id:
            [process] = [p for p in processes if p.pid == info.pid]
            process.worker_id = worker_id
            return process
    raise AssertionError(f"no registered worker {worker_id}")


def pause(seconds: float) -> None:
    """A deliberate random delay (the moment of a fault), never a wait for state."""
    if seconds > 0:
        time.sleep(seconds)
