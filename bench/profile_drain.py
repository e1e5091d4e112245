#!/usr/bin/env python
"""Where a Rota worker's drain time goes: counters, per-call timings and fsyncs.

Enqueues N no-op runs (bulk, untimed), then drains them with one Worker exactly as
bench/throughput.py does, and reports per run:

* Store calls made by the worker (count, wall time, on which thread);
* SQL transactions and statements the worker's engines ran;
* with ``--strace``: fsync/fdatasync calls during the drain (re-runs itself under strace);
* the executor round trip (worker -> job child process -> worker);
* with ``--yappi wall|cpu``: a deterministic profile of the worker's threads (drain only);
* with ``--raw-sql``: the floor, the same SQL per run through ``sqlite3`` without SQLAlchemy.

Sampling profile of the same drain (all threads, idle time included)::

    py-spy record --idle --threads --rate 250 --format raw -o drain.txt -- \\
        .venv/bin/python bench/profile_drain.py --n 5000
    .venv/bin/python bench/profile_drain.py --summarize-spy drain.txt
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput as tp

from rota.engine.worker import Worker
from rota.jobs.executors.python import PythonExecutor
from rota.model.status import RunStatus
from rota.store import Store, open_store

STORE_CALLS = (
    "claim_runs",
    "finish_runs",
    "finish_and_claim",
    "get_job",
    "wait_for_runs",
    "cancel_requests",
    "extend_leases",
    "reap_expired",
    "record_activity",
    "register_worker",
    "stop_worker",
    "release_runs",
)
START, END = "@@DRAIN-START@@", "@@DRAIN-END@@"
MARKERS_VARIABLE = "ROTA_BENCH_MARKERS"


@dataclass
class CallStats:
    count: int = 0
    seconds: float = 0.0
    finished: int = 0
    claimed: int = 0
    threads: collections.Counter[str] = field(default_factory=collections.Counter)


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, CallStats] = collections.defaultdict(CallStats)
        self.sql: collections.Counter[str] = collections.Counter()
        self.active = False

    def add(self, name: str, seconds: float, finished: int = 0, claimed: int = 0) -> None:
        if not self.active:
            return
        with self.lock:
            stats = self.calls[name]
            stats.count += 1
            stats.seconds += seconds
            stats.finished += finished
            stats.claimed += claimed
            stats.threads[threading.current_thread().name] += 1


def instrument_store(store: Store, counters: Counters) -> None:
    """Wrap the worker store's methods (on this instance only) to time them."""
    for name in STORE_CALLS:
        original = getattr(store, name)

        def timed(
            *args: Any, _original: Callable[..., Any] = original, _name: str = name, **kw: Any
        ) -> Any:
            started = time.perf_counter()
            result = _original(*args, **kw)
            counters.add(_name, time.perf_counter() - started, *_items(_name, args, result))
            return result

        setattr(store, name, timed)
    engines = {"write": store._engine, "read": store._read_engine}  # type: ignore[attr-defined]
    for label, engine in engines.items():
        if label == "read" and engine is engines["write"]:
            continue

        def on_begin(conn: Any, _label: str = label) -> None:
            if counters.active:
                with counters.lock:
                    counters.sql[f"{_label} transactions"] += 1

        def on_statement(*_: Any, _label: str = label) -> None:
            if counters.active:
                with counters.lock:
                    counters.sql[f"{_label} statements"] += 1

        sa.event.listen(engine, "begin", on_begin)
        sa.event.listen(engine, "before_cursor_execute", on_statement)


def _items(name: str, args: tuple[Any, ...], result: Any) -> tuple[int, int]:
    """(runs finished, runs claimed) by one store call."""
    if name == "finish_runs":
        return len(args[0]), 0
    if name == "claim_runs":
        return 0, len(result)
    if name == "finish_and_claim":
        return len(args[0]), len(result[1])
    return 0, 0


@contextlib.contextmanager
def instrument_executor(counters: Counters) -> Iterator[None]:
    original = PythonExecutor.execute

    @functools.wraps(original)
    def execute(self: PythonExecutor, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args)
        finally:
            counters.add("executor.execute (child round trip)", time.perf_counter() - started)

    PythonExecutor.execute = execute  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        PythonExecutor.execute = original  # type: ignore[method-assign]


def marker(text: str) -> None:
    """A write(2) that strace logs: where the drain starts and ends (only under --strace)."""
    if os.environ.get(MARKERS_VARIABLE):
        os.write(2, f"{text}\n".encode())


