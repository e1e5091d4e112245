"""The ``Store`` interface: the only truth of Rota, spoken in domain operations.

Every implementation must pass ``tests/contract``. Guarantees every implementation gives:

* each operation is one transaction: it happens whole or not at all;
* every status change writes its ``run_status_history`` row in the same transaction and only
  follows :mod:`rota.model.status`; terminal statuses never change;
* writes for a running attempt are fenced by its lease token: a worker that lost its lease
  (reaped, canceled, re-claimed) gets :class:`LeaseLostError` and changes nothing;
* a run is claimed by at most one worker at a time, even with many workers on many machines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rota.model.access import (
    AuditEntry,
    AuditFilter,
    LoginSession,
    NewAuditEntry,
    StoredCredentials,
    Tenant,
    TokenInfo,
    User,
)
from rota.model.hooks import Hook
from rota.model.jobs import JobDefinition, StoredJob
from rota.model.metrics import MetricsSnapshot
from rota.model.notify import Notification, NotificationStatus
from rota.model.params import JsonValue
from rota.model.resources import ResourceDefinition, ResourceState
from rota.model.runs import (
    Activity,
    Attempt,
    Claim,
    LeaseState,
    LogLine,
    NewRun,
    Outcome,
    RecordResult,
    Run,
    StatusChange,
    utcnow,
)
from rota.model.schedules import (
    BusinessCalendar,
    Occurrence,
    OccurrenceOutcome,
    Schedule,
    ScheduleSpec,
)
from rota.model.secrets import StoredSecret
from rota.model.status import RunStatus
from rota.model.triggers import EventTrigger
from rota.model.workers import WorkerInfo


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    job: str
    version: int
    change: str
    """``new``, ``changed``, ``unchanged`` or ``removed``."""


@dataclass(frozen=True, kw_only=True)
class RunFilter:
    job: str | None = None
    status: RunStatus | None = None
    tenant: str | None = None
    tenants: frozenset[str] | None = None
    """Only runs of these tenants (what the asking principal may see); None: every tenant."""
    trigger: str | None = None
    since: datetime | None = None
    """Only runs created at or after this instant."""
    limit: int = 50
    before_id: int | None = None
    """Keyset paging: runs with an id below this one (newest first)."""
    parent_id: int | None = None
    """Only the runs this run started as its parts."""


@dataclass(frozen=True, kw_only=True)
class PruneResult:
    """What one :meth:`Store.prune` batch deleted, per table."""

    runs: int = 0
    attempts: int = 0
    history: int = 0
    logs: int = 0
    records: int = 0
    occurrences: int = 0
    more: bool = False
    """True when more rows were old enough than this batch took: call again."""

    @property
    def total(self) -> int:
        return (
            self.runs + self.attempts + self.history + self.logs + self.records + self.occurrences
        )


@dataclass(frozen=True, kw_only=True)
class ReapResult:
    run_id: int
    job: str
    requeued: bool
    """True: re-queued as a new attempt (idempotent); False: ended ``failed``, ``worker lost``."""


@dataclass(frozen=True, kw_only=True)
class OccurrenceFilter:
    schedule_id: str | None = None
    job: str | None = None
    outcome: OccurrenceOutcome | None = None
    limit: int = 50
    before_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class FireReport:
    """What one scheduler pass did for one schedule (for logs and the alert hook)."""

    schedule_id: str
    job: str
    occurrences: tuple[tuple[datetime, OccurrenceOutcome, int | None], ...] = ()
    """``(nominal time, outcome, run id)`` per accounted nominal time."""
    next_fire_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Group:
    name: str
    enabled: bool
    note: str | None
    changed_by: str | None
    changed_at: datetime | None
    jobs: tuple[str, ...] = ()


class Store(ABC):
    """Persistence of jobs, runs, attempts, logs, record results, job state, workers,
    schedules with their occurrences, business calendars and job groups."""

    service_account: str = "rota"
    """Whom the runs the store starts by itself (event triggers) act as; whoever opens the
    store sets it from the ``service_account`` setting."""

    def now(self) -> datetime:
        """The time every decision about runs is made by (due, leases, fires). One machine's
        clock for an embedded store; the database's clock where several machines share it, so
        that a node whose clock is off neither fires twice nor misses a fire."""
        return utcnow()

    # -- lifecycle -------------------------------------------------------------------------

    @abstractmethod
    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the data lives, without a password; shown to administrators."""

    # -- jobs ------------------------------------------------------------------------------

    @abstractmethod
    def sync_jobs(
        self,
        definitions: Sequence[JobDefinition],
        now: datetime,
        *,
        remove_missing: bool = False,
        origin: str = "project",
    ) -> list[SyncResult]:
        """Upsert definitions; a changed fingerprint gets version + 1 and a ``job_versions`` row.

        With ``remove_missing``, jobs of this ``origin`` not given are marked removed (their
        runs stay readable). A job of another origin with the same id: ConflictError.
        """

    @abstractmethod
    def remove_job(self, job_id: str, now: datetime) -> None:
        """Mark one job removed (its schedules and triggers with it; its runs stay)."""

    @abstractmethod
    def get_job(self, job_id: str, version: int | None = None) -> StoredJob:
        """The current (or given) version; :class:`NotFoundError` if unknown."""

    @abstractmethod
    def list_jobs(self, *, include_removed: bool = False) -> list[StoredJob]:
        """Jobs ordered by id."""

    # -- runs: creating and reading --------------------------------------------------------

    @abstractmethod
    def enqueue_runs(
        self,
        requests: Sequence[NewRun],
        now: datetime,
        *,
        audit: Callable[[list[Run]], Sequence[NewAuditEntry]] | None = None,
    ) -> list[Run]:
        """Create ``queued`` runs (due at ``due_at`` or now) in one transaction, in order;
        ``audit`` makes their audit entries, written in the same transaction (a client that
        retries after a lost answer must not find a run without its entry, or vice versa)."""

    @abstractmethod
    def get_run(self, run_id: int) -> Run:
        """:class:`NotFoundError` if unknown."""

    @abstractmethod
    def list_runs(self, run_filter: RunFilter) -> list[Run]:
        """Newest first."""

    @abstractmethod
    def get_attempts(self, run_id: int) -> list[Attempt]: ...

    @abstractmethod
    def get_history(self, run_id: int) -> list[StatusChange]: ...

    @abstractmethod
    def get_logs(self, run_id: int, *, after: int = 0, limit: int = 1000) -> list[LogLine]:
        """Log lines with ``seq > after``, oldest first (``seq`` is the follow cursor)."""

    @abstractmethod
    def get_records(
        self, run_id: int, *, failed_only: bool = False, after: int = 0, limit: int = 10_000
    ) -> list[RecordResult]:
        """The run's record results and those of the runs it started as its parts, in the
        order they were written (``seq`` is the paging cursor)."""

    @abstractmethod
    def count_runs(self, *, status: RunStatus | None = None) -> int: ...

    @abstractmethod
    def next_due_time(self) -> datetime | None:
        """The earliest ``due_at`` of a queued run: an idle worker sleeps until then, so a run
        queued ahead of its time (a retry, a scheduled fire) starts on time, not a poll later."""

    # -- runs: the engine's operations -----------------------------------------------------

    @abstractmethod
    def claim_runs(
        self, worker_id: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[Claim]:
        """Move up to ``limit`` due ``queued`` runs to ``running`` for this worker.

        Order: priority (highest first), then due time, then id. Each claim starts a new
        attempt with a fresh lease token. Never hands one run to two workers.
        """

    @abstractmethod
    def extend_leases(
        self, worker_id: str, tokens: Mapping[int, str], lease_seconds: float, now: datetime
    ) -> dict[int, LeaseState]:
        """Heartbeat: extend leases still held; report lost ones and cancel requests."""

    @abstractmethod
    def cancel_requests(self, tokens: Mapping[int, str]) -> set[int]:
        """Which of these held runs have a cancel request (a cheap read, polled often)."""

    @abstractmethod
    def record_activity(self, run_id: int, token: str, activity: Activity, now: datetime) -> None:
        """Append logs and record results, bump counters, set progress and info (fenced)."""

    @abstractmethod
    def finish_runs(self, outcomes: Sequence[Outcome], now: datetime) -> dict[int, bool]:
        """End attempts in one transaction (group commit), each with its last activity.

        ``COMPLETED`` clears the job's saved state. ``QUEUED`` re-queues for a retry at
        ``retry_at``. Returns run id -> False for outcomes whose lease was lost (not written).
        """

    @abstractmethod
    def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker_id: str,
        limit: int,
        lease_seconds: float,
        now: datetime,
    ) -> tuple[dict[int, bool], list[Claim]]:
        """:meth:`finish_runs` and :meth:`claim_runs` in one transaction: a busy worker pays
        one commit for handing in finished runs and taking the next ones."""

    @abstractmethod
    def release_runs(
        self, worker_id: str, tokens: Mapping[int, str], now: datetime, *, interrupted: bool = True
    ) -> int:
        """Shutdown: put held runs back to ``queued`` without charging an attempt.

        Runs with a cancel request end ``canceled``; ``interrupted`` runs (stopped mid-way) of
        non-idempotent jobs end ``failed`` (reason ``worker shutdown``) rather than run twice.
        Returns how many runs were let go."""

    @abstractmethod
    def withdraw_run(self, run_id: int) -> bool:
        """Remove a queued run no worker has claimed yet, as if it had never been created; a
        parent run takes back a part no other worker picked up. ``False`` when it was claimed
        (or ended) first."""

    @abstractmethod
    def request_cancel(self, run_id: int, actor: str | None, now: datetime) -> Run:
        """Cancel a pending/queued run at once; flag a running one for its worker.

        :class:`ConflictError` for runs already ended.
        """

    @abstractmethod
    def reap_expired(self, now: datetime, limit: int = 100) -> list[ReapResult]:
        """Recover running runs whose lease expired: re-queue idempotent ones (while
        ``max_worker_losses`` allows), end the others ``failed`` with reason ``worker lost``."""

    @abstractmethod
    def prune(self, before: datetime, *, batch: int = 500) -> PruneResult:
        """Retention, one short transaction: delete at most ``batch`` ended runs (completed,
        partial, failed, canceled) that finished before ``before``, oldest first, with their
        attempts, status history, logs and record results; and at most ``batch`` occurrences
        recorded before ``before``.

        Never deleted: a run a ``pending`` run waits for, a part whose parent has not ended, a
        run with a part that has not ended. Runs that a kept run names as ``retry_of`` are
        deleted (the link then leads nowhere); a job's saved state is never touched."""

    # -- job state (checkpoints) -----------------------------------------------------------

    @abstractmethod
    def save_state(self, run_id: int, token: str, state: JsonValue, now: datetime) -> None:
        """Persist a job's state (fenced by the saving run's lease); kept across attempts."""

    @abstractmethod
    def load_state(self, job_id: str, tenant: str) -> JsonValue:
        """The job's saved state or None."""

    # -- schedules -------------------------------------------------------------------------
    # Schedules declared in job definitions are written by ``sync_jobs`` (origin
    # ``definition``); ``put_schedule`` adds or changes others (origin ``api``).

    @abstractmethod
    def list_schedules(
        self, *, job: str | None = None, include_removed: bool = False
    ) -> list[Schedule]:
        """Schedules ordered by job and id."""

    @abstractmethod
    def get_schedule(self, schedule_id: str) -> Schedule:
        """:class:`NotFoundError` if unknown."""

    @abstractmethod
    def put_schedule(self, job_id: str, spec: ScheduleSpec, now: datetime) -> Schedule:
        """Add or replace an ``api`` schedule of a job; its next fire is computed from ``now``.

        :class:`ConflictError` when the id belongs to a schedule of a job definition."""

    @abstractmethod
    def delete_schedule(self, schedule_id: str, now: datetime) -> None:
        """Remove an ``api`` schedule (its occurrences stay readable)."""

    @abstractmethod
    def pause_schedule(
        self, schedule_id: str, paused: bool, note: str | None, actor: str | None, now: datetime
    ) -> Schedule:
        """Pause (no fires, no occurrences) or resume (next fire after ``now``: a pause is not
        downtime, so nothing is caught up)."""

    @abstractmethod
    def next_fire_time(self) -> datetime | None:
        """The earliest next fire of an active schedule: when the scheduler should wake."""

    @abstractmethod
    def fire_due_schedules(
        self, now: datetime, *, limit: int = 100, service_account: str = "rota"
    ) -> list[FireReport]:
        """Turn nominal times up to ``now`` of at most ``limit`` due schedules into runs.

        Exactly once per (schedule, nominal time), with any number of schedulers: due schedules
        are locked (PostgreSQL ``SKIP LOCKED``, SQLite's write lock) and the occurrence's unique
        key refuses a second record. Every nominal time becomes one occurrence (``ran``,
        ``skipped:*``, ``coalesced``) by the missed-run and overlap policies; runs act as
        ``service_account``. Jobs that are inactive, expired, removed or in a disabled group are
        not scheduled (no occurrence). A schedule that cannot be read gets a report with
        ``error`` and is moved past ``now``; the others still fire."""

    @abstractmethod
    def list_occurrences(self, occurrence_filter: OccurrenceFilter) -> list[Occurrence]:
        """Newest nominal time first."""

    # -- business calendars and groups -------------------------------------------------------

    @abstractmethod
    def sync_calendars(self, calendars: Sequence[BusinessCalendar], now: datetime) -> None:
        """Replace the set of business calendars (those not given are marked removed)."""

    @abstractmethod
    def list_calendars(self) -> list[BusinessCalendar]: ...

    @abstractmethod
    def set_group_enabled(
        self, name: str, enabled: bool, note: str | None, actor: str | None, now: datetime
    ) -> Group:
        """Enable or disable a group: a disabled group's jobs are not scheduled."""

    @abstractmethod
    def list_groups(self) -> list[Group]:
        """Every group named by a job definition or switched before, with its jobs."""

    # -- resources and event triggers ---------------------------------------------------------

    @abstractmethod
    def sync_resources(self, definitions: Sequence[ResourceDefinition], now: datetime) -> None:
        """Make these the configured resources (capacities, limits); waiters that now fit are
        queued."""

    @abstractmethod
    def list_resources(self) -> list[ResourceState]:
        """Every resource with its holders and its waiters (in the order they will be served)."""

    @abstractmethod
    def list_triggers(self) -> list[EventTrigger]:
        """The event triggers of the synced job definitions."""

    # -- webhooks ------------------------------------------------------------------------------

    @abstractmethod
    def create_hook(self, hook: Hook) -> Hook:
        """:class:`ConflictError` when the id is taken."""

    @abstractmethod
    def get_hook(self, hook_id: str) -> Hook: ...

    @abstractmethod
    def list_hooks(self) -> list[Hook]: ...

    @abstractmethod
    def rotate_hook_secret(
        self, hook_id: str, secret: str, previous_expires_at: datetime | None, now: datetime
    ) -> Hook:
        """Replace the secret; the old one stays valid until ``previous_expires_at`` (or is
        dropped at once when that is None)."""

    @abstractmethod
    def delete_hook(self, hook_id: str) -> None: ...

    @abstractmethod
    def deliver_hook(
        self, hook_id: str, delivery_id: str, request: NewRun, now: datetime
    ) -> tuple[Run, bool]:
        """Record a delivery and create its run in one transaction; a delivery id seen before
        answers the run it created then and ``True`` (a replay starts nothing)."""

    # -- secrets (ciphertext only: encryption happens outside the store) ---------------------

    @abstractmethod
    def put_secret(
        self, tenant: str, name: str, ciphertext: str, actor: str | None, now: datetime
    ) -> StoredSecret:
        """Create or replace; the version goes up by one on every change."""

    @abstractmethod
    def get_secret(self, tenant: str, name: str) -> StoredSecret:
        """:class:`NotFoundError` when there is no such secret."""

    @abstractmethod
    def list_secrets(self, tenant: str | None = None) -> list[StoredSecret]: ...

    @abstractmethod
    def delete_secret(self, tenant: str, name: str) -> None:
        """:class:`NotFoundError` when there is no such secret."""

    # -- workers ---------------------------------------------------------------------------

    @abstractmethod
    def register_worker(
        self,
        worker_id: str,
        hostname: str,
        pid: int,
        concurrency: int,
        now: datetime,
        *,
        version: str | None = None,
    ) -> None: ...

    @abstractmethod
    def worker_heartbeat(self, worker_id: str, now: datetime) -> None: ...

    @abstractmethod
    def stop_worker(self, worker_id: str, now: datetime) -> None: ...

    @abstractmethod
    def list_workers(
        self,
        now: datetime,
        lease_seconds: float,
        *,
        include_stopped: bool = True,
        limit: int = 200,
    ) -> list[WorkerInfo]:
        """Registered workers, newest start first, each with the ids of the runs it holds now.
        A worker not stopped whose last heartbeat is older than ``lease_seconds`` is ``dead``.
        ``include_stopped=False`` leaves out the stopped ones."""

    # -- wake-ups --------------------------------------------------------------------------

    @abstractmethod
    def wait_for_runs(self, timeout: float) -> bool:
        """Block until new runs may be claimable or ``timeout`` passes; True if woken early.

        PostgreSQL listens for a notification; SQLite polls. Callers must still claim to know.
        """

    @abstractmethod
    def wait_for_schedule_change(self, timeout: float) -> bool:
        """Block until schedules may have changed (added, resumed, synced) or ``timeout``."""

    # -- access: users, grants, tokens, sessions, tenants, audit ---------------------------

    @abstractmethod
    def create_user(
        self,
        name: str,
        password_hash: str | None,
        now: datetime,
        *,
        grants: Mapping[str, Iterable[str]] | None = None,
        service: bool = False,
    ) -> User:
        """ConflictError when the name is taken."""

    @abstractmethod
    def get_user(self, name: str) -> User: ...

    @abstractmethod
    def list_users(self) -> list[User]: ...

    @abstractmethod
    def get_credentials(self, name: str) -> StoredCredentials | None: ...

    @abstractmethod
    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Also ends every login session of the user."""

    @abstractmethod
    def set_user_disabled(self, name: str, disabled: bool) -> None: ...

    @abstractmethod
    def set_grants(self, name: str, tenant: str, roles: Iterable[str]) -> None:
        """Replace the user's roles in one tenant (``*``: every tenant)."""

    @abstractmethod
    def has_admin(self) -> bool: ...

    @abstractmethod
    def create_token(self, token: TokenInfo, digest: str) -> None: ...

    @abstractmethod
    def get_token(self, token_id: str) -> tuple[TokenInfo, str]: ...

    @abstractmethod
    def list_tokens(self, user: str | None = None) -> list[TokenInfo]: ...

    @abstractmethod
    def revoke_token(self, token_id: str, now: datetime) -> TokenInfo: ...

    @abstractmethod
    def touch_token(self, token_id: str, now: datetime) -> None: ...

    @abstractmethod
    def create_session(self, session: LoginSession) -> None: ...

    @abstractmethod
    def get_session(self, id_hash: str) -> LoginSession | None: ...

    @abstractmethod
    def touch_session(self, id_hash: str, now: datetime) -> None: ...

    @abstractmethod
    def delete_session(self, id_hash: str) -> None: ...

    @abstractmethod
    def prune_sessions(self, idle_before: datetime, created_before: datetime) -> int: ...

    @abstractmethod
    def list_tenants(self) -> list[Tenant]: ...

    @abstractmethod
    def get_tenant(self, tenant_id: str) -> Tenant: ...

    @abstractmethod
    def create_tenant(self, tenant: Tenant) -> Tenant: ...

    @abstractmethod
    def ensure_tenants(self, tenant_ids: Iterable[str], now: datetime) -> None:
        """Create the tenants not yet known; their engine-started runs act as the configured
        ``service_account`` (an empty ``Tenant.service_account``)."""

    @abstractmethod
    def append_audit(self, entries: Iterable[NewAuditEntry], now: datetime) -> None:
        """Append-only: there is no way to change or delete an entry through the store."""

    @abstractmethod
    def list_audit(self, audit_filter: AuditFilter) -> list[AuditEntry]:
        """Newest first."""

    # -- metrics ---------------------------------------------------------------------------

    @abstractmethod
    def metrics_snapshot(self, now: datetime, *, lease_seconds: float = 30.0) -> MetricsSnapshot:
        """What ``/metrics`` reports, aggregated by the database at ``now``: runs by job and
        status, durations, queue depth and age, schedule lateness, workers. Computed from the
        rows (never from one process's counters), so every process answers for all workers on
        all machines; the counts cover the runs still kept (ended runs are pruned after
        ``retention_days``). A worker silent for more than ``lease_seconds`` is ``dead``."""

    # -- notifications ---------------------------------------------------------------------

    @abstractmethod
    def enqueue_overdue_notifications(self, now: datetime) -> int:
        """Write the ``overdue`` notifications of running runs past their job's
        ``expected_runtime`` (once per run and recipient); answers how many were new."""

    @abstractmethod
    def claim_notifications(
        self, limit: int, lease_seconds: float, now: datetime
    ) -> list[Notification]:
        """Up to ``limit`` due notifications, each with its attempt counted and held for
        ``lease_seconds`` (due again after that unless its outcome is recorded)."""

    @abstractmethod
    def record_notification_attempt(
        self,
        notification_id: int,
        attempt: int,
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Delivered (no ``error``), to be tried again at ``retry_at``, or given up (an
        ``error`` without ``retry_at``). False when ``attempt`` is no longer the latest (the
        claim lapsed and another sender took it)."""

    @abstractmethod
    def list_notifications(
        self, status: NotificationStatus | None = None, limit: int = 100
    ) -> list[Notification]:
        """Newest first."""
