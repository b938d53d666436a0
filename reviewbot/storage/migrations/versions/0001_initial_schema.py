"""Initial schema: series, revisions, patches, reviews, findings, sim runs, outbox,
cursors, messages, suppressions, task attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 10:24:37.380471
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_url", sa.String(length=500), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inbox_url", "epoch"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("inbox_url", sa.String(length=500), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("change_id", sa.String(length=200), nullable=True),
        sa.Column("list_id", sa.String(length=200), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("latest_revision_id", sa.Integer(), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=True),
        sa.Column("n_bug", sa.Integer(), nullable=False),
        sa.Column("n_possible_bug", sa.Integer(), nullable=False),
        sa.Column("n_question", sa.Integer(), nullable=False),
        sa.Column("n_nit", sa.Integer(), nullable=False),
        sa.Column("n_note", sa.Integer(), nullable=False),
        sa.Column("sim_status", sa.String(length=16), nullable=False),
        sa.Column("trend", sa.JSON(), nullable=False),
        sa.Column("paths", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("change_id"),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_health"), ["health"], unique=False)
        batch_op.create_index(batch_op.f("ix_series_list_id"), ["list_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_series_updated"), ["updated"], unique=False)

    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("base_commit", sa.String(length=64), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("mbox", sa.Text(), nullable=True),
        sa.Column("rerun_requested", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("series_id", "version"),
    )
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revisions_series_id"), ["series_id"], unique=False)

    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.String(length=16), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("finding_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=True),
        sa.Column("patch_message_id", sa.String(length=500), nullable=True),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("to_addrs", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["revisions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_revision_id"), ["revision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_state"), ["state"], unique=False)

    op.create_table(
        "patches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("date", sa.String(length=100), nullable=False),
        sa.Column("patch_id", sa.String(length=64), nullable=True),
        sa.Column("applied", sa.String(length=16), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["revisions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("revision_id", "index"),
    )
    with op.batch_alter_table("patches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patches_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patches_patch_id"), ["patch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patches_revision_id"), ["revision_id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("base", sa.String(length=64), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("exit_status", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["revisions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_digest"), ["digest"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviews_revision_id"), ["revision_id"], unique=False)

    op.create_table(
        "task_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["revisions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_attempts_revision_id"), ["revision_id"], unique=False
        )

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.String(length=16), nullable=False),
        sa.Column("checker", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("function", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("patch_index", sa.Integer(), nullable=True),
        sa.Column("patch_message_id", sa.String(length=500), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "finding_id"),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_finding_id"), ["finding_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_review_id"), ["review_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_severity"), ["severity"], unique=False)

    op.create_table(
        "sim_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("trace", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sim_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sim_runs_review_id"), ["review_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sim_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sim_runs_review_id"))

    op.drop_table("sim_runs")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_severity"))
        batch_op.drop_index(batch_op.f("ix_findings_review_id"))
        batch_op.drop_index(batch_op.f("ix_findings_finding_id"))

    op.drop_table("findings")
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_attempts_revision_id"))

    op.drop_table("task_attempts")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_revision_id"))
        batch_op.drop_index(batch_op.f("ix_reviews_digest"))

    op.drop_table("reviews")
    with op.batch_alter_table("patches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patches_revision_id"))
        batch_op.drop_index(batch_op.f("ix_patches_patch_id"))
        batch_op.drop_index(batch_op.f("ix_patches_message_id"))

    op.drop_table("patches")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_state"))
        batch_op.drop_index(batch_op.f("ix_outbox_revision_id"))

    op.drop_table("outbox")
    op.drop_table("suppressions")
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revisions_series_id"))

    op.drop_table("revisions")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_updated"))
        batch_op.drop_index(batch_op.f("ix_series_list_id"))
        batch_op.drop_index(batch_op.f("ix_series_health"))

    op.drop_table("series")
    op.drop_table("messages")
    op.drop_table("cursors")