def drain(args: argparse.Namespace) -> None:
    with temporary_folder() as folder:
        _drain(args, folder)


@contextlib.contextmanager
def temporary_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rota-profile-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _drain(args: argparse.Namespace, folder: Path) -> None:
    project = tp.make_project(folder)
    server_url = os.environ.get(tp.POSTGRES_URL_VARIABLE) or tp.DEFAULT_POSTGRES_URL
    progress = tp.Progress(f"profile {args.store} c={args.concurrency}", quiet=args.quiet)
    with tp.database(args.store, server_url, folder, "rota_bench_profile") as location:
        url = tp.rota_url(args.store, location)
        settings = tp.rota_settings(project, url)
        client = tp.prepare_rota(url, project, settings)
        tp.enqueue_rota_bulk(client, args.n, progress)
        client.close()
        counters = Counters()
        worker_store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
        instrument_store(worker_store, counters)
        worker = Worker(worker_store, settings, concurrency=args.concurrency)
        remaining = unfinished_counter(args.store, url, location)
        with instrument_executor(counters):
            thread = threading.Thread(target=worker.run, name="rota-main", daemon=True)
            profiler = start_yappi(args.yappi)
            counters.active = True
            marker(START)
            started = time.perf_counter()
            cpu = time.process_time()
            thread.start()
            tp.wait_until_drained(remaining, args.n, progress, thread.is_alive)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            marker(END)
            counters.active = False
            names = {t.ident: t.name for t in threading.enumerate()}
            if profiler is not None:
                profiler.stop()
            worker.stop()
            thread.join(60)
        check = open_store(url)
        completed = check.count_runs(status=RunStatus.COMPLETED)
        check.close()
        worker_store.close()
    report(args, counters, elapsed, cpu, completed)
    if args.yappi:
        report_yappi(args.yappi, elapsed, args.n, args.top, names)


def unfinished_counter(store: str, url: str, location: str) -> Callable[[], int]:
    """Count unfinished runs outside the worker's store (not to pollute its counters)."""
    query = "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"
    if store == "sqlite":
        conn = sqlite3.connect(location, check_same_thread=False)
        return lambda: int(conn.execute(query).fetchone()[0])
    import psycopg

    pg = psycopg.connect(tp.libpq_url(url), autocommit=True)
    return lambda: int(pg.execute(query).fetchone()[0])  # type: ignore[index]


def report(
    args: argparse.Namespace, counters: Counters, elapsed: float, cpu: float, completed: int
) -> None:
    n = args.n
    print(f"drain of {n} runs, {args.store}, concurrency {args.concurrency}")
    print(f"  wall {elapsed:.2f}s = {n / elapsed:,.0f} runs/s = {elapsed / n * 1000:.2f} ms/run")
    print(f"  CPU of this process (worker + bench poller; job children not included): {cpu:.2f}s")
    print(f"  completed {completed}/{n}")
    print("store calls by the worker (wall time inside the call, all threads):")
    print(f"  {'call':38} {'count':>7} {'/run':>6} {'total s':>8} {'ms/call':>8}  threads")
    for name, stats in sorted(counters.calls.items(), key=lambda kv: -kv[1].seconds):
        extra = "".join(
            f"; {what} {count / stats.count:.2f} runs/call"
            for what, count in (("finishes", stats.finished), ("claims", stats.claimed))
            if count
        )
        threads = ", ".join(f"{t}:{c}" for t, c in stats.threads.most_common(3))
        print(
            f"  {name:38} {stats.count:7d} {stats.count / n:6.2f} {stats.seconds:8.2f}"
            f" {stats.seconds / stats.count * 1000:8.2f}  {threads}{extra}"
        )
    print("SQL by the worker's engines:")
    for name, count in sorted(counters.sql.items()):
        print(f"  {name:38} {count:7d} {count / n:6.2f}/run")


# -- yappi: deterministic, every thread, only the drain ----------------------------------------


def start_yappi(clock: str | None) -> Any:
    if not clock:
        return None
    import yappi

    yappi.set_clock_type(clock)
    yappi.start(builtins=False, profile_threads=True)
    return yappi


