#!/usr/bin/env python
"""Throughput of no-op runs: Rota against huey (SQLite) and procrastinate (PostgreSQL).

For each store (SQLite, PostgreSQL) and worker concurrency (1, 2) it enqueues N no-op runs,
then drains them with one worker, and reports three rates:

* enqueue/s: N / time to enqueue all runs (one transaction each, as a client would);
* drain/s:   N / time from starting the worker until every run is finished;
* e2e/s:     N / (enqueue time + drain time).

Rota is measured twice: runs enqueued one by one through ``rota.services.runs.start_run``
(``"enqueue": "single"``, the realistic API path) and in batches of 500 through
``Store.enqueue_runs`` (``"enqueue": "bulk"``). The peers enqueue one by one.

Every measurement gets a fresh database: SQLite files in a temporary folder, PostgreSQL
databases ``rota_bench_<system>_<variant>_<c>`` created (and dropped) on the server named by
``ROTA_BENCH_POSTGRES_URL``. Progress goes to stderr; ``--json`` prints one JSON object per
measurement on stdout instead of the table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
from facts import load_average, server_settings, source_state
from pgdb import postgres_database

from rota.engine.worker import Worker
from rota.model.runs import NewRun, Trigger, utcnow
from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.settings import Settings, load_settings
from rota.store import Store, open_store

DEFAULT_N = 20_000
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_VARIABLE = "ROTA_BENCH_POSTGRES_URL"
POLL_SECONDS = 0.05
"""Idle poll interval of every worker (Rota ``poll_seconds``, huey ``initial_delay`` and
``max_delay``, procrastinate ``fetch_job_polling_interval``); also how often the bench checks
whether the drain is done."""
BULK_BATCH = 500
STALL_SECONDS = 120.0
"""A drain that finishes no run for this long is reported as failed."""
JOB_ID = "bench.noop"
NOOP_JOB = f'''"""The no-op job of bench/throughput.py."""

from rota import job


@job(id="{JOB_ID}")
def noop(ctx):
    return None
'''

STORES = ("sqlite", "postgresql")

log = logging.getLogger("bench")


# -- results -----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Measurement:
    system: str
    store: str
    concurrency: int
    n: int
    enqueue: str | None = None
    """``single`` or ``bulk`` for Rota; None for the peers (they enqueue one by one)."""
    enqueue_s: float = 0.0
    drain_s: float = 0.0
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.system} ({self.enqueue})" if self.enqueue else self.system

    @property
    def enqueue_per_s(self) -> float:
        return self.n / self.enqueue_s if self.enqueue_s else 0.0

    @property
    def drain_per_s(self) -> float:
        return self.n / self.drain_s if self.drain_s else 0.0

    @property
    def e2e_per_s(self) -> float:
        total = self.enqueue_s + self.drain_s
        return self.n / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "system": self.system,
            "store": self.store,
            "concurrency": self.concurrency,
            "enqueue_per_s": round(self.enqueue_per_s, 1),
            "drain_per_s": round(self.drain_per_s, 1),
            "e2e_per_s": round(self.e2e_per_s, 1),
        }
        if self.enqueue is not None:
            row["enqueue"] = self.enqueue
        return row


class BenchError(Exception):
    """A measurement that did not do the work it claims (the row is reported as failed)."""


# -- progress ----------------------------------------------------------------------------------


class Progress:
    """Throttled progress lines on stderr (never on stdout: that is the table or the JSON)."""

    def __init__(self, name: str, quiet: bool = False, every: float = 5.0) -> None:
        self.name = name
        self.quiet = quiet
        self.every = every
        self._last = 0.0

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {self.name}: {text}", file=sys.stderr, flush=True)

    def tick(self, phase: str, done: int, total: int, started: float) -> None:
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        self._last = now
        elapsed = now - started
        rate = done / elapsed if elapsed > 0 else 0.0
        self.say(f"{phase} {done}/{total} ({rate:,.0f}/s)")


def timed_loop(
    n: int, step: Callable[[int], object], progress: Progress, phase: str, chunk: int = 1
) -> float:
    """Call ``step(i)`` for i in 0, chunk, 2*chunk, ... < n; return the seconds it took."""
    started = time.perf_counter()
    for i in range(0, n, chunk):
        step(i)
        progress.tick(phase, min(i + chunk, n), n, started)
    return time.perf_counter() - started


def wait_until_drained(
    remaining: Callable[[], int], n: int, progress: Progress, alive: Callable[[], bool]
) -> None:
    """Poll ``remaining()`` until 0; fail if the worker dies or nothing finishes for a while."""
    started = time.perf_counter()
    last_left, last_change = n, started
    while True:
        left = remaining()
        now = time.perf_counter()
        if left == 0:
            return
        if left != last_left:
            last_left, last_change = left, now
        elif now - last_change > STALL_SECONDS:
            raise BenchError(f"drain stalled: {left} runs unfinished for {STALL_SECONDS:.0f}s")
        if not alive():
            raise BenchError(f"the worker stopped with {left} runs unfinished")
        progress.tick("drain", n - left, n, started)
        time.sleep(POLL_SECONDS)


# -- PostgreSQL databases ----------------------------------------------------------------------


@contextlib.contextmanager
def database(store: str, server_url: str, folder: Path, name: str) -> Iterator[str]:
    """The URL of a fresh database of this measurement (a SQLite file or a PG database)."""
    if store == "sqlite":
        path = folder / f"{name}.db"
        try:
            yield str(path)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        with postgres_database(server_url, name) as url:
            yield url


# -- Rota --------------------------------------------------------------------------------------


def make_project(folder: Path) -> Path:
    project = folder / "rota-project"
    (project / "jobs").mkdir(parents=True, exist_ok=True)
    (project / "jobs" / "noop.py").write_text(NOOP_JOB, encoding="utf-8")
    return project


def rota_url(store: str, location: str) -> str:
    return f"sqlite:///{location}" if store == "sqlite" else location


def rota_settings(project: Path, url: str) -> Settings:
    return load_settings(project, database_url=url, poll_seconds=POLL_SECONDS)


def prepare_rota(url: str, project: Path, settings: Settings) -> Store:
    store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
    store.upgrade()
    report = sync_project(store, project)
    if report.errors or not any(r.job == JOB_ID for r in report.results):
        raise BenchError(f"syncing the bench project failed: {report.errors}")
    return store


def enqueue_rota_single(store: Store, n: int, progress: Progress) -> float:
    def step(_: int) -> None:
        start_run(store, JOB_ID, {}, trigger=Trigger.API, actor="bench")

    return timed_loop(n, step, progress, "enqueue (start_run)")


def enqueue_rota_bulk(store: Store, n: int, progress: Progress) -> float:
    stored = store.get_job(JOB_ID)
    definition = stored.definition

    def step(i: int) -> None:
        request = NewRun(
            job=JOB_ID,
            job_version=stored.version,
            tenant=definition.tenant,
            trigger=Trigger.API,
            params={},
            priority=definition.priority,
            max_attempts=definition.retry.max_attempts,
            triggered_by="bench",
            run_as="bench",
        )
        store.enqueue_runs([request] * min(BULK_BATCH, n - i), utcnow())

    return timed_loop(n, step, progress, "enqueue (bulk)", chunk=BULK_BATCH)


def drain_rota(
    url: str, settings: Settings, client: Store, n: int, concurrency: int, progress: Progress
) -> float:
    """Run one Worker (in a thread, with its own store as if it were its own process)."""
    worker_store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
    worker = Worker(worker_store, settings, concurrency=concurrency)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:
            failure.append(exc)
            raise

    thread = threading.Thread(target=run, name="bench-rota-worker", daemon=True)

    def remaining() -> int:
        return client.count_runs(status=RunStatus.QUEUED) + client.count_runs(
            status=RunStatus.RUNNING
        )

    try:
        started = time.perf_counter()
        thread.start()
        wait_until_drained(remaining, n, progress, thread.is_alive)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
        thread.join(60)
        worker_store.close()
    if failure:
        raise BenchError(f"worker failed: {failure[0]!r}")
    return elapsed


def bench_rota(
    store: str,
    location: str,
    project: Path,
    n: int,
    concurrency: int,
    bulk: bool,
    progress: Progress,
) -> Measurement:
    url = rota_url(store, location)
    settings = rota_settings(project, url)
    result = Measurement(
        system="rota",
        store=store,
        concurrency=concurrency,
        n=n,
        enqueue="bulk" if bulk else "single",
    )
    client = prepare_rota(url, project, settings)
    try:
        enqueue = enqueue_rota_bulk if bulk else enqueue_rota_single
        result.enqueue_s = enqueue(client, n, progress)
        queued = client.count_runs(status=RunStatus.QUEUED)
        if queued != n:
            raise BenchError(f"{queued} runs queued after enqueueing {n}")
        result.drain_s = drain_rota(url, settings, client, n, concurrency, progress)
        completed = client.count_runs(status=RunStatus.COMPLETED)
        if completed != n:
            raise BenchError(f"only {completed} of {n} runs completed")
    finally:
        client.close()
    return result


# -- huey (SQLite) -----------------------------------------------------------------------------


@contextlib.contextmanager
def kept_signal_handlers() -> Iterator[None]:
    """huey's Consumer.start() installs its own SIGINT/SIGTERM/SIGHUP handlers; undo that."""
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    saved = {s: signal.getsignal(s) for n in names if (s := getattr(signal, n, None))}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def bench_huey(path: str, n: int, concurrency: int, progress: Progress) -> Measurement:
    from huey import SqliteHuey, signals
    from huey.consumer import Consumer

    result = Measurement(system="huey", store="sqlite", concurrency=concurrency, n=n)
    # fsync=True: PRAGMA synchronous=2 (FULL) in WAL mode, as Rota's default. Results are
    # stored, but not None (store_none=False is huey's default).
    huey = SqliteHuey(name="bench", filename=path, fsync=True)
    completed = 0
    lock = threading.Lock()

    @huey.task(name=JOB_ID)  # type: ignore[untyped-decorator]
    def noop() -> None:
        return None

    @huey.signal(signals.SIGNAL_COMPLETE)  # type: ignore[untyped-decorator]
    def on_complete(signal_name: str, task: Any, *args: Any) -> None:
        nonlocal completed
        with lock:
            completed += 1

    try:
        result.enqueue_s = timed_loop(n, lambda _: noop(), progress, "enqueue (task())")
        if huey.pending_count() != n:
            raise BenchError(f"{huey.pending_count()} tasks queued after enqueueing {n}")
        consumer = Consumer(
            huey,
            workers=concurrency,
            worker_type="thread",
            periodic=False,
            initial_delay=POLL_SECONDS,
            max_delay=POLL_SECONDS,
            backoff=1.0,
            check_worker_health=False,
        )
        with kept_signal_handlers():
            started = time.perf_counter()
            consumer.start()
            try:
                wait_until_drained(
                    lambda: n - completed,
                    n,
                    progress,
                    lambda: all(t.is_alive() for _, t in consumer.worker_threads),
                )
                result.drain_s = time.perf_counter() - started
            finally:
                consumer.stop(graceful=True)
        if completed != n or huey.pending_count() != 0:
            raise BenchError(f"{completed} of {n} tasks ran; {huey.pending_count()} still queued")
    finally:
        huey.storage.close()
    return result


