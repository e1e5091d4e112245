#!/usr/bin/env python
"""Data import: a Rota data job against sqlite-utils (SQLite) and psql (PostgreSQL).

One generated CSV of N rows x 10 columns (fixed seed) is imported into a ``members`` table with
a mapping (trim, lower, a country lookup, a ``%d.%m.%Y`` date, int and decimal types, allowed
values) and the match key ``member_no``, three times:

1. insert: the table is empty, every record is new;
2. update: a second file with the same keys and changed values in every row;
3. unchanged: the second file again; nothing may be written.

Rota runs each pass through the real command line: ``rota db upgrade`` and ``rota jobs sync``
once, then per pass a fresh ``rota worker`` process and ``rota run bench.import --wait --json``.
The time of a pass is the run's ``created_at`` to ``finished_at`` (enqueue to terminal status),
the memory the worker's peak RSS (``VmHWM``). Its counters must say inserted=N, updated=N,
unchanged=N, and the table must hold what the files say, or the row fails. Pass 1 also runs at
N/10 (fresh databases) so the table shows whether memory grows with N.

``--split K`` (default 2; 1: off) adds the rows ``rota xK``: the same passes in a project and
target of their own, the job with ``parallel: K`` and K ``rota worker`` processes (each
concurrency 1) running during each pass, so the parts run in separate processes (one worker's
slots are threads of one process). The time is the parent run's, the counters checked are the
parent's (they cover all parts), the memory the largest ``VmHWM`` of the K workers.

Peers, on the same files: ``sqlite-utils upsert --csv --pk member_no`` (no mapping) into a
SQLite file, and one ``psql`` session per pass that ``\\copy``s the file into a TEMP staging
table and applies it with ``INSERT ... SELECT <the same mapping in SQL> ON CONFLICT (member_no)
DO UPDATE ... WHERE <something changed>``. Their time is the command's wall time, their memory
the command's peak RSS.

PostgreSQL: the server named by ``ROTA_BENCH_POSTGRES_URL``; databases ``rota_bench_import_*``
are created fresh and dropped afterwards. Progress goes to stderr, the table to stdout (or one
JSON object per line with ``--json``). Linux only (``/proc``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from random import Random
from typing import Any

import psycopg
from facts import load_average, server_settings, source_state
from pgdb import libpq_url, postgres_database

DEFAULT_ROWS = 1_000_000
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_VARIABLE = "ROTA_BENCH_POSTGRES_URL"
DATABASE_PREFIX = "rota_bench_import"
TARGETS = ("sqlite", "postgresql")
SEED = 42
SMALL_DIVISOR = 10
DEFAULT_TIMEOUT = 3600.0
"""Seconds one pass may take before it is reported as failed."""
DEFAULT_SPLIT = 2
"""``--split``: the ``rota x2`` rows (parallel: 2 on two worker processes) by default."""
MAX_SPLIT = 16
"""Rota's ``parallel`` accepts 1 to 16."""

GOAL_RATE = 100_000.0
GOAL_VS_SQLITE_UTILS = 1.5
"""Rota's rate / sqlite-utils' rate, at least."""
GOAL_VS_PSQL = 1.5
"""psql's rate / Rota's rate, at most."""

BIN = Path(sys.executable).parent
ROTA = BIN / "rota"
JOB_ID = "bench.import"
TABLE = "members"
SOURCE_FILE = "members.csv"
"""The file the job reads, in the project's data folder: a hard link to the pass's file."""

COLUMNS = (
    "member_no",
    "name",
    "email",
    "country",
    "joined",
    "amount",
    "status",
    "city",
    "phone",
    "note",
)
COUNTRIES = {
    "DE": "Germany",
    "FR": "France",
    "GB": "United Kingdom",
    "US": "United States",
    "IT": "Italy",
    "ES": "Spain",
    "NL": "Netherlands",
    "AT": "Austria",
    "CH": "Switzerland",
    "PL": "Poland",
}
STATUSES = ("active", "lapsed", "pending")
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Margaret", "Edsger", "Barbara", "Donald")
FIRST += ("Frances", "John", "Radia", "Dennis", "Hedy", "Ken", "Sophie", "Linus")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Hamilton", "Dijkstra", "Liskov", "Knuth")
LAST += ("Allen", "Backus", "Perlman", "Ritchie", "Lamarr", "Thompson", "Wilson", "Torvalds")
CITIES = ("Berlin", "Paris", "London", "New York", "Rome", "Madrid", "Amsterdam", "Vienna")
CITIES += ("Zurich", "Warsaw", "Hamburg", "Lyon", "Leeds", "Boston", "Milan", "Porto")
WORDS = ("renewal", "paid", "by", "card", "transfer", "reminder", "sent", "family")
WORDS += ("discount", "student", "board", "volunteer", "moved", "newsletter", "no", "call")
EPOCH = date(1990, 1, 1)
DAYS = (date(2025, 12, 31) - EPOCH).days

JOB_YAML = """\
# The import of bench/import.py: every column mapped, the key matched.
id: {job}
kind: data
name: Import members (bench)
source: {{type: csv, path: {source}, encoding: utf-8}}
target: {{connection: target, table: {table}}}
action: upsert
match: [member_no]
duplicates: {duplicates}
{chunk}{parallel}mapping:
  member_no: {{field: member_no, type: int, required: true}}
  name: {{field: name, transform: [trim], required: true}}
  email: {{field: email, transform: [trim, lower]}}
  country: {{field: country, lookup: {lookup}}}
  joined: {{field: joined, type: date, format: "%d.%m.%Y"}}
  amount: {{field: amount, type: decimal}}
  status: {{field: status, allowed: [{statuses}]}}
  city: {{field: city}}
  phone: {{field: phone}}
  note: {{field: note}}
"""