def report_yappi(clock: str, elapsed: float, n: int, top: int, names: dict[Any, str]) -> None:
    """Per worker thread: the functions it spent its (wall or CPU) time in, inclusive."""
    import yappi

    threads = {t.id: names.get(t.tid, t.name) for t in yappi.get_thread_stats()}
    print(f"\nyappi ({clock} clock; profiling overhead inflates Python-heavy code):")
    for thread_id, name in sorted(threads.items(), key=lambda kv: kv[1]):
        if not name.startswith("rota-") or name in ("rota-listen", "rota-control"):
            continue
        stats = yappi.get_func_stats(ctx_id=thread_id)
        rows = sorted(stats, key=lambda s: -s.ttot)
        total = max((s.ttot for s in rows), default=0.0)
        print(f"== {name}: {total:.2f}s ({total / n * 1000:.2f} ms/run; drain {elapsed:.2f}s)")
        shown = 0
        for stat in rows:
            where = stat.module.split("site-packages/")[-1].split("/src/")[-1]
            if "profile_drain" in where or stat.name in ("run", "_bootstrap", "_bootstrap_inner"):
                continue
            print(
                f"   {stat.ttot / elapsed:6.1%} incl {stat.ttot / n * 1000:6.3f} ms/run"
                f"  self {stat.tsub / n * 1000:6.3f}  {stat.ncall / n:5.1f}/run  "
                f"{stat.name} ({where})"
            )
            shown += 1
            if shown >= top:
                break
    yappi.clear_stats()


# -- the floor: the same SQL without SQLAlchemy -------------------------------------------------

