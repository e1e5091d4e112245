#!/usr/bin/env python
"""Rota on 1, 2 and 4 worker processes against PostgreSQL, next to procrastinate.

For each system (Rota, procrastinate) and number of worker processes W (1, 2, 4; each with
concurrency C, default 2) it measures, each in a fresh database with fresh worker processes:

* drain, no-op: N runs (50,000) enqueued up front in batches of 500, then W workers started;
  drain/s = N / (workers spawned -> last run ended), start-up included; steady/s = the rate
  once every worker had started its first run (from the store's timestamps);
* drain, 10 ms: the same with M runs (5,000) that sleep 10 ms each;
* pickup latency: K runs (1,000) enqueued one at a time at R/s (50) while the W warmed-up
  workers wait on LISTEN/NOTIFY; p50/p99 of enqueue -> start as the store records it (Rota
  ``created_at -> started_at``; procrastinate's ``deferred -> started`` events), and of
  enqueue -> the job's code running (the client's clock before the enqueue call -> the
  task's ``time.time()``).

Worker processes are the products' own CLIs: ``rota worker`` (Python jobs: one child process
per slot, reused) and ``procrastinate --app=cluster_tasks.app worker`` (sync tasks in a
thread). Goals (issue): Rota drain >= 2x procrastinate; pickup p50 <= 20 ms. ``--quick`` is a
smoke run of a few minutes; ``--max-drain-seconds S`` ends every drain S seconds after its
workers started and reports the rate so far (the issue's backlogs take far longer than that
to drain on 2 cores). Databases ``rota_bench_cluster_*`` on the server named by
``ROTA_BENCH_POSTGRES_URL`` are created fresh and dropped afterwards. See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import psycopg
from cluster_tasks import NOOP_TASK, SLEEP_SECONDS, SLEEP_TASK, STAMP_TASK, URL_VARIABLE, make_app
from facts import load_average, server_settings, source_state
from pgdb import libpq_url, postgres_database
from processes import percentile
from throughput import (
    BULK_BATCH,
    DEFAULT_POSTGRES_URL,
    JOB_ID,
    POSTGRES_URL_VARIABLE,
    BenchError,
    Progress,
    make_project,
    prepare_rota,
    rota_settings,
    timed_loop,
    wait_until_drained,
)

from rota.model.runs import Trigger
from rota.services.runs import new_run_request, start_run
from rota.store import Store

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ROTA = BIN / "rota"
PROCRASTINATE = BIN / "procrastinate"

SLEEP_JOB = "bench.sleep"
STAMP_JOB = "bench.stamp"
CLUSTER_JOBS = f'''"""The 10 ms job and the pickup job of bench/cluster.py."""

import time

from rota import job


@job(id="{SLEEP_JOB}")
def sleep(ctx):
    time.sleep({SLEEP_SECONDS})


@job(id="{STAMP_JOB}")
def stamp(ctx):
    return time.time()
'''

SYSTEMS = ("rota", "procrastinate")
READY_SECONDS = 120.0
"""Worker processes not all registered after this long fail the measurement."""
STOP_SECONDS = 20.0
"""After SIGTERM, how long the worker processes get before SIGKILL."""
SETTLE_SECONDS = 1.0
"""Pause between the pickup warm-up and the measurement: every worker is back to waiting."""
WARMUP_PER_SLOT = 3
LATENCY_GOAL_MS = 20.0
RATIO_GOAL = 2.0


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    rota_job: str
    task: str


NOOP = Workload("noop", "no-op", JOB_ID, NOOP_TASK)
SLEEP = Workload("sleep", f"{SLEEP_SECONDS * 1000:g} ms", SLEEP_JOB, SLEEP_TASK)
STAMP = Workload("stamp", "pickup", STAMP_JOB, STAMP_TASK)


@dataclass(frozen=True)
class Plan:
    noop: int
    sleep: int
    workers: tuple[int, ...]
    concurrency: int
    pickup: int
    rate: float
    max_drain_s: float | None = None


FULL = Plan(noop=50_000, sleep=5_000, workers=(1, 2, 4), concurrency=2, pickup=1_000, rate=50.0)
QUICK = Plan(noop=5_000, sleep=500, workers=(1, 2), concurrency=2, pickup=200, rate=50.0)


# -- results -----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Drain:
    system: str
    workload: Workload
    workers: int
    n: int
    enqueue_s: float = math.nan
    drain_s: float = math.nan
    steady_per_s: float = math.nan
    done: int = 0
    """Runs ended successfully within ``drain_s``: ``n`` unless the drain was cut short."""
    error: str | None = None

    @property
    def enqueue_per_s(self) -> float:
        return self.n / self.enqueue_s if self.enqueue_s > 0 else math.nan

    @property
    def drain_per_s(self) -> float:
        return self.done / self.drain_s if self.drain_s > 0 else math.nan

    @property
    def label(self) -> str:
        cut = f", {self.done:,} in {self.drain_s:.0f}s" if 0 < self.done < self.n else ""
        return f"{self.workload.label} x{self.n:,}{cut}"


@dataclass(kw_only=True)
class Pickup:
    system: str
    workers: int
    n: int
    rate: float
    offered_per_s: float = math.nan
    store_ms: list[float] = field(default_factory=list)
    code_ms: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class DrainStats:
    done: int
    """Runs that ended successfully."""
    end: datetime | None
    """When the last of them ended (the store's clock)."""
    steady_per_s: float
    """Runs ended per second after every worker had started its first run."""


def steady_rate(done_after: int, all_up: datetime | None, end: datetime | None) -> float:
    if all_up is None or end is None or end <= all_up:
        return math.nan
    return done_after / (end - all_up).total_seconds()


# -- processes ---------------------------------------------------------------------------------

LOG_PROBLEM = re.compile(r"Traceback|\b(ERROR|CRITICAL|WARNING)\b|[Ee]xception")
COMPLAINTS: list[str] = []
"""What worker processes logged as a warning or worse, or did not stop in time."""
_LIVE: set[subprocess.Popen[bytes]] = set()
"""Every worker process started and not yet reaped: killed at exit whatever happens."""


def _kill_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


@atexit.register
def _kill_leftovers() -> None:
    for popen in list(_LIVE):
        _kill_group(popen, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(5)
        _LIVE.discard(popen)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP end the bench like Ctrl-C: the finally blocks stop the workers."""
    raise SystemExit(128 + signum)


class Crew:
    """W worker processes of one system, each in its own process group (its job children
    too), stopped with SIGTERM and, if need be, SIGKILL."""

    def __init__(self, side: Side, count: int, logs: Path, tag: str) -> None:
        self.tag = tag
        self.side = side
        self.count = count
        self.logs = [logs / f"{tag}-w{i + 1}.log" for i in range(count)]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.spawned_at = math.nan
        """``time.time()`` just before the first process was started."""

    def start(self) -> None:
        command, env = self.side.worker_command()
        self.spawned_at = time.time()
        for path in self.logs:
            with path.open("wb") as out:
                popen = subprocess.Popen(
                    command,
                    env=env,
                    cwd=self.side.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            _LIVE.add(popen)
            self.processes.append(popen)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def check(self) -> None:
        for popen, path in zip(self.processes, self.logs, strict=True):
            if popen.poll() is not None:
                tail = path.read_text(errors="replace")[-2000:]
                raise BenchError(f"{self.side.name} worker exited with {popen.returncode}:\n{tail}")

    def wait_ready(self) -> None:
        """Until every process has registered as a worker in the database."""
        deadline = time.monotonic() + READY_SECONDS
        while self.side.live_workers() < self.count:
            self.check()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"only {self.side.live_workers()} of {self.count} {self.side.name} "
                    f"workers registered within {READY_SECONDS:.0f}s"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        for popen in self.processes:
            if popen.poll() is None:
                _kill_group(popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for popen in self.processes:
            try:
                popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                COMPLAINTS.append(
                    f"{self.tag}: pid {popen.pid} still running {STOP_SECONDS:g}s after SIGTERM"
                )
        for popen in self.processes:
            # Also sweeps what is left of the group after its leader ended.
            _kill_group(popen, signal.SIGKILL)
            popen.wait()
            _LIVE.discard(popen)
        self.scan_logs()

    def scan_logs(self) -> None:
        """Warnings and errors the workers logged: printed under the report (a clean run has
        none), so a product problem met during the bench is not lost with the temp folder."""
        for path in self.logs:
            with contextlib.suppress(OSError):
                lines = path.read_text(errors="replace").splitlines()
                bad = [line for line in lines if LOG_PROBLEM.search(line)]
                if bad:
                    more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
                    COMPLAINTS.append(f"{path.name}: {bad[0].strip()[:200]}{more}")


@contextlib.contextmanager
def running(side: Side, count: int, logs: Path, tag: str) -> Iterator[Crew]:
    crew = Crew(side, count, logs, tag)
    try:
        crew.start()
        yield crew
    finally:
        crew.stop()


# -- the two systems ---------------------------------------------------------------------------


class Side(ABC):
    """One system in one fresh database: enqueueing, its worker command, what it recorded."""

    name: str

    def __init__(self, url: str, concurrency: int, folder: Path) -> None:
        self.url = url
        self.concurrency = concurrency
        self.folder = folder
        self.cwd = folder
        self.db = psycopg.connect(libpq_url(url), autocommit=True)
        """The bench's own connection for counting and reading timestamps."""

    def close(self) -> None:
        self.db.close()

    def scalar(self, query: str, params: Any = None) -> Any:
        row = self.db.execute(query, params).fetchone()
        return row[0] if row else None

    @abstractmethod
    def worker_command(self) -> tuple[list[str], dict[str, str]]: ...

    @abstractmethod
    def live_workers(self) -> int: ...

    @abstractmethod
    def remaining(self) -> int:
        """Runs not ended yet."""

    @abstractmethod
    def succeeded(self, workload: Workload) -> int: ...

    @abstractmethod
    def enqueue_batches(self, workload: Workload, n: int, progress: Progress) -> float:
        """Enqueue ``n`` runs in batches of BULK_BATCH, one transaction each; the seconds."""

    @abstractmethod
    def enqueue_stamp(self) -> int:
        """One pickup run, one transaction, as a client would; its id."""

    @abstractmethod
    def drain_stats(self, workload: Workload) -> DrainStats:
        """While the workers still run (procrastinate forgets a job's worker when it stops)."""

    @abstractmethod
    def pickup_ms(self, enqueued: dict[int, float]) -> tuple[list[float], list[float]]:
        """Per run: enqueue -> start in the store, and the client's clock -> the code's."""


class RotaSide(Side):
    name = "rota"

    def __init__(self, url: str, concurrency: int, folder: Path, project: Path) -> None:
        super().__init__(url, concurrency, folder)
        self.project = project
        self.cwd = project
        self.store: Store = prepare_rota(url, project, rota_settings(project, url))
        synced = {job.id for job in self.store.list_jobs()}
        if not {SLEEP_JOB, STAMP_JOB} <= synced:
            raise BenchError(f"the bench project's jobs were not synced: {sorted(synced)}")

    def close(self) -> None:
        self.store.close()
        super().close()

    def worker_command(self) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
        env.update(
            {
                "ROTA_PROJECT": str(self.project),
                "ROTA_DATABASE_URL": self.url,
                "ROTA_WORKER_CONCURRENCY": str(self.concurrency),
                "ROTA_SHUTDOWN_GRACE_SECONDS": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return [str(ROTA), "worker"], env

    def live_workers(self) -> int:
        return int(self.scalar("SELECT count(*) FROM workers WHERE stopped_at IS NULL"))

    def remaining(self) -> int:
        return int(
            self.scalar(
                "SELECT count(*) FROM runs WHERE status IN ('pending', 'queued', 'running')"
            )
        )

    def succeeded(self, workload: Workload) -> int:
        return int(
            self.scalar(
                "SELECT count(*) FROM runs WHERE job_id = %s AND status = 'completed'",
                (workload.rota_job,),
            )
        )

    def enqueue_batches(self, workload: Workload, n: int, progress: Progress) -> float:
        # Validated once, as start_run would; then Store.enqueue_runs, as throughput.py's bulk.
        request = new_run_request(
            self.store, workload.rota_job, {}, trigger=Trigger.API, actor="bench"
        )

        def step(i: int) -> None:
            self.store.enqueue_runs([request] * min(BULK_BATCH, n - i), self.store.now())

        return timed_loop(n, step, progress, "enqueue (bulk)", chunk=BULK_BATCH)

    def enqueue_stamp(self) -> int:
        return start_run(self.store, STAMP_JOB, {}, trigger=Trigger.API, actor="bench").id

    def drain_stats(self, workload: Workload) -> DrainStats:
        all_up = self.scalar(
            "SELECT max(first) FROM (SELECT min(started_at) AS first FROM runs "
            "WHERE job_id = %s GROUP BY worker_id) AS firsts",
            (workload.rota_job,),
        )
        row = self.db.execute(
            "SELECT count(*), max(finished_at), count(*) FILTER (WHERE finished_at > %s) "
            "FROM runs WHERE job_id = %s AND status = 'completed'",
            (all_up, workload.rota_job),
        ).fetchone()
        assert row is not None
        return DrainStats(row[0], row[1], steady_rate(row[2], all_up, row[1]))

    def pickup_ms(self, enqueued: dict[int, float]) -> tuple[list[float], list[float]]:
        rows = self.db.execute(
            "SELECT id, extract(epoch FROM started_at - created_at) * 1000, result "
            "FROM runs WHERE id = ANY(%s) AND status = 'completed'",
            (list(enqueued),),
        ).fetchall()
        store = [float(ms) for _, ms, _ in rows]
        code = [(float(began) - enqueued[run_id]) * 1000 for run_id, _, began in rows]
        return store, code


class ProcrastinateSide(Side):
    name = "procrastinate"

    def __init__(self, url: str, concurrency: int, folder: Path) -> None:
        super().__init__(url, concurrency, folder)
        self.stamps = folder / "procrastinate-stamps.txt"
        self.stamps.unlink(missing_ok=True)
        self.app = make_app(url)
        self.app.open()
        self.app.schema_manager.apply_schema()

    def close(self) -> None:
        self.app.close()
        super().close()

    def worker_command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        env.update(
            {
                URL_VARIABLE: libpq_url(self.url),
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(BENCH), os.environ.get("PYTHONPATH", "")) if p
                ),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return [
            str(PROCRASTINATE),
            "--app=cluster_tasks.app",
            "worker",
            f"--concurrency={self.concurrency}",
        ], env

    def live_workers(self) -> int:
        return int(self.scalar("SELECT count(*) FROM procrastinate_workers"))

    def remaining(self) -> int:
        return int(
            self.scalar("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
        )

    def succeeded(self, workload: Workload) -> int:
        return int(
            self.scalar(
                "SELECT count(*) FROM procrastinate_jobs "
                "WHERE task_name = %s AND status = 'succeeded'",
                (workload.task,),
            )
        )

    def _task(self, workload: Workload) -> Any:
        return self.app.tasks[workload.task]

    def _args(self, workload: Workload) -> dict[str, str]:
        return {"path": str(self.stamps)} if workload is STAMP else {}

    def enqueue_batches(self, workload: Workload, n: int, progress: Progress) -> float:
        task, args = self._task(workload), self._args(workload)

        def step(i: int) -> None:
            task.batch_defer(*[args] * min(BULK_BATCH, n - i))

        return timed_loop(n, step, progress, "enqueue (batch_defer)", chunk=BULK_BATCH)

    def enqueue_stamp(self) -> int:
        return int(self._task(STAMP).defer(**self._args(STAMP)))

    def drain_stats(self, workload: Workload) -> DrainStats:
        all_up = self.scalar(
            "SELECT max(first) FROM (SELECT min(e.at) AS first FROM procrastinate_events e "
            "JOIN procrastinate_jobs j ON j.id = e.job_id "
            "WHERE e.type = 'started' AND j.task_name = %s GROUP BY j.worker_id) AS firsts",
            (workload.task,),
        )
        row = self.db.execute(
            "SELECT count(*), max(e.at), count(*) FILTER (WHERE e.at > %s) "
            "FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id "
            "WHERE e.type = 'succeeded' AND j.task_name = %s",
            (all_up, workload.task),
        ).fetchone()
        assert row is not None
        return DrainStats(row[0], row[1], steady_rate(row[2], all_up, row[1]))

    def pickup_ms(self, enqueued: dict[int, float]) -> tuple[list[float], list[float]]:
        rows = self.db.execute(
            "SELECT d.job_id, extract(epoch FROM s.at - d.at) * 1000 "
            "FROM procrastinate_events d JOIN procrastinate_events s "
            "ON s.job_id = d.job_id AND s.type = 'started' "
            "WHERE d.type = 'deferred' AND d.job_id = ANY(%s)",
            (list(enqueued),),
        ).fetchall()
        store = [float(ms) for _, ms in rows]
        began: dict[int, float] = {}
        for line in self.stamps.read_text(encoding="utf-8").splitlines():
            job_id, at = line.split()
            began[int(job_id)] = float(at)
        code = [(began[i] - t) * 1000 for i, t in enqueued.items() if i in began]
        return store, code


# -- measurements ------------------------------------------------------------------------------


@dataclass
class Context:
    server_url: str
    folder: Path
    project: Path
    concurrency: int
    quiet: bool
    max_drain_s: float | None = None

    @contextlib.contextmanager
    def side(self, system: str, db_name: str) -> Iterator[Side]:
        with postgres_database(self.server_url, db_name) as url:
            side: Side
            if system == "rota":
                side = RotaSide(url, self.concurrency, self.folder, self.project)
            else:
                side = ProcrastinateSide(url, self.concurrency, self.folder)
            try:
                yield side
            finally:
                side.close()


def measure_drain(ctx: Context, system: str, workload: Workload, workers: int, n: int) -> Drain:
    result = Drain(system=system, workload=workload, workers=workers, n=n)
    tag = f"{system}_{workload.key}_{workers}"
    progress = Progress(f"{system} drain {workload.label} W={workers}", quiet=ctx.quiet)
    progress.say(f"start (n={n})")
    with ctx.side(system, f"rota_bench_cluster_{tag}") as side:
        result.enqueue_s = side.enqueue_batches(workload, n, progress)
        queued = side.remaining()
        if queued != n:
            raise BenchError(f"{queued} runs queued after enqueueing {n}")
        with running(side, workers, ctx.folder, tag) as crew:
            cap = ctx.max_drain_s

            def remaining() -> int:
                if cap and time.time() - crew.spawned_at >= cap:
                    return 0  # --max-drain-seconds: the rate over the window so far
                return side.remaining()

            wait_until_drained(remaining, n, progress, crew.alive)
            crew.check()
            stats = side.drain_stats(workload)
    if stats.end is None or stats.done == 0 or (stats.done != n and not cap):
        raise BenchError(f"only {stats.done} of {n} runs ended successfully")
    result.done = stats.done
    result.drain_s = stats.end.timestamp() - crew.spawned_at
    result.steady_per_s = stats.steady_per_s
    progress.say(
        f"done: {result.drain_per_s:,.0f}/s ({result.drain_s:.1f}s), "
        f"steady {result.steady_per_s:,.0f}/s"
    )
    return result


def measure_pickup(ctx: Context, system: str, workers: int, n: int, rate: float) -> Pickup:
    result = Pickup(system=system, workers=workers, n=n, rate=rate)
    tag = f"{system}_pickup_{workers}"
    progress = Progress(f"{system} pickup W={workers}", quiet=ctx.quiet)
    progress.say(f"start (n={n} at {rate:g}/s)")
    with ctx.side(system, f"rota_bench_cluster_{tag}") as side:
        with running(side, workers, ctx.folder, tag) as crew:
            crew.wait_ready()
            # Warm-up: every slot runs a few (Rota spawns each slot's job process on its
            # first run), then all go back to waiting on LISTEN.
            warm = workers * ctx.concurrency * WARMUP_PER_SLOT
            side.enqueue_batches(STAMP, warm, progress)
            wait_until_drained(side.remaining, warm, progress, crew.alive)
            time.sleep(SETTLE_SECONDS)
            enqueued: dict[int, float] = {}
            started = time.perf_counter()
            for i in range(n):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                at = time.time()
                enqueued[side.enqueue_stamp()] = at
                progress.tick("enqueue", i + 1, n, started)
            result.offered_per_s = n / (time.perf_counter() - started)
            wait_until_drained(side.remaining, n, progress, crew.alive)
            crew.check()
        if side.succeeded(STAMP) != warm + n:
            raise BenchError(f"{side.succeeded(STAMP)} of {warm + n} pickup runs succeeded")
        result.store_ms, result.code_ms = side.pickup_ms(enqueued)
    if len(result.store_ms) != n or len(result.code_ms) != n:
        raise BenchError(
            f"timestamps for {len(result.store_ms)} / {len(result.code_ms)} of {n} runs"
        )
    progress.say(
        f"done: p50 {percentile(result.store_ms, 50):.1f} ms, "
        f"p99 {percentile(result.store_ms, 99):.1f} ms (store)"
    )
    return result


Result = TypeVar("Result", Drain, Pickup)


def guarded(title: str, measure: Callable[[], Result], failed: Result) -> Result:
    """Run one measurement; a failure becomes a failed row, not the end of the bench."""
    try:
        return measure()
    except Exception as exc:
        print(f"ERROR {title}: {exc}", file=sys.stderr, flush=True)
        if not isinstance(exc, BenchError):
            traceback.print_exc()
        failed.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return failed


# -- output ------------------------------------------------------------------------------------


def fmt_rate(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def fmt_ratio(rota: float, peer: float) -> str:
    if math.isnan(rota) or math.isnan(peer) or peer == 0:
        return "-"
    return f"{rota / peer:.2f}x"


def find(rows: list[Any], system: str, **keys: Any) -> Any:
    for row in rows:
        if row.system == system and all(getattr(row, k) == v for k, v in keys.items()):
            return row if row.error is None else None
    return None


def summary_rows(drains: list[Drain], pickups: list[Pickup], plan: Plan) -> list[list[str]]:
    rows: list[list[str]] = []
    cut = f", first {plan.max_drain_s:g}s" if plan.max_drain_s else ""
    for workload, n in ((NOOP, plan.noop), (SLEEP, plan.sleep)):
        for w in plan.workers:
            rota = find(drains, "rota", workload=workload, workers=w)
            peer = find(drains, "procrastinate", workload=workload, workers=w)
            r = rota.drain_per_s if rota else math.nan
            p = peer.drain_per_s if peer else math.nan
            goal = "-"
            if not (math.isnan(r) or math.isnan(p)):
                goal = "ok" if r >= RATIO_GOAL * p else "MISSED"
            rows.append(
                [
                    f"drain {workload.label} x{n:,}{cut} (runs/s)",
                    str(w),
                    fmt_rate(r),
                    fmt_rate(p),
                    fmt_ratio(r, p),
                    f">= {RATIO_GOAL:g}x {goal}",
                ]
            )
    for w in plan.workers:
        rota = find(pickups, "rota", workers=w)
        peer = find(pickups, "procrastinate", workers=w)
        for q in (50, 99):
            r = percentile(rota.store_ms, q) if rota else math.nan
            p = percentile(peer.store_ms, q) if peer else math.nan
            goal = ""
            if q == 50:
                state = "-" if math.isnan(r) else ("ok" if r <= LATENCY_GOAL_MS else "MISSED")
                goal = f"<= {LATENCY_GOAL_MS:g} ms {state}"
            rows.append([f"pickup p{q} (ms)", str(w), fmt_ms(r), fmt_ms(p), fmt_ratio(r, p), goal])
    return rows


def drain_rows(drains: list[Drain]) -> list[list[str]]:
    rows = []
    for d in drains:
        head = [d.label, str(d.workers), d.system]
        if d.error:
            rows.append([*head, f"failed: {d.error}", "", "", ""])
            continue
        rows.append(
            [
                *head,
                fmt_rate(d.enqueue_per_s),
                f"{d.drain_s:.2f}",
                fmt_rate(d.drain_per_s),
                fmt_rate(d.steady_per_s),
            ]
        )
    return rows


def pickup_rows(pickups: list[Pickup]) -> list[list[str]]:
    rows = []
    for p in pickups:
        head = [str(p.workers), p.system]
        if p.error:
            rows.append([*head, f"failed: {p.error}", "", "", "", "", ""])
            continue
        rows.append(
            [
                *head,
                f"{p.offered_per_s:.0f}",
                fmt_ms(percentile(p.store_ms, 50)),
                fmt_ms(percentile(p.store_ms, 99)),
                fmt_ms(max(p.store_ms)),
                fmt_ms(percentile(p.code_ms, 50)),
                fmt_ms(percentile(p.code_ms, 99)),
            ]
        )
    return rows


def notes(plan: Plan, server: dict[str, str]) -> list[str]:
    c = plan.concurrency
    return [
        f"worker processes: W real CLI processes, each concurrency {c}; rota: `rota worker` "
        "(ROTA_WORKER_CONCURRENCY, poll_seconds 0.5 = default, LISTEN/NOTIFY wake-ups, "
        "heartbeat 10s, lease 30s); Python jobs, each slot's job process spawned on its first "
        "run and reused (the cheapest real job kind: one pipe round trip per run; a shell job "
        "forks per run); procrastinate: `procrastinate --app=cluster_tasks.app worker "
        f"--concurrency={c}` (listen_notify on, fetch_job_polling_interval 5s = default, "
        "delete_jobs=never), sync tasks in a thread",
        f"jobs: no-op = `return None`; {SLEEP.label} = time.sleep({SLEEP_SECONDS}); pickup = "
        "returns/records time.time() at the start of its code",
        f"drain: runs enqueued before the workers start, batches of {BULK_BATCH} in one "
        "transaction each (rota Store.enqueue_runs after one new_run_request; procrastinate "
        "batch_defer); drain s = workers spawned (time.time()) -> last run ended (rota "
        "finished_at; procrastinate 'succeeded' event), start-up included; steady/s = runs "
        "ended after the last worker started its first run / that window"
        + (
            f"; cut short {plan.max_drain_s:g}s after the workers started "
            "(--max-drain-seconds): the rates are over the runs ended by then"
            if plan.max_drain_s
            else ""
        ),
        "ratio rota/procr: of rates (above 1: Rota faster) and of latencies (below 1: Rota "
        "faster); rota's store latency starts before its enqueue reads the job definition, "
        "procrastinate's at the start of its insert transaction (the code columns use the "
        "same client clock for both)",
        f"pickup: {plan.pickup} runs enqueued one per transaction (rota start_run, "
        f"procrastinate defer()) at {plan.rate:g}/s after a warm-up of {WARMUP_PER_SLOT} runs per "
        f"slot and {SETTLE_SECONDS:g}s idle; store = rota created_at -> started_at (claim), "
        "procrastinate 'deferred' -> 'started' event; code = client time.time() before the "
        "enqueue call -> time.time() in the job's code",
        "every measurement: a fresh database and fresh worker processes; the bench client and "
        "the PostgreSQL server share the machine with the workers",
        "postgresql: " + ", ".join(f"{k}={v}" for k, v in server.items()),
    ]


def print_report(
    drains: list[Drain], pickups: list[Pickup], plan: Plan, facts: dict[str, str], extra: list[str]
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)
    tables = [
        (
            "Rota / procrastinate, PostgreSQL, W worker processes "
            f"(concurrency {plan.concurrency} each)",
            ["measure", "W", "rota", "procrastinate", "rota/procr", "goal"],
            summary_rows(drains, pickups, plan),
        ),
        (
            "Drain: runs queued up front, then W workers started",
            ["runs", "W", "system", "enqueue/s", "drain s", "drain/s", "steady/s"],
            drain_rows(drains),
        ),
        (
            f"Pickup latency, ms, {plan.pickup} runs at {plan.rate:g}/s (LISTEN/NOTIFY)",
            ["W", "system", "sent/s", "p50", "p99", "max", "code p50", "code p99"],
            pickup_rows(pickups),
        ),
    ]
    for title, header, rows in tables:
        if not rows:
            continue
        table = Table(title=title)
        for column in header:
            left = column in ("measure", "runs", "system", "goal")
            table.add_column(column, justify="left" if left else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for key, value in facts.items():
        console.print(f"{key}: {value}", highlight=False, soft_wrap=True)
    console.print("settings:", highlight=False)
    for line in extra:
        console.print(f"  - {line}", highlight=False, soft_wrap=True)
    console.print(
        f"worker logs: {'no warnings or errors' if not COMPLAINTS else ''}", highlight=False
    )
    for line in COMPLAINTS:
        console.print(f"  - {line}", highlight=False, soft_wrap=True)


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Plan]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run (a few minutes)")
    parser.add_argument("--noop", type=int, help=f"no-op runs per drain ({FULL.noop:,})")
    parser.add_argument("--sleep", type=int, help=f"10 ms runs per drain ({FULL.sleep:,})")
    parser.add_argument(
        "--workers", type=int, action="append", help="worker processes; repeatable (1, 2, 4)"
    )
    parser.add_argument(
        "--concurrency", type=int, help=f"slots per worker process ({FULL.concurrency})"
    )
    parser.add_argument("--pickup", type=int, help=f"pickup runs ({FULL.pickup:,}; 0: skip)")
    parser.add_argument("--rate", type=float, help=f"pickup runs per second ({FULL.rate:g})")
    parser.add_argument(
        "--system", choices=SYSTEMS, action="append", help="only these systems (default both)"
    )
    parser.add_argument(
        "--max-drain-seconds",
        type=float,
        metavar="S",
        help="end each drain S seconds after the workers were started and report the rate "
        "so far (default: drain every run)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    plan = Plan(
        noop=base.noop if args.noop is None else args.noop,
        sleep=base.sleep if args.sleep is None else args.sleep,
        workers=tuple(args.workers) if args.workers else base.workers,
        concurrency=args.concurrency or base.concurrency,
        pickup=base.pickup if args.pickup is None else args.pickup,
        rate=args.rate or base.rate,
        max_drain_s=args.max_drain_seconds,
    )
    if min(plan.noop, plan.sleep, plan.pickup) < 0 or min(plan.workers) < 1:
        parser.error("counts must not be negative; --workers at least 1")
    if plan.concurrency < 1 or plan.rate <= 0:
        parser.error("--concurrency and --rate must be positive")
    return args, plan


def main(argv: list[str] | None = None) -> int:
    args, plan = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    systems = args.system or list(SYSTEMS)
    server_url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    began = time.time()
    facts = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python bench/cluster.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "versions": f"python {platform.python_version()}, "
        + ", ".join(f"{p} {version(p)}" for p in ("rota", "procrastinate", "psycopg")),
        "rota source": source_state(),
    }
    load_start = load_average()
    server = server_settings(
        server_url, ("server_version", "synchronous_commit", "fsync", "max_connections")
    )
    folder = Path(tempfile.mkdtemp(prefix="rota-bench-cluster-"))
    drains: list[Drain] = []
    pickups: list[Pickup] = []
    try:
        project = make_project(folder)
        (project / "jobs" / "cluster.py").write_text(CLUSTER_JOBS, encoding="utf-8")
        ctx = Context(server_url, folder, project, plan.concurrency, args.quiet, plan.max_drain_s)
        for workers in plan.workers:
            for system in systems:
                if plan.pickup:
                    pickups.append(
                        guarded(
                            f"{system} pickup W={workers}",
                            partial(measure_pickup, ctx, system, workers, plan.pickup, plan.rate),
                            Pickup(system=system, workers=workers, n=plan.pickup, rate=plan.rate),
                        )
                    )
                for workload, n in ((NOOP, plan.noop), (SLEEP, plan.sleep)):
                    if n:
                        drains.append(
                            guarded(
                                f"{system} drain {workload.label} W={workers}",
                                partial(measure_drain, ctx, system, workload, workers, n),
                                Drain(system=system, workload=workload, workers=workers, n=n),
                            )
                        )
    finally:
        _kill_leftovers()
        shutil.rmtree(folder, ignore_errors=True)
    facts["load average (1, 5, 15 min) at start / end"] = f"{load_start} / {load_average()}"
    facts["duration"] = f"{(time.time() - began) / 60:.1f} min"
    print_report(drains, pickups, plan, facts, notes(plan, server))
    failed = any(d.error for d in drains) or any(p.error for p in pickups)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
