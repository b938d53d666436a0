"""What a task does, free of Celery: take a revision id, load, run, store.

Every job is safe to run twice or concurrently with itself: the revision's
state moves ``queued`` -> ``reviewed`` with a conditional UPDATE in the same
transaction that stores the review and writes the outbox rows, so of two
deliveries of one task exactly one commits; the other rolls back.  Each try
is recorded in ``task_attempts`` with the reason when it fails; after
``worker.max_attempts`` tries the revision is marked ``failed``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import traceback
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reviewbot import task_names
from reviewbot.config import Config
from reviewbot.errors import FetchError, TreeError, UsageError
from reviewbot.models import Review, Revision, Series
from reviewbot.outbox import write_replies
from reviewbot.reviewer_commands import suppressed_ids
from reviewbot.storage import reuse
from reviewbot.storage.models import (
    ReviewRow,
    RevisionRow,
    SeriesRow,
    TaskAttemptRow,
)
from reviewbot.storage.record import finding_from_row, record_review
from reviewbot.storage.states import DONE_STATES, AttemptState, ReviewStatus, RevisionState
from workers.pipeline import Pipeline

log = logging.getLogger(__name__)


class JobResult(enum.Enum):
    REVIEWED = "reviewed"
    ALREADY_DONE = "already-done"  # a second delivery: nothing to do
    DUPLICATE = "duplicate"  # lost the race to a concurrent delivery
    MISSING = "missing"
    FAILED = "failed"


class TransientError(Exception):
    """Worth retrying with backoff: the database or a service was briefly away."""


TRANSIENT = (OperationalError, ConnectionError, TimeoutError)
PERMANENT = (FetchError, TreeError, UsageError, ValueError, LookupError)


def _attempt(
    sessions: sessionmaker[Session], revision_id: int, state: AttemptState, error: str | None = None
) -> int:
    with sessions.begin() as session:
        n = (
            session.scalar(
                select(func.count(TaskAttemptRow.id)).where(
                    TaskAttemptRow.revision_id == revision_id,
                    TaskAttemptRow.task == task_names.REVIEW_REVISION,
                    TaskAttemptRow.state == AttemptState.STARTED,
                )
            )
            or 0
        )
        attempt = n + 1 if state is AttemptState.STARTED else n
        session.add(
            TaskAttemptRow(
                task=task_names.REVIEW_REVISION,
                revision_id=revision_id,
                attempt=attempt,
                state=state,
                error=error,
            )
        )
        return attempt


def previous_review(session: Session, pipeline: Pipeline, revision: RevisionRow) -> Review | None:
    """The newest stored review of an older revision of the same series, rebuilt."""
    older = session.scalars(
        select(RevisionRow)
        .where(RevisionRow.series_id == revision.series_id, RevisionRow.version < revision.version)
        .order_by(RevisionRow.version.desc())
    ).all()
    for rev in older:
        row = session.scalars(
            select(ReviewRow)
            .where(ReviewRow.revision_id == rev.id, ReviewRow.status == ReviewStatus.DONE)
            .order_by(ReviewRow.id.desc())
        ).first()
        if row is None or not rev.mbox:
            continue
        try:
            series, revision_obj = pipeline.parse(rev.mbox.encode("utf-8"), rev.version)
        except PERMANENT:
            continue
        findings = tuple(finding_from_row(f) for f in row.findings)
        return Review(series=series, revision=revision_obj, apply=None, findings=findings)
    return None


def _reuse(
    cfg: Config,
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    revision_id: int,
    *,
    series: Series,
    new: Revision,
) -> tuple[Review, int] | None:
    """The review of an identical earlier revision, re-attributed; None to run the pipeline."""
    base = reuse.choose_base(new, cfg.tree)
    with sessions() as session:
        revision = session.get(RevisionRow, revision_id)
        if revision is None:
            return None
        found = reuse.find_identical(
            session, revision.series_id, new, base, pipeline.parse, simulate=cfg.simulate
        )
        if found is None:
            return None
        log.info("revision %d: identical to v%d, results reused", revision_id, found.version)
        return reuse.reused_review(found, series, new, base), found.version


def review_revision(
    cfg: Config,
    sessions: sessionmaker[Session],
    pipeline: Pipeline,
    revision_id: int,
    *,
    force: bool = False,
) -> JobResult:
    """Review one revision and queue its replies; raises TransientError to be retried."""
    try:
        with sessions() as session:
            revision = session.get(RevisionRow, revision_id)
            if revision is None:
                return JobResult.MISSING
            if revision.state in DONE_STATES and not force:
                return JobResult.ALREADY_DONE
            observed_state, version = revision.state, revision.version
            # a re-run asked on the dashboard doubts the results: never reuse them
            may_reuse = not force and revision.rerun_requested is None
            mbox = (revision.mbox or "").encode("utf-8")
        attempt = _attempt(sessions, revision_id, AttemptState.STARTED)
    except TRANSIENT as exc:
        raise TransientError(str(exc)) from exc
    if attempt > cfg.worker.max_attempts:
        _finish_failed(sessions, revision_id, f"gave up after {attempt - 1} attempts")
        return JobResult.FAILED
    try:
        series, revision_obj = pipeline.parse(mbox, version)
        reused = None
        if may_reuse:
            reused = _reuse(cfg, sessions, pipeline, revision_id, series=series, new=revision_obj)
        extra: dict[str, object] = {}
        if reused is not None:
            review, extra["reused_from"] = reused
        else:
            review = pipeline.review(series, revision_obj, cfg.tree, simulate=cfg.simulate)
        with sessions() as session:
            revision = session.get(RevisionRow, revision_id)
            assert revision is not None
            previous = previous_review(session, pipeline, revision)
            hidden = suppressed_ids(session, revision.series_id)
        if hidden:
            kept = tuple(f for f in review.findings if f.id not in hidden)
            notes = (*review.notes, f"{len(review.findings) - len(kept)} finding(s) suppressed")
            if len(kept) != len(review.findings):
                review = dataclasses.replace(review, findings=kept, notes=notes)
        replies = pipeline.render(review, previous)
        return _commit(
            cfg,
            sessions,
            revision_id,
            observed_state=observed_state,
            review=review,
            replies=replies,
            force=force,
            extra=extra,
        )
    except TRANSIENT as exc:
        _record_failure(sessions, revision_id, AttemptState.RETRY, exc)
        raise TransientError(str(exc)) from exc
    except Exception as exc:  # the reason is recorded, the revision marked failed
        _record_failure(sessions, revision_id, AttemptState.FAILED, exc)
        _finish_failed(sessions, revision_id, f"{type(exc).__name__}: {exc}")
        return JobResult.FAILED


def _commit(
    cfg: Config,
    sessions: sessionmaker[Session],
    revision_id: int,
    *,
    observed_state: str,
    review: Review,
    replies: Any,
    force: bool,
    extra: dict[str, object],
) -> JobResult:
    with sessions() as session:
        claim = update(RevisionRow).where(RevisionRow.id == revision_id)
        if not force:
            claim = claim.where(RevisionRow.state == observed_state)
        if not cast(
            CursorResult[Any], session.execute(claim.values(state=RevisionState.REVIEWED))
        ).rowcount:
            session.rollback()
            return JobResult.DUPLICATE
        revision = session.get(RevisionRow, revision_id)
        assert revision is not None
        series = session.get(SeriesRow, revision.series_id)
        record_review(
            session,
            review,
            mbox=revision.mbox,
            list_id=series.list_id if series else None,
            extra=extra,
        )
        write_replies(session, cfg, revision, review, replies)
        session.add(
            TaskAttemptRow(
                task=task_names.REVIEW_REVISION, revision_id=revision_id, state=AttemptState.DONE
            )
        )
        session.commit()
    return JobResult.REVIEWED


def _record_failure(
    sessions: sessionmaker[Session], revision_id: int, state: AttemptState, exc: BaseException
) -> None:
    reason = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    log.warning("revision %d: %s: %s", revision_id, state, reason)
    try:
        _attempt(sessions, revision_id, state, reason[:2000])
    except TRANSIENT:
        log.exception("could not record the failure of revision %d", revision_id)


def _finish_failed(sessions: sessionmaker[Session], revision_id: int, reason: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(RevisionRow)
            .where(RevisionRow.id == revision_id, RevisionRow.state.not_in(DONE_STATES))
            .values(state=RevisionState.FAILED)
        )
        session.add(
            ReviewRow(
                revision_id=revision_id,
                status=ReviewStatus.FAILED,
                error=reason[:4000],
                created=dt.datetime.now(dt.UTC),
            )
        )