# -- procrastinate (PostgreSQL) ----------------------------------------------------------------


def bench_procrastinate(url: str, n: int, concurrency: int, progress: Progress) -> Measurement:
    from procrastinate import App, PsycopgConnector

    result = Measurement(system="procrastinate", store="postgresql", concurrency=concurrency, n=n)
    app = App(connector=PsycopgConnector(conninfo=url))

    @app.task(name=JOB_ID)
    def noop() -> None:
        return None

    with app.open():
        app.schema_manager.apply_schema()
        result.enqueue_s = timed_loop(n, lambda _: noop.defer(), progress, "enqueue (defer())")
    counts = procrastinate_counts(url)
    if counts.get("todo") != n:
        raise BenchError(f"after deferring {n} jobs: {counts}")
    # The worker runs on this thread's event loop; wait=False ends it once the queue is empty
    # and its running jobs are done. Sync tasks run in a thread (procrastinate's sync_to_async).
    # Progress is polled from a side thread (the worker has no hook for it).
    stop = threading.Event()

    def report() -> None:
        started = time.perf_counter()
        while not stop.wait(2.0):
            done = procrastinate_counts(url).get("succeeded", 0)
            progress.tick("drain", done, n, started)

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        started = time.perf_counter()
        app.run_worker(
            concurrency=concurrency,
            wait=False,
            install_signal_handlers=False,
            fetch_job_polling_interval=POLL_SECONDS,
        )
        result.drain_s = time.perf_counter() - started
    finally:
        stop.set()
        reporter.join()
    counts = procrastinate_counts(url)
    if counts.get("succeeded") != n:
        raise BenchError(f"after the drain: {counts} (expected {n} succeeded)")
    return result


