#!/usr/bin/env python
"""Processes: what a step of a process costs, a 100-way fan-out, and webhook latency.

On SQLite and on PostgreSQL, in one run, with a fresh project folder and database per store:

1. linear: a process of 10 steps in a chain, each the Python job ``bench.work`` (returns at
   once, or sleeps a fixed time). Overhead per step = (the process run's ``finished_at`` -
   the wall clock just before ``start_run``, minus the sum of the steps' own work) / 10, where
   a step's own work is its run's ``finished_at - started_at`` in the store (``store`` columns)
   or the time the job's code ran, as the job itself reports it (``code`` columns). Repeated;
   median, p95 and max.
2. fan-out: one root step, 100 steps that need it and a final step that needs the 100, on two
   ``Worker`` instances (concurrency 1 each, one thread and one store each, as two processes
   would be). Wall time, sum of the steps' work, and overhead per step = (slots x wall - sum
   of work) / 102.
3. webhooks: sequential signed ``POST /hooks/{id}`` to the real HTTP server (the API's ``start()`` on a
   free port) while a worker runs a trivial job; request -> 202 and request -> the run's
   ``started_at`` (the claim), both on the wall clock (the store keeps UTC wall-clock times).
   Twice: server and worker sharing one store (``rota up``), and each with its own store
   (``rota serve`` + ``rota worker``).

Workers run in threads of this process (the bench shares their GIL). PostgreSQL: the server
named by ``ROTA_BENCH_POSTGRES_URL``; the database ``rota_bench_processes`` is created fresh and
dropped at the end. Progress goes to stderr, the tables to stdout. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from facts import load_average, server_settings, source_state
from pgdb import postgres_database

from rota.api.server import start as serve
from rota.engine.worker import Worker
from rota.hooks.signatures import sign_standard
from rota.model.runs import Run, Trigger
from rota.model.status import RunStatus
from rota.services.hooks import create_hook
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.settings import Settings, load_settings
from rota.store import Store, open_store
from rota.store.base import RunFilter

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_VARIABLE = "ROTA_BENCH_POSTGRES_URL"
DATABASE = "rota_bench_processes"
STORES = ("sqlite", "postgresql")

POLL_SECONDS = 0.02
"""Every worker's idle poll interval (``poll_seconds``)."""
LINEAR_STEPS = 10
FAN_WIDTH = 100
FAN_WORKERS = 2
FAN_CONCURRENCY = 1
STEP_SECONDS = 0.05
"""What a sleeping step sleeps (its known work)."""
LINEAR_WORK = (0.0, STEP_SECONDS)
TIMEOUT_SECONDS = 120.0
"""A process or a webhook run that has not ended after this long fails its row."""
CHECK_SECONDS = 0.02
"""How often the bench looks whether a run ended, with a cheap query (the figures come from
the store's times; a process run's ``get_run`` reads all its steps, so is asked once)."""

WORK_JOB = "bench.work"
JOBS = f'''"""The job of bench/processes.py: sleeps ``seconds`` and says when its code ran."""

import time

from rota import job


@job(id="{WORK_JOB}")
def work(ctx, seconds: float = 0.0):
    began = time.time()
    if seconds > 0:
        time.sleep(seconds)
    return {{"began": began, "ended": time.time()}}
'''
FAN_JOB = "bench.fanout"
WARMUP_JOB = "bench.warmup"
WARMUP_SECONDS = 0.3
"""Two parallel steps this long: each of two idle workers takes one (and spawns its child)."""
HOOK_ID = "bench-work"


def linear_job(seconds: float) -> str:
    return f"bench.linear-{round(seconds * 1000)}ms"


@dataclass(frozen=True)
class Plan:
    linear_repeats: int
    fan_repeats: int
    hooks: int


FULL = Plan(linear_repeats=10, fan_repeats=5, hooks=50)
QUICK = Plan(linear_repeats=3, fan_repeats=1, hooks=15)


class BenchError(Exception):
    """A measurement that did not do the work it claims (its row is reported as failed)."""


# -- statistics --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default); q in 0..100."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


# -- results -----------------------------------------------------------------------------------


