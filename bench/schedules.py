#!/usr/bin/env python
"""Many schedules: Rota (SQLite, PostgreSQL) against APScheduler 3 (MemoryJobStore).

For each system, in one run:

* register: N cron schedules that fire once a year (none is due during the bench). Rota syncs
  N job definitions with one schedule each in one ``Store.sync_jobs`` call, as a project sync
  does; a second row adds a sample of schedules one by one with ``Store.put_schedule`` (the
  API's path) and extrapolates to N. APScheduler: ``add_job(func, CronTrigger.from_crontab())``
  N times, then ``start()``.
* idle: CPU (% of one core) and RSS of the scheduler's own process over S seconds while the N
  schedules are registered and none is due. Rota's ``Scheduler`` runs alone in a spawned
  process; APScheduler in the process that registered its jobs.
* lateness: actual start - nominal time of a one-second interval schedule over S seconds, with
  the N schedules still registered. Rota: ``Scheduler`` and ``Worker`` in one process sharing
  one store, like ``rota up``; start = ``run.started_at``, nominal = ``run.scheduled_for``.
  APScheduler: ``IntervalTrigger(seconds=1)``; start = ``time.time()`` at the function's start,
  nominal = the event's ``scheduled_run_time``.

Only the standard library is imported at module level: the spawned children re-import this
module, and the APScheduler child's RSS must not include Rota's libraries. Progress goes to
stderr, the table to stdout. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from facts import load_average, source_state

DEFAULT_SCHEDULES = 100_000
DEFAULT_IDLE_SECONDS = 30.0
DEFAULT_LATENESS_SECONDS = 60.0
DEFAULT_PUT_SAMPLE = 5_000
DEFAULT_SYNC_BATCH = 50_000
"""Definitions per ``sync_jobs`` call: a project of this size would be synced in parts (each
call is one transaction holding the write lock)."""
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_VARIABLE = "ROTA_BENCH_POSTGRES_URL"
POSTGRES_DATABASE = "rota_bench_schedules"
TZ = "Europe/Berlin"
WARMUP_SECONDS = 3.0
"""Before a window opens: the first scheduler pass, and Rota's Python job child starting."""
CHILD_TIMEOUT = 300.0
"""How long a child may take to say it is ready (APScheduler registers N jobs first)."""

GOAL_IDLE_CPU = 1.0
GOAL_RSS_MB = 300.0
GOAL_P99_MS = 10.0

CRON_JOB = "bench.cron.{:06d}"
API_JOB = "bench.api"
LATE_JOB = "bench.every-second"
LATE_JOB_CODE = f'''"""The one-second job of bench/schedules.py: returns when its code started."""

import time

from rota import every, job


@job(id="{LATE_JOB}", schedule=every(seconds=1))
def stamp(ctx):
    return time.time()
'''
SHELL_SPEC: dict[str, Any] = {"command": ["true"], "env": {"inherit": [], "set": {}}, "cwd": None}

SPAWN = multiprocessing.get_context("spawn")


class BenchError(Exception):
    """A measurement that did not do what it claims (the row is reported as failed)."""


# -- schedules ---------------------------------------------------------------------------------


def rare_month(today: date | None = None) -> int:
    """A month about half a year away: no schedule of the bench is due while it runs."""
    today = today or date.today()
    return (today.month + 5) % 12 + 1


def cron_line(i: int, month: int) -> str:
    """Schedule i: once a year, at one of 60 * 24 * 28 different minutes of ``month``."""
    return f"{i % 60} {(i // 60) % 24} {1 + (i // 1440) % 28} {month} *"


