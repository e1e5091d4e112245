"""The worker's side of ``ctx.fan_out``: chunks of one run become part runs that any worker
takes; the chunks nobody has taken are handed back to the run itself, one at a time, so that
a run waiting for its chunks never holds the only slot they could run in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rota.jobs.executors.base import Attempt, Reporter, RunControl
from rota.jobs.executors.data_parts import end_parts, wait_for_parts
from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.runs import utcnow
from rota.model.status import RunStatus

MAX_CHUNKS = 5_000


class FanOut:
    def __init__(self, attempt: Attempt, reporter: Reporter, control: RunControl) -> None:
        self._attempt = attempt
        self._reporter = reporter
        self._control = control
        self._waiting: dict[int, int] = {}
        """part run id -> chunk index (1-based)."""
        self._chunks: dict[int, dict[str, JsonValue]] = {}
        self._here = 0
        self.active = False

    def start(self, chunks: Sequence[dict[str, Any]]) -> tuple[Any, ...]:
        parts = self._attempt.parts
        if parts is None:
            return ("error", "fan-out needs a worker (it splits the run into runs)")
        if self.active:
            return ("error", "one fan-out at a time")
        if not 1 <= len(chunks) <= MAX_CHUNKS:
            return ("error", f"fan out into 1 to {MAX_CHUNKS} chunks, not {len(chunks)}")
        schema = self._attempt.definition.params
        now = utcnow()
        try:
            values = [schema.validate(chunk, now=now) for chunk in chunks]
        except InvalidInputError as exc:
            return ("error", f"chunk parameters: {exc}")
        # A retry's fan-out starts afresh: the previous attempt's chunks end first, so no two
        # attempts work on one chunk at once.
        earlier = [p.id for p in parts.parts() if not p.status.terminal]
        end_parts(parts, self._control, earlier)
        ids = parts.start(values)
        self._waiting = {run_id: n for n, run_id in enumerate(ids, 1)}
        self._chunks = dict(zip(ids, values, strict=True))
        self._here = 0
        self.active = True
        return ("ok", len(ids))

    def next(self) -> tuple[Any, ...]:
        """The next chunk to run here, or — when every chunk is taken — the summary once all
        have ended."""
        parts = self._attempt.parts
        if parts is None or not self.active:
            return ("error", "no fan-out started")
        for run_id, index in list(self._waiting.items()):
            if parts.withdraw(run_id):
                del self._waiting[run_id]
                self._here += 1
                return ("chunk", index, self._chunks[run_id])
        ended = wait_for_parts(parts, self._control, self._reporter, dict(self._waiting))
        counters = None
        failed = 0
        for run in ended:
            counters = run.counters if counters is None else counters + run.counters
            if run.status in (RunStatus.FAILED, RunStatus.CANCELED):
                failed += 1
                why = run.error.message if run.error else run.reason or run.status.value
                index = self._waiting[run.id]
                self._reporter.record(f"chunk {index}", "failed", f"run {run.id}: {why}", None)
        if counters is not None:
            parts.absorb(counters)
        self.active = False
        summary: dict[str, JsonValue] = {
            "chunks": len(ended) + self._here,
            "failed": failed,
            "here": self._here,
        }
        return ("done", summary)
