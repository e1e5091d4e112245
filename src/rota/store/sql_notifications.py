"""Notifications in the SQL store: the outbox written with the events, and its delivery queue.

Rows are written in the transaction that records the event (a run's end, a schedule time
missed or skipped), or by the overdue sweep; a unique key per (subject, event, channel,
target) makes each one once, whoever writes it and however often. Senders claim due rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL) by pushing their ``next_attempt_at`` one lease
ahead, send outside any transaction, and record the outcome; a sender that dies leaves the
row due again when its lease ends (delivery is at least once; the webhook id and the e-mail
Message-ID stay the same, so receivers can drop a duplicate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from rota.model.jobs import JobDefinition
from rota.model.notify import (
    Channel,
    Notification,
    NotificationStatus,
    NotifyEvent,
    NotifyRule,
    recipients,
)
from rota.model.params import JsonValue
from rota.model.runs import COUNTER_NAMES
from rota.model.schedules import OccurrenceOutcome
from rota.model.status import RunStatus
from rota.store import schema as t
from rota.store.sql_internals import SqlInternals

RUN_EVENTS = {
    RunStatus.COMPLETED: NotifyEvent.COMPLETED,
    RunStatus.PARTIAL: NotifyEvent.PARTIAL,
    RunStatus.FAILED: NotifyEvent.FAILED,
    RunStatus.CANCELED: NotifyEvent.CANCELED,
}
OCCURRENCE_EVENTS = {
    OccurrenceOutcome.SKIPPED_MISSED.value: NotifyEvent.MISSED,
    OccurrenceOutcome.SKIPPED_OVERLAP.value: NotifyEvent.SKIPPED,
    OccurrenceOutcome.SKIPPED_BLACKOUT.value: NotifyEvent.SKIPPED,
}
PENDING = NotificationStatus.PENDING.value
MAX_ERROR = 2000
MAX_MESSAGE = 1000
_n = t.notifications


class SqlNotificationOps(SqlInternals):
    if TYPE_CHECKING:
        _definitions: dict[str, JobDefinition]

        def _parsed(self, fingerprint: str, body: dict[str, Any]) -> JobDefinition: ...

    # -- writing the outbox (inside the event's transaction) ---------------------------------

    def _job_rules_in(
        self, conn: Connection, job_id: str
    ) -> tuple[JobDefinition | None, tuple[NotifyRule, ...]]:
        """The current definition of ``job_id`` and its rules: an administrator who adds a
        rule wants to hear of runs that end from now on, whatever version they started as."""
        jobs = t.jobs
        fingerprint = conn.execute(
            sa.select(jobs.c.fingerprint).where(jobs.c.id == job_id)
        ).scalar_one_or_none()
        if fingerprint is None:
            return None, ()
        # Every run's end asks: the parsed definition is cached by its fingerprint, so the
        # common case reads one short column and no JSON.
        definition = self._definitions.get(fingerprint)
        if definition is None:
            body = conn.execute(
                sa.select(jobs.c.definition).where(jobs.c.id == job_id)
            ).scalar_one()
            definition = self._parsed(fingerprint, body)
        return definition, definition.notify

    def _notify_ended_in(
        self, conn: Connection, run_id: int, status: RunStatus, now: datetime
    ) -> None:
        """Outbox rows for a run that just ended with ``status`` (called by ``_ended_in``)."""
        event = RUN_EVENTS.get(status)
        if event is None:
            return
        r = t.runs
        job_id = conn.execute(sa.select(r.c.job_id).where(r.c.id == run_id)).scalar_one()
        definition, rules = self._job_rules_in(conn, job_id)
        if definition is None or not rules:
            return
        targets = recipients(rules, event)
        if targets:
            run = conn.execute(sa.select(r).where(r.c.id == run_id)).one()
            payload = _run_payload(event, definition, run._mapping, now)
            self._add_notifications_in(
                conn, f"run:{run_id}", event, targets, definition, run_id, payload, now
            )

    def _notify_occurrences_in(
        self,
        conn: Connection,
        definition: JobDefinition,
        records: Sequence[Mapping[str, Any]],
        now: datetime,
    ) -> None:
        """Outbox rows for schedule times missed or skipped (called where occurrences are
        written, with the rows it wrote)."""
        if not definition.notify:
            return
        for record in records:
            event = OCCURRENCE_EVENTS.get(str(record["outcome"]))
            if event is None:
                continue
            targets = recipients(definition.notify, event)
            if not targets:
                continue
            nominal: datetime = record["nominal_time"]
            schedule = str(record["schedule_id"])
            payload: dict[str, JsonValue] = {
                **_job_part(event, definition, now),
                "occurrence": {
                    "schedule": schedule,
                    "time": nominal.isoformat(),
                    "outcome": str(record["outcome"]),
                    "detail": record.get("detail"),
                },
            }
            subject = f"occurrence:{schedule}@{nominal.isoformat()}"
            self._add_notifications_in(
                conn, subject, event, targets, definition, None, payload, now
            )

    def _add_notifications_in(
        self,
        conn: Connection,
        subject: str,
        event: NotifyEvent,
        targets: Sequence[tuple[Channel, str, str | None]],
        definition: JobDefinition,
        run_id: int | None,
        payload: dict[str, JsonValue],
        now: datetime,
    ) -> int:
        rows = [
            {
                "key": _key(subject, event, channel, target),
                "subject": subject[:250],
                "event": event.value,
                "channel": channel.value,
                "target": target,
                "secret": secret,
                "tenant": definition.tenant,
                "job_id": definition.id,
                "run_id": run_id,
                "payload": payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for channel, target, secret in targets
        ]
        insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(_n)
        # RETURNING counts what was new on both dialects (an executemany's rowcount may not).
        statement = insert.on_conflict_do_nothing(index_elements=["key"]).returning(_n.c.id)
        return len(conn.execute(statement, rows).all())

    # -- the engine's operations -------------------------------------------------------------

    def enqueue_overdue_notifications(self, now: datetime) -> int:
        r = t.runs
        due: list[tuple[Any, JobDefinition, list[tuple[Channel, str, str | None]]]] = []
        # Read first, write only when a run is overdue: every worker sweeps, and most sweeps
        # must not take SQLite's write lock.
        with self._read() as conn:
            running = conn.execute(
                sa.select(r).where(r.c.status == RunStatus.RUNNING.value, r.c.started_at <= now)
            ).all()
            rules_of: dict[str, tuple[JobDefinition | None, tuple[NotifyRule, ...]]] = {}
            for run in running:
                if run.job_id not in rules_of:
                    rules_of[run.job_id] = self._job_rules_in(conn, run.job_id)
                definition, rules = rules_of[run.job_id]
                if definition is None or definition.expected_runtime is None:
                    continue
                if run.started_at + timedelta(seconds=definition.expected_runtime) > now:
                    continue
                targets = recipients(rules, NotifyEvent.OVERDUE)
                if targets:
                    due.append((run, definition, targets))
        if not due:
            return 0
        added = 0
        with self._write() as conn:
            for run, definition, targets in due:
                payload = _run_payload(NotifyEvent.OVERDUE, definition, run._mapping, now)
                added += self._add_notifications_in(
                    conn,
                    f"run:{run.id}",
                    NotifyEvent.OVERDUE,
                    targets,
                    definition,
                    run.id,
                    payload,
                    now,
                )
        return added

    def claim_notifications(
        self, limit: int, lease_seconds: float, now: datetime
    ) -> list[Notification]:
        if limit < 1:
            return []
        due = sa.and_(_n.c.status == PENDING, _n.c.next_attempt_at <= now)
        with self._read() as conn:
            if conn.execute(sa.select(_n.c.id).where(due).limit(1)).first() is None:
                return []
        with self._write() as conn:
            rows = conn.execute(
                sa.select(_n)
                .where(due)
                .order_by(_n.c.next_attempt_at, _n.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            lease = now + timedelta(seconds=lease_seconds)
            conn.execute(
                sa.update(_n)
                .where(_n.c.id.in_([row.id for row in rows]))
                .values(attempts=_n.c.attempts + 1, next_attempt_at=lease)
            )
            return [
                _notification(row._mapping, attempts=row.attempts + 1, next_attempt_at=lease)
                for row in rows
            ]

    def record_notification_attempt(
        self,
        notification_id: int,
        attempt: int,
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        values: dict[str, Any]
        if error is None:
            values = {
                "status": NotificationStatus.DELIVERED.value,
                "delivered_at": now,
                "next_attempt_at": None,
            }
        elif retry_at is None:
            values = {
                "status": NotificationStatus.FAILED.value,
                "last_error": error[:MAX_ERROR],
                "next_attempt_at": None,
            }
        else:
            values = {"last_error": error[:MAX_ERROR], "next_attempt_at": retry_at}
        with self._write() as conn:
            result = conn.execute(
                sa.update(_n)
                .where(_n.c.id == notification_id, _n.c.attempts == attempt)
                .where(_n.c.status == PENDING)
                .values(**values)
            )
            return bool(result.rowcount)

    def list_notifications(
        self, status: NotificationStatus | None = None, limit: int = 100
    ) -> list[Notification]:
        query = sa.select(_n).order_by(_n.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(_n.c.status == status.value)
        with self._read() as conn:
            return [_notification(row._mapping) for row in conn.execute(query).all()]


def _key(subject: str, event: NotifyEvent, channel: Channel, target: str) -> str:
    text = "\n".join((subject, event.value, channel.value, target))
    return hashlib.sha256(text.encode()).hexdigest()


def _job_part(event: NotifyEvent, definition: JobDefinition, now: datetime) -> dict[str, JsonValue]:
    return {
        "event": event.value,
        "at": now.isoformat(),
        "job": {"id": definition.id, "name": definition.name, "tenant": definition.tenant},
    }


def _run_payload(
    event: NotifyEvent, definition: JobDefinition, run: Mapping[Any, Any], now: datetime
) -> dict[str, JsonValue]:
    """What a recipient needs to act, and nothing a job could have put a secret in but the
    reason and error message (which the worker masks before storing them): no parameters,
    info, result or traceback."""

    def iso(name: str) -> str | None:
        moment = run[name]
        return moment.isoformat() if moment is not None else None

    error = run["error"] if isinstance(run["error"], dict) else {}
    message = error.get("message")

    return {
        **_job_part(event, definition, now),
        "run": {
            "id": run["id"],
            "status": run["status"],
            "trigger": run["trigger"],
            "attempt": run["attempt"],
            "max_attempts": run["max_attempts"],
            "created_at": iso("created_at"),
            "started_at": iso("started_at"),
            "finished_at": iso("finished_at"),
            "reason": run["reason"],
            # The error's message only (masked by the worker when stored), never its traceback.
            "error": f"{error.get('type')}: {message}"[:MAX_MESSAGE] if message else None,
            "expected_runtime": definition.expected_runtime,
            "counters": {name: run[name] for name in COUNTER_NAMES},
        },
    }


def _notification(row: Mapping[Any, Any], **override: Any) -> Notification:
    values = {**row, **override}
    return Notification(
        id=values["id"],
        event=NotifyEvent(values["event"]),
        channel=Channel(values["channel"]),
        target=values["target"],
        job=values["job_id"],
        tenant=values["tenant"],
        run_id=values["run_id"],
        subject=values["subject"],
        payload=dict(values["payload"]),
        secret=values["secret"],
        status=NotificationStatus(values["status"]),
        attempts=values["attempts"],
        next_attempt_at=values["next_attempt_at"],
        last_error=values["last_error"],
        delivered_at=values["delivered_at"],
        created_at=values["created_at"],
    )
