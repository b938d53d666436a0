"""Simulator runs keep where they failed: file, line, function (SimRun fields).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:49:33.259648
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sim_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("line", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("function", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("sim_runs", schema=None) as batch_op:
        batch_op.drop_column("function")
        batch_op.drop_column("line")
        batch_op.drop_column("file")