# -- measuring a process (Linux /proc) ---------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """On-CPU time of a process: the sum of its threads' ``schedstat`` (nanoseconds), else
    utime + stime of ``/proc/<pid>/stat`` (clock ticks, 10 ms). Threads that exit between two
    readings drop out of the sum; the measured windows have a fixed set of threads."""
    total, found = 0, False
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
                found = True
    if found:
        return total / 1e9
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB (MiB)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


@dataclass
class Usage:
    cpu_pct: float
    rss_mb: float
    """Largest VmRSS sampled during the window."""
    peak_mb: float
    """VmHWM at the window's end: the process's peak since it started."""
    db_cpu_pct: float | None = None


def watch(pid: int, seconds: float, extra: Callable[[], dict[int, float]] | None = None) -> Usage:
    """CPU of ``pid`` over ``seconds`` (and of ``extra()``'s processes), RSS sampled each second."""
    extra_start = extra() if extra else {}
    cpu_start = cpu_seconds(pid)
    started = time.monotonic()
    rss = memory_mb(pid)[0]
    while (left := started + seconds - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        rss = max(rss, memory_mb(pid)[0])
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_start
    usage = Usage(cpu_pct=100 * cpu / elapsed, rss_mb=rss, peak_mb=memory_mb(pid)[1])
    if extra:
        extra_end = extra()
        spent = sum(v - extra_start.get(p, 0.0) for p, v in extra_end.items())
        usage.db_cpu_pct = 100 * spent / elapsed
    return usage


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Lateness:
    samples_ms: list[float]
    expected: int
    """Nominal times in the window."""
    outcomes: dict[str, int] = field(default_factory=dict)
    code_ms: list[float] = field(default_factory=list)
    """Rota: the job's code start (its return value) - nominal time."""
    sync_one_s: float | None = None
    """Rota: seconds ``sync_jobs`` took to add the one-second job next to the N jobs."""

    def stat(self, q: float, code: bool = False) -> float:
        values = self.code_ms if code else self.samples_ms
        return max(values, default=math.nan) if q == 100 else percentile(values, q)


def nominal_times_between(start: float, end: float, phase: float = 0.0) -> int:
    """How many nominal times ``phase + k`` seconds of a one-second schedule lie in
    [start, end)."""
    return math.ceil(end - phase) - math.ceil(start - phase)


# -- child processes ---------------------------------------------------------------------------


def _quiet_child() -> None:
    """Ctrl-C goes to the whole process group: the parent decides when children stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def rota_scheduler_child(url: str, project: str, conn: Connection) -> None:
    """The scheduler alone (``rota scheduler`` without its project sync) until SIGTERM."""
    _quiet_child()
    from rota.engine.scheduler import Scheduler
    from rota.settings import load_settings
    from rota.store import open_store

    settings = load_settings(Path(project), database_url=url)
    store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
    scheduler = Scheduler(store, settings)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    conn.send("ready")
    try:
        scheduler.run()
    finally:
        store.close()


def rota_up_child(url: str, project: str, conn: Connection) -> None:
    """Scheduler and Worker in one process sharing one store, as ``rota up`` runs them."""
    _quiet_child()
    from rota.engine.scheduler import Scheduler
    from rota.engine.worker import Worker
    from rota.settings import load_settings
    from rota.store import open_store

    settings = load_settings(Path(project), database_url=url)
    store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
    worker = Worker(store, settings, concurrency=1)
    scheduler = Scheduler(store, settings)

    def stop(*_: object) -> None:
        scheduler.stop()
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    thread = threading.Thread(target=scheduler.run, name="rota-scheduler", daemon=True)
    thread.start()
    conn.send("ready")
    try:
        worker.run()
    finally:
        scheduler.stop()
        thread.join(timeout=5)
        store.close()


def _noop() -> None:
    return None


def _stamp() -> float:
    return time.time()


def apscheduler_child(n: int, month: int, conn: Connection) -> None:
    """Register N cron jobs, report, idle until told, then run a one-second job until told."""
    _quiet_child()
    from apscheduler.events import (
        EVENT_JOB_ERROR,
        EVENT_JOB_EXECUTED,
        EVENT_JOB_MAX_INSTANCES,
        EVENT_JOB_MISSED,
    )
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = BackgroundScheduler(timezone=TZ)
    started = time.perf_counter()
    for i in range(n):
        trigger = CronTrigger.from_crontab(cron_line(i, month), timezone=TZ)
        scheduler.add_job(_noop, trigger, id=CRON_JOB.format(i))
    added = time.perf_counter()
    scheduler.start()
    done = time.perf_counter()
    jobs = scheduler.get_jobs()
    first = min((j.next_run_time for j in jobs if j.next_run_time), default=None)
    conn.send(
        {
            "add_s": added - started,
            "start_s": done - added,
            "jobs": len(jobs),
            "first": first.timestamp() if first else None,
        }
    )
    del jobs
    if conn.recv() != "lateness":
        scheduler.shutdown(wait=False)
        return
    executed: list[tuple[float, float]] = []
    other: list[tuple[str, list[float]]] = []
    names = {
        EVENT_JOB_ERROR: "error",
        EVENT_JOB_MISSED: "missed",
        EVENT_JOB_MAX_INSTANCES: "max_instances",
    }

    def listen(event: Any) -> None:
        if event.job_id != LATE_JOB:
            return
        if event.code == EVENT_JOB_EXECUTED:
            executed.append((event.scheduled_run_time.timestamp(), event.retval))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            other.append(("max_instances", [t.timestamp() for t in event.scheduled_run_times]))
        else:
            other.append((names[event.code], [event.scheduled_run_time.timestamp()]))

    mask = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
    scheduler.add_listener(listen, mask)
    scheduler.add_job(_stamp, IntervalTrigger(seconds=1, timezone=TZ), id=LATE_JOB)
    conn.send("ready")
    conn.recv()
    scheduler.remove_job(LATE_JOB)
    scheduler.shutdown(wait=True)
    conn.send({"executed": executed, "other": other})


@contextlib.contextmanager
def child(target: Callable[..., None], *args: object) -> Iterator[tuple[Any, Connection]]:
    """A spawned child with a pipe; SIGTERM (then SIGKILL) when the block ends."""
    parent, end = SPAWN.Pipe()
    process = SPAWN.Process(target=target, args=(*args, end), name=target.__name__, daemon=False)
    process.start()
    end.close()
    try:
        yield process, parent
    finally:
        if process.is_alive():
            process.terminate()
            process.join(60)
        if process.is_alive():
            process.kill()
            process.join(10)
        parent.close()


def receive(conn: Connection, process: Any, what: str, timeout: float = CHILD_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not conn.poll(1.0):
        if not process.is_alive():
            raise BenchError(f"{process.name} exited ({process.exitcode}) before {what}")
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name}: no {what} after {timeout:.0f}s")
    return conn.recv()


# -- results -----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Row:
    system: str
    store: str
    path: str
    """How the N schedules were registered."""
    n: int
    register_s: float | None = None
    measured: int = 0
    """Schedules actually registered in the measurement (less than n: extrapolated)."""
    register_detail: str = ""
    idle: Usage | None = None
    lateness: Lateness | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.system} {self.store} ({self.path})"

    @property
    def rate(self) -> float | None:
        if not self.register_s:
            return None
        return self.measured / self.register_s

    @property
    def register_n_s(self) -> float | None:
        """Seconds for n schedules (extrapolated from the rate when fewer were measured)."""
        rate = self.rate
        return self.n / rate if rate else None


class Progress:
    def __init__(self, name: str, quiet: bool) -> None:
        self.name = name
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            stamp = time.strftime("%H:%M:%S")
            print(f"[{stamp}] {self.name}: {text}", file=sys.stderr, flush=True)


# -- Rota --------------------------------------------------------------------------------------


def make_project(folder: Path) -> Path:
    project = folder / "rota-project"
    (project / "jobs").mkdir(parents=True, exist_ok=True)
    (project / "jobs" / "every_second.py").write_text(LATE_JOB_CODE, encoding="utf-8")
    return project


@contextlib.contextmanager
def rota_database(store: str, folder: Path, server_url: str) -> Iterator[str]:
    """A fresh database: a SQLite file in ``folder`` or ``rota_bench_schedules`` (recreated)."""
    if store == "sqlite":
        yield f"sqlite:///{folder / 'schedules.db'}"
        return
    import psycopg
    import sqlalchemy as sa
    from psycopg import sql

    admin = sa.engine.make_url(server_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(POSTGRES_DATABASE)
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(POSTGRES_DATABASE)))
    try:
        yield admin.set(database=POSTGRES_DATABASE).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(drop)


def postgres_backends(server_url: str) -> Callable[[], dict[int, float]]:
    """CPU seconds of the server processes serving the bench database (same machine only)."""
    import psycopg
    import sqlalchemy as sa

    dsn = sa.engine.make_url(server_url).set(drivername="postgresql")
    dsn_text = dsn.render_as_string(hide_password=False)

    def read() -> dict[int, float]:
        with psycopg.connect(dsn_text, autocommit=True) as conn:
            pids = [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (POSTGRES_DATABASE,)
                )
            ]
        found: dict[int, float] = {}
        for pid in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                found[pid] = cpu_seconds(pid)
        return found

    return read


def count_active_schedules(url: str) -> int:
    import sqlalchemy as sa

    from rota.store import schema

    s = schema.schedules
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed)
    try:
        with engine.connect() as conn:
            query = (
                sa.select(sa.func.count())
                .select_from(s)
                .where(s.c.removed == sa.false(), s.c.next_fire_at.is_not(None))
            )
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def register_rota_sync(store: Any, n: int, month: int, batch: int) -> tuple[float, str]:
    """N job definitions with one cron schedule each, written by ``sync_jobs`` (one
    transaction per call) as a project sync writes them, ``batch`` definitions per call."""
    from rota.jobs.scheduling import cron
    from rota.model.jobs import JobDefinition, JobKind
    from rota.model.runs import utcnow

    batch = batch or n
    build_s = sync_s = 0.0
    changes: Counter[str] = Counter()
    for first in range(0, n, batch):
        started = time.perf_counter()
        definitions = [
            JobDefinition(
                id=CRON_JOB.format(i),
                kind=JobKind.SHELL,
                spec=SHELL_SPEC,
                schedules=(cron(cron_line(i, month), tz=TZ),),
            )
            for i in range(first, min(first + batch, n))
        ]
        built = time.perf_counter()
        changes.update(r.change for r in store.sync_jobs(definitions, utcnow()))
        sync_s += time.perf_counter() - built
        build_s += built - started
        del definitions
    if changes["new"] != n:
        raise BenchError(f"sync_jobs: {dict(changes)} (expected {n} new)")
    calls = math.ceil(n / batch)
    return build_s + sync_s, (
        f"{calls} sync_jobs call{'s' if calls > 1 else ''} of up to {batch:,} definitions: "
        f"build {build_s:.1f}s + sync_jobs {sync_s:.1f}s"
    )


def register_rota_put(store: Any, k: int, month: int, progress: Progress) -> float:
    """K schedules onto one job, one ``put_schedule`` (one transaction) each."""
    from rota.jobs.scheduling import cron
    from rota.model.jobs import JobDefinition, JobKind
    from rota.model.runs import utcnow

    store.sync_jobs([JobDefinition(id=API_JOB, kind=JobKind.SHELL, spec=SHELL_SPEC)], utcnow())
    started = last = time.perf_counter()
    for i in range(k):
        spec = cron(cron_line(i, month), tz=TZ, id=f"{API_JOB}:{i:06d}")
        store.put_schedule(API_JOB, spec, utcnow())
        if time.perf_counter() - last > 10:
            last = time.perf_counter()
            progress.say(f"put_schedule {i + 1}/{k}")
    return time.perf_counter() - started


def sync_late_job(store: Any, project: Path) -> str:
    """The one-second job, added without touching the N jobs (``sync_project`` would mark
    every job not in the project folder removed). Returns its schedule id."""
    from rota.jobs.project import load_project
    from rota.model.runs import utcnow

    loaded = load_project(project)
    if loaded.errors or LATE_JOB not in loaded.definitions:
        raise BenchError(f"the bench project does not load: {loaded.errors}")
    definition = loaded.definitions[LATE_JOB]
    store.sync_jobs([definition], utcnow())
    return str(definition.schedules[0].id)


def rota_idle(url: str, project: Path, seconds: float, server_url: str | None) -> Usage:
    backends = postgres_backends(server_url) if server_url else None
    with child(rota_scheduler_child, url, str(project)) as (process, conn):
        receive(conn, process, "ready")
        time.sleep(WARMUP_SECONDS)
        usage = watch(process.pid, seconds, backends)
        if not process.is_alive():
            raise BenchError(f"the scheduler exited ({process.exitcode}) during the window")
    return usage


def rota_lateness(store: Any, url: str, project: Path, seconds: float) -> Lateness:
    from rota.store.base import OccurrenceFilter, RunFilter

    with child(rota_up_child, url, str(project)) as (process, conn):
        receive(conn, process, "ready")
        # Synced once the process runs (its scheduler looks again within 1s), so the first
        # fire is not a backlog of the seconds the process took to start.
        synced = time.perf_counter()
        schedule_id = sync_late_job(store, project)
        sync_one_s = time.perf_counter() - synced
        time.sleep(WARMUP_SECONDS)
        start = time.time()
        time.sleep(seconds)
        end = time.time()
        if not process.is_alive():
            raise BenchError(f"rota up exited ({process.exitcode}) during the window")
        process.terminate()
        process.join(60)
    runs = [
        r
        for r in store.list_runs(RunFilter(job=LATE_JOB, limit=100_000))
        if r.scheduled_for is not None and start <= r.scheduled_for.timestamp() < end
    ]
    occurrences = [
        o
        for o in store.list_occurrences(OccurrenceFilter(schedule_id=schedule_id, limit=100_000))
        if start <= o.nominal_time.timestamp() < end
    ]
    if not runs:
        raise BenchError("no run of the one-second schedule started in the window")
    unstarted = [r.id for r in runs if r.started_at is None]
    if unstarted:
        raise BenchError(f"{len(unstarted)} scheduled runs never started")
    return Lateness(
        samples_ms=[1000 * (r.started_at - r.scheduled_for).total_seconds() for r in runs],
        expected=nominal_times_between(start, end),
        outcomes=dict(Counter(o.outcome.value for o in occurrences)),
        code_ms=[
            1000 * (r.result - r.scheduled_for.timestamp())
            for r in runs
            if isinstance(r.result, float)
        ],
        sync_one_s=sync_one_s,
    )


def bench_rota(
    store_name: str,
    folder: Path,
    project: Path,
    server_url: str,
    args: argparse.Namespace,
    month: int,
) -> list[Row]:
    from rota.model.runs import utcnow
    from rota.settings import load_settings
    from rota.store import open_store

    progress = Progress(f"rota {store_name}", args.quiet)
    n = args.schedules
    row = Row(system="rota", store=store_name, path="sync_jobs", n=n)
    put = Row(system="rota", store=store_name, path="put_schedule", n=n)
    rows = [row] + ([put] if args.put_sample else [])
    with rota_database(store_name, folder, server_url) as url:
        settings = load_settings(project, database_url=url)
        store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            store.upgrade()
            progress.say(f"register {n:,} schedules (sync_jobs)")
            try:
                row.register_s, row.register_detail = register_rota_sync(
                    store, n, month, args.sync_batch
                )
                row.measured = n
                active = count_active_schedules(url)
                if active != n:
                    raise BenchError(f"{active} active schedules after registering {n}")
                first = store.next_fire_time()
                window = WARMUP_SECONDS * 2 + args.idle_seconds + args.lateness_seconds + 600
                if first is None or (first - utcnow()).total_seconds() < window:
                    raise BenchError(f"a schedule is due during the bench: {first}")
                progress.say(f"registered in {row.register_s:.1f}s ({row.register_detail})")
                progress.say(f"idle {args.idle_seconds:g}s (scheduler process)")
                backends = server_url if store_name == "postgresql" else None
                row.idle = rota_idle(url, project, args.idle_seconds, backends)
                if store.count_runs() != 0:
                    raise BenchError(f"{store.count_runs()} runs were created while idle")
                progress.say(
                    f"idle CPU {row.idle.cpu_pct:.3f}%, RSS {row.idle.rss_mb:.0f} MB; "
                    f"lateness {args.lateness_seconds:g}s (scheduler + worker process)"
                )
                row.lateness = rota_lateness(store, url, project, args.lateness_seconds)
                progress.say(
                    f"lateness p50 {row.lateness.stat(50):.1f} ms, "
                    f"p99 {row.lateness.stat(99):.1f} ms, max {row.lateness.stat(100):.1f} ms"
                )
            except Exception as exc:
                row.error = failure(progress, exc)
            if args.put_sample:
                k = min(args.put_sample, n)
                progress.say(f"register {k:,} schedules (put_schedule, one by one)")
                try:
                    put.register_s = register_rota_put(store, k, month, progress)
                    put.measured = k
                    put.register_detail = f"{k:,} measured" + (
                        f", extrapolated to {n:,}" if k < n else ""
                    )
                    progress.say(f"put_schedule: {put.rate:,.0f}/s")
                except Exception as exc:
                    put.error = failure(progress, exc)
        finally:
            store.close()
    return rows


def failure(progress: Progress, exc: Exception) -> str:
    """Say what failed (briefly: a database error can carry 100,000 bind parameters)."""
    message = (str(exc) or type(exc).__name__)[:500]
    progress.say(f"ERROR {type(exc).__name__}: {message}")
    if not isinstance(exc, BenchError):
        import traceback

        frames = traceback.format_tb(exc.__traceback__)
        print("".join(frames[-6:]), file=sys.stderr, end="", flush=True)
    return message


# -- APScheduler -------------------------------------------------------------------------------


def bench_apscheduler(args: argparse.Namespace, month: int) -> Row:
    progress = Progress("apscheduler", args.quiet)
    n = args.schedules
    row = Row(system="apscheduler", store="memory", path="add_job", n=n)
    try:
        with child(apscheduler_child, n, month) as (process, conn):
            progress.say(f"register {n:,} schedules (add_job, then start)")
            report = receive(conn, process, "registration")
            if report["jobs"] != n:
                raise BenchError(f"{report['jobs']} jobs after adding {n}")
            window = WARMUP_SECONDS * 2 + args.idle_seconds + args.lateness_seconds + 600
            if report["first"] is None or report["first"] - time.time() < window:
                raise BenchError(f"a job is due during the bench: {report['first']}")
            row.register_s = report["add_s"] + report["start_s"]
            row.measured = n
            row.register_detail = f"add_job {report['add_s']:.1f}s + start {report['start_s']:.1f}s"
            progress.say(f"registered in {row.register_s:.1f}s ({row.register_detail})")
            progress.say(f"idle {args.idle_seconds:g}s")
            time.sleep(WARMUP_SECONDS)
            row.idle = watch(process.pid, args.idle_seconds)
            progress.say(
                f"idle CPU {row.idle.cpu_pct:.3f}%, RSS {row.idle.rss_mb:.0f} MB; "
                f"lateness {args.lateness_seconds:g}s"
            )
            conn.send("lateness")
            receive(conn, process, "ready")
            time.sleep(WARMUP_SECONDS)
            start = time.time()
            time.sleep(args.lateness_seconds)
            end = time.time()
            conn.send("stop")
            result = receive(conn, process, "lateness results", timeout=60)
        executed = [(s, r) for s, r in result["executed"] if start <= s < end]
        if not executed:
            raise BenchError("the one-second job did not run in the window")
        outcomes = Counter(
            name for name, times in result["other"] for t in times if start <= t < end
        )
        outcomes["ran"] = len(executed)
        row.lateness = Lateness(
            samples_ms=[1000 * (r - s) for s, r in executed],
            expected=nominal_times_between(start, end, executed[0][0] % 1),
            outcomes=dict(outcomes),
        )
        progress.say(
            f"lateness p50 {row.lateness.stat(50):.1f} ms, "
            f"p99 {row.lateness.stat(99):.1f} ms, max {row.lateness.stat(100):.1f} ms"
        )
    except Exception as exc:
        row.error = failure(progress, exc)
    return row


# -- output ------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _goal(text: str, ok: bool | None) -> str:
    if ok is None:
        return text
    return f"{text} {'ok' if ok else 'MISSED'}"


def table_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = [
        "system",
        "register s",
        "reg/s",
        "idle CPU %",
        "db CPU %",
        "RSS MB",
        "peak MB",
        "late p50 ms",
        "late p99 ms",
        "late max ms",
        "ran",
    ]
    out: list[list[str]] = []
    for r in rows:
        if r.error and r.register_s is None:
            out.append([r.label, f"failed: {r.error[:60]}"] + [""] * (len(header) - 2))
            continue
        rota = r.system == "rota"
        register = _num(r.register_n_s)
        if r.measured and r.measured < r.n:
            register = "~" + register
        cells = [r.label, register, _num(r.rate, 0)]
        if r.idle:
            db = "-" if not rota else ("in process" if r.store == "sqlite" else "")
            if r.idle.db_cpu_pct is not None:
                db = _num(r.idle.db_cpu_pct, 3)
            cells += [
                _goal(_num(r.idle.cpu_pct, 3), r.idle.cpu_pct < GOAL_IDLE_CPU if rota else None),
                db,
                _goal(_num(r.idle.rss_mb, 0), r.idle.rss_mb < GOAL_RSS_MB if rota else None),
                _num(r.idle.peak_mb, 0),
            ]
        else:
            cells += ["", "", "", ""]
        if r.lateness:
            lat = r.lateness
            p99_ok = lat.stat(99) <= GOAL_P99_MS if rota and r.store == "sqlite" else None
            ran = lat.outcomes.get("ran", len(lat.samples_ms))
            cells += [
                _num(lat.stat(50)),
                _goal(_num(lat.stat(99)), p99_ok),
                _num(lat.stat(100)),
                f"{ran}/{lat.expected}",
            ]
        else:
            cells += ["", "", "", ""]
        if r.error:
            cells[-1] = f"failed: {r.error[:60]}"
        out.append(cells)
    goal = [
        "goal (rota)",
        "",
        "",
        f"< {GOAL_IDLE_CPU:g}",
        "",
        f"< {GOAL_RSS_MB:g}",
        "",
        "",
        f"<= {GOAL_P99_MS:g} sqlite",
        "",
        "",
    ]
    return header, [*out, goal]


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return "-"
    if b == 0:
        return "inf (peer 0)" if a else "1.00x"
    return f"{a / b:.2f}x" if a / b >= 0.01 else f"{a / b:.4f}x"


def ratio_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["rota", "register s", "idle CPU", "RSS", "late p50", "late p99", "late max"]
    peer = next((r for r in rows if r.system == "apscheduler" and not r.error), None)
    if peer is None:
        return header, []
    out = []
    for r in rows:
        if r.system != "rota" or r.register_s is None:
            continue
        cells = [r.label, _ratio(r.register_n_s, peer.register_n_s)]
        if r.idle and peer.idle:
            cells += [_ratio(r.idle.cpu_pct, peer.idle.cpu_pct)]
            cells += [_ratio(r.idle.rss_mb, peer.idle.rss_mb)]
        else:
            cells += ["-", "-"]
        for q in (50, 99, 100):
            if r.lateness and peer.lateness:
                cells.append(_ratio(r.lateness.stat(q), peer.lateness.stat(q)))
            else:
                cells.append("-")
        out.append(cells)
    return header, out


@dataclass
class Environment:
    command: str
    started: str
    facts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def environment(args: argparse.Namespace, server_url: str) -> Environment:
    import sqlite3

    env = Environment(
        command="python bench/schedules.py " + " ".join(sys.argv[1:]),
        started=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = ("rota", "apscheduler", "sqlalchemy", "psycopg")
    env.facts = {
        "machine": f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": ", ".join(f"{p} {version(p)}" for p in packages)
        + f", SQLite {sqlite3.sqlite_version}",
        "rota source": source_state(),
        "load average at start": load_average(),
    }
    if not args.skip_postgres:
        with contextlib.suppress(Exception):
            env.facts["postgresql"] = postgres_facts(server_url)
    return env


def postgres_facts(server_url: str) -> str:
    import psycopg
    import sqlalchemy as sa

    dsn = sa.engine.make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True) as conn:
        values = []
        for name in ("server_version", "synchronous_commit", "fsync"):
            row = conn.execute(f"SHOW {name}").fetchone()
            values.append(f"{name}={row[0] if row else '?'}")
    return ", ".join(values) + " (same machine)"


def notes(rows: list[Row], args: argparse.Namespace, month: int) -> list[str]:
    lines = [
        f"schedules: N={args.schedules:,} cron lines 'M H D {month} *' ({TZ}), each firing "
        f"once a year in month {month}: none is due during the bench",
        "rota sync_jobs: N shell job definitions (command `true`) with one cron(...) schedule "
        "each (cron() parses and checks the line), written by Store.sync_jobs as a project "
        f"sync writes them (one transaction per call), {args.sync_batch or args.schedules:,} "
        "definitions per call; the time includes building the definitions",
    ]
    if args.put_sample:
        lines.append(
            "rota put_schedule: schedules added one by one to one job through "
            "Store.put_schedule (one transaction each), into the database that already holds "
            f"the N; {min(args.put_sample, args.schedules):,} measured, the time for N "
            "extrapolated from that rate (~)"
        )
    lines += [
        "apscheduler: BackgroundScheduler(timezone=Europe/Berlin), MemoryJobStore (in memory: "
        "nothing survives a restart), default ThreadPoolExecutor(10); add_job(func, "
        "CronTrigger.from_crontab(line)) N times before start(), then start(), which computes "
        "every next fire time; register time = both",
        f"idle: {WARMUP_SECONDS:g}s warm-up, then {args.idle_seconds:g}s; CPU = on-CPU time of "
        "the process's threads (/proc/<pid>/task/*/schedstat) / wall time, in % of one core; "
        "RSS = largest VmRSS sampled each second; peak = VmHWM (apscheduler: reached while "
        "registering). Rota: Scheduler(open_store(url), settings).run() alone in a spawned "
        "process (`rota scheduler` without its project sync), waking at most every 1s to look "
        "for due schedules; apscheduler: the process that registered the jobs",
        "db CPU: the PostgreSQL backends serving the bench database in the same window "
        "(not in the scheduler's figure); SQLite's work is inside the scheduler's process",
        f"lateness: {WARMUP_SECONDS:g}s warm-up, then {args.lateness_seconds:g}s with the N "
        "schedules still registered; ran = runs / nominal times in the window. Rota: "
        "Scheduler + Worker(concurrency=1) in one spawned process sharing one Store, as `rota "
        "up` (default poll_seconds 0.5; the scheduler's commit wakes the worker in process, "
        "PostgreSQL also NOTIFYs); a Python job with every(seconds=1), overlap skip; lateness "
        "= run.started_at (claim) - run.scheduled_for. apscheduler: IntervalTrigger(seconds=1) "
        "on a function returning time.time() at its start; lateness = that - "
        "event.scheduled_run_time (EVENT_JOB_EXECUTED)",
        f"goals (Rota): idle CPU < {GOAL_IDLE_CPU:g} % of a core, RSS < {GOAL_RSS_MB:g} MB, "
        f"lateness p99 <= {GOAL_P99_MS:g} ms on SQLite; ok / MISSED next to the figure",
    ]
    for r in rows:
        if r.register_detail:
            lines.append(f"{r.label}: register {r.register_detail}")
        if r.lateness and r.lateness.code_ms:
            lat = r.lateness
            lines.append(
                f"{r.label}: lateness at the job code's start (its return value, in the job's "
                f"child process) p50 {lat.stat(50, True):.1f} ms, p99 {lat.stat(99, True):.1f} "
                f"ms, max {lat.stat(100, True):.1f} ms"
            )
        if r.lateness and r.lateness.sync_one_s is not None:
            lines.append(
                f"{r.label}: adding the one-second job with sync_jobs([one definition]) next "
                f"to the N took {r.lateness.sync_one_s:.1f}s (it reads every job row in its "
                "write transaction); nominal times that passed meanwhile are coalesced into "
                "the first fire, in the warm-up"
            )
        if r.lateness:
            others = {k: v for k, v in r.lateness.outcomes.items() if k != "ran"}
            if others:
                lines.append(f"{r.label}: nominal times not run in the window: {others}")
    lines.append(
        "rota sqlite: WAL, synchronous=FULL (default)"
        + ("" if args.skip_postgres else "; rota postgresql: server defaults")
        + "; only Rota writes every schedule, fire and run durably"
    )
    return lines


def print_report(rows: list[Row], env: Environment, n: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    for title, (header, body) in (
        (f"Schedules: N={n:,} registered cron schedules", table_rows(rows)),
        (
            "Ratios rota / apscheduler (time, CPU, memory, lateness: below 1 means Rota "
            "needs less)",
            ratio_rows(rows),
        ),
    ):
        if not body:
            continue
        table = Table(title=title)
        for column in header:
            table.add_column(column, justify="left" if column in ("system", "rota") else "right")
        for cells in body:
            table.add_row(*cells)
        console.print(table)
    lines = [f"date: {env.started}", f"command: {env.command}"]
    lines += [f"{key}: {value}" for key, value in env.facts.items()]
    lines.append("notes:")
    lines += [f"  - {note}" for note in env.notes]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--schedules",
        type=int,
        default=DEFAULT_SCHEDULES,
        help=f"cron schedules registered ({DEFAULT_SCHEDULES:,})",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=DEFAULT_IDLE_SECONDS,
        help=f"idle window ({DEFAULT_IDLE_SECONDS:g})",
    )
    parser.add_argument(
        "--lateness-seconds",
        type=float,
        default=DEFAULT_LATENESS_SECONDS,
        help=f"window of the one-second schedule ({DEFAULT_LATENESS_SECONDS:g})",
    )
    parser.add_argument(
        "--put-sample",
        type=int,
        default=DEFAULT_PUT_SAMPLE,
        help=f"schedules added one by one with put_schedule ({DEFAULT_PUT_SAMPLE:,}; 0: skip)",
    )
    parser.add_argument(
        "--sync-batch",
        type=int,
        default=DEFAULT_SYNC_BATCH,
        help=f"definitions per sync_jobs call ({DEFAULT_SYNC_BATCH:,}; 0: all in one call)",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="Rota on SQLite only")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.schedules < 1:
        parser.error("--schedules must be at least 1")
    if args.idle_seconds <= 0 or args.lateness_seconds < 2:
        parser.error("--idle-seconds must be positive and --lateness-seconds at least 2")
    if args.put_sample < 0 or args.sync_batch < 0:
        parser.error("--put-sample and --sync-batch must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("this bench reads /proc (Linux only)", file=sys.stderr)
        return 2
    server_url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    month = rare_month()
    env = environment(args, server_url)
    folder = Path(tempfile.mkdtemp(prefix="rota-bench-schedules-"))
    rows: list[Row] = []
    try:
        project = make_project(folder)
        stores = ["sqlite"] + ([] if args.skip_postgres else ["postgresql"])
        for store in stores:
            rows += bench_rota(store, folder, project, server_url, args, month)
        rows.append(bench_apscheduler(args, month))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    env.facts["load average (1, 5, 15 min) at start / end"] = (
        f"{env.facts.pop('load average at start', '?')} / {load_average()}"
    )
    env.notes = notes(rows, args, month)
    print_report(rows, env, args.schedules)
    failed = [r for r in rows if r.error]
    for r in failed:
        print(f"FAILED {r.label}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
