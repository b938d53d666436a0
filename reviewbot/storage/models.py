"""SQLAlchemy 2 tables shared by the CLI, the watcher, the workers and the web.

The database is the source of truth: Celery may deliver a task twice, a
worker may die mid-review, so every row that a task writes is keyed so that
writing it again is a no-op (unique constraints below say which key).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from reviewbot.storage.clean import install
from reviewbot.storage.states import MessageState, RevisionState


class Base(DeclarativeBase):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SeriesRow(Base):
    """A patch series across all its revisions (v1 -> vN)."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text)
    change_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    list_id: Mapped[str | None] = mapped_column(String(200), index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # The health summary below is denormalised from the latest revision's
    # latest review (see storage/summary.py) so that the dashboard index stays
    # one indexed query over 10,000 series.
    updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    health: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    latest_revision_id: Mapped[int | None] = mapped_column(Integer)
    applied: Mapped[bool | None] = mapped_column(default=None)
    n_bug: Mapped[int] = mapped_column(Integer, default=0)
    n_possible_bug: Mapped[int] = mapped_column(Integer, default=0)
    n_question: Mapped[int] = mapped_column(Integer, default=0)
    n_nit: Mapped[int] = mapped_column(Integer, default=0)
    n_note: Mapped[int] = mapped_column(Integer, default=0)
    sim_status: Mapped[str] = mapped_column(String(16), default="none")
    trend: Mapped[list[dict[str, int]]] = mapped_column(JSON, default=list)
    paths: Mapped[str] = mapped_column(Text, default="")  # "\nmm/memory.c\n...\n"
    revisions: Mapped[list[RevisionRow]] = relationship(
        back_populates="series", order_by="RevisionRow.version"
    )


class RevisionRow(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("series_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text)  # cover letter or first patch
    message_id: Mapped[str] = mapped_column(String(500), unique=True)  # cover or 1/n
    base_commit: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(Integer, default=1)
    date: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(32), default=RevisionState.NEW)
    mbox: Mapped[str | None] = mapped_column(Text)  # raw mails, kept: nothing is lost
    rerun_requested: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    series: Mapped[SeriesRow] = relationship(back_populates="revisions")
    patches: Mapped[list[PatchRow]] = relationship(
        back_populates="revision", order_by="PatchRow.index"
    )
    reviews: Mapped[list[ReviewRow]] = relationship(back_populates="revision")


class PatchRow(Base):
    __tablename__ = "patches"
    __table_args__ = (UniqueConstraint("revision_id", "index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(500), index=True)
    author: Mapped[str] = mapped_column(Text)
    date: Mapped[str] = mapped_column(String(100), default="")
    patch_id: Mapped[str | None] = mapped_column(String(64), index=True)  # git patch-id
    applied: Mapped[str] = mapped_column(String(16), default="")  # ApplyStatus value
    diff: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[RevisionRow] = relationship(back_populates="patches")


class ReviewRow(Base):
    """One run of the pipeline over one revision (re-runs add rows)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"), index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status: Mapped[str] = mapped_column(String(32))  # ReviewStatus
    base: Mapped[str | None] = mapped_column(String(64))
    applied: Mapped[bool] = mapped_column(default=False)
    exit_status: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)  # check --format json
    error: Mapped[str | None] = mapped_column(Text)
    # sha256 of the canonical result JSON: recording the same review twice is a no-op
    digest: Mapped[str | None] = mapped_column(String(64), index=True)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision: Mapped[RevisionRow] = relationship(back_populates="reviews")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="review")
    sim_runs: Mapped[list[SimRunRow]] = relationship(back_populates="review")


class FindingRow(Base):
    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("review_id", "finding_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    finding_id: Mapped[str] = mapped_column(String(16), index=True)  # Finding.id
    checker: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)
    function: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    patch_index: Mapped[int | None] = mapped_column(Integer)
    patch_message_id: Mapped[str | None] = mapped_column(String(500))
    evidence: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="new")  # new/still-present
    key: Mapped[str] = mapped_column(Text, default="")  # Finding.key, to rebuild Finding.id
    # the patch lines around ``line``, as [{"old", "new", "kind", "text"}]
    context: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    review: Mapped[ReviewRow] = relationship(back_populates="findings")


class SimRunRow(Base):
    __tablename__ = "sim_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    scenario: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    trace: Mapped[list[str]] = mapped_column(JSON, default=list)
    # where it failed in that revision's source (SimRun.file/line/function)
    file: Mapped[str] = mapped_column(Text, default="", server_default="")
    line: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    function: Mapped[str] = mapped_column(Text, default="", server_default="")
    review: Mapped[ReviewRow] = relationship(back_populates="sim_runs")


class OutboxRow(Base):
    """A reply to send: pending -> sending -> delivering -> sent | unconfirmed,
    or failed | held | muted (the states: reviewbot/outbox.py).

    ``key`` is unique per (revision, patch, content): writing the same reply
    twice is a no-op.  While ``sending`` (claimed, nothing transmitted),
    ``not_before`` is the claim time; while ``delivering`` (DATA may have gone
    out), ``sent_at`` is when DATA started.  Nothing that may have gone out is
    resent automatically: not delivered twice beats delivered twice.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("revisions.id"), index=True)
    patch_message_id: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[str] = mapped_column(String(500), unique=True)  # our own domain
    to_addrs: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the whole RFC 2822 message
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    not_before: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CursorRow(Base):
    """How far the watcher has read one epoch of one inbox."""

    __tablename__ = "cursors"
    __table_args__ = (UniqueConstraint("inbox_url", "epoch"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_url: Mapped[str] = mapped_column(String(500))
    epoch: Mapped[int] = mapped_column(Integer)
    commit: Mapped[str] = mapped_column(String(64))
    updated: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=func.now()
    )


class MessageRow(Base):
    """Every incoming mail, committed before anything is queued."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    inbox_url: Mapped[str] = mapped_column(String(500))
    received: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    raw: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=MessageState.NEW)
    reason: Mapped[str | None] = mapped_column(Text)  # why a mail was quarantined
    # A reply (not a patch): who wrote it, as one address to mail back
    # (reviewbot.addresses.sender_of), and the ids it answers (MessageRefRow),
    # so that the outbox finds the people who replied in a patch's thread.
    sender: Mapped[str | None] = mapped_column(String(500))
    refs: Mapped[list[MessageRefRow]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="MessageRefRow.id"
    )


class MessageRefRow(Base):
    """One id a stored reply names in In-Reply-To or References (bounded per mail)."""

    __tablename__ = "message_refs"
    __table_args__ = (UniqueConstraint("message_row_id", "ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    ref: Mapped[str] = mapped_column(String(200), index=True)  # storage.clean.clean_id form
    message: Mapped[MessageRow] = relationship(back_populates="refs")


class SuppressionRow(Base):
    """``reviewbot: invalid <id>``: a finding marked false positive (for one series,
    or everywhere when ``series_id`` is None: only the dashboard's token does that)."""

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("finding_id", "series_id", name="uq_suppressions_finding_series"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[str] = mapped_column(String(16), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))
    by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class TaskAttemptRow(Base):
    """Each try of a worker task, with the reason it failed if it did."""

    __tablename__ = "task_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("revisions.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16))  # AttemptState
    error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


# Every row is cleaned before it is written: NULs, surrogates, lengths (storage/clean.py).
install(Base)
