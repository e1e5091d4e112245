"""Shell jobs: an argv list run without a shell, its output streamed into the run log.

Parameters fill whole arguments only (``{date}``), so no value can inject shell syntax or split
into several arguments. The environment is an allow-list: the worker's secrets do not leak into
commands unless a job asks for them by name. The command runs in its own process group so a
stop reaches its children too: SIGTERM on cancel, SIGKILL when the grace period ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from rota.data.references import resolve_references
from rota.jobs.executors.base import Attempt, Executor, HardStop, Reporter, RunControl
from rota.jobs.yamljobs import substitute_argv
from rota.model.errors import InvalidInputError, JobFailed, RunCancelled

POLL_SECONDS = 0.05


class ShellExecutor(Executor):
    def execute(self, attempt: Attempt, reporter: Reporter, control: RunControl) -> Any:
        spec = attempt.definition.spec
        argv = substitute_argv(list(spec["command"]), attempt.params)
        env_spec = spec.get("env") or {}
        env = {k: os.environ[k] for k in env_spec.get("inherit", []) if k in os.environ}
        try:
            env.update(
                {
                    name: resolve_references(str(value), f"env.set.{name}")
                    for name, value in (env_spec.get("set") or {}).items()
                }
            )
        except InvalidInputError as exc:
            raise JobFailed(str(exc), retryable=False) from None
        env.update({"ROTA_RUN_ID": str(attempt.run_id), "ROTA_ATTEMPT": str(attempt.attempt)})
        cwd = _working_folder(attempt.project, spec.get("cwd"))
        reporter.log("INFO", f"$ {' '.join(argv)}")
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except OSError as exc:
            raise JobFailed(f"cannot start {argv[0]!r}: {exc.strerror}", retryable=False) from None
        readers = [
            threading.Thread(target=_pump, args=(process.stdout, "INFO", reporter), daemon=True),
            threading.Thread(target=_pump, args=(process.stderr, "WARNING", reporter), daemon=True),
        ]
        for reader in readers:
            reader.start()
        terminated = False
        while process.poll() is None:
            reason = control.stop_reason()
            if reason is not None:
                _signal_group(process, signal.SIGKILL)
                process.wait()
                raise HardStop(reason)
            if control.cancel_requested and not terminated:
                _signal_group(process, signal.SIGTERM)
                terminated = True
            control.changed.wait(POLL_SECONDS)
            control.changed.clear()
        for reader in readers:
            reader.join(5)
        code = process.returncode
        if terminated:
            raise RunCancelled(f"command stopped on cancel (exit code {code})")
        if code != 0:
            raise JobFailed(f"command exited with code {code}")
        return {"exit_code": code}


def _working_folder(project: Path, cwd: str | None) -> Path:
    if not cwd:
        return project
    folder = (project / cwd).resolve()
    if not folder.is_dir():
        raise JobFailed(f"working folder {cwd!r} does not exist", retryable=False)
    return folder


def _pump(stream: IO[str] | None, level: str, reporter: Reporter) -> None:
    if stream is None:
        return
    with stream:
        for line in stream:
            reporter.log(level, line.rstrip("\n"))


def _signal_group(process: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
