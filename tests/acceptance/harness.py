"""The harness of the acceptance tests: drive the real ``rota`` command as subprocesses.

A :class:`Rota` is one test's installation: a copy of examples/, its own database, short
engine timings, and the long-running processes it started (each the leader of its own process
group, so a stop or a ``kill -9`` reaches the job processes too). Tests wait for state by
polling the store with a deadline (:func:`wait_until`), never by sleeping a fixed time; what
they assert comes from the CLI's own output (``--json``) and exit codes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from rota.model.errors import RotaError
from rota.model.runs import Run
from rota.model.status import RunStatus
from rota.store import Store, open_store

ROTA = Path(sys.executable).parent / "rota"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_JOBS = {
    "archive.rebuild",
    "cleanup.nightly",
    "crm.setup",
    "fees.import",
    "health.ping",
    "members.export",
    "members.import",
    "members.lapse",
    "members.nightly",
    "rates.import",
    "reports.send",
}

TIMINGS = {
    "ROTA_HEARTBEAT_SECONDS": "0.5",
    "ROTA_LEASE_SECONDS": "3",
    "ROTA_POLL_SECONDS": "0.05",
    "ROTA_CANCEL_GRACE_SECONDS": "1",
    "ROTA_SHUTDOWN_GRACE_SECONDS": "2",
    # One slot unless a test needs more: each slot spawns its own Python job process, and the
    # suite runs two tests at once on two cores.
    "ROTA_WORKER_CONCURRENCY": "1",
}
LEASE_SECONDS = float(TIMINGS["ROTA_LEASE_SECONDS"])
COMMAND_TIMEOUT = 120.0
"""Seconds a one-shot CLI command may take before the test fails (``--wait`` included)."""
WAIT_TIMEOUT = 60.0
"""Default deadline for state a test waits for: generous, the suite runs on small machines."""

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float = WAIT_TIMEOUT,
    interval: float = 0.1,
    what: str = "the condition",
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy (and return that), or fail.

    ``describe`` says what the world looked like at the deadline, so a timeout explains itself.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = describe() if describe is not None else ""
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{detail}")
        time.sleep(interval)


def stays(
    predicate: Callable[[], bool],
    *,
    seconds: float,
    interval: float = 0.1,
    what: str = "the condition",
    describe: Callable[[], str] | None = None,
) -> None:
    """Poll ``predicate`` for ``seconds`` and fail as soon as it stops holding: "nothing
    changes" over a few lease periods, checked all along rather than once after a sleep."""
    deadline = time.monotonic() + seconds
    while True:
        if not predicate():
            detail = describe() if describe is not None else ""
            pytest.fail(f"{what} stopped holding\n{detail}")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def transitions(shown: dict[str, Any]) -> list[tuple[str | None, str]]:
    """The status history of ``rota runs show --json`` as ``(from, to)`` pairs."""
    return [(h["from"], h["to"]) for h in shown["history"]]


def words(text: str) -> str:
    """Whitespace-normalized text: rich wraps messages at 80 columns when not on a terminal."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def err_words(self) -> str:
        return words(self.err)

    def json(self) -> Any:
        try:
            return json.loads(self.out)
        except json.JSONDecodeError:
            pytest.fail(f"`rota {' '.join(self.args)}` printed no JSON:\n{self}")

    def __str__(self) -> str:
        return (
            f"$ rota {' '.join(self.args)}\nexit code {self.code}\n"
            f"--- stdout\n{self.out}\n--- stderr\n{self.err}"
        )


@dataclass
class Process:
    """A long-running ``rota worker`` or ``rota up``, leader of its own process group."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    worker_id: str | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        out = self.stdout.read_text(errors="replace") if self.stdout.exists() else ""
        err = self.stderr.read_text(errors="replace") if self.stderr.exists() else ""
        return f"--- {self.name} stdout\n{out}\n--- {self.name} stderr\n{err}"

    def signal(self, sig: signal.Signals) -> None:
        """Signal the whole process group: the worker and the job processes it started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM to the worker process alone, as ``docker stop`` or ``kill PID`` send it: the
        first one asks for a graceful stop."""
        if self.running():
            self.popen.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """``kill -9`` of the whole group: the worker and its job processes die at once."""
        self.signal(signal.SIGKILL)
        self.popen.wait()

    def wait(self, timeout: float = WAIT_TIMEOUT) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not exit within {timeout:g}s\n{self.output()}")

    def stop(self, grace: float) -> None:
        """Best-effort teardown: SIGTERM, wait, SIGKILL; then reap stragglers of the group."""
        if self.running():
            self.terminate()
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        # Job processes die with their worker; make sure of it even after a kill -9.
        self.signal(signal.SIGKILL)