SQLITE_TABLE = f"""
CREATE TABLE {TABLE} (
    member_no INTEGER PRIMARY KEY,
    name TEXT, email TEXT, country TEXT, joined DATE, amount NUMERIC(12, 2),
    status TEXT, city TEXT, phone TEXT, note TEXT
)"""
POSTGRES_TABLE = f"""
CREATE TABLE {TABLE} (
    member_no bigint PRIMARY KEY,
    name text, email text, country text, joined date, amount numeric(12, 2),
    status text, city text, phone text, note text
)"""

_lookup_sql = " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in COUNTRIES.items())
_values = [c for c in COLUMNS if c != "member_no"]
PSQL_SCRIPT = f"""\\set ON_ERROR_STOP on
CREATE TEMP TABLE staging ({", ".join(f"{c} text" for c in COLUMNS)}) ON COMMIT DROP;
\\copy staging FROM {{path}} WITH (FORMAT csv, HEADER true)
INSERT INTO {TABLE} ({", ".join(COLUMNS)})
SELECT member_no::bigint, trim(name), lower(trim(email)), CASE country {_lookup_sql} END,
       to_date(joined, 'DD.MM.YYYY'), amount::numeric,
       CASE WHEN status IN ({", ".join(f"'{s}'" for s in STATUSES)}) THEN status END,
       city, phone, note
FROM staging
ON CONFLICT (member_no) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _values)}
WHERE ({", ".join(f"{TABLE}.{c}" for c in _values)})
      IS DISTINCT FROM ({", ".join(f"excluded.{c}" for c in _values)});
"""
"""One psql session (``-1``: one transaction): staging, ``\\copy``, one INSERT. The mapping is
the job's in SQL; the WHERE leaves unchanged rows alone, as Rota does."""

PASSES = ("1 insert", "2 update", "3 unchanged")
EXPECTED_ACTION = {"1 insert": "inserted", "2 update": "updated", "3 unchanged": "unchanged"}


class BenchError(Exception):
    """A measurement that did not do the work it claims (the row is reported as failed)."""


def rota_system(split: int) -> str:
    """The system column of Rota's rows: ``rota``, or ``rota xK`` for the split variant."""
    return "rota" if split <= 1 else f"rota x{split}"


# -- progress ----------------------------------------------------------------------------------


class Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- the data ----------------------------------------------------------------------------------


@dataclass
class DataFile:
    path: Path
    rows: int
    amount_cents: int
    """Sum of the ``amount`` column in cents: what the table must hold after importing it."""
    note_sample: str
    """The note of the last row, to check the table holds this file's values."""


@dataclass
class DataSet:
    initial: DataFile
    update: DataFile
    small: DataFile
    """The first N/10 rows of ``initial``: pass 1 again, to see memory against N."""


def generate(folder: Path, rows: int, progress: Progress) -> DataSet:
    """``members.csv`` (N rows), ``members_update.csv`` (the same keys, every row changed in
    name, e-mail, amount, status, city and note) and ``members_small.csv`` (the first N/10)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = Random(SEED)
    small_rows = max(1, rows // SMALL_DIVISOR)
    paths = {k: folder / f"members_{k}.csv" for k in ("initial", "update", "small")}
    sums = dict.fromkeys(paths, 0)
    notes = dict.fromkeys(paths, "")
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        writers = {
            k: csv.writer(stack.enter_context(p.open("w", newline="", encoding="utf-8")))
            for k, p in paths.items()
        }
        for w in writers.values():
            w.writerow(COLUMNS)
        key = 100_000
        for i in range(rows):
            key += 1 + rng.randrange(3)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            country = rng.choice(tuple(COUNTRIES))
            joined = (EPOCH + timedelta(days=rng.randrange(DAYS))).strftime("%d.%m.%Y")
            cents = rng.randrange(100, 1_000_000)
            status = rng.choice(STATUSES)
            city = rng.choice(CITIES)
            phone = (
                f"+{rng.randrange(30, 50)} {rng.randrange(10, 99)} {rng.randrange(10**6, 10**7)}"
            )
            note = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 6)))
            pad = " " * rng.randrange(0, 3)
            row = [
                key,
                f"{pad}{first} {last} ",
                f" {first}.{last}{i}@Example.org",
                country,
                joined,
                f"{cents // 100}.{cents % 100:02d}",
                status,
                city,
                phone,
                note,
            ]
            new_cents = cents + 1 + rng.randrange(10_000)
            changed = [
                key,
                f" {first} {rng.choice(LAST)}-{last}{pad}",
                f"{first}.{last}.{i}@Example.net ",
                country,
                joined,
                f"{new_cents // 100}.{new_cents % 100:02d}",
                STATUSES[(STATUSES.index(status) + 1) % len(STATUSES)],
                rng.choice(CITIES),
                phone,
                f"{note} (v2)",
            ]
            writers["initial"].writerow(row)
            writers["update"].writerow(changed)
            sums["initial"] += cents
            sums["update"] += new_cents
            notes["initial"], notes["update"] = note, changed[-1]
            if i < small_rows:
                writers["small"].writerow(row)
                sums["small"] += cents
                notes["small"] = note
            if i and i % 200_000 == 0:
                progress.say(f"generated {i:,}/{rows:,} rows")
    progress.say(
        f"generated {rows:,} rows x {len(COLUMNS)} columns (and {small_rows:,}) in "
        f"{time.perf_counter() - started:.1f}s; {paths['initial'].stat().st_size / 2**20:.1f} MB"
    )
    counts = {"initial": rows, "update": rows, "small": small_rows}
    return DataSet(
        **{
            k: DataFile(paths[k], counts[k], sums[k], notes[k])
            for k in ("initial", "update", "small")
        }
    )


# -- results -----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Measurement:
    system: str
    target: str
    pass_name: str
    rows: int
    seconds: float = 0.0
    peak_rss_mb: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds and not self.error else 0.0

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "system": self.system,
            "target": self.target,
            "pass": self.pass_name,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.rate, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1) if self.peak_rss_mb is not None else None,
        }
        if self.error:
            row["error"] = self.error
        row.update(self.extra)
        return row


# -- processes ---------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float:
    """``VmHWM`` of a live process in MB (MiB): its peak resident memory since it started."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for process {pid}")


