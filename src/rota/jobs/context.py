"""The run context handed to Python job code: ``fn(ctx, **params)``.

Job code runs in a worker's child process; every call here becomes a message to the worker,
which buffers it and writes it with the run's lease token. Calls that must be durable before
the job goes on (``save_state``) wait for the worker's answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from rota.model.errors import JobFailed, LeaseLostError, RunCancelled
from rota.model.params import JsonValue
from rota.model.runs import RECORD_ACTIONS


class Channel(Protocol):
    """How the context reaches the worker."""

    def send(self, message: tuple[Any, ...]) -> None: ...

    def request(self, message: tuple[Any, ...]) -> tuple[Any, ...]: ...

    def cancel_requested(self) -> bool: ...


class _ChannelHandler(logging.Handler):
    def __init__(self, channel: Channel) -> None:
        super().__init__(logging.DEBUG)
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            self._channel.send(("log", record.levelname, message, record.created))
        except Exception:  # a broken log line must not break the job
            self.handleError(record)


class RunContext:
    """What a job can know and report about its run."""

    def __init__(
        self,
        channel: Channel,
        *,
        job: str,
        run_id: int,
        attempt: int,
        params: Mapping[str, Any],
        function: Callable[..., Any] | None = None,
    ) -> None:
        self._channel = channel
        self._function = function
        self.job = job
        self.run_id = run_id
        self.attempt = attempt
        self.params: dict[str, Any] = dict(params)
        # One logger per process, re-pointed at each run: a logger per run id would stay in
        # logging's registry forever and grow a long-lived worker without bound.
        self.log = logging.getLogger("rota.run")
        self.log.propagate = False
        self.log.setLevel(logging.DEBUG)
        self.log.handlers = [_ChannelHandler(channel)]

    # -- reporting ---------------------------------------------------------------------------

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report progress; also a cancellation point (raises :class:`RunCancelled`)."""
        self._channel.send(("progress", int(done), None if total is None else int(total), message))
        self.check_cancelled()

    def record(
        self, key: object, action: str, error: str | None = None, row: int | None = None
    ) -> None:
        """One record's outcome: ``inserted``, ``updated``, ``deleted``, ``unchanged``,
        ``skipped``, or any action with ``error`` (counts as failed). A cancellation point."""
        if error is None and action not in RECORD_ACTIONS:
            allowed = ", ".join(sorted(RECORD_ACTIONS))
            raise ValueError(f"record action {action!r} is not one of: {allowed} (or pass error=)")
        self._channel.send(("record", str(key), action, None if error is None else str(error), row))
        self.check_cancelled()

    def save_info(self, info: Mapping[str, JsonValue] | None = None, **more: JsonValue) -> None:
        """Merge JSON values into the run's ``info`` (shown with the run)."""
        self._channel.send(("info", {**(info or {}), **more}))

    def external_call(self, system: str, what: str) -> None:
        """Note a call to an external system (answers "which systems did this run touch?")."""
        self._channel.send(("external", system, what, time.time()))

    # -- checkpoints -------------------------------------------------------------------------

    def save_state(self, state: JsonValue) -> None:
        """Persist a checkpoint before returning; kept across attempts, cleared on completion.

        Record results reported so far are written first and the checkpoint remembers the
        last of them: a resumed run drops later ones, so it counts every record once.
        """
        reply = self._channel.request(("save_state", state))
        if reply[0] != "ok":
            raise LeaseLostError(str(reply[1]) if len(reply) > 1 else "state not saved")

    def load_state(self) -> JsonValue:
        """The job's last saved state (from an earlier attempt or run), or None."""
        return self._channel.request(("load_state",))[1]

    # -- fan-out -----------------------------------------------------------------------------

    def fan_out(self, chunks: Sequence[Mapping[str, JsonValue]]) -> dict[str, JsonValue]:
        """Split the run: each chunk becomes a run of this job with the chunk as its
        parameters, which any free worker (on any machine) takes; returns when all ended.

        Chunks no other worker has taken yet are run here, one after another, so a fan-out
        never waits for a slot it holds itself. Counters and record results of every chunk
        count for this run; a chunk that failed is a failed record ``chunk N`` (so some
        failed chunks make this run ``partial``). Returns ``{"chunks", "failed", "here"}``.
        """
        reply = self._channel.request(("fan_out", [dict(c) for c in chunks]))
        if reply[0] != "ok":
            raise JobFailed(str(reply[1]), retryable=False)
        while True:
            reply = self._channel.request(("fan_out_next",))
            if reply[0] == "chunk":
                _, index, params = reply
                if self._function is None:
                    raise JobFailed("fan-out needs the job's function", retryable=False)
                try:
                    self._function(self, **params)
                except RunCancelled:
                    raise
                except Exception as exc:
                    self.record(f"chunk {index}", "failed", error=f"{type(exc).__name__}: {exc}")
            elif reply[0] == "done":
                summary: dict[str, JsonValue] = reply[1]
                return summary
            else:
                raise JobFailed(str(reply[1]), retryable=False)

    # -- cancellation ------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return self._channel.cancel_requested()

    def check_cancelled(self) -> None:
        if self._channel.cancel_requested():
            raise RunCancelled("run canceled")