@dataclass
class ProcessSample:
    """One ended process run, in seconds."""

    e2e: float
    """Wall clock before ``start_run`` -> the process run's ``finished_at``."""
    store_work: float
    """Sum over its step runs of ``finished_at - started_at``."""
    code_work: float
    """Sum over its steps of the time the job's code ran (the job's own report)."""
    enqueue: float
    """``start_run`` itself (validates, enqueues and starts the first steps; one commit)."""
    first_claim: float
    """``start_run`` returned -> the first step run's ``started_at``."""
    handoffs: list[float]
    """Per step with needs: its ``started_at`` - the latest ``finished_at`` of its needs
    (in a fan-out this includes the wait for a free slot)."""
    fan_in: float
    """The same for the last step (the final step of the fan-out)."""
    tail: float
    """The last step run's ``finished_at`` -> the process run's ``finished_at``."""
    per_worker: Counter[str]
    steps: int

    def overhead_store(self, slots: int = 1) -> float:
        return (slots * self.e2e - self.store_work) / self.steps

    def overhead_code(self, slots: int = 1) -> float:
        return (slots * self.e2e - self.code_work) / self.steps


@dataclass
class Row:
    scenario: str
    store: str
    label: str
    samples: list[ProcessSample] = field(default_factory=list)
    http: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    ideal: list[float] = field(default_factory=list)
    error: str | None = None


# -- progress ----------------------------------------------------------------------------------


class Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def failure(progress: Progress, row: Row, exc: BaseException) -> None:
    row.error = f"{type(exc).__name__}: {exc}"
    progress.say(f"{row.store} {row.label}: FAILED {row.error}")
    if not isinstance(exc, BenchError):
        traceback.print_exc(file=sys.stderr)


# -- the project -------------------------------------------------------------------------------


def process_definitions() -> list[dict[str, Any]]:
    """The linear processes (one per step work) and the fan-out, generated."""
    out: list[dict[str, Any]] = []
    for seconds in LINEAR_WORK:
        steps: dict[str, Any] = {}
        for i in range(1, LINEAR_STEPS + 1):
            step: dict[str, Any] = {"job": WORK_JOB, "params": {"seconds": seconds}}
            if i > 1:
                step["needs"] = [f"s{i - 1:02d}"]
            steps[f"s{i:02d}"] = step
        out.append({"id": linear_job(seconds), "kind": "process", "steps": steps})
    fan: dict[str, Any] = {"root": {"job": WORK_JOB, "params": {"seconds": STEP_SECONDS}}}
    middle = [f"m{i:03d}" for i in range(1, FAN_WIDTH + 1)]
    for name in middle:
        fan[name] = {"job": WORK_JOB, "needs": ["root"], "params": {"seconds": STEP_SECONDS}}
    fan["final"] = {"job": WORK_JOB, "needs": middle, "params": {"seconds": STEP_SECONDS}}
    out.append({"id": FAN_JOB, "kind": "process", "steps": fan})
    pair = {"job": WORK_JOB, "params": {"seconds": WARMUP_SECONDS}}
    out.append({"id": WARMUP_JOB, "kind": "process", "steps": {"a": pair, "b": pair}})
    return out


def make_project(folder: Path) -> Path:
    project = folder / "project"
    (project / "jobs").mkdir(parents=True)
    (project / "jobs" / "work.py").write_text(JOBS, encoding="utf-8")
    text = yaml.safe_dump(process_definitions(), sort_keys=False, default_flow_style=None)
    (project / "jobs" / "processes.yaml").write_text(text, encoding="utf-8")
    return project


def rota_settings(project: Path, url: str) -> Settings:
    return load_settings(project, database_url=url, poll_seconds=POLL_SECONDS)


def prepare(url: str, project: Path, settings: Settings) -> Store:
    store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
    store.upgrade()
    report = sync_project(store, project)
    synced = {r.job for r in report.results}
    wanted = {WORK_JOB, FAN_JOB, WARMUP_JOB, *(linear_job(s) for s in LINEAR_WORK)}
    if report.errors or not wanted <= synced:
        store.close()
        raise BenchError(f"syncing the bench project failed: {report.errors or synced}")
    return store


# -- workers -----------------------------------------------------------------------------------


class Crew:
    """Running workers; :meth:`check` raises once one of them has died."""

    def __init__(self) -> None:
        self.workers: list[Worker] = []
        self.threads: list[threading.Thread] = []
        self.failed: list[BaseException] = []

    def check(self) -> None:
        if self.failed:
            raise BenchError(f"a worker failed: {self.failed[0]!r}")
        if not all(t.is_alive() for t in self.threads):
            raise BenchError("a worker stopped")