@dataclass
class Rota:
    """One test's Rota installation: a project folder, a database, and the CLI to drive them."""

    project: Path
    database_url: str
    logs: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    strays: dict[int, str] = field(default_factory=dict)
    """Commands that shell jobs started in their own session (pid -> a word of their command
    line): killed at the end in case the engine failed to stop them."""
    _store: Store | None = None

    # -- the command line --------------------------------------------------------------------

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
        env.update(
            {
                "ROTA_PROJECT": str(self.project),
                "ROTA_DATABASE_URL": self.database_url,
                "PYTHONUNBUFFERED": "1",
                **TIMINGS,
                **self.extra_env,
                **(extra or {}),
            }
        )
        return env

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> Result:
        try:
            done = subprocess.run(
                [str(ROTA), *args],
                env=self.env(env),
                cwd=self.project,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"`rota {' '.join(args)}` did not end within {timeout:g}s\n{exc}")
        return Result(tuple(args), done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self(*args, **kwargs)
        assert result.code == 0, f"expected exit code 0\n{result}\n{self.process_output()}"
        return result

    def json(self, *args: str, code: int = 0, **kwargs: Any) -> Any:
        result = self(*args, "--json", **kwargs)
        assert result.code == code, f"expected exit code {code}\n{result}\n{self.process_output()}"
        return result.json()

    def show(self, run_id: int) -> dict[str, Any]:
        """``rota runs show ID --json``: the run with its attempts and status history."""
        data: dict[str, Any] = self.json("runs", "show", str(run_id))
        return data

    def add_job_file(self, name: str, text: str) -> None:
        """Save a job definition file into the project's jobs/ folder."""
        (self.project / "jobs" / name).write_text(text, encoding="utf-8")

    def start_run(self, job: str, *params: str, **kwargs: Any) -> int:
        """``rota run JOB -p ... --json`` without waiting; returns the new run's id."""
        args = [a for p in params for a in ("-p", p)]
        created = self.json("run", job, *args, **kwargs)
        assert created["status"] == "queued", created
        run_id: int = created["id"]
        return run_id

    # -- long-running processes --------------------------------------------------------------

    def spawn(self, *args: str, name: str, env: dict[str, str] | None = None) -> Process:
        number = len(self.processes) + 1
        stdout = self.logs / f"{number}-{name}.out"
        stderr = self.logs / f"{number}-{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            popen = subprocess.Popen(
                [str(ROTA), *args],
                env=self.env(env),
                cwd=self.project,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        process = Process(name, popen, stdout, stderr)
        self.processes.append(process)
        return process

    def worker(self, name: str = "worker", env: dict[str, str] | None = None) -> Process:
        """Start ``rota worker``; return once it has migrated, synced the project and started
        claiming (it says ``worker ID: concurrency N`` then)."""
        process = self.spawn("worker", name=name, env=env)
        process.worker_id = self.wait_for_output(process, r"worker (\S+): concurrency \d+")
        return process

    def wait_for_output(self, process: Process, pattern: str) -> str:
        """Wait until ``process`` prints ``pattern`` (a regex, across rich's line wrapping);
        return its first group."""

        def printed() -> str | None:
            if not process.running():
                pytest.fail(
                    f"{process.name} exited with {process.popen.returncode}\n{process.output()}"
                )
            found = re.search(pattern, words(process.stdout.read_text(errors="replace")))
            return found.group(1) if found else None

        return wait_until(
            printed, what=f"{process.name} to print {pattern!r}", describe=process.output
        )

    def process_output(self) -> str:
        return "\n".join(p.output() for p in self.processes)

    # -- the store, to wait for state --------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.database_url)
        return self._store

    def get_run(self, run_id: int) -> Run | None:
        try:
            return self.store.get_run(run_id)
        except RotaError:
            return None

    def describe(self, run_id: int) -> Callable[[], str]:
        def text() -> str:
            run = self.get_run(run_id)
            state = json.dumps(run.to_json(), indent=2, default=str) if run else "(no run)"
            try:
                attempts = [a.to_json() for a in self.store.get_attempts(run_id)]
                history = [h.to_json() for h in self.store.get_history(run_id)]
            except RotaError as exc:
                attempts, history = [], [str(exc)]
            return (
                f"run {run_id}: {state}\nattempts: {attempts}\nhistory: {history}\n"
                + self.process_output()
            )

        return text

    def wait_for_run(
        self,
        run_id: int,
        predicate: Callable[[Run], bool],
        what: str,
        timeout: float = WAIT_TIMEOUT,
    ) -> Run:
        def check() -> Run | None:
            run = self.get_run(run_id)
            return run if run is not None and predicate(run) else None

        return wait_until(
            check, timeout=timeout, what=f"run {run_id}: {what}", describe=self.describe(run_id)
        )

    def wait_for_status(self, run_id: int, *statuses: str, timeout: float = WAIT_TIMEOUT) -> Run:
        wanted = {RunStatus(s) for s in statuses}
        return self.wait_for_run(
            run_id, lambda r: r.status in wanted, f"status {' or '.join(statuses)}", timeout
        )

    def wait_for_progress(self, run_id: int, done: int, timeout: float = WAIT_TIMEOUT) -> Run:
        return self.wait_for_run(
            run_id,
            lambda r: r.status is RunStatus.RUNNING and r.progress.done >= done,
            f"running with progress.done >= {done}",
            timeout,
        )

    # -- teardown ----------------------------------------------------------------------------

    def close(self) -> None:
        grace = float(self.env()["ROTA_SHUTDOWN_GRACE_SECONDS"]) + 10
        try:
            for process in self.processes:
                process.stop(grace)
            for pid, marker in self.strays.items():
                with contextlib.suppress(OSError):
                    if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                        os.killpg(pid, signal.SIGKILL)
        finally:
            if self._store is not None:
                self._store.close()


def copy_examples(target: Path) -> Path:
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns(".rota", "__pycache__"))
    return target


MakeRota = Callable[..., Rota]
"""``make_rota(database_url=None, env=None)``: another installation on a fresh copy."""
