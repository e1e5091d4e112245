"""schedules, occurrences, calendars, groups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 15:58:23.060431
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import rota.store.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "calendars",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", rota.store.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column("removed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendars")),
    )
    op.create_table(
        "job_groups",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=128), nullable=True),
        sa.Column("changed_at", rota.store.schema.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_groups")),
    )
    op.create_table(
        "occurrences",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("schedule_id", sa.String(length=160), nullable=False),
        sa.Column("job_id", sa.String(length=128), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("nominal_time", rota.store.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_at", rota.store.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrences")),
        sa.UniqueConstraint(
            "schedule_id", "nominal_time", name=op.f("uq_occurrences_schedule_id_nominal_time")
        ),
    )
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.create_index("ix_occurrences_outcome", ["outcome", "id"], unique=False)

    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("job_id", sa.String(length=128), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("pause_note", sa.Text(), nullable=True),
        sa.Column("paused_by", sa.String(length=128), nullable=True),
        sa.Column("paused_at", rota.store.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column("next_fire_at", rota.store.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_nominal", rota.store.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("removed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", rota.store.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", rota.store.schema.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_schedules_due", ["paused", "removed", "next_fire_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_schedules_job_id"), ["job_id"], unique=False)

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.String(length=160), nullable=True))
        batch_op.add_column(
            sa.Column("scheduled_for", rota.store.schema.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "waits_for", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_index("ix_runs_waits_for", ["waits_for"], unique=False)
        batch_op.create_index("ix_runs_job_status", ["job_id", "status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_job_status")
        batch_op.drop_index("ix_runs_waits_for")
        batch_op.drop_column("waits_for")
        batch_op.drop_column("scheduled_for")
        batch_op.drop_column("schedule_id")

    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_job_id"))
        batch_op.drop_index("ix_schedules_due")

    op.drop_table("schedules")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_index("ix_occurrences_outcome")

    op.drop_table("occurrences")
    op.drop_table("job_groups")
    op.drop_table("calendars")