def run_measured(args: list[str], *, timeout: float) -> tuple[float, float, str, str, int]:
    """Run a command; (wall seconds, peak RSS MB of the command's process, stdout, stderr,
    exit code). The peak is the process's ``VmHWM``, read every 10 ms while it runs (``wait4``'s
    ``ru_maxrss`` would report this bench's own memory: the child starts as a copy of it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        peak = 0.0
        while True:
            with contextlib.suppress(OSError, BenchError):
                peak = max(peak, peak_rss_mb(popen.pid))
            try:
                popen.wait(0.01)
                break
            except subprocess.TimeoutExpired:
                if time.perf_counter() - started > timeout:
                    popen.kill()
                    popen.wait()
                    raise BenchError(
                        f"`{' '.join(args)}` did not end within {timeout:.0f}s"
                    ) from None
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return (
            seconds,
            peak,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            popen.returncode,
        )


# -- PostgreSQL --------------------------------------------------------------------------------


# -- targets: creating and checking the table --------------------------------------------------


@dataclass
class Target:
    kind: str
    """``sqlite`` or ``postgresql``."""
    url: str
    """SQLAlchemy URL (as written into rota.toml)."""
    path: Path | None = None
    """The SQLite file."""

    def create_table(self) -> None:
        if self.kind == "sqlite":
            assert self.path is not None
            with contextlib.closing(sqlite3.connect(self.path)) as db, db:
                db.execute(SQLITE_TABLE)
        else:
            with psycopg.connect(libpq_url(self.url), autocommit=True) as conn:
                conn.execute(POSTGRES_TABLE)

    def check(self, data: DataFile, mapped: bool) -> None:
        """The table must hold exactly the file's records (count, amounts, last note); when
        ``mapped``, every name trimmed, every country looked up, every date parsed."""
        countries = ", ".join(f"'{name}'" for name in COUNTRIES.values())
        if self.kind == "sqlite":
            total = f"SELECT count(*), sum(CAST(round(amount * 100) AS INTEGER)) FROM {TABLE}"
            bad = (
                f"SELECT count(*) FROM {TABLE} WHERE name <> trim(name) OR "
                f"country NOT IN ({countries}) OR joined NOT GLOB "
                "'[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]' OR email <> lower(email)"
            )
            last = f"SELECT note FROM {TABLE} ORDER BY member_no DESC LIMIT 1"
            assert self.path is not None
            with contextlib.closing(sqlite3.connect(self.path)) as db:
                count, cents = db.execute(total).fetchone()
                wrong = db.execute(bad).fetchone()[0] if mapped else 0
                note = db.execute(last).fetchone()[0]
        else:
            total = f"SELECT count(*), (sum(amount) * 100)::bigint FROM {TABLE}"
            bad = (
                f"SELECT count(*) FROM {TABLE} WHERE name <> trim(name) OR country IS NULL OR "
                f"country NOT IN ({countries}) OR joined IS NULL OR email <> lower(email) "
                "OR status IS NULL"
            )
            last = f"SELECT note FROM {TABLE} ORDER BY member_no DESC LIMIT 1"
            with psycopg.connect(libpq_url(self.url)) as conn:
                count, cents = conn.execute(total).fetchone() or (0, 0)
                wrong = (conn.execute(bad).fetchone() or (0,))[0] if mapped else 0
                note = (conn.execute(last).fetchone() or ("",))[0]
        problems = []
        if count != data.rows:
            problems.append(f"{count} rows, expected {data.rows}")
        if (cents or 0) != data.amount_cents:
            problems.append(f"sum(amount) {cents} cents, expected {data.amount_cents}")
        if wrong:
            problems.append(f"{wrong} rows not mapped (untrimmed, not looked up or no date)")
        if note != data.note_sample:
            problems.append(f"last note {note!r}, expected {data.note_sample!r}")
        if problems:
            raise BenchError(f"{data.path.name}: table check failed: {'; '.join(problems)}")


# -- Rota --------------------------------------------------------------------------------------


class RotaProject:
    """A project folder whose one data job imports into ``target``; Rota's own store is the
    default SQLite file ``.rota/rota.db`` in the project."""

    def __init__(
        self,
        folder: Path,
        target: Target,
        args: argparse.Namespace,
        progress: Progress,
        split: int = 1,
    ) -> None:
        self.project = folder
        self.target = target
        self.split = split
        """``parallel`` of the job, and the number of ``rota worker`` processes per pass."""
        self.system = rota_system(split)
        self.timeout = args.timeout
        self.progress = progress
        (folder / "jobs").mkdir(parents=True)
        (folder / "data").mkdir()
        (folder / "logs").mkdir()
        (folder / "rota.toml").write_text(
            f'[connections]\ntarget = {json.dumps(target.url)}\n\n[data]\nfolders = ["data"]\n',
            encoding="utf-8",
        )
        chunk = f"chunk_size: {args.chunk_size}\n" if args.chunk_size else ""
        parallel = f"parallel: {split}\n" if split > 1 else ""
        (folder / "jobs" / "import.yaml").write_text(
            JOB_YAML.format(
                job=JOB_ID,
                source=SOURCE_FILE,
                table=TABLE,
                duplicates=args.duplicates,
                chunk=chunk,
                parallel=parallel,
                lookup="{" + ", ".join(f"{k}: {v}" for k, v in COUNTRIES.items()) + "}",
                statuses=", ".join(STATUSES),
            ),
            encoding="utf-8",
        )
        self._workers = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
        env.update(
            {
                "ROTA_PROJECT": str(self.project),
                "ROTA_WORKER_CONCURRENCY": "1",
                "ROTA_POLL_SECONDS": "0.05",
                "ROTA_SHUTDOWN_GRACE_SECONDS": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def cli(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROTA), *args],
            env=self.env(),
            cwd=self.project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.cli(*args)
        if done.returncode != 0:
            raise BenchError(
                f"`rota {' '.join(args)}` exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def prepare(self) -> None:
        self.ok("db", "upgrade")
        self.ok("jobs", "sync")

    def use(self, data: DataFile) -> None:
        """Point the job's source file at ``data`` (a hard link: no copy, no symlink)."""
        source = self.project / "data" / SOURCE_FILE
        staging = source.with_suffix(".next")
        staging.unlink(missing_ok=True)
        try:
            os.link(data.path, staging)
        except OSError:
            shutil.copyfile(data.path, staging)
        os.replace(staging, source)

    @contextlib.contextmanager
    def worker(self) -> Any:
        """A fresh ``rota worker`` (its own process group), ready to claim; stopped after."""
        self._workers += 1
        logs = self.project / "logs"
        out_path = logs / f"worker-{self._workers}.out"
        err_path = logs / f"worker-{self._workers}.err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            popen = subprocess.Popen(
                [str(ROTA), "worker"],
                env=self.env(),
                cwd=self.project,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 120
            while not re.search(r"worker \S+: concurrency", out_path.read_text(errors="replace")):
                if popen.poll() is not None:
                    raise BenchError(
                        f"rota worker exited {popen.returncode}\n"
                        f"{out_path.read_text(errors='replace')}\n"
                        f"{err_path.read_text(errors='replace')}"
                    )
                if time.monotonic() > deadline:
                    raise BenchError("rota worker did not start within 120s")
                time.sleep(0.05)
            yield popen
        finally:
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
                try:
                    popen.wait(30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(popen.pid, signal.SIGKILL)
                    popen.wait()

    def run_pass(self, name: str, data: DataFile, label: str) -> Measurement:
        """One pass: ``split`` fresh workers, ``rota run --wait --json``, the counters checked."""
        m = Measurement(
            system=self.system, target=self.target.kind, pass_name=label, rows=data.rows
        )
        self.use(data)
        with contextlib.ExitStack() as stack:
            workers = [stack.enter_context(self.worker()) for _ in range(self.split)]
            watcher = Watcher(
                [w.pid for w in workers], self.progress, f"{self.system} {self.target.kind} {label}"
            )
            watcher.start()
            try:
                cli_started = time.perf_counter()
                done = self.cli("run", JOB_ID, "--wait", "--json", timeout=self.timeout)
                cli_s = time.perf_counter() - cli_started
            finally:
                watcher.stop()
            for worker in workers:
                if worker.poll() is not None:
                    raise BenchError(f"rota worker exited {worker.returncode} during the pass")
            peaks = [peak_rss_mb(w.pid) for w in workers]
        m.peak_rss_mb = max(peaks)
        try:
            run = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise BenchError(
                f"`rota run {JOB_ID} --wait --json` exited {done.returncode}, no JSON\n"
                f"{done.stdout}\n{done.stderr}"
            ) from None
        created = datetime.fromisoformat(run["created_at"])
        started = datetime.fromisoformat(run["started_at"]) if run["started_at"] else created
        finished = datetime.fromisoformat(run["finished_at"])
        m.seconds = (finished - created).total_seconds()
        m.extra = {
            "run_id": run["id"],
            "status": run["status"],
            "claim_s": round((started - created).total_seconds(), 3),
            "cli_s": round(cli_s, 3),
            "counters": run["counters"],
        }
        counters = run["counters"]
        expected = {"processed": data.rows, "failed": 0, EXPECTED_ACTION[name]: data.rows}
        wrong = {k: counters.get(k) for k, v in expected.items() if counters.get(k) != v}
        if run["status"] != "completed" or done.returncode != 0 or wrong:
            raise BenchError(
                f"run {run['id']} ended {run['status']} (exit {done.returncode}), counters "
                f"{counters}, expected {expected}; error: {run.get('error')}; "
                f"see `rota runs records {run['id']} --failed` in {self.project}"
            )
        if self.split > 1:
            result = run.get("result") if isinstance(run.get("result"), dict) else {}
            if result.get("parts") != self.split:
                raise BenchError(
                    f"run {run['id']} says parts={result.get('parts')!r}, expected {self.split}"
                    f" (result {result})"
                )
            m.extra.update(
                {
                    "workers": self.split,
                    "peak_rss_mb_each": [round(p, 1) for p in peaks],
                    "peak_rss_mb_sum": round(sum(peaks), 1),
                    "parts_run_by_other_workers": self.part_runs(run["id"]),
                }
            )
        self.target.check(data, mapped=True)
        return m

    def part_runs(self, parent_id: int) -> int:
        """How many part runs of ``parent_id`` another worker claimed: the parent deletes the
        queued part runs it takes back, and its own worker (one slot) is busy with the parent,
        so the part runs left were run by the other workers."""
        listed = json.loads(self.ok("runs", "list", "--job", JOB_ID, "--limit", "100", "--json"))
        runs = listed["runs"] if isinstance(listed, dict) else listed
        return sum(1 for r in runs if r.get("parent_id") == parent_id)

    def store_mb(self) -> float:
        folder = self.project / ".rota"
        return sum(p.stat().st_size for p in folder.glob("rota.db*")) / 2**20


class Watcher:
    """Progress every 10 s while a pass runs: elapsed time and the worker processes' RSS."""

    def __init__(self, pids: list[int], progress: Progress, what: str) -> None:
        self.pids = pids
        self.progress = progress
        self.what = what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()

    def start(self) -> None:
        self.progress.say(f"{self.what}: running")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(10.0):
            sizes = []
            for pid in self.pids:
                rss = "?"
                with contextlib.suppress(OSError):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            rss = f"{int(line.split()[1]) / 1024:.0f}"
                sizes.append(rss)
            elapsed = time.perf_counter() - self._started
            self.progress.say(f"{self.what}: {elapsed:.0f}s, worker RSS {' + '.join(sizes)} MB")


# -- the measurements --------------------------------------------------------------------------


def failed(system: str, target: str, label: str, rows: int, exc: Exception) -> Measurement:
    return Measurement(
        system=system, target=target, pass_name=label, rows=rows, error=str(exc).strip()
    )


def bench_rota(
    target_kind: str,
    data: DataSet,
    folder: Path,
    server_url: str,
    args: argparse.Namespace,
    progress: Progress,
    facts: dict[str, str],
    split: int = 1,
) -> list[Measurement]:
    """Rota's passes; with ``split`` > 1 the job has ``parallel: split`` and ``split`` workers
    run each pass (a project, store and target of their own)."""
    system = rota_system(split)
    variant = f"-x{split}" if split > 1 else ""
    results: list[Measurement] = []
    small_label = f"1 insert (N/{SMALL_DIVISOR})"
    runs: list[tuple[str, list[tuple[str, DataFile, str]]]] = [
        ("small", [("1 insert", data.small, small_label)]),
        (
            "full",
            [
                ("1 insert", data.initial, "1 insert"),
                ("2 update", data.update, "2 update"),
                ("3 unchanged", data.update, "3 unchanged"),
            ],
        ),
    ]
    for size, passes in runs:
        where = folder / f"rota{variant}-{target_kind}-{size}"
        database = f"rota{variant.replace('-', '_')}_{size}"
        with target_database(target_kind, where, server_url, database, args) as target:
            try:
                project = RotaProject(where / "project", target, args, progress, split)
                target.create_table()
                project.prepare()
            except Exception as exc:
                results += [
                    failed(system, target_kind, label, d.rows, exc) for _, d, label in passes
                ]
                continue
            for i, (name, file, label) in enumerate(passes):
                try:
                    m = project.run_pass(name, file, label)
                except Exception as exc:
                    m = failed(system, target_kind, label, file.rows, exc)
                    results.append(m)
                    progress.say(f"{system} {target_kind} {label}: FAILED: {m.error}")
                    # Later passes build on this one: report them as not run.
                    for _, rest, rest_label in passes[i + 1 :]:
                        results.append(
                            failed(
                                system,
                                target_kind,
                                rest_label,
                                rest.rows,
                                BenchError("not run: an earlier pass failed"),
                            )
                        )
                    break
                results.append(m)
                parts = ""
                if split > 1:
                    each = " + ".join(f"{p:.0f}" for p in m.extra["peak_rss_mb_each"])
                    parts = (
                        f" ({each} MB); {m.extra['parts_run_by_other_workers']} of "
                        f"{split - 1} part runs claimed by a worker"
                    )
                progress.say(
                    f"{system} {target_kind} {label}: {m.rows:,} rows in {m.seconds:.2f}s = "
                    f"{m.rate:,.0f}/s, worker peak RSS {m.peak_rss_mb:.0f} MB{parts}"
                )
            if size == "full":
                facts[f"{system} store after the passes ({target_kind} target)"] = (
                    f"{project.store_mb():.1f} MB (.rota/rota.db*, SQLite)"
                )
    return results


@contextlib.contextmanager
def target_database(
    kind: str, folder: Path, server_url: str, name: str, args: argparse.Namespace
) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        path = folder / "target.db"
        yield Target("sqlite", f"sqlite:///{path}", path)
        return
    with postgres_database(server_url, f"{DATABASE_PREFIX}_{name}", args.keep) as url:
        yield Target("postgresql", url)


def bench_sqlite_utils(
    data: DataSet, folder: Path, args: argparse.Namespace, progress: Progress
) -> list[Measurement]:
    binary = BIN / "sqlite-utils"
    if not binary.exists():
        found = shutil.which("sqlite-utils")
        binary = Path(found) if found else binary
    results: list[Measurement] = []
    with target_database("sqlite", folder / "sqlite-utils", "", "", args) as target:
        target.create_table()
        for name, file in zip(PASSES, (data.initial, data.update, data.update), strict=True):
            m = Measurement(system="sqlite-utils", target="sqlite", pass_name=name, rows=file.rows)
            command = [
                str(binary),
                "upsert",
                str(target.path),
                TABLE,
                str(file.path),
                "--csv",
                "--pk",
                "member_no",
                "--silent",
            ]
            progress.say(f"sqlite-utils {name}: running")
            try:
                seconds, rss, out, err, code = run_measured(command, timeout=args.timeout)
                if code != 0:
                    raise BenchError(f"`{' '.join(command)}` exited {code}\n{out}\n{err}")
                m.seconds, m.peak_rss_mb = seconds, rss
                target.check(file, mapped=False)
            except Exception as exc:
                m = failed("sqlite-utils", "sqlite", name, file.rows, exc)
                results.append(m)
                progress.say(f"sqlite-utils {name}: FAILED: {m.error}")
                break
            results.append(m)
            progress.say(
                f"sqlite-utils {name}: {m.rows:,} rows in {m.seconds:.2f}s = {m.rate:,.0f}/s"
            )
    return results


def bench_psql(
    data: DataSet, folder: Path, server_url: str, args: argparse.Namespace, progress: Progress
) -> list[Measurement]:
    binary = shutil.which("psql")
    results: list[Measurement] = []
    if binary is None:
        return [
            failed("psql", "postgresql", n, data.initial.rows, BenchError("no psql on PATH"))
            for n in PASSES
        ]
    work = folder / "psql"
    work.mkdir(parents=True, exist_ok=True)
    with target_database("postgresql", work, server_url, "psql", args) as target:
        target.create_table()
        for name, file in zip(PASSES, (data.initial, data.update, data.update), strict=True):
            m = Measurement(system="psql", target="postgresql", pass_name=name, rows=file.rows)
            script = work / f"pass{name[0]}.sql"
            script.write_text(PSQL_SCRIPT.format(path=_psql_literal(file.path)), encoding="utf-8")
            command = [binary, "-X", "-1", "-v", "ON_ERROR_STOP=1", "-d", libpq_url(target.url)]
            command += ["-f", str(script)]
            progress.say(f"psql {name}: running")
            try:
                seconds, rss, out, err, code = run_measured(command, timeout=args.timeout)
                if code != 0:
                    raise BenchError(f"psql -f {script.name} exited {code}\n{out}\n{err}")
                written = [int(x) for x in re.findall(r"^INSERT 0 (\d+)$", out, re.MULTILINE)]
                expected = 0 if name == "3 unchanged" else file.rows
                if written != [expected]:
                    raise BenchError(f"psql wrote {written} rows, expected {expected}\n{out}")
                m.seconds, m.peak_rss_mb = seconds, rss
                target.check(file, mapped=True)
            except Exception as exc:
                m = failed("psql", "postgresql", name, file.rows, exc)
                results.append(m)
                progress.say(f"psql {name}: FAILED: {m.error}")
                break
            results.append(m)
            progress.say(f"psql {name}: {m.rows:,} rows in {m.seconds:.2f}s = {m.rate:,.0f}/s")
    return results


def _psql_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


# -- the report --------------------------------------------------------------------------------


def find(results: list[Measurement], system: str, target: str, name: str) -> Measurement | None:
    for r in results:
        if (r.system, r.target, r.pass_name) == (system, target, name) and not r.error:
            return r
    return None


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def goal_lines(results: list[Measurement], targets: list[str], split: int) -> list[dict[str, Any]]:
    """Ratios and goals, one dict each: what, value, goal, ok; for ``rota`` and, when
    ``split`` > 1, for ``rota xK``."""
    lines: list[dict[str, Any]] = []
    systems = [rota_system(1)] + ([rota_system(split)] if split > 1 else [])
    for system in systems:
        lines += _goal_lines(results, targets, system)
    return lines


def _goal_lines(
    results: list[Measurement], targets: list[str], system: str
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for name in PASSES:
        rota = find(results, system, "sqlite", name)
        peer = find(results, "sqlite-utils", "sqlite", name)
        if rota and peer:
            ratio = rota.rate / peer.rate
            lines.append(
                {
                    "what": f"{system} / sqlite-utils, sqlite, pass {name}",
                    "value": round(ratio, 2),
                    "text": f"{ratio:.2f}x",
                    "goal": f">= {GOAL_VS_SQLITE_UTILS}x",
                    "ok": ratio >= GOAL_VS_SQLITE_UTILS,
                }
            )
    for name in PASSES:
        rota = find(results, system, "postgresql", name)
        peer = find(results, "psql", "postgresql", name)
        if rota and peer:
            ratio = peer.rate / rota.rate
            lines.append(
                {
                    "what": f"psql / {system}, postgresql, pass {name}",
                    "value": round(ratio, 2),
                    "text": f"{ratio:.2f}x",
                    "goal": f"<= {GOAL_VS_PSQL}x",
                    "ok": ratio <= GOAL_VS_PSQL,
                }
            )
    for target in targets:
        for name in PASSES:
            rota = find(results, system, target, name)
            if rota:
                lines.append(
                    {
                        "what": f"{system} records/s, {target}, pass {name}",
                        "value": round(rota.rate),
                        "text": f"{rota.rate:,.0f}/s",
                        "goal": f">= {GOAL_RATE:,.0f}/s",
                        "ok": rota.rate >= GOAL_RATE,
                    }
                )
        small = find(results, system, target, f"1 insert (N/{SMALL_DIVISOR})")
        full = find(results, system, target, "1 insert")
        if small and full and small.peak_rss_mb and full.peak_rss_mb:
            grow = full.peak_rss_mb - small.peak_rss_mb
            per = grow / max(1, full.rows - small.rows) * 100_000
            whose = "worker" if system == rota_system(1) else "largest worker"
            lines.append(
                {
                    "what": (
                        f"{system} {whose} peak RSS, {target}, pass 1 at N/{SMALL_DIVISOR} -> N"
                    ),
                    "value": round(grow, 1),
                    "text": (
                        f"{small.peak_rss_mb:.0f} -> {full.peak_rss_mb:.0f} MB "
                        f"({grow:+.1f} MB, {per:+.1f} MB per 100k rows)"
                    ),
                    "goal": "flat",
                    "ok": full.peak_rss_mb <= small.peak_rss_mb * 1.10,
                }
            )
    return lines


def environment(args: argparse.Namespace, targets: list[str], server_url: str) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    facts = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python bench/import.py " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": ", ".join(
            f"{p} {_version(p)}" for p in ("rota", "sqlite-utils", "sqlalchemy", "psycopg")
        )
        + f", SQLite {sqlite3.sqlite_version}",
        "rota source": source_state(),
        "load average at start": load_average(),
    }
    if "postgresql" in targets:
        psql = shutil.which("psql")
        if psql:
            done = subprocess.run([psql, "--version"], capture_output=True, text=True, check=False)
            facts["psql"] = done.stdout.strip()
        pg = server_settings(
            server_url,
            ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_wal_size"),
        )
        facts["postgresql server"] = ", ".join(f"{k}={v}" for k, v in pg.items())
    return facts


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def notes(args: argparse.Namespace, targets: list[str]) -> list[str]:
    found = [
        "rota: the real CLI; `rota db upgrade` and `rota jobs sync` once per project, then per "
        "pass a fresh `rota worker` (concurrency 1, poll 0.05s) and `rota run bench.import "
        "--wait --json`; seconds = the run's created_at -> finished_at (enqueue to terminal "
        "status; the CLI's own start-up is not in it, `cli_s` in --json is); peak RSS = the "
        "worker's VmHWM (the target database's server process not included); Rota's own store "
        "is SQLite (.rota/rota.db in the project, synchronous=FULL) for both targets and gets a "
        "record result for every record",
        f"rota job: action upsert, match [member_no], duplicates {args.duplicates}, chunk_size "
        f"{args.chunk_size or 'default (5000)'}; mapping: trim (name), trim+lower (email), "
        "lookup of 10 country codes, date %d.%m.%Y, int, decimal, allowed values (status)",
        f"pass 1 at N/{SMALL_DIVISOR}: fresh target and fresh Rota store, to compare the "
        "worker's peak RSS with pass 1 at N (goal 'flat': at most 10 % higher)",
        "every pass is checked: Rota's counters (inserted / updated / unchanged = N, failed 0), "
        "and the table (row count, sum of amounts, the last row's note, and for the mapped "
        "systems: names trimmed, countries looked up, dates parsed)",
    ]
    if args.split > 1:
        k = args.split
        found.append(
            f"rota x{k}: the same job with `parallel: {k}` in a project, store and target of "
            f"its own (the target starts empty), and {k} `rota worker` processes (each "
            f"concurrency 1) running during every pass, on this {os.cpu_count()}-core "
            "machine: the parent run does part 1 and parts 2.. go to the other workers (a "
            "worker's slots are threads of one process, so only separate processes use more "
            "than one core); seconds = the parent run's created_at -> finished_at; the "
            "counters checked are the parent's (they cover all parts); peak RSS = the largest "
            f"VmHWM of the {k} workers (--json: `peak_rss_mb_each`, `peak_rss_mb_sum`, and "
            "`parts_run_by_other_workers`: part runs a worker claimed, not taken back by the "
            "parent); every part reads the whole file"
        )
    if "sqlite" in targets:
        found.append(
            "sqlite-utils: `sqlite-utils upsert DB members FILE --csv --pk member_no --silent` "
            "(sqlite-utils 4 has no `insert --upsert`; `upsert` is that command), default type "
            "detection; NO mapping: it stores the file's text as it is (untrimmed names, "
            "country codes, dd.mm.yyyy dates) into the same table; it writes every row on pass "
            "3; seconds and peak RSS are the command's (process start-up included)"
        )
    if "postgresql" in targets:
        found.append(
            "psql: one session per pass (`psql -X -1 -v ON_ERROR_STOP=1 -f`): CREATE TEMP "
            "TABLE staging (10 text columns), `\\copy staging FROM file CSV HEADER`, INSERT INTO "
            "members SELECT trim(name), lower(trim(email)), CASE country lookup, to_date(joined, "
            "'DD.MM.YYYY'), amount::numeric, status check FROM staging ON CONFLICT (member_no) "
            "DO UPDATE ... WHERE (columns) IS DISTINCT FROM (excluded) -- unchanged rows are not "
            "written; seconds = the command's wall time; peak RSS = the psql client only (the "
            "server backend does the work)"
        )
    found.append(
        "targets: SQLite files in journal_mode=DELETE (the driver's defaults); PostgreSQL "
        "server defaults, a fresh database per system"
    )
    return found


TITLE = "Import of N={n:,} rows x 10 columns (seed {seed})"
HEADER = ["system", "target", "pass", "rows", "seconds", "records/s", "peak RSS MB"]
LEFT = ("system", "target", "pass", "ratio or goal", "value")


def table_rows(results: list[Measurement]) -> list[list[str]]:
    rows = []
    for r in results:
        if r.error:
            first = r.error.splitlines()[0] if r.error else ""
            rows.append([r.system, r.target, r.pass_name, f"{r.rows:,}", "failed", first[:70], ""])
            continue
        rows.append(
            [
                r.system,
                r.target,
                r.pass_name,
                f"{r.rows:,}",
                f"{r.seconds:.2f}",
                f"{r.rate:,.0f}",
                f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-",
            ]
        )
    return rows


def print_report(
    results: list[Measurement],
    goals: list[dict[str, Any]],
    facts: dict[str, str],
    args: argparse.Namespace,
    targets: list[str],
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 120)
    table = Table(
        title=TITLE.format(n=args.rows, seed=SEED)
        + "; Rota's store: SQLite (.rota/rota.db) for both targets"
    )
    for column in HEADER:
        table.add_column(column, justify="left" if column in LEFT else "right")
    for row in table_rows(results):
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    if goals:
        ratios = Table(title="Ratios and goals")
        for column in ("ratio or goal", "value", "goal", ""):
            ratios.add_column(column, justify="left" if column in LEFT else "right")
        for g in goals:
            ratios.add_row(escape(g["what"]), g["text"], g["goal"], verdict(g["ok"]))
        console.print(ratios)
    for key, value in facts.items():
        console.print(f"{key}: {value}", highlight=False, markup=False, soft_wrap=True)
    console.print("notes:", highlight=False)
    for note in notes(args, targets):
        console.print(f"  - {note}", highlight=False, markup=False, soft_wrap=True)


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help=f"rows of the file ({DEFAULT_ROWS:,})"
    )
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help="comma-separated: sqlite, postgresql (default: both)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line, no table")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary folder (projects, files, logs) and the PostgreSQL databases",
    )
    parser.add_argument(
        "--duplicates",
        choices=("reject", "last_wins"),
        default="reject",
        help="the job's duplicates: (default reject, Rota's default)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="the job's chunk_size (default: Rota's)"
    )
    parser.add_argument("--no-peers", action="store_true", help="Rota only: skip the peers")
    parser.add_argument(
        "--split",
        type=int,
        default=DEFAULT_SPLIT,
        metavar="K",
        help=(
            f"also measure 'rota xK': the job with parallel: K and K worker processes "
            f"(default {DEFAULT_SPLIT}; 1: off)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds one pass may take ({DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument("--tmpdir", help="where the temporary folder goes (default: the system's)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.rows < SMALL_DIVISOR:
        parser.error(f"--rows must be at least {SMALL_DIVISOR}")
    if not 1 <= args.split <= MAX_SPLIT:
        parser.error(f"--split must be 1 to {MAX_SPLIT}")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        parser.error(f"--targets: one or more of {', '.join(TARGETS)}")
    args.target_list = targets
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets: list[str] = args.target_list
    progress = Progress(args.quiet)
    server_url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    if not ROTA.exists():
        print(f"no rota command next to {sys.executable}", file=sys.stderr)
        return 2
    facts = environment(args, targets, server_url)
    folder = Path(tempfile.mkdtemp(prefix="rota-bench-import-", dir=args.tmpdir))
    results: list[Measurement] = []
    try:
        data = generate(folder / "files", args.rows, progress)
        for target in targets:
            results += bench_rota(target, data, folder, server_url, args, progress, facts)
            if args.split > 1:
                results += bench_rota(
                    target, data, folder, server_url, args, progress, facts, args.split
                )
            if args.no_peers:
                continue
            if target == "sqlite":
                results += bench_sqlite_utils(data, folder, args, progress)
            else:
                results += bench_psql(data, folder, server_url, args, progress)
    finally:
        if args.keep:
            progress.say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    facts["load average (1, 5, 15 min) at start / end"] = (
        f"{facts.pop('load average at start', '?')} / {load_average()}"
    )
    goals = goal_lines(results, targets, args.split)
    if args.json:
        for r in results:
            print(json.dumps(r.to_json()), flush=True)
        print(json.dumps({"goals": goals, "environment": facts}), flush=True)
    else:
        print_report(results, goals, facts, args, targets)
    bad = [r for r in results if r.error]
    for r in bad:
        print(f"FAILED {r.system} {r.target} {r.pass_name}: {r.error}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
