"""The one SQLAlchemy Core schema both stores share; Alembic migrations must reproduce it.

Times are stored as UTC (``UtcDateTime``) so that SQLite, which has no time zones, compares
them correctly as text and PostgreSQL keeps ``timestamptz``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every dialect."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


RunId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("definition", Json, nullable=False),
    sa.Column("synced_at", UtcDateTime, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("origin", sa.String(16), nullable=False, server_default="project"),
)

job_versions = sa.Table(
    "job_versions",
    metadata,
    sa.Column("job_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("definition", Json, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", RunId, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(128), nullable=False),
    sa.Column("job_version", sa.Integer, nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("triggered_by", sa.String(128)),
    sa.Column("run_as", sa.String(128)),
    sa.Column("params", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("queued_at", UtcDateTime),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("worker_losses", sa.Integer, nullable=False),
    sa.Column("progress_done", sa.BigInteger, nullable=False),
    sa.Column("progress_total", sa.BigInteger),
    sa.Column("progress_message", sa.Text),
    *(
        sa.Column(name, sa.BigInteger, nullable=False)
        for name in (
            "processed",
            "succeeded",
            "failed",
            "skipped",
            "inserted",
            "updated",
            "deleted",
            "unchanged",
        )
    ),
    sa.Column("info", Json, nullable=False),
    sa.Column("result", Json),
    sa.Column("error", Json),
    sa.Column("reason", sa.Text),
    sa.Column("external_calls", Json, nullable=False),
    sa.Column("data_changed", sa.Boolean, nullable=False),
    sa.Column("retry_of", RunId),
    sa.Column("cancel_requested_at", UtcDateTime),
    sa.Column("cancel_requested_by", sa.String(128)),
    sa.Column("worker_id", sa.String(128)),
    sa.Column("lease_token", sa.String(32)),
    sa.Column("lease_expires_at", UtcDateTime),
    sa.Column("schedule_id", sa.String(160)),
    sa.Column("scheduled_for", UtcDateTime),
    sa.Column("waits_for", RunId),
    sa.Column("parent_id", RunId),
    sa.Column("step", sa.String(64)),
    sa.Column("waiting", Json),
    sa.Column("holds", sa.Boolean),
    # A ``pending`` run becomes ``queued`` when the run it waits for ends (overlap, catch-up).
    sa.Index("ix_runs_job_created", "job_id", "created_at"),
    sa.Index("ix_runs_waits_for", "waits_for"),
    sa.Index("ix_runs_parent_id", "parent_id"),
    # Overlap checks ask "does this job have an unfinished run?" without reading its history.
    sa.Index("ix_runs_job_status", "job_id", "status"),
    sa.Index("ix_runs_lease", "status", "lease_expires_at"),
)

# The claim order (priority highest first, then due time, then id) read straight off an index:
# without the DESC column both databases sort every queued run on every claim.
sa.Index("ix_runs_claim", runs.c.status, runs.c.priority.desc(), runs.c.due_at, runs.c.id)

run_attempts = sa.Table(
    "run_attempts",
    metadata,
    sa.Column("run_id", RunId, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("worker_id", sa.String(128), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("outcome", sa.String(32)),
    sa.Column("error", Json),
)

run_status_history = sa.Table(
    "run_status_history",
    metadata,
    sa.Column("id", RunId, primary_key=True, autoincrement=True),
    sa.Column("run_id", RunId, nullable=False, index=True),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("actor", sa.String(128)),
)

run_logs = sa.Table(
    "run_logs",
    metadata,
    sa.Column("id", RunId, primary_key=True, autoincrement=True),
    sa.Column("run_id", RunId, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_run_logs_run", "run_id", "id"),
)

run_records = sa.Table(
    "run_records",
    metadata,
    sa.Column("id", RunId, primary_key=True, autoincrement=True),
    sa.Column("run_id", RunId, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("row", sa.BigInteger),
    sa.Index("ix_run_records_run", "run_id", "id"),
)

job_state = sa.Table(
    "job_state",
    metadata,
    sa.Column("job_id", sa.String(128), primary_key=True),
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("state", Json, nullable=False),
    sa.Column("run_id", RunId),
    sa.Column("attempt", sa.Integer),
    sa.Column("record_mark", RunId, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    sa.Column("stopped_at", UtcDateTime),
    sa.Column("version", sa.String(32)),
)

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(160), primary_key=True),
    sa.Column("job_id", sa.String(128), nullable=False, index=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("spec", Json, nullable=False),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pause_note", sa.Text),
    sa.Column("paused_by", sa.String(128)),
    sa.Column("paused_at", UtcDateTime),
    sa.Column("next_fire_at", UtcDateTime),
    sa.Column("last_nominal", UtcDateTime),
    sa.Column("last_outcome", sa.String(32)),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
# The scheduler's one question, "what is due?", read off an index: work per tick follows what
# is due, not how many schedules exist.
sa.Index("ix_schedules_due", schedules.c.paused, schedules.c.removed, schedules.c.next_fire_at)

occurrences = sa.Table(
    "occurrences",
    metadata,
    sa.Column("id", RunId, primary_key=True, autoincrement=True),
    sa.Column("schedule_id", sa.String(160), nullable=False),
    sa.Column("job_id", sa.String(128), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("nominal_time", UtcDateTime, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("run_id", RunId),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("detail", sa.Text),
    # Exactly once per (schedule, nominal time), whatever number of schedulers race for it.
    sa.UniqueConstraint("schedule_id", "nominal_time"),
    sa.Index("ix_occurrences_outcome", "outcome", "id"),
)

calendars = sa.Table(
    "calendars",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("body", Json, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
)

job_groups = sa.Table(
    "job_groups",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("changed_by", sa.String(128)),
    sa.Column("changed_at", UtcDateTime, nullable=False),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    # A Fernet token (AES-128-CBC + HMAC-SHA256, base64): the key is never in this database.
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(128)),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("name", sa.String(160), primary_key=True),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # False: created on first use with capacity 1, not configured.
    sa.Column("defined", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

resource_claims = sa.Table(
    "resource_claims",
    metadata,
    sa.Column("resource", sa.String(160), primary_key=True),
    sa.Column("run_id", RunId, primary_key=True),
    sa.Column("job_id", sa.String(128), nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False),
    # A run holds every claim from queued to its end, or none of them while it is pending.
    sa.Column("granted", sa.Boolean, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("granted_at", UtcDateTime),
    sa.Index("ix_resource_claims_run_id", "run_id"),
)

process_steps = sa.Table(
    "process_steps",
    metadata,
    # One row per (process run, step), written when the step is decided: the primary key makes
    # each step start at most once per process run, whoever advances it.
    sa.Column("process_run_id", RunId, primary_key=True),
    sa.Column("step", sa.String(64), primary_key=True),
    sa.Column("job_id", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("run_id", RunId),
    sa.Column("reason", sa.Text),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_process_steps_run_id", "run_id"),
)

event_triggers = sa.Table(
    "event_triggers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("source_job", sa.String(128), nullable=False, index=True),
    sa.Column("target_job", sa.String(128), nullable=False),
    sa.Column("spec", Json, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Column("synced_at", UtcDateTime, nullable=False),
)

hooks = sa.Table(
    "hooks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(128), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("params", Json, nullable=False),
    # Fernet tokens of the signing secrets; the previous one stays valid until it expires so
    # that a sender can be switched to the new secret without losing deliveries.
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("previous_secret", sa.Text),
    sa.Column("previous_expires_at", UtcDateTime),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(128)),
    sa.Column("rotated_at", UtcDateTime),
)

hook_deliveries = sa.Table(
    "hook_deliveries",
    metadata,
    # A replayed delivery id meets this key and starts nothing new.
    sa.Column("hook_id", sa.String(64), primary_key=True),
    sa.Column("delivery_id", sa.String(256), primary_key=True),
    sa.Column("run_id", RunId),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

# -- access (0008) -------------------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("service", sa.Boolean, nullable=False, server_default=sa.false()),
)

role_grants = sa.Table(
    "role_grants",
    metadata,
    sa.Column(
        "user_name",
        sa.String(64),
        sa.ForeignKey("users.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(64), primary_key=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column(
        "user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("roles", Json),
    sa.Column("tenants", Json),
    sa.Column("note", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
    sa.Column("last_used_at", UtcDateTime),
)

login_sessions = sa.Table(
    "login_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(64)),
)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("service_account", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", RunId, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(200), nullable=False),
    sa.Column("tenant", sa.String(64)),
    sa.Column("source", sa.String(64)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", Json, nullable=False),
    sa.Index("ix_audit_log_at", "at"),
    sa.Index("ix_audit_log_actor", "actor"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    # The outbox: one row per (event of a run or schedule occurrence, recipient), written in
    # the transaction that records the event; the unique key makes it once per recipient
    # whoever records the event and however often.
    sa.Column("id", RunId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("subject", sa.String(250), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("secret", sa.String(128)),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(128), nullable=False),
    sa.Column("run_id", RunId),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    # Due again at this time: after a backoff, or when a sender's claim lapses.
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_notifications_run_id", "run_id"),
)