def procrastinate_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status"
        ).fetchall()
    return dict(rows)


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    system: str
    store: str
    concurrency: int
    bulk: bool = False

    @property
    def name(self) -> str:
        variant = "bulk" if self.bulk else ("single" if self.system == "rota" else "")
        return "_".join(p for p in (self.system, variant, str(self.concurrency)) if p)

    @property
    def title(self) -> str:
        variant = " bulk" if self.bulk else (" single" if self.system == "rota" else "")
        return f"{self.system}{variant} {self.store} c={self.concurrency}"


def plan(stores: list[str], concurrencies: list[int], systems: list[str], bulk: bool) -> list[Case]:
    cases: list[Case] = []
    for store in stores:
        peer = "huey" if store == "sqlite" else "procrastinate"
        for c in concurrencies:
            if "rota" in systems:
                cases.append(Case("rota", store, c))
                if bulk:
                    cases.append(Case("rota", store, c, bulk=True))
            if peer in systems:
                cases.append(Case(peer, store, c))
    return cases


def run_case(
    case: Case, n: int, folder: Path, project: Path, server_url: str, quiet: bool
) -> Measurement:
    progress = Progress(case.title, quiet=quiet)
    progress.say(f"start (n={n})")
    try:
        with database(case.store, server_url, folder, f"rota_bench_{case.name}") as location:
            if case.system == "rota":
                result = bench_rota(
                    case.store, location, project, n, case.concurrency, case.bulk, progress
                )
            elif case.system == "huey":
                result = bench_huey(location, n, case.concurrency, progress)
            else:
                result = bench_procrastinate(location, n, case.concurrency, progress)
    except Exception as exc:
        print(f"ERROR {case.title}: {exc}", file=sys.stderr, flush=True)
        if not isinstance(exc, BenchError):
            log.exception("%s failed", case.title)
        return Measurement(
            system=case.system,
            store=case.store,
            concurrency=case.concurrency,
            n=n,
            enqueue=("bulk" if case.bulk else "single") if case.system == "rota" else None,
            error=str(exc) or type(exc).__name__,
        )
    progress.say(
        f"done: enqueue {result.enqueue_per_s:,.0f}/s ({result.enqueue_s:.1f}s), "
        f"drain {result.drain_per_s:,.0f}/s ({result.drain_s:.1f}s), "
        f"e2e {result.e2e_per_s:,.0f}/s"
    )
    return result


