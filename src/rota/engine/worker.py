"""The worker: claims runs, runs them in slots, keeps their leases alive, writes outcomes.

Threads, each with one job:

* the loop hands in finished runs and claims new ones while slots are free, in one
  transaction when both are due (group commit: all outcomes that finished meanwhile);
* slot threads run one attempt at a time through the job kind's executor;
* the listener turns the store's wake-ups (PostgreSQL NOTIFY) into a wake of the loop;
* the control thread polls cancel requests, renews leases, flushes reports and reaps runs of
  dead workers.

Durability: a run's outcome is only what the finisher committed. If this process dies first,
the lease expires and the reaper (of any worker) recovers the run.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import queue
import random
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from rota.engine.notifier import Notifier
from rota.engine.parts import StoreParts
from rota.engine.reporter import StoreReporter, mask_json
from rota.jobs.checks import check_definition
from rota.jobs.executors import executor_for
from rota.jobs.executors.base import Attempt, ExecutionFailed, Executor, HardStop, RunControl
from rota.model.errors import JobFailed, LeaseLostError, NotFoundError, RotaError, RunCancelled
from rota.model.jobs import JobDefinition, JobKind
from rota.model.runs import Claim, LeaseState, Outcome, RunError, Trigger
from rota.model.status import RunStatus
from rota.net import guard
from rota.secrets.box import SecretBox, SecretKeyError, open_box
from rota.secrets.scope import SecretScope, using
from rota.settings import Settings
from rota.store.base import Store

log = logging.getLogger(__name__)
FINISH_BATCH = 500
CONTROL_TICK = 0.25
PRUNE_BATCH = 500


def _rota_version() -> str | None:
    try:
        return importlib.metadata.version("rota")
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class _Active:
    claim: Claim
    control: RunControl
    reporter: StoreReporter


class Worker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] | None = None,
        reap: bool = True,
    ) -> None:
        self.store = store
        self.settings = settings
        self.concurrency = concurrency or settings.worker_concurrency
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._clock = clock or store.now
        self._reap = reap
        self._project = Path(settings.project)
        self._claims: queue.Queue[Claim | None] = queue.Queue()
        self._outcomes: queue.Queue[Outcome] = queue.Queue()
        self._active: dict[int, _Active] = {}
        self._held: dict[int, str] = {}
        """Run id -> lease token, from claim until the outcome is committed."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        """Set when the loop has something to do: an outcome, a free slot, new runs, stop."""
        self._busy = 0
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._definitions: dict[tuple[str, int], JobDefinition] = {}
        self._box: SecretBox | None = None
        self.claimed = 0
        self._reached = time.monotonic()
        """When the database last answered (monotonic)."""
        self._leases_until: float | None = None
        """Until when (monotonic, conservatively) the last heartbeat's leases hold."""
        self._backoff = 0.0
        self.failure: str | None = None
        """Why the worker gave up (the database unreachable too long); None after a clean stop."""
        # Outgoing HTTP of this process (http and data jobs, webhooks) obeys [outgoing] allow.
        guard.configure(settings.outgoing_policy)
        self.notifier = Notifier(store, settings, box=self._secret_box, clock=self._clock)

    # -- public ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; running runs get ``shutdown_grace_seconds`` to finish."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        """Run until :meth:`stop`; then drain, release what is left, and return."""
        now = self._clock()
        self.store.register_worker(
            self.id,
            socket.gethostname(),
            os.getpid(),
            self.concurrency,
            now,
            version=_rota_version(),
        )
        slots = [
            threading.Thread(target=self._slot, name=f"rota-slot-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        helpers = [
            threading.Thread(target=self._listen, name="rota-listen", daemon=True),
            threading.Thread(target=self._control, name="rota-control", daemon=True),
            threading.Thread(  # its own thread: a slow SMTP server never delays claiming
                target=self.notifier.run_until,
                args=(self._stopped,),
                name="rota-notify",
                daemon=True,
            ),
        ]
        for thread in slots + helpers:
            thread.start()
        log.info("worker %s started (concurrency %d)", self.id, self.concurrency)
        try:
            self._loop()
        finally:
            for _ in slots:
                self._claims.put(None)
            for thread in slots:
                thread.join(15)
            self._stopped.set()
            for thread in helpers:
                thread.join(10)
            try:
                self._write_outcomes(self._drain_outcomes(), claim=0)
                self._release_leftovers()
                self.store.stop_worker(self.id, self._clock())
            except RotaError as exc:  # leases lapse; the reaper of another worker recovers
                log.error("worker %s could not hand back its runs: %s", self.id, exc)
            log.info("worker %s stopped", self.id)

    # -- the loop: hand in outcomes, take new runs -------------------------------------------

    def _loop(self) -> None:
        """One thread writes outcomes and claims, in one transaction when both are due:
        a busy worker pays one commit per batch of finished runs, not two per run."""
        grace_ends: float | None = None
        while True:
            self._wake.clear()
            self._give_up_if_unreachable()
            stopping = self._stopping.is_set()
            if stopping and grace_ends is None:
                grace_ends = time.monotonic() + self.settings.shutdown_grace_seconds
            if grace_ends is not None and time.monotonic() >= grace_ends:
                self._stop_active("shutdown")
            outcomes = self._drain_outcomes()
            with self._lock:
                free = 0 if stopping else self.concurrency - self._busy
            claims = self._write_outcomes(outcomes, claim=free)
            self._dispatch(claims)
            with self._lock:
                idle = self._busy == 0
            if stopping and idle and self._outcomes.empty():
                return
            if not claims and not outcomes:
                self._wake.wait(self._idle_wait(free))

    def _idle_wait(self, free: int) -> float:
        """Sleep until the next queued run is due, at most one poll interval."""
        wait = self.settings.poll_seconds
        if free < 1:
            return wait
        try:
            due = self.store.next_due_time()
        except RotaError:
            return wait
        if due is not None:
            wait = min(wait, max(0.001, (due - self._clock()).total_seconds()))
        return wait

    def _write_outcomes(self, outcomes: list[Outcome], *, claim: int) -> list[Claim]:
        """Write ``outcomes`` and claim up to ``claim`` runs; on a store error keep the
        outcomes for the next turn (the leases keep the runs ours meanwhile)."""
        if not outcomes and claim < 1:
            return []
        lease, now = self.settings.lease_seconds, self._clock()
        try:
            if outcomes:
                written, claims = self.store.finish_and_claim(outcomes, self.id, claim, lease, now)
            else:
                written, claims = {}, self.store.claim_runs(self.id, claim, lease, now)
        except RotaError as exc:
            # Back off (doubling, at most 5 s): a database restart is waited out, not hammered.
            self._backoff = min(5.0, max(self.settings.poll_seconds, self._backoff * 2))
            log.warning(
                "writing %d outcomes / claiming failed (retrying in %.1fs): %s",
                len(outcomes),
                self._backoff,
                exc,
            )
            for outcome in outcomes:
                self._outcomes.put(outcome)
            self._stopping.wait(self._backoff)
            return []
        self._reached, self._backoff = time.monotonic(), 0.0
        for outcome in outcomes:
            if not written.get(outcome.run_id):
                log.warning("run %d: lease lost before its outcome was written", outcome.run_id)
            self._forget(outcome.run_id)
        return claims

    def _dispatch(self, claims: list[Claim]) -> None:
        if not claims:
            return
        with self._lock:
            self._busy += len(claims)
            for claim in claims:
                self._held[claim.run_id] = claim.token
        self.claimed += len(claims)
        for claim in claims:
            self._claims.put(claim)

    def _listen(self) -> None:
        """Turn the store's wake-ups (NOTIFY, in-process enqueues) into a wake of the loop."""
        while not self._stopped.is_set():
            try:
                if self.store.wait_for_runs(1.0):
                    self._wake.set()
            except RotaError as exc:
                log.warning("waiting for runs: %s", exc)
                self._stopped.wait(1.0)

    # -- slots -------------------------------------------------------------------------------

    def _slot(self) -> None:
        executors: dict[JobKind, Executor] = {}
        try:
            while True:
                claim = self._claims.get()
                if claim is None:
                    return
                try:
                    self._execute(claim, executors)
                except Exception:
                    # A store outage or a bug: let the lease lapse so the reaper recovers it.
                    log.exception("run %d: the worker could not finish it", claim.run_id)
                    self._forget(claim.run_id)
                finally:
                    with self._lock:
                        self._busy -= 1
                    self._wake.set()
        finally:
            for executor in executors.values():
                executor.close()

    def _preflight(self, definition: JobDefinition, tenant: str) -> None:
        """A scheduled run starts only if what it needs is there (its secrets, its source,
        its target): otherwise it ends ``failed`` with the check's reason before it touches a
        record, and nobody has to read a half-done import at 3 a.m."""
        checks = check_definition(
            definition,
            self.settings,
            secret_names=lambda: {s.name for s in self.store.list_secrets(tenant)},
        )
        for check in checks:
            if check.status == "error" and check.name in RUNTIME_CHECKS:
                raise PreflightFailed(
                    check.reason,
                    RunError("PreflightFailed", f"pre-flight check {check.name}: {check.reason}"),
                )

    def _secret_box(self) -> SecretBox | None:
        """Opened once; looked for again while there is none, so a key created after the
        worker started (the first `rota secrets set`) is used without a restart. A bad key
        fails the runs that need a secret."""
        if self._box is None:
            try:
                self._box = open_box(self.settings, create=False)
            except SecretKeyError as exc:
                log.error("secret key: %s", exc)
        return self._box

    def _definition(self, claim: Claim) -> JobDefinition:
        key = (claim.job, claim.job_version)
        if key not in self._definitions:
            self._definitions[key] = self.store.get_job(claim.job, claim.job_version).definition
        return self._definitions[key]

    def _execute(self, claim: Claim, executors: dict[JobKind, Executor]) -> None:
        try:
            definition = self._definition(claim)
        except NotFoundError as exc:
            error = RunError("UnknownJob", str(exc))
            self._finish(
                Outcome(
                    run_id=claim.run_id,
                    token=claim.token,
                    status=RunStatus.FAILED,
                    reason="unknown job",
                    error=error,
                )
            )
            return
        control = RunControl(
            timeout=definition.timeout, cancel_grace=self.settings.cancel_grace_seconds
        )
        secrets = SecretScope(self.store, self._secret_box(), claim.tenant)
        reporter = StoreReporter(
            self.store, claim, self._clock, lambda: control.stop("lease lost"), secrets.mask
        )
        with self._lock:
            self._active[claim.run_id] = _Active(claim, control, reporter)
        executor = executors.get(definition.kind)
        if executor is None:
            executor = executors[definition.kind] = executor_for(definition.kind, self._project)
        attempt = Attempt(
            definition=definition,
            run_id=claim.run_id,
            attempt=claim.attempt,
            params=claim.params,
            project=self._project,
            parts=StoreParts(self.store, claim, reporter, self._clock),
        )
        outcome: Outcome | None
        try:
            with using(secrets):
                if claim.trigger in PREFLIGHTED:
                    self._preflight(definition, claim.tenant)
                result = executor.execute(attempt, reporter, control)
            outcome = self._outcome(claim, RunStatus.COMPLETED, result=result)
        except PreflightFailed as failed:
            log.warning("run %d of %s: %s", claim.run_id, claim.job, failed.error.message)
            outcome = self._outcome(
                claim, RunStatus.FAILED, reason=failed.reason, error=failed.error
            )
        except RunCancelled:
            outcome = self._outcome(claim, RunStatus.CANCELED, reason="canceled")
        except HardStop as stop:
            outcome = self._stopped_outcome(claim, definition, stop.reason, reporter)
        except LeaseLostError:
            outcome = None
            reporter.lost = True
        except JobFailed as exc:
            outcome = self._failure(
                claim, definition, RunError("JobFailed", str(exc)), exc.retryable
            )
        except ExecutionFailed as exc:
            outcome = self._failure(claim, definition, exc.error, exc.retryable)
        except Exception as exc:
            error = RunError(type(exc).__name__, str(exc), traceback.format_exc())
            outcome = self._failure(claim, definition, error, True)
        finally:
            with self._lock:
                self._active.pop(claim.run_id, None)
        if reporter.lost:
            log.warning("run %d: lease lost; its outcome is not written", claim.run_id)
        if outcome is None or reporter.lost:
            self._forget(claim.run_id)
            return
        if secrets.used:  # which versions, never the values: a rotation is traceable
            reporter.info({"secrets_used": dict(secrets.used)})
        self._finish(replace(_masked(outcome, secrets.mask), activity=reporter.drain()))

    def _outcome(self, claim: Claim, status: RunStatus, **fields: object) -> Outcome:
        return Outcome(run_id=claim.run_id, token=claim.token, status=status, **fields)  # type: ignore[arg-type]

    def _stopped_outcome(
        self, claim: Claim, definition: JobDefinition, reason: str, reporter: StoreReporter
    ) -> Outcome | None:
        if reason == "lease lost":
            reporter.lost = True
            return None
        if reason == "shutdown":
            reporter.flush()
            released = self.store.release_runs(self.id, {claim.run_id: claim.token}, self._clock())
            log.info("run %d released on shutdown (%d)", claim.run_id, released)
            self._forget(claim.run_id)
            return None
        if reason == "timeout":
            error = RunError(
                "Timeout", f"stopped after the job's timeout of {definition.timeout:g}s"
            )
            return self._outcome(claim, RunStatus.FAILED, reason="timeout", error=error)
        return self._outcome(
            claim, RunStatus.CANCELED, reason="canceled (stopped after the grace period)"
        )

    def _failure(
        self, claim: Claim, definition: JobDefinition, error: RunError, retryable: bool
    ) -> Outcome:
        if retryable and claim.attempt < claim.max_attempts:
            delay = definition.retry.delay(claim.attempt, random.Random())
            return self._outcome(
                claim,
                RunStatus.QUEUED,
                reason=f"retry {claim.attempt + 1} of {claim.max_attempts} in {delay:.1f}s",
                error=error,
                retry_at=self._clock() + timedelta(seconds=delay),
            )
        reason = "failed" if retryable or claim.max_attempts == 1 else "failed (not retryable)"
        return self._outcome(claim, RunStatus.FAILED, reason=reason, error=error)

    # -- finishing ----------------------------------------------------------------------------

    def _finish(self, outcome: Outcome) -> None:
        self._outcomes.put(outcome)
        self._wake.set()

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._held.pop(run_id, None)

    def _drain_outcomes(self) -> list[Outcome]:
        batch: list[Outcome] = []
        while len(batch) < FINISH_BATCH:
            try:
                batch.append(self._outcomes.get_nowait())
            except queue.Empty:
                break
        return batch

    # -- control -----------------------------------------------------------------------------

    def _control(self) -> None:
        last_heartbeat = last_reap = time.monotonic()
        heartbeat_every = self.settings.heartbeat_seconds
        while not self._stopped.wait(CONTROL_TICK):
            try:
                now = time.monotonic()
                if now - last_heartbeat >= heartbeat_every:
                    last_heartbeat = now
                    # Until it succeeds, the heartbeat is retried every second: the leases
                    # are running out.
                    heartbeat_every = min(self.settings.heartbeat_seconds, 1.0)
                    self._heartbeat()
                    heartbeat_every = self.settings.heartbeat_seconds
                self._control_tick()
                if self._reap and now - last_reap >= self.settings.reaper_seconds:
                    last_reap = now
                    for reaped in self.store.reap_expired(self._clock()):
                        log.warning(
                            "run %d (%s): worker lost; %s",
                            reaped.run_id,
                            reaped.job,
                            "re-queued" if reaped.requeued else "failed",
                        )
                    self._prune()
            except RotaError as exc:
                log.warning("control loop: %s", exc)
                self._stop_before_leases_expire()
            except Exception:  # a bug must not end the heartbeats of runs still running
                log.exception("control loop")
                self._stop_before_leases_expire()

    def _stop_before_leases_expire(self) -> None:
        """Fencing from this side: when the leases cannot be renewed, the runs stop before
        another worker may take them over, so a job never runs twice at once. They are
        forgotten (nothing more is written for them); the reaper recovers them."""
        until = self._leases_until
        margin = min(self.settings.heartbeat_seconds, self.settings.lease_seconds / 4)
        if until is None or time.monotonic() < until - margin:
            return
        held, active = self._snapshot()
        if not held:
            return
        log.error("database unreachable: stopping %d runs before their leases expire", len(active))
        for item in active:
            item.reporter.lost = True
            item.control.stop("lease lost")
        with self._lock:
            for run_id in held:
                self._held.pop(run_id, None)
        self._leases_until = None

    def _give_up_if_unreachable(self) -> None:
        """A worker that cannot reach the database for ``unreachable_exit_seconds`` stops,
        so that its supervisor (systemd) sees it and restarts or alerts, instead of a process
        that hangs looking alive."""
        if self.failure is not None or self._stopping.is_set():
            return
        silent = time.monotonic() - self._reached
        if silent >= self.settings.unreachable_exit_seconds:
            self.failure = f"the database did not answer for {silent:.0f}s"
            log.error("giving up: %s", self.failure)
            self._stop_before_leases_expire()
            self._stopping.set()

    def _prune(self) -> None:
        """Retention: at most one small batch per sweep, so the queue never waits for long; a
        backlog (retention just switched on) shrinks sweep by sweep, or with ``rota db prune``."""
        days = self.settings.retention_days
        if days <= 0:
            return
        pruned = self.store.prune(self._clock() - timedelta(days=days), batch=PRUNE_BATCH)
        if pruned.total:
            log.info(
                "retention: pruned %d runs (%d attempts, %d status changes, %d log lines, "
                "%d records) and %d occurrences older than %d days%s",
                pruned.runs,
                pruned.attempts,
                pruned.history,
                pruned.logs,
                pruned.records,
                pruned.occurrences,
                days,
                "; more remain" if pruned.more else "",
            )

    def _snapshot(self) -> tuple[dict[int, str], list[_Active]]:
        with self._lock:
            return dict(self._held), list(self._active.values())

    def _control_tick(self) -> None:
        _, active = self._snapshot()
        for item in active:
            item.reporter.flush_if_due()
        running = {a.claim.run_id: a.claim.token for a in active}
        if running:
            for run_id in self.store.cancel_requests(running):
                self._signal_cancel(active, run_id)

    def _heartbeat(self) -> None:
        held, active = self._snapshot()
        started = time.monotonic()
        states = self.store.extend_leases(self.id, held, self.settings.lease_seconds, self._clock())
        self._reached = started
        self._leases_until = started + self.settings.lease_seconds
        for run_id, state in states.items():
            if state is LeaseState.LOST:
                for item in active:
                    if item.claim.run_id == run_id:
                        item.control.stop("lease lost")
            elif state is LeaseState.CANCEL_REQUESTED:
                self._signal_cancel(active, run_id)

    @staticmethod
    def _signal_cancel(active: list[_Active], run_id: int) -> None:
        for item in active:
            if item.claim.run_id == run_id and not item.control.cancel_requested:
                item.reporter.log("WARNING", "cancel requested; stopping")
                item.control.request_cancel()

    # -- shutdown ----------------------------------------------------------------------------

    def _stop_active(self, reason: str) -> None:
        _, active = self._snapshot()
        for item in active:
            item.control.stop(reason)

    def _release_leftovers(self) -> None:
        """After the last outcome is written: give back runs claimed but never finished."""
        with self._lock:
            leftovers = dict(self._held)
            self._held.clear()
        if leftovers:
            self.store.release_runs(self.id, leftovers, self._clock(), interrupted=False)


PREFLIGHTED = frozenset({Trigger.SCHEDULE, Trigger.CATCH_UP})
"""Runs nobody watched start: checked before they run (a person starting one sees it fail)."""
RUNTIME_CHECKS = frozenset({"secrets", "source", "target"})
"""The checks of what must be there when a run starts (not warnings about the definition)."""


class PreflightFailed(Exception):
    def __init__(self, reason: str, error: RunError) -> None:
        super().__init__(error.message)
        self.reason = reason
        self.error = error


def _masked(outcome: Outcome, mask: Callable[[str], str]) -> Outcome:
    """The outcome with the run's secret values hidden in its error, reason and result."""
    error = outcome.error
    if error is not None:
        error = RunError(
            error.type,
            mask(error.message),
            None if error.traceback is None else mask(error.traceback),
        )
    return replace(
        outcome,
        error=error,
        reason=None if outcome.reason is None else mask(outcome.reason),
        result=mask_json(outcome.result, mask),
    )
