"""secrets, encrypted with a key kept outside the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rota.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "name"),
    )


def downgrade() -> None:
    op.drop_table("secrets")
