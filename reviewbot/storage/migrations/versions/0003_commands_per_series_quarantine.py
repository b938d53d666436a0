"""Reviewer commands are per series; mails that cannot be stored are quarantined.

A suppression is keyed by (finding, series): the same finding id in another
series is another decision, by other people.  Messages get a ``reason``: a
mail kept aside (state ``quarantined``) says why.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# 0001 left the unique constraint on suppressions.finding_id unnamed: SQLite's
# batch mode names it through this convention, PostgreSQL named it itself.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "suppressions_finding_id_key"
    return "uq_suppressions_finding_id"


def upgrade() -> None:
    with op.batch_alter_table("suppressions", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_constraint(_old_unique_name(), type_="unique")
        batch_op.create_unique_constraint(
            "uq_suppressions_finding_series", ["finding_id", "series_id"]
        )
        batch_op.create_index("ix_suppressions_finding_id", ["finding_id"])
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("reason")
    with op.batch_alter_table("suppressions", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_index("ix_suppressions_finding_id")
        batch_op.drop_constraint("uq_suppressions_finding_series", type_="unique")
        batch_op.create_unique_constraint(_old_unique_name(), ["finding_id"])
