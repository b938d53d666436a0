"""Replies are findable by thread: who wrote them and which ids they answer.

A stored reply (not a patch) keeps its author as one address to mail back
(``messages.sender``) and the ids of its In-Reply-To and References
(``message_refs``, indexed by id), so that a reply of the bot goes to the
people who replied in the patch's thread.  Mails stored before this
migration have neither: their authors are not added.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", sa.String(length=500), nullable=True))
    op.create_table(
        "message_refs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_row_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["message_row_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_row_id", "ref"),
    )
    with op.batch_alter_table("message_refs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_refs_ref"), ["ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_refs_ref"))
    op.drop_table("message_refs")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sender")