# -- output ------------------------------------------------------------------------------------


@dataclass
class Ratio:
    store: str
    concurrency: int
    rota: str
    peer: str
    enqueue: float
    drain: float
    e2e: float


def ratios(results: list[Measurement]) -> list[Ratio]:
    found: list[Ratio] = []
    ok = [r for r in results if r.error is None]
    for peer in (r for r in ok if r.system != "rota"):
        for rota in (
            r
            for r in ok
            if r.system == "rota" and r.store == peer.store and r.concurrency == peer.concurrency
        ):
            found.append(
                Ratio(
                    store=peer.store,
                    concurrency=peer.concurrency,
                    rota=rota.label,
                    peer=peer.system,
                    enqueue=rota.enqueue_per_s / peer.enqueue_per_s,
                    drain=rota.drain_per_s / peer.drain_per_s,
                    e2e=rota.e2e_per_s / peer.e2e_per_s,
                )
            )
    return found


@dataclass
class Environment:
    n: int
    command: str
    started: str
    facts: dict[str, str] = field(default_factory=dict)
    postgres: dict[str, str] = field(default_factory=dict)


def environment(args: argparse.Namespace, stores: list[str], server_url: str) -> Environment:
    env = Environment(
        n=args.n,
        command="python bench/throughput.py " + " ".join(sys.argv[1:]),
        started=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    env.facts = {
        "machine": f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": ", ".join(
            f"{p} {version(p)}" for p in ("rota", "huey", "procrastinate", "sqlalchemy", "psycopg")
        )
        + f", SQLite {sqlite3.sqlite_version}",
    }
    env.facts["rota source"] = source_state()
    env.facts["load average at start"] = load_average()
    if "sqlite" in stores:
        env.facts["sqlite files"] = (
            f"{args.tmpdir or tempfile.gettempdir()} ({filesystem(args.tmpdir)})"
        )
    if "postgresql" in stores:
        env.postgres = server_settings(
            server_url,
            (
                "server_version",
                "synchronous_commit",
                "fsync",
                "wal_sync_method",
                "full_page_writes",
            ),
        )
    return env