@contextlib.contextmanager
def running_workers(
    url: str, settings: Settings, count: int, concurrency: int, shared: Store | None = None
) -> Iterator[Crew]:
    """``count`` workers, each in a thread with its own store (or all on ``shared``)."""
    crew = Crew()
    own: list[Store] = []
    tag = uuid.uuid4().hex[:6]  # worker ids are unique in the store, stopped ones included

    def run(worker: Worker) -> None:
        try:
            worker.run()
        except BaseException as exc:
            crew.failed.append(exc)
            raise

    try:
        for i in range(count):
            store = shared
            if store is None:
                store = open_store(url, sqlite_synchronous=settings.sqlite_synchronous)
                own.append(store)
            name = f"bench-{tag}-w{i + 1}"
            worker = Worker(store, settings, concurrency=concurrency, worker_id=name)
            crew.workers.append(worker)
            thread = threading.Thread(target=run, args=(worker,), name=name, daemon=True)
            crew.threads.append(thread)
            thread.start()
        yield crew
    finally:
        for worker in crew.workers:
            worker.stop()
        for thread in crew.threads:
            thread.join(60)
        for store in own:
            store.close()
    if crew.failed:
        raise BenchError(f"a worker failed: {crew.failed[0]!r}")
    if any(t.is_alive() for t in crew.threads):
        raise BenchError("a worker did not stop within 60s")


def wait_for(check: Callable[[], Run | None], crew: Crew, what: str) -> Run:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        crew.check()
        time.sleep(CHECK_SECONDS)
    raise BenchError(f"timed out after {TIMEOUT_SECONDS:.0f}s waiting for {what}")


def ended(store: Store, job_id: str, run_id: int) -> Run | None:
    """The run once it has ended (``list_runs`` does not read a process's steps)."""
    found = store.list_runs(RunFilter(job=job_id, before_id=run_id + 1, limit=1))
    if not found or found[0].id != run_id:
        raise BenchError(f"run {run_id} of {job_id} not found")
    return store.get_run(run_id) if found[0].status.terminal else None


def ts(value: datetime | None, what: str) -> float:
    if value is None:
        raise BenchError(f"{what} is not set")
    return value.timestamp()


def code_seconds(run: Run) -> float:
    result = run.result
    if not isinstance(result, dict):
        raise BenchError(f"run {run.id} returned {result!r}, not its code's times")
    began, finished = result.get("began"), result.get("ended")
    if not isinstance(began, int | float) or not isinstance(finished, int | float):
        raise BenchError(f"run {run.id} returned {result!r}, not its code's times")
    return float(finished) - float(began)


def run_process(client: Store, crew: Crew, job_id: str) -> ProcessSample:
    """Start one process run, wait for it to end, and read its times from the store."""
    before = time.time()
    started = start_run(client, job_id, {}, trigger=Trigger.API, actor="bench")
    enqueued = time.time()
    process = wait_for(
        partial(ended, client, job_id, started.id), crew, f"process run {started.id}"
    )
    if process.status is not RunStatus.COMPLETED:
        raise BenchError(f"process run {process.id} ended {process.status.value}")
    limit = len(process.steps) + 10
    runs = {r.step: r for r in client.list_runs(RunFilter(parent_id=process.id, limit=limit))}
    if len(runs) != len(process.steps) or any(
        r.status is not RunStatus.COMPLETED for r in runs.values()
    ):
        states = Counter((s.state, s.status.value if s.status else None) for s in process.steps)
        raise BenchError(f"process run {process.id}: not every step completed: {dict(states)}")
    finished = ts(process.finished_at, f"process run {process.id} finished_at")
    begun = {name: ts(r.started_at, f"run {r.id} started_at") for name, r in runs.items()}
    done = {name: ts(r.finished_at, f"run {r.id} finished_at") for name, r in runs.items()}
    handoffs = {
        s.name: begun[s.name] - max(done[n] for n in s.needs) for s in process.steps if s.needs
    }
    return ProcessSample(
        e2e=finished - before,
        store_work=sum(done[n] - begun[n] for n in runs),
        code_work=sum(code_seconds(r) for r in runs.values()),
        enqueue=enqueued - before,
        first_claim=min(begun.values()) - enqueued,
        handoffs=list(handoffs.values()),
        fan_in=handoffs.get(process.steps[-1].name, math.nan),
        tail=finished - max(done.values()),
        per_worker=Counter(r.worker or "?" for r in runs.values()),
        steps=len(runs),
    )


