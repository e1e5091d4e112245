"""record results say their row

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 17:34:02.097389
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("run_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("row", sa.BigInteger(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("run_records", schema=None) as batch_op:
        batch_op.drop_column("row")