def filesystem(folder: str | None) -> str:
    """The file system type of the folder (fsync cost depends on it), from /proc/mounts."""
    target = Path(folder or tempfile.gettempdir()).resolve()
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount = parts[1]
            if (target == Path(mount) or Path(mount) in target.parents) and len(mount) > len(best):
                best, kind = mount, parts[2]
    return kind


def settings_notes(env: Environment, stores: list[str]) -> list[str]:
    notes = [
        f"every worker polls every {POLL_SECONDS}s when idle (Rota poll_seconds, huey "
        "initial_delay=max_delay, procrastinate fetch_job_polling_interval); the queue is "
        "full during a drain, so this only bounds the start-up wait",
        "rota: Worker in a thread of this process with its own Store (as a separate process "
        "would); Python jobs run in a spawned child process per slot (spawn time is inside "
        "the drain time); leases, attempts and status history are written for every run; "
        "heartbeat 10s, lease 30s (defaults); single = rota.services.runs.start_run, one "
        f"transaction per run; bulk = Store.enqueue_runs, {BULK_BATCH} runs per transaction",
    ]
    if "sqlite" in stores:
        notes += [
            "rota sqlite: WAL, synchronous=FULL (the default; ROTA_SQLITE_SYNCHRONOUS), "
            "BEGIN IMMEDIATE write transactions",
            "huey sqlite: SqliteHuey(fsync=True) = WAL, synchronous=FULL (2); results stored "
            "but None is not (store_none=False); consumer threads (worker_type='thread') run "
            "tasks in process; dequeue deletes the task row (no running state, no history)",
        ]
    if "postgresql" in stores:
        pg = ", ".join(f"{k}={v}" for k, v in env.postgres.items())
        notes += [
            f"postgresql server defaults for both sides: {pg}",
            "procrastinate: App(PsycopgConnector), schema applied per database; "
            "task.defer() one transaction per job; run_worker(concurrency=C, wait=False) "
            "(returns once the queue is empty), listen_notify on, delete_jobs=never; sync "
            "tasks run in a thread",
        ]
    return notes


def table_rows(results: list[Measurement]) -> tuple[list[str], list[list[str]]]:
    header = ["store", "c", "system", "enqueue/s", "drain/s", "e2e/s", "enqueue s", "drain s"]
    rows: list[list[str]] = []
    for r in results:
        if r.error:
            rows.append(
                [r.store, str(r.concurrency), r.label, f"failed: {r.error}", "", "", "", ""]
            )
            continue
        rows.append(
            [
                r.store,
                str(r.concurrency),
                r.label,
                f"{r.enqueue_per_s:,.0f}",
                f"{r.drain_per_s:,.0f}",
                f"{r.e2e_per_s:,.0f}",
                f"{r.enqueue_s:.2f}",
                f"{r.drain_s:.2f}",
            ]
        )
    return header, rows