# -- 1. linear -------------------------------------------------------------------------------


def bench_linear(
    store: str, url: str, settings: Settings, client: Store, plan: Plan, progress: Progress
) -> list[Row]:
    rows = [Row("linear", store, "no-op" if s == 0 else f"sleep {s:g}s") for s in LINEAR_WORK]
    try:
        with running_workers(url, settings, 1, 1) as crew:
            run_process(client, crew, linear_job(0.0))  # warm-up: spawns the job's child process
            for seconds, row in zip(LINEAR_WORK, rows, strict=True):
                try:
                    for _ in range(plan.linear_repeats):
                        row.samples.append(run_process(client, crew, linear_job(seconds)))
                    over = [1000 * s.overhead_store() for s in row.samples]
                    progress.say(
                        f"{store} linear {row.label}: overhead/step median "
                        f"{median(over):.1f} ms, max {max(over):.1f} ms"
                    )
                except Exception as exc:
                    failure(progress, row, exc)
    except Exception as exc:
        for row in rows:
            if row.error is None:
                failure(progress, row, exc)
    return rows


# -- 2. fan-out ------------------------------------------------------------------------------


def bench_fanout(
    store: str, url: str, settings: Settings, client: Store, plan: Plan, progress: Progress
) -> Row:
    row = Row("fan-out", store, f"1+{FAN_WIDTH}+1 steps, sleep {STEP_SECONDS:g}s")
    try:
        with running_workers(url, settings, FAN_WORKERS, FAN_CONCURRENCY) as crew:
            # warm-up: both workers spawn their job processes (two slow-ish steps at once)
            for _ in range(5):
                if len(run_process(client, crew, WARMUP_JOB).per_worker) == FAN_WORKERS:
                    break
            else:
                raise BenchError("warm-up: the two workers did not both take a step")
            for _ in range(plan.fan_repeats):
                sample = run_process(client, crew, FAN_JOB)
                row.samples.append(sample)
                # The shortest possible wall time for this work on these slots.
                row.ideal.append(
                    sample.code_work / (FAN_WORKERS * FAN_CONCURRENCY)
                    + 2 * STEP_SECONDS * (1 - 1 / (FAN_WORKERS * FAN_CONCURRENCY))
                )
                progress.say(
                    f"{store} fan-out: wall {sample.e2e:.2f}s, "
                    f"steps per worker {dict(sample.per_worker)}"
                )
    except Exception as exc:
        failure(progress, row, exc)
    return row


# -- 3. webhooks -----------------------------------------------------------------------------


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def deliver(port: int, secret: str) -> tuple[float, float, int]:
    """One signed delivery: the wall clock before sending it and once the answer is read,
    and the id of the run it started."""
    body = json.dumps({"bench": True}).encode()
    headers = sign_standard(secret, f"msg_{uuid.uuid4().hex}", datetime.now(UTC), body)
    headers["Content-Type"] = "application/json"
    before = time.time()
    code, answer = post(port, f"/hooks/{HOOK_ID}", body, headers)
    after = time.time()
    if code != 202:
        raise BenchError(f"POST /hooks/{HOOK_ID} answered {code}: {answer[:200]!r}")
    return before, after, int(json.loads(answer)["run_id"])


def bench_hooks(
    store: str, url: str, settings: Settings, client: Store, plan: Plan, progress: Progress
) -> list[Row]:
    rows = [
        Row("webhook", store, "one store (rota up)"),
        Row("webhook", store, "own stores (serve + worker)"),
    ]
    try:
        _, secret = create_hook(client, settings, WORK_JOB, hook_id=HOOK_ID, actor="bench")
    except Exception as exc:
        for row in rows:
            failure(progress, row, exc)
        return rows
    pause = random.Random(42)
    for row in rows:
        shared = row is rows[0]
        server = None
        try:
            server = serve(client, settings, "127.0.0.1", 0)
            port = server.port
            with running_workers(url, settings, 1, 1, shared=client if shared else None) as crew:
                for i in range(plan.hooks + 1):
                    # A random phase against the worker's poll, as real requests arrive.
                    time.sleep(pause.uniform(0, 2 * POLL_SECONDS))
                    sent, answered, run_id = deliver(port, secret)
                    run = wait_for(
                        partial(ended, client, WORK_JOB, run_id), crew, f"webhook run {run_id}"
                    )
                    if run.status is not RunStatus.COMPLETED:
                        raise BenchError(f"webhook run {run_id} ended {run.status.value}")
                    if i == 0:
                        continue  # warm-up: spawns the job's child process
                    row.http.append(answered - sent)
                    row.start.append(ts(run.started_at, f"run {run_id} started_at") - sent)
            progress.say(
                f"{store} webhooks, {row.label}: start median {1000 * median(row.start):.1f} ms"
            )
        except Exception as exc:
            failure(progress, row, exc)
        finally:
            if server is not None:
                server.shutdown()
    return rows


