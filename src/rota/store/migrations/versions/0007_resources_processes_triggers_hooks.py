"""resources, process steps, event triggers and webhooks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rota.store.schema import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RunId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("waiting", Json, nullable=True))
        batch_op.add_column(sa.Column("holds", sa.Boolean(), nullable=True))
    op.create_table(
        "resources",
        sa.Column("name", sa.String(160), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("defined", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_resources"),
    )
    op.create_table(
        "resource_claims",
        sa.Column("resource", sa.String(160), nullable=False),
        sa.Column("run_id", RunId, nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("granted_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("resource", "run_id", name="pk_resource_claims"),
    )
    op.create_index("ix_resource_claims_run_id", "resource_claims", ["run_id"])
    op.create_table(
        "process_steps",
        sa.Column("process_run_id", RunId, nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", RunId, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("process_run_id", "step", name="pk_process_steps"),
    )
    op.create_index("ix_process_steps_run_id", "process_steps", ["run_id"])
    op.create_table(
        "event_triggers",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("source_job", sa.String(128), nullable=False),
        sa.Column("target_job", sa.String(128), nullable=False),
        sa.Column("spec", Json, nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("synced_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_triggers"),
    )
    op.create_index("ix_event_triggers_source_job", "event_triggers", ["source_job"])
    op.create_table(
        "hooks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("params", Json, nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_expires_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("rotated_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hooks"),
    )
    op.create_table(
        "hook_deliveries",
        sa.Column("hook_id", sa.String(64), nullable=False),
        sa.Column("delivery_id", sa.String(256), nullable=False),
        sa.Column("run_id", RunId, nullable=True),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hook_id", "delivery_id", name="pk_hook_deliveries"),
    )


def downgrade() -> None:
    op.drop_table("hook_deliveries")
    op.drop_table("hooks")
    op.drop_index("ix_event_triggers_source_job", table_name="event_triggers")
    op.drop_table("event_triggers")
    op.drop_index("ix_process_steps_run_id", table_name="process_steps")
    op.drop_table("process_steps")
    op.drop_index("ix_resource_claims_run_id", table_name="resource_claims")
    op.drop_table("resource_claims")
    op.drop_table("resources")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("holds")
        batch_op.drop_column("waiting")
        batch_op.drop_column("step")
