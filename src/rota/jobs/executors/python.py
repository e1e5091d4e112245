"""Python jobs, run in a long-lived child process per worker slot.

Why a child process: a timeout or an abort must be able to stop job code that never checks
``ctx.cancelled`` (a hung library call, a tight loop); killing a process is the only reliable
way in Python. The child is spawned once and reused for the slot's runs, so the cost is one
message round trip per run, not a process start. It dies with its worker (``PR_SET_PDEATHSIG``)
and never touches the database: everything it reports goes through the worker, fenced by the
run's lease.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import multiprocessing.connection
import signal
import sys
import traceback
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from rota.jobs.executors.base import (
    Attempt,
    ExecutionFailed,
    Executor,
    HardStop,
    Reporter,
    RunControl,
)
from rota.jobs.executors.fan_out import FanOut
from rota.model.errors import JobFailed, LeaseLostError, RunCancelled
from rota.model.runs import RunError

_SPAWN = multiprocessing.get_context("spawn")
POLL_SECONDS = 0.05


class PythonExecutor(Executor):
    """One per worker slot: owns at most one child process at a time."""

    def __init__(self, project: Path) -> None:
        self._project = project
        self._process: SpawnProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._cancel: Event | None = None

    def _ensure_child(self) -> tuple[multiprocessing.connection.Connection, Event]:
        if self._process is None or not self._process.is_alive() or self._conn is None:
            self._kill()
            parent, child = _SPAWN.Pipe()
            cancel = _SPAWN.Event()
            process = _SPAWN.Process(
                target=child_main,
                args=(child, cancel, str(self._project)),
                daemon=False,
                name="rota-job",
            )
            process.start()
            child.close()
            self._process, self._conn, self._cancel = process, parent, cancel
        assert self._conn is not None and self._cancel is not None
        return self._conn, self._cancel

    def execute(self, attempt: Attempt, reporter: Reporter, control: RunControl) -> Any:
        conn, cancel = self._ensure_child()
        cancel.clear()
        definition = attempt.definition
        conn.send(
            (
                "run",
                definition.id,
                definition.code_hash,
                attempt.run_id,
                attempt.attempt,
                attempt.params,
            )
        )
        fan_out = FanOut(attempt, reporter, control)
        try:
            return self._serve(conn, cancel, reporter, control, fan_out)
        except HardStop:
            self._kill()
            raise
        except RunCancelled:
            if fan_out.active:  # the child waits for an answer it will never get
                self._kill()
            raise

    def _serve(
        self,
        conn: multiprocessing.connection.Connection,
        cancel: Event,
        reporter: Reporter,
        control: RunControl,
        fan_out: FanOut,
    ) -> Any:
        while True:
            reason = control.stop_reason()
            if reason is not None:
                raise HardStop(reason)
            if control.cancel_requested and not cancel.is_set():
                cancel.set()
            try:
                ready = conn.poll(POLL_SECONDS)
                message = conn.recv() if ready else None
            except (EOFError, OSError):
                code = self._process.exitcode if self._process else None
                self._kill()
                raise ExecutionFailed(
                    RunError(
                        "WorkerChildDied",
                        f"the job's process ended unexpectedly (exit code {code})",
                    ),
                ) from None
            if message is None:
                continue
            kind = message[0]
            if kind == "log":
                reporter.log(message[1], message[2], message[3])
            elif kind == "progress":
                reporter.progress(message[1], message[2], message[3])
            elif kind == "record":
                reporter.record(message[1], message[2], message[3], message[4])
            elif kind == "info":
                reporter.info(message[1])
            elif kind == "external":
                reporter.external_call(message[1], message[2], message[3])
            elif kind == "save_state":
                try:
                    reporter.save_state(message[1])
                    conn.send(("ok",))
                except LeaseLostError as exc:
                    conn.send(("lost", str(exc)))
                    raise HardStop("lease lost") from None
            elif kind == "load_state":
                conn.send(("state", reporter.load_state()))
            elif kind == "fan_out":
                conn.send(fan_out.start(message[1]))
            elif kind == "fan_out_next":
                conn.send(fan_out.next())
            elif kind == "done":
                return message[1]
            elif kind == "cancelled":
                raise RunCancelled("run canceled")
            elif kind == "error":
                _, type_name, text, tb, retryable = message
                raise ExecutionFailed(RunError(type_name, text, tb), retryable=retryable)

    def _kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.close()
        self._process, self._conn, self._cancel = None, None, None

    def close(self) -> None:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(("exit",))
            self._process.join(2)
        self._kill()


# -- the child side ------------------------------------------------------------------------------


class _PipeChannel:
    def __init__(self, conn: multiprocessing.connection.Connection, cancel: Event) -> None:
        self._conn = conn
        self._cancel = cancel

    def send(self, message: tuple[Any, ...]) -> None:
        self._conn.send(message)

    def request(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        self._conn.send(message)
        reply: tuple[Any, ...] = self._conn.recv()
        return reply

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


class _LogStream(io.TextIOBase):
    """``print()`` in job code lands in the run's log, line by line."""

    def __init__(self, channel: _PipeChannel, level: str) -> None:
        self._channel = channel
        self._level = level
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._channel.send(("log", self._level, line, None))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._channel.send(("log", self._level, self._pending, None))
            self._pending = ""


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def child_main(conn: multiprocessing.connection.Connection, cancel: Event, project: str) -> None:
    """Load the project once, then run jobs as the worker sends them."""
    _die_with_parent()
    # Ctrl-C and SIGTERM (systemd signals the whole group) go to the worker, which decides:
    # it stops this process with SIGKILL or an "exit" message, after the shutdown grace.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from rota.jobs.project import load_project

    loaded = load_project(Path(project))
    channel = _PipeChannel(conn, cancel)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "exit":
            return
        _, job_id, code_hash, run_id, attempt, params = message
        current = loaded.definitions.get(job_id)
        if current is None or current.code_hash != code_hash:
            # The run was created from other code than this process imported: re-import.
            loaded = load_project(Path(project))
        conn.send(_run_one(loaded, channel, job_id, run_id, attempt, params))


def _run_one(
    loaded: Any,
    channel: _PipeChannel,
    job_id: str,
    run_id: int,
    attempt: int,
    params: dict[str, Any],
) -> tuple[Any, ...]:
    from rota.jobs.context import RunContext

    if job_id not in loaded.functions:
        return ("error", "UnknownJob", f"no Python job {job_id!r} in the project", None, False)
    out, err = _LogStream(channel, "INFO"), _LogStream(channel, "WARNING")
    try:
        definition = loaded.definitions[job_id]
        function = loaded.functions[job_id]
        values = definition.params.load(params)
        ctx = RunContext(
            channel, job=job_id, run_id=run_id, attempt=attempt, params=values, function=function
        )
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = function(ctx, **values)
        out.flush()
        err.flush()
        json.dumps(result)
        return ("done", result)
    except RunCancelled:
        return ("cancelled",)
    except JobFailed as exc:
        return ("error", "JobFailed", str(exc), None, exc.retryable)
    except (TypeError, ValueError) as exc:
        if "JSON serializable" in str(exc):
            return (
                "error",
                "ResultNotJSON",
                f"the job's return value is not JSON: {exc}",
                None,
                False,
            )
        return ("error", type(exc).__name__, str(exc), traceback.format_exc(), True)
    except BaseException as exc:
        return ("error", type(exc).__name__, str(exc), traceback.format_exc(), True)
