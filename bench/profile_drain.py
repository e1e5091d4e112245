#!/usr/bin/env python
"""Where a Rota worker's drain time goes: counters, per-call timings and fsyncs.

Enqueues N no-op runs (bulk, untimed), then drains them with one Worker exactly as
bench/throughput.py does, and reports per run:

* Store calls made by the worker (count, wall time, on which thread);
* SQL transactions and statements the worker's engines ran;
* with ``--strace``: fsync/fdatasync calls during the drain (re-runs itself under strace);
* the executor round trip (worker -> job child process -> worker).

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


# -- what-if experiments (bench-only changes to the database or the store instance) -------------


def add_claim_index(url: str) -> None:
    """The claim query orders by ``priority DESC, due_at, id``; ix_runs_claim is all ascending,
    so every claim sorts the whole queue. This index matches the ORDER BY."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE INDEX ix_bench_claim_desc ON runs (status, priority DESC, due_at, id)"
        )
    engine.dispose()


def serialize_writes(store: Store) -> None:
    """One in-process lock around write transactions: threads of one worker wait on a Python
    lock (woken at once) instead of SQLite's busy handler (which sleeps 1, 2, 5, 10... ms)."""
    lock = threading.Lock()
    original = store._write  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def serialized() -> Iterator[Any]:
        with lock, original() as conn:
            yield conn

    store._write = serialized  # type: ignore[attr-defined]


def marker(text: str) -> None:
    os.write(2, f"{text}\n".encode())


def drain(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rota-profile-"))
    project = tp.make_project(folder)
    server_url = os.environ.get(tp.POSTGRES_URL_VARIABLE) or tp.DEFAULT_POSTGRES_URL
    progress = tp.Progress(f"profile {args.store} c={args.concurrency}", quiet=args.quiet)
    with tp.database(args.store, server_url, folder, "rota_bench_profile") as location:
        url = tp.rota_url(args.store, location)
        settings = tp.rota_settings(project, url)
        client = tp.prepare_rota(url, project, settings)
        tp.enqueue_rota_bulk(client, args.n, progress)
        client.close()
        if args.what_if_claim_index:
            add_claim_index(url)
        counters = Counters()
        worker_store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
        instrument_store(worker_store, counters)
        if args.what_if_serial_writes:
            serialize_writes(worker_store)
        worker = Worker(worker_store, settings, concurrency=args.concurrency)
        remaining = unfinished_counter(args.store, url, location)
        with instrument_executor(counters):
            thread = threading.Thread(target=worker.run, name="rota-main", daemon=True)
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
            worker.stop()
            thread.join(60)
        check = open_store(url)
        completed = check.count_runs(status=RunStatus.COMPLETED)
        check.close()
        worker_store.close()
    report(args, counters, elapsed, cpu, completed)


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
    what_if = [
        name for name in ("claim_index", "serial_writes") if getattr(args, f"what_if_{name}")
    ]
    print(f"drain of {n} runs, {args.store}, concurrency {args.concurrency}", end="")
    print(f"; what-if: {', '.join(what_if)}" if what_if else "")
    print(f"  wall {elapsed:.2f}s = {n / elapsed:,.0f} runs/s = {elapsed / n * 1000:.2f} ms/run")
    print(f"  CPU of this process (worker threads; job children not included): {cpu:.2f}s")
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
    code = subprocess.call(command)
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
    import shutil

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
        thread = next((f for f in frames if f.startswith("thread ")), "thread ?")
        thread = re.sub(r"\(\d+\)", "", thread).replace("thread ", "").strip(" :")
        if frames[0].startswith("process") and "spawn_main" in frames[0]:
            thread = "job child process: " + thread
        body = [f for f in frames if not f.startswith(("process ", "thread "))]
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
        "--what-if-claim-index",
        action="store_true",
        help="add an index (status, priority DESC, due_at, id) before the drain",
    )
    parser.add_argument(
        "--what-if-serial-writes",
        action="store_true",
        help="serialize the worker's write transactions on an in-process lock",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.summarize_spy:
        summarize_spy(args.summarize_spy, args.top)
        return 0
    if args.strace:
        return with_strace(sys.argv[1:], args.n)
    drain(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