RAW_FENCED = (
    "SELECT id, attempt, job_id, tenant, max_attempts, cancel_requested_at, job_version"
    " FROM runs WHERE id = ? AND lease_token = ? AND status = 'running'"
)
RAW_END = (
    "UPDATE runs SET status = ?, reason = NULL, error = NULL, result = NULL, finished_at = ?,"
    " lease_token = NULL, lease_expires_at = NULL WHERE id = ?"
)
RAW_END_ATTEMPT = (
    "UPDATE run_attempts SET finished_at = ?, outcome = ?, error = NULL"
    " WHERE run_id = ? AND attempt = ?"
)
RAW_HISTORY = (
    "INSERT INTO run_status_history (run_id, from_status, to_status, at, reason, actor)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
RAW_CLAIMABLE = (
    "SELECT id, job_id, job_version, params, attempt, max_attempts, tenant FROM runs"
    " WHERE status = 'queued' AND due_at <= ? ORDER BY priority DESC, due_at, id LIMIT ?"
)
RAW_CLAIM = (
    "UPDATE runs SET status = 'running', attempt = ?, lease_token = ?, lease_expires_at = ?,"
    " worker_id = ?, started_at = coalesce(started_at, ?), reason = NULL"
    " WHERE id = ? AND status = 'queued'"
)
RAW_ATTEMPT = (
    "INSERT INTO run_attempts (run_id, attempt, worker_id, started_at) VALUES (?, ?, ?, ?)"
)


def raw_sql_floor(n: int) -> None:
    """Per run, what ``finish_and_claim`` does (finish the previous run, claim the next: eight
    statements, BEGIN IMMEDIATE, COMMIT), through the sqlite3 module with the store's pragmas.
    No job is executed: this is the database's share of a drained run, nothing else."""
    with temporary_folder() as folder:
        _raw_sql_floor(n, folder)


def _raw_sql_floor(n: int, folder: Path) -> None:
    import json
    import uuid
    from datetime import UTC, datetime, timedelta

    project = tp.make_project(folder)
    path = folder / "raw.db"
    url = tp.rota_url("sqlite", str(path))
    client = tp.prepare_rota(url, project, tp.rota_settings(project, url))
    tp.enqueue_rota_bulk(client, n, tp.Progress("raw", quiet=True))
    client.close()
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")

    def text(moment: datetime) -> str:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

    held: tuple[int, str, int] | None = None
    started = time.perf_counter()
    for _ in range(n + 1):
        now = text(datetime.now(UTC))
        conn.execute("BEGIN IMMEDIATE")
        if held is not None:
            run_id, token, attempt = held
            conn.execute(RAW_FENCED, (run_id, token)).fetchone()
            conn.execute(RAW_END, ("completed", now, run_id))
            conn.execute(RAW_END_ATTEMPT, (now, "completed", run_id, attempt))
            conn.execute(RAW_HISTORY, (run_id, "running", "completed", now, None, None))
        held = None
        for row in conn.execute(RAW_CLAIMABLE, (now, 1)).fetchall():
            token, attempt = uuid.uuid4().hex, row[4] + 1
            lease = text(datetime.now(UTC) + timedelta(seconds=30))
            conn.execute(RAW_CLAIM, (attempt, token, lease, "raw", now, row[0]))
            conn.execute(RAW_ATTEMPT, (row[0], attempt, "raw", now))
            conn.execute(
                RAW_HISTORY, (row[0], "queued", "running", now, f"attempt {attempt}", "raw")
            )
            json.loads(row[3])
            held = (row[0], token, attempt)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    done = conn.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
    conn.close()
    print(f"raw sqlite3, finish + claim per run: {elapsed / n * 1000:.3f} ms/run")
    print(f"  = {n / elapsed:,.0f} runs/s; completed {done}/{n}")


# -- strace: fsyncs during the drain -------------------------------------------------------------


def with_strace(argv: list[str], n: int) -> int:
    if not (strace := _which("strace")):
        print("strace is not installed", file=sys.stderr)
        return 2
    with tempfile.NamedTemporaryFile(prefix="rota-strace-", suffix=".txt", delete=False) as f:
        out = f.name
    command = [
        strace,
        "-f",
        "-qq",
        "-e",
        "trace=fsync,fdatasync,write",
        "-e",
        "signal=none",
        "-o",
        out,
        sys.executable,
        __file__,
        *[a for a in argv if a != "--strace"],
    ]
    code = subprocess.call(command, env={**os.environ, MARKERS_VARIABLE: "1"})
    inside = False
    calls: collections.Counter[str] = collections.Counter()
    with open(out, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if START in line and "write(" in line:
                inside = True
            elif END in line and "write(" in line:
                inside = False
            elif inside and (match := re.search(r"\b(fsync|fdatasync)\(", line)):
                calls[match.group(1)] += 1
    os.unlink(out)
    total = sum(calls.values())
    print(f"fsync-family calls during the drain: {dict(calls)} = {total / n:.2f} per run")
    return code


def _which(name: str) -> str | None:
    return shutil.which(name)


# -- py-spy raw output --------------------------------------------------------------------------


def summarize_spy(path: str, top: int) -> None:
    """Aggregate py-spy's collapsed stacks: per thread, self time and inclusive time."""
    threads: collections.Counter[str] = collections.Counter()
    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    leaf: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        # "process PID:"cmdline";"thread (TID): name";frames... (a cmdline may contain ";")
        at = next((i for i, f in enumerate(frames) if f.startswith("thread ")), None)
        if at is None:
            continue
        process = ";".join(frames[:at])
        thread = re.sub(r"\(\d+\)", "", frames[at]).replace("thread ", "").strip(" :")
        if "spawn_main" in process:
            thread = f"job child process / {thread}"
        elif "resource_tracker" in process:
            thread = f"resource tracker / {thread}"
        body = frames[at + 1 :]
        if not body:
            continue
        threads[thread] += count
        for name in dict.fromkeys(_short(f) for f in body):
            inclusive[thread][name] += count
        leaf[thread][_short(body[-1])] += count
    for thread, total in threads.most_common():
        if total < sum(threads.values()) * 0.01:
            continue
        print(f"\n== thread {thread}: {total} samples")
        print("   inclusive (share of this thread's time):")
        for name, count in inclusive[thread].most_common(top):
            print(f"     {count / total:6.1%}  {name}")
        print("   self (leaf frames):")
        for name, count in leaf[thread].most_common(top // 2):
            print(f"     {count / total:6.1%}  {name}")


def _short(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (module.py)``: group a function's lines."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    name, where = match.groups()
    return f"{name} ({where.split('site-packages/')[-1]})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--store", choices=tp.STORES, default="sqlite")
    parser.add_argument("--strace", action="store_true", help="count fsyncs (runs under strace)")
    parser.add_argument("--summarize-spy", metavar="FILE", help="summarize py-spy raw output")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--yappi", choices=("wall", "cpu"), help="profile the drain with yappi (all threads)"
    )
    parser.add_argument(
        "--raw-sql",
        action="store_true",
        help="the floor: the drain's SQL through sqlite3 directly, without worker or SQLAlchemy",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.summarize_spy:
        summarize_spy(args.summarize_spy, args.top)
        return 0
    if args.strace:
        return with_strace(sys.argv[1:], args.n)
    if args.raw_sql:
        raw_sql_floor(args.n)
        return 0
    drain(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