# -- per store ---------------------------------------------------------------------------------


@contextlib.contextmanager
def database(store: str, server_url: str, folder: Path) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite:///{folder / 'rota.db'}"
    else:
        with postgres_database(server_url, DATABASE) as url:
            yield url


def bench_store(
    store: str, server_url: str, tmpdir: str | None, plan: Plan, progress: Progress
) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix=f"rota-bench-processes-{store}-", dir=tmpdir))
    rows: list[Row] = []
    try:
        with database(store, server_url, folder) as url:
            project = make_project(folder)
            settings = rota_settings(project, url)
            client = prepare(url, project, settings)
            try:
                progress.say(f"{store}: linear processes")
                rows += bench_linear(store, url, settings, client, plan, progress)
                progress.say(f"{store}: fan-out")
                rows.append(bench_fanout(store, url, settings, client, plan, progress))
                progress.say(f"{store}: webhooks")
                rows += bench_hooks(store, url, settings, client, plan, progress)
            finally:
                client.close()
    except Exception as exc:
        row = Row("setup", store, "setup")
        failure(progress, row, exc)
        rows.append(row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


# -- output ------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{1000 * value:,.1f}"


def sec(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.2f}"


def stats_ms(values: list[float]) -> list[str]:
    return [ms(median(values)), ms(percentile(values, 95)), ms(max(values) if values else math.nan)]


def failed_cells(row: Row, width: int) -> list[str]:
    return [row.store, row.label, f"failed: {(row.error or '')[:70]}"] + [""] * (width - 3)


def linear_table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = [
        "store",
        "step work",
        "runs",
        "e2e s",
        "Σ steps s",
        "Σ code s",
        "ovh/step med ms",
        "p95 ms",
        "max ms",
        "ovh/step (code) med ms",
        "p95 ms ",
        "max ms ",
    ]
    out = []
    for r in rows:
        if r.error:
            out.append(failed_cells(r, len(header)))
            continue
        s = r.samples
        out.append(
            [
                r.store,
                r.label,
                str(len(s)),
                sec(median([x.e2e for x in s])),
                sec(median([x.store_work for x in s])),
                sec(median([x.code_work for x in s])),
                *stats_ms([x.overhead_store() for x in s]),
                *stats_ms([x.overhead_code() for x in s]),
            ]
        )
    return header, out


def fanout_table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = [
        "store",
        "process",
        "runs",
        "wall med s",
        "wall max s",
        "ideal s",
        "Σ steps s",
        "Σ code s",
        "ovh/step med ms",
        "max ms",
        "ovh/step (code) med ms",
        "steps per worker",
    ]
    out = []
    slots = FAN_WORKERS * FAN_CONCURRENCY
    for r in rows:
        if r.error:
            out.append(failed_cells(r, len(header)))
            continue
        s = r.samples
        split = Counter[str]()
        for x in s:
            split.update(x.per_worker)
        over = [x.overhead_store(slots) for x in s]
        out.append(
            [
                r.store,
                r.label,
                str(len(s)),
                sec(median([x.e2e for x in s])),
                sec(max(x.e2e for x in s)),
                sec(median(r.ideal)),
                sec(median([x.store_work for x in s])),
                sec(median([x.code_work for x in s])),
                ms(median(over)),
                ms(max(over)),
                ms(median([x.overhead_code(slots) for x in s])),
                " / ".join(str(n // len(s)) for _, n in sorted(split.items())),
            ]
        )
    return header, out


def hooks_table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = [
        "store",
        "wiring",
        "requests",
        "→ 202 med ms",
        "p95 ms",
        "max ms",
        "→ started med ms",
        "p95 ms ",
        "max ms ",
    ]
    out = []
    for r in rows:
        if r.error:
            out.append(failed_cells(r, len(header)))
            continue
        out.append([r.store, r.label, str(len(r.start)), *stats_ms(r.http), *stats_ms(r.start)])
    return header, out


def decomposition(rows: list[Row]) -> list[str]:
    """Where a process's time goes, from the store's times (medians over its runs)."""
    lines = []
    for r in rows:
        if r.error or not r.samples:
            continue
        x = r.samples
        engine = [(s.store_work - s.code_work) / s.steps for s in x]
        if r.scenario == "linear":
            handoffs = [h for sample in x for h in sample.handoffs]
            handoff = (
                f"a step's need finished -> the step claimed: median {ms(median(handoffs))} "
                f"ms, max {ms(max(handoffs))} ms"
            )
        else:
            handoff = (
                f"last of the {FAN_WIDTH} finished -> final step claimed (fan-in): median "
                f"{ms(median([s.fan_in for s in x]))} ms"
            )
        lines.append(
            f"{r.store} {r.scenario} {r.label}: start_run {ms(median([s.enqueue for s in x]))} "
            f"ms; start_run returned -> first step claimed "
            f"{ms(median([s.first_claim for s in x]))} ms; {handoff}; last step finished -> "
            f"process finished {ms(median([s.tail for s in x]))} ms; a step run's time minus "
            f"its code's time {ms(median(engine))} ms per step (claim commit, hand-over to "
            "the job's child process and back, outcome queue)"
        )
    return lines


@dataclass
class Environment:
    command: str
    started: str
    facts: dict[str, str] = field(default_factory=dict)


def environment(stores: list[str], server_url: str, tmpdir: str | None) -> Environment:
    env = Environment(
        command=" ".join(["python bench/processes.py", *sys.argv[1:]]),
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
        "versions": ", ".join(f"{p} {version(p)}" for p in ("rota", "sqlalchemy", "psycopg"))
        + f", SQLite {sqlite3.sqlite_version}",
        "rota source": source_state(),
        "load average at start": load_average(),
    }
    if "sqlite" in stores:
        env.facts["sqlite files"] = f"{tmpdir or tempfile.gettempdir()}"
    if "postgresql" in stores:
        with contextlib.suppress(Exception):
            found = server_settings(server_url, ("server_version", "synchronous_commit", "fsync"))
            env.facts["postgresql"] = (
                ", ".join(f"{k}={v}" for k, v in found.items()) + " (same machine)"
            )
    return env


def notes(plan: Plan) -> list[str]:
    slots = FAN_WORKERS * FAN_CONCURRENCY
    return [
        "peer: no peer installed (the venv's huey, procrastinate and APScheduler, used by the "
        "other benches, are task queues and a scheduler with no processes of steps; huey's "
        "linear pipelines were not measured)",
        f"workers: rota Worker in threads of this process, each with its own Store (as "
        f"separate processes would have), poll_seconds={POLL_SECONDS:g}, heartbeat and lease "
        "defaults; Python jobs run in a spawned child process per slot (spawned in a warm-up "
        "run that is not counted); SQLite WAL synchronous=FULL (default), PostgreSQL server "
        "defaults; PostgreSQL wakes workers by LISTEN/NOTIFY, SQLite workers in another "
        "Store than the enqueuer poll",
        f"linear: process of {LINEAR_STEPS} chained steps of the Python job {WORK_JOB} "
        f"(sleeps `seconds`: 0 or {STEP_SECONDS:g}); 1 worker, concurrency 1; started with "
        f"rota.services.runs.start_run from the bench's own Store; {plan.linear_repeats} runs "
        "each, one after the other; e2e = process run finished_at - time.time() before "
        "start_run; Σ steps = Σ step run (finished_at - started_at) (claim -> outcome "
        "written: includes the hand-over to the job's child process and back); Σ code = Σ "
        "the time the job's code ran, as it reports; ovh/step = (e2e - Σ steps) / "
        f"{LINEAR_STEPS}; ovh/step (code) = (e2e - Σ code) / {LINEAR_STEPS}; "
        "p95 interpolated between ranks",
        f"fan-out: root step, {FAN_WIDTH} steps needing it, a final step needing all "
        f"{FAN_WIDTH}, each {WORK_JOB} sleeping {STEP_SECONDS:g}s; {FAN_WORKERS} Worker "
        f"instances x concurrency {FAN_CONCURRENCY} = {slots} slots; wall = process "
        "finished_at - time.time() before start_run; ideal = Σ code / slots + the slot idle "
        "while root and final run alone; ovh/step = "
        f"({slots} x wall - Σ steps) / {FAN_WIDTH + 2} (slot time per step not spent in the "
        f"step's own work; the idle slot during root and final is in it, "
        f"{1000 * STEP_SECONDS * 2 * (slots - 1) / (FAN_WIDTH + 2):.1f} ms/step of it); steps "
        f"per worker = step runs each worker ran, per process run; {plan.fan_repeats} "
        "run(s), one after the other",
        f"webhooks: {plan.hooks} sequential signed (Standard Webhooks) POST /hooks/{HOOK_ID} "
        f"to the HTTP API server (rota.api.server.start) on 127.0.0.1, a hook on {WORK_JOB} (returns at once), "
        "1 worker, concurrency 1; each request waits for the previous run to end and a "
        f"random 0..{2 * POLL_SECONDS:g}s (seeded), so it lands at a random phase of the "
        "worker's poll; one warm-up request first; → 202 = time.time() before the request -> "
        "response read (new connection per request: HTTP/1.0); → started = time.time() "
        "before the request -> the run's started_at (the worker's claim), same clock; one "
        "store (rota up) = server and worker share one Store (in-process wake-up); own stores "
        "= rota serve + rota worker",
    ]


def print_report(rows: list[Row], env: Environment, plan: Plan) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 180)
    linear = [r for r in rows if r.scenario in ("linear", "setup")]
    fanout = [r for r in rows if r.scenario == "fan-out"]
    hooks = [r for r in rows if r.scenario == "webhook"]
    tables = (
        (
            f"Linear process, {LINEAR_STEPS} steps, {plan.linear_repeats} runs (1 worker x "
            f"concurrency 1, poll {POLL_SECONDS:g}s)",
            linear_table(linear),
        ),
        (
            f"Fan-out 1+{FAN_WIDTH}+1 steps, {plan.fan_repeats} run(s) ({FAN_WORKERS} Worker "
            f"threads x concurrency {FAN_CONCURRENCY}, poll {POLL_SECONDS:g}s)",
            fanout_table(fanout),
        ),
        (
            f"Webhook -> run start, {plan.hooks} sequential requests (1 worker x concurrency "
            f"1, poll {POLL_SECONDS:g}s)",
            hooks_table(hooks),
        ),
    )
    for title, (header, body) in tables:
        if not body:
            continue
        table = Table(title=title)
        for column in header:
            left = column in ("store", "step work", "process", "wiring", "steps per worker")
            table.add_column(column, justify="left" if left else "right")
        for cells in body:
            table.add_row(*cells)
        console.print(table)
    lines = [f"date: {env.started}", f"command: {env.command}"]
    lines += [f"{key}: {value}" for key, value in env.facts.items()]
    lines.append("notes:")
    lines += [f"  - {note}" for note in notes(plan)]
    lines += [f"  - {line}" for line in decomposition(linear + fanout)]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK.linear_repeats} linear runs, {QUICK.fan_repeats} fan-out, "
        f"{QUICK.hooks} webhooks (default {FULL.linear_repeats}, {FULL.fan_repeats}, "
        f"{FULL.hooks})",
    )
    parser.add_argument("--store", choices=STORES, help="only this store (default: both)")
    parser.add_argument("--tmpdir", help="folder for the SQLite files (default: the temp folder)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    stores = [args.store] if args.store else list(STORES)
    server_url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    progress = Progress(args.quiet)
    env = environment(stores, server_url, args.tmpdir)
    rows: list[Row] = []
    for store in stores:
        rows += bench_store(store, server_url, args.tmpdir, plan, progress)
    env.facts["load average (1, 5, 15 min) at start / end"] = (
        f"{env.facts.pop('load average at start', '?')} / {load_average()}"
    )
    print_report(rows, env, plan)
    failed = [r for r in rows if r.error]
    for r in failed:
        print(f"FAILED {r.store} {r.scenario} {r.label}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
