"""The executor contract: how a job kind runs one attempt.

An executor runs in a worker slot thread. It reports through a :class:`Reporter` (the worker
writes reports with the lease token) and watches a :class:`RunControl` for cancel requests and
hard stops (timeout, cancel grace expired, lease lost, shutdown). It returns the run's JSON
result or raises: :class:`JobFailed`, :class:`RunCancelled`, :class:`HardStop` or
:class:`ExecutionFailed`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rota.model.jobs import JobDefinition
from rota.model.params import JsonValue
from rota.model.runs import Counters, Run, RunError


class Reporter(Protocol):
    def log(self, level: str, message: str, at: float | None = None) -> None: ...

    def progress(self, done: int, total: int | None, message: str | None) -> None: ...

    def record(self, key: str, action: str, error: str | None, row: int | None = None) -> None:
        """One record's result; ``row`` is where it came from, when the job knows."""

    def records(self, results: Sequence[tuple[str, str, str | None, int | None]]) -> None:
        """Many results at once as ``(key, action, error, row)``: a data job reports a chunk
        of thousands, and one call per record was a measurable part of an import."""

    def info(self, values: dict[str, JsonValue]) -> None: ...

    def external_call(self, system: str, what: str, at: float | None = None) -> None: ...

    def save_state(self, state: JsonValue) -> None:
        """Durable before returning; raises :class:`LeaseLostError` when fenced off."""

    def load_state(self) -> JsonValue: ...


class HardStop(Exception):
    """The attempt was stopped by force; ``reason`` is ``timeout``, ``canceled``,
    ``lease lost`` or ``shutdown``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExecutionFailed(Exception):
    """The job raised; carries its error as recorded on the run."""

    def __init__(self, error: RunError, *, retryable: bool = True) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable


class RunControl:
    """Signals from the worker to a running attempt, and the deadlines that turn them into a
    hard stop. Monotonic clock: wall-clock jumps must not time a run out."""

    def __init__(self, *, timeout: float | None, cancel_grace: float) -> None:
        self.started = time.monotonic()
        self.deadline = None if timeout is None else self.started + timeout
        self.cancel_grace = cancel_grace
        self._cancel_at: float | None = None
        self._stop: str | None = None
        self._lock = threading.Lock()
        self.changed = threading.Event()
        """Set whenever a signal arrives, so waiting executors wake at once."""

    def request_cancel(self) -> None:
        with self._lock:
            if self._cancel_at is None:
                self._cancel_at = time.monotonic()
        self.changed.set()

    def stop(self, reason: str) -> None:
        with self._lock:
            self._stop = self._stop or reason
        self.changed.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_at is not None

    def stop_reason(self) -> str | None:
        """Why this attempt must end by force now, or None."""
        now = time.monotonic()
        if self._stop is not None:
            return self._stop
        if self.deadline is not None and now >= self.deadline:
            return "timeout"
        if self._cancel_at is not None and now >= self._cancel_at + self.cancel_grace:
            return "canceled"
        return None

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


class RunParts(Protocol):
    """Lets a run split its work into part runs that any worker can take (a large import on
    several machines), take back parts nobody took, and add the parts' counters to its own."""

    def start(self, params: Sequence[dict[str, JsonValue]]) -> list[int]:
        """Create one queued part run of the same job version per entry; their ids."""

    def withdraw(self, run_id: int) -> bool:
        """Take back a part no worker has claimed; ``False`` once one has."""

    def parts(self) -> list[Run]:
        """Every part this run has started (in any attempt), oldest first."""

    def cancel(self, run_id: int) -> None:
        """Cancel a part that has not ended (no error when it just did)."""

    def absorb(self, counters: Counters) -> None:
        """Add the counters of ended parts to this run's own."""


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """What an executor needs to run one attempt."""

    definition: JobDefinition
    run_id: int
    attempt: int
    params: dict[str, JsonValue]
    project: Path
    parts: RunParts | None = None
    """Present when the run may split itself (in a worker, not in a one-off test harness)."""


class Executor(ABC):
    @abstractmethod
    def execute(self, attempt: Attempt, reporter: Reporter, control: RunControl) -> Any:
        """Run the attempt to its end; see the module docstring for the outcomes."""

    def close(self) -> None:  # noqa: B027 - optional hook, most executors hold nothing
        """Release processes or connections held between attempts."""