def ratio_rows(results: list[Measurement]) -> tuple[list[str], list[list[str]]]:
    header = ["store", "c", "rota", "peer", "enqueue", "drain", "e2e"]
    rows = [
        [
            q.store,
            str(q.concurrency),
            q.rota,
            q.peer,
            f"{q.enqueue:.2f}x",
            f"{q.drain:.2f}x",
            f"{q.e2e:.2f}x",
        ]
        for q in ratios(results)
    ]
    return header, rows


TITLE = "Throughput, N={n} no-op runs per measurement"
RATIO_TITLE = "Ratios rota / peer (rates; above 1 means Rota is faster)"


def print_table(results: list[Measurement], env: Environment, stores: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 120)
    for title, (header, rows) in (
        (TITLE.format(n=env.n), table_rows(results)),
        (RATIO_TITLE, ratio_rows(results)),
    ):
        if not rows:
            continue
        table = Table(title=title)
        for column in header:
            table.add_column(column, justify="left" if column in LEFT else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for line in footer(env, stores):
        console.print(line, highlight=False, soft_wrap=True)


LEFT = ("store", "system", "rota", "peer")


def footer(env: Environment, stores: list[str]) -> list[str]:
    lines = [f"date: {env.started}", f"command: {env.command}"]
    lines += [f"{key}: {value}" for key, value in env.facts.items()]
    lines.append("settings:")
    lines += [f"  - {note}" for note in settings_notes(env, stores)]
    return lines


def markdown(results: list[Measurement], env: Environment, stores: list[str]) -> str:
    """The same report as GitHub Markdown (for bench/RESULTS.md)."""
    out: list[str] = []
    for title, (header, rows) in (
        (TITLE.format(n=env.n), table_rows(results)),
        (RATIO_TITLE, ratio_rows(results)),
    ):
        if not rows:
            continue
        out += [f"**{title}**", ""]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join(":---" if h in LEFT else "---:" for h in header) + "|")
        out += ["| " + " | ".join(row) + " |" for row in rows]
        out.append("")
    out += [
        f"- {line.strip()}" if not line.startswith("  - ") else line for line in footer(env, stores)
    ]
    return "\n".join(out) + "\n"


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--n", type=int, default=DEFAULT_N, help=f"runs per measurement ({DEFAULT_N})"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line, no table")
    parser.add_argument("--store", choices=STORES, help="only this store (default: both)")
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="worker concurrency; repeat for several (default: 1 and 2)",
    )
    parser.add_argument(
        "--system",
        choices=("rota", "huey", "procrastinate"),
        action="append",
        help="only these systems; repeat for several (default: all)",
    )
    parser.add_argument("--no-bulk", action="store_true", help="skip Rota's bulk-enqueue rows")
    parser.add_argument("--tmpdir", help="folder for the SQLite files (default: the temp folder)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--markdown", metavar="FILE", help="also write the report as Markdown")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # "App is instantiated in the main Python module": true, and harmless for a bench.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    stores = [args.store] if args.store else list(STORES)
    concurrencies = args.concurrency or [1, 2]
    systems = args.system or ["rota", "huey", "procrastinate"]
    server_url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    env = environment(args, stores, server_url)
    cases = plan(stores, concurrencies, systems, not args.no_bulk)
    folder = Path(tempfile.mkdtemp(prefix="rota-bench-", dir=args.tmpdir))
    results: list[Measurement] = []
    try:
        project = make_project(folder)
        for case in cases:
            result = run_case(case, args.n, folder, project, server_url, args.quiet)
            results.append(result)
            if args.json and result.error is None:
                print(json.dumps(result.to_json()), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    env.facts["load average (1, 5, 15 min) at start / end"] = (
        f"{env.facts.pop('load average at start', '?')} / {load_average()}"
    )
    if not args.json:
        print_table(results, env, stores)
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, env, stores), encoding="utf-8")
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"FAILED {r.label} {r.store} c={r.concurrency}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
