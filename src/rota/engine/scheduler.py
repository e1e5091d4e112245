"""The scheduler: wakes at the earliest next fire time and lets the store turn due nominal times
into runs. Any number may run against one database; the store makes each fire exactly once.

It keeps no schedule in memory, so 100,000 schedules cost it nothing while none is due, and a
pass costs what is due. A schedule that cannot be read is reported and moved on by the store;
a database error is logged and retried, never the end of the loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rota.model.errors import StoreUnavailableError
from rota.model.schedules import OccurrenceOutcome
from rota.settings import Settings
from rota.store.base import FireReport, Store

log = logging.getLogger("rota.scheduler")

BATCH = 100
"""Due schedules per transaction: short write locks, and other schedulers take the rest."""
LOOKAHEAD_SECONDS = 0.05
"""Fire this much ahead of the nominal time: the run is created early with ``due_at`` = the
nominal time and the idle worker, sleeping until the next due time, claims it on the dot.
Creating it at the nominal time would add a commit to every start."""
IDLE_RECHECK_SECONDS = 1.0
"""Longest sleep between looks at the next fire time (changes made by other processes)."""
ALERTING = frozenset(
    {
        OccurrenceOutcome.SKIPPED_MISSED,
        OccurrenceOutcome.SKIPPED_OVERLAP,
        OccurrenceOutcome.COALESCED,
    }
)


@dataclass(frozen=True)
class ScheduleAlert:
    """A schedule had nominal times that did not run as planned (or could not be read)."""

    schedule_id: str
    job: str
    outcomes: dict[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"schedule {self.schedule_id} ({self.job}) cannot fire: {self.error}"
        counts = ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes.items()))
        return f"schedule {self.schedule_id} ({self.job}): {counts}"


AlertHook = Callable[[ScheduleAlert], None]


def log_alert(alert: ScheduleAlert) -> None:
    log.warning(alert.describe())


def alert_for(report: FireReport) -> ScheduleAlert | None:
    """The alert a pass's report calls for, if any (missed, skipped, coalesced, broken)."""
    if report.error:
        return ScheduleAlert(report.schedule_id, report.job, error=report.error)
    noted = [
        (nominal, outcome) for nominal, outcome, _ in report.occurrences if outcome in ALERTING
    ]
    if not noted:
        return None
    counts = Counter(outcome.value for _, outcome in noted)
    return ScheduleAlert(
        report.schedule_id,
        report.job,
        outcomes=dict(counts),
        first=min(n for n, _ in noted),
        last=max(n for n, _ in noted),
    )


class Scheduler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        alert_hooks: list[AlertHook] | None = None,
        lookahead: float = LOOKAHEAD_SECONDS,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or store.now
        self.failure: str | None = None
        """Why the scheduler gave up (the database unreachable too long)."""
        self.alert_hooks: list[AlertHook] = [log_alert] if alert_hooks is None else alert_hooks
        self.id = f"{socket.gethostname()}:{os.getpid()}:scheduler"
        self.lookahead = timedelta(seconds=lookahead)
        self._stop = threading.Event()

    def tick(self) -> list[FireReport]:
        """Fire everything due now, in batches, until nothing is due."""
        reports: list[FireReport] = []
        while not self._stop.is_set():
            now = self.clock() + self.lookahead
            batch = self.store.fire_due_schedules(
                now, limit=BATCH, service_account=self.settings.service_account
            )
            reports.extend(batch)
            for report in batch:
                alert = alert_for(report)
                if alert is not None:
                    self._alert(alert)
            backlog = any(r.next_fire_at is not None and r.next_fire_at <= now for r in batch)
            if len(batch) < BATCH and not backlog:
                break
        return reports

    def _alert(self, alert: ScheduleAlert) -> None:
        for hook in self.alert_hooks:
            try:
                hook(alert)
            except Exception:  # a broken hook must not stop scheduling
                log.exception("alert hook %r failed", hook)

    def run(self) -> None:
        """Loop until :meth:`stop`: fire what is due, then sleep until the next fire time."""
        failures = 0
        reached = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
                upcoming = self.store.next_fire_time()
                failures, reached = 0, time.monotonic()
            except Exception as exc:  # the loop outlives any one failure; it backs off and retries
                failures += 1
                silent = time.monotonic() - reached
                if silent >= self.settings.unreachable_exit_seconds:
                    # Exit for the supervisor to see, rather than hang looking alive.
                    self.failure = f"no scheduler pass succeeded for {silent:.0f}s: {exc}"
                    log.error("giving up: %s", self.failure)
                    self._stop.set()
                    return
                delay = min(5.0, 0.25 * 2 ** min(failures, 6))
                if isinstance(exc, StoreUnavailableError):
                    log.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
                else:
                    log.exception("scheduler pass failed; retrying in %.1fs", delay)
                self._stop.wait(delay)
                continue
            delay = IDLE_RECHECK_SECONDS
            if upcoming is not None:
                ahead = upcoming - self.lookahead - self.clock()
                delay = min(delay, max(0.0, ahead.total_seconds()))
            if delay > 0:
                self.store.wait_for_schedule_change(delay)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()
