"""Buffers what a running attempt reports and writes it with the attempt's lease token.

Buffering turns a job that logs or records thousands of lines into a few transactions; the
worker flushes each buffer at least every ``FLUSH_SECONDS`` so ``rota runs logs --follow``
stays live, and the last batch travels with the run's outcome in the finishing transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from rota.model.errors import LeaseLostError, StoreUnavailableError
from rota.model.params import JsonValue
from rota.model.runs import Activity, Claim, Counters, LogLine, Progress, RecordResult, iso
from rota.store.base import Store

FLUSH_SECONDS = 0.5
FLUSH_ITEMS = 2000


def mask_json(value: JsonValue, mask: Callable[[str], str]) -> JsonValue:
    """Every string in a JSON value (keys included) passed through ``mask``."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_json(item, mask) for item in value]
    if isinstance(value, dict):
        return {mask(k): mask_json(v, mask) for k, v in value.items()}
    return value


class StoreReporter:
    """The :class:`rota.jobs.executors.base.Reporter` of one attempt."""

    def __init__(
        self,
        store: Store,
        claim: Claim,
        clock: Callable[[], datetime],
        on_lease_lost: Callable[[], None],
        mask: Callable[[str], str] = str,
    ) -> None:
        self._mask = mask
        """Hides the run's secret values in everything it reports (see rota.secrets.scope)."""
        self._store = store
        self._claim = claim
        self._clock = clock
        self._on_lease_lost = on_lease_lost
        self._lock = threading.Lock()
        self._activity = Activity()
        self._items = 0
        self._last_flush = time.monotonic()
        self.lost = False

    def _added(self) -> None:
        self._items += 1
        if self._items >= FLUSH_ITEMS:
            self.flush()

    def log(self, level: str, message: str, at: float | None = None) -> None:
        when = datetime.fromtimestamp(at, UTC) if at is not None else self._clock()
        with self._lock:
            self._activity.logs.append(
                LogLine(at=when, level=level.upper(), message=self._mask(message))
            )
        self._added()

    def progress(self, done: int, total: int | None, message: str | None) -> None:
        with self._lock:
            self._activity.progress = Progress(
                done, total, None if message is None else self._mask(message)
            )

    def record(self, key: str, action: str, error: str | None, row: int | None = None) -> None:
        with self._lock:
            self._activity.records.append(
                RecordResult(
                    key=self._mask(key),
                    action=action,
                    error=None if error is None else self._mask(error),
                    row=row,
                )
            )
        self._added()

    def records(self, results: Sequence[tuple[str, str, str | None, int | None]]) -> None:
        mask = self._mask
        made = [
            RecordResult(
                key=mask(key), action=action, error=None if error is None else mask(error), row=row
            )
            for key, action, error, row in results
        ]
        with self._lock:
            self._activity.records.extend(made)
            self._items += len(made)
        if self._items >= FLUSH_ITEMS:
            self.flush()

    def info(self, values: dict[str, JsonValue]) -> None:
        with self._lock:
            masked = mask_json(values, self._mask)
            assert isinstance(masked, dict)
            self._activity.info = {**(self._activity.info or {}), **masked}

    def external_call(self, system: str, what: str, at: float | None = None) -> None:
        when = datetime.fromtimestamp(at, UTC) if at is not None else self._clock()
        with self._lock:
            self._activity.external_calls.append(
                {"system": self._mask(system), "what": self._mask(what), "at": iso(when)}
            )

    def save_state(self, state: JsonValue) -> None:
        self.flush()
        if self.lost:
            raise LeaseLostError(f"run {self._claim.run_id}: lease lost")
        try:
            self._store.save_state(self._claim.run_id, self._claim.token, state, self._clock())
        except LeaseLostError:
            self._lease_lost()
            raise

    def load_state(self) -> JsonValue:
        return self._store.load_state(self._claim.job, self._claim.tenant)

    def absorb(self, counters: Counters) -> None:
        """Counters of ended part runs, written with the next flush or the outcome."""
        with self._lock:
            self._activity.merge(Activity(absorbed=counters))

    def drain(self) -> Activity:
        """Take what is buffered (for the finishing transaction)."""
        with self._lock:
            activity, self._activity, self._items = self._activity, Activity(), 0
        return activity

    def flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        activity = self.drain()
        if activity.empty() or self.lost:
            return
        try:
            self._store.record_activity(
                self._claim.run_id, self._claim.token, activity, self._clock()
            )
        except LeaseLostError:
            self._lease_lost()
        except StoreUnavailableError:
            # Keep the batch for the next flush; a store outage must not drop log lines.
            with self._lock:
                activity.merge(self._activity)
                self._activity = activity

    def _lease_lost(self) -> None:
        self.lost = True
        self._on_lease_lost()
