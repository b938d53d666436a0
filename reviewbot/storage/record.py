"""Store a ``Review`` from the pipeline, once, with its history.

``record_review`` is what ``reviewbot check --database`` and the workers
call after a review.  A Celery task may run twice and a watcher may record
v1 after v2, so everything here is keyed: the series by change-id (else
title and author), the revision by message-id (else version), the patches
by position, the review by a digest of its result.  Recording the same
review again changes nothing.  The caller commits.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot import __version__
from reviewbot.models import Evidence, Finding, Patch, Review, Series, Severity, SimOutcome
from reviewbot.report_json import review_to_json
from reviewbot.storage import diffs, history, summary, unchanged
from reviewbot.storage.models import (
    FindingRow,
    PatchRow,
    ReviewRow,
    RevisionRow,
    SeriesRow,
    SimRunRow,
)
from reviewbot.storage.patchid import patch_id
from reviewbot.storage.states import ReviewStatus, RevisionState


def _digest(result: dict[str, object]) -> str:
    canon = json.dumps(result, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


def _parse_date(value: str) -> dt.datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _head_patch(review: Review) -> Patch | None:
    rev = review.revision
    if rev.cover is not None:
        return rev.cover
    return min(rev.patches, key=lambda p: p.index) if rev.patches else None


def lookup_series(session: Session, s: Series) -> SeriesRow | None:
    """The stored series ``s`` belongs to: by change-id, else title and author."""
    row = None
    if s.change_id:
        row = session.scalars(select(SeriesRow).where(SeriesRow.change_id == s.change_id)).first()
    if row is None:
        query = select(SeriesRow).where(SeriesRow.title == s.title, SeriesRow.author == s.author)
        if s.change_id:
            # A series known by another change-id is another series.
            query = query.where(SeriesRow.change_id.is_(None))
        row = session.scalars(query.order_by(SeriesRow.id)).first()
    return row


def _find_series(session: Session, review: Review, list_id: str | None) -> SeriesRow:
    s = review.series
    row = lookup_series(session, s)
    if row is None:
        row = SeriesRow(title=s.title, author=s.author, change_id=s.change_id, list_id=list_id)
        session.add(row)
        session.flush()
    if s.change_id and not row.change_id:
        row.change_id = s.change_id
    if list_id and not row.list_id:
        row.list_id = list_id
    return row


def _find_revision(
    session: Session, review: Review, list_id: str | None, mbox: str | None
) -> RevisionRow:
    head = _head_patch(review)
    msgid = head.message_id if head else f"unknown-{review.series.title}-v{review.revision.version}"
    row = session.scalars(select(RevisionRow).where(RevisionRow.message_id == msgid)).first()
    series = row.series if row is not None else _find_series(session, review, list_id)
    if row is None:
        row = session.scalars(
            select(RevisionRow).where(
                RevisionRow.series_id == series.id,
                RevisionRow.version == review.revision.version,
            )
        ).first()
    rev = review.revision
    if row is None:
        row = RevisionRow(series_id=series.id, version=rev.version, message_id=msgid, subject="")
        session.add(row)
    row.subject = (head.raw_subject or head.subject) if head else review.series.title
    row.base_commit = rev.base_commit
    row.total = rev.total or len(rev.patches)
    row.date = _parse_date(head.date) if head else None
    row.state = RevisionState.REVIEWED
    row.rerun_requested = None
    if mbox is not None:
        row.mbox = mbox
    session.flush()
    return row


def _store_patches(session: Session, review: Review, revision: RevisionRow) -> None:
    status = {p.index: p.status.value for p in review.apply.patches} if review.apply else {}
    existing = {p.index: p for p in revision.patches}
    wanted = {p.index for p in review.revision.patches}
    for index, stale in existing.items():
        if index not in wanted:  # a resend without that patch: it is not part of it now
            revision.patches.remove(stale)
            session.delete(stale)
    for p in review.revision.patches:
        row = existing.get(p.index)
        if row is None:
            row = PatchRow(revision_id=revision.id, index=p.index)
            session.add(row)
            revision.patches.append(row)
        row.total = p.total
        row.subject = p.subject
        row.message_id = p.message_id
        row.author = p.author
        row.date = p.date
        row.diff = p.diff_text
        row.patch_id = patch_id(p.diff_text)
        row.applied = status.get(p.index, "")


def _context(review: Review, f: Finding) -> list[dict[str, object]]:
    patches = sorted(review.revision.patches, key=lambda p: p.index != f.patch_index)
    for p in patches:
        ctx = diffs.context(p.diff_text, f.file, f.line)
        if ctx:
            return ctx
    return [
        {"old": None, "new": e.line, "kind": " ", "text": e.text, "target": e.line == f.line}
        for e in f.evidence
        if e.text
    ]


def _store_review(
    session: Session,
    review: Review,
    revision: RevisionRow,
    extra: Mapping[str, object] | None = None,
) -> ReviewRow:
    result = {**review_to_json(review), **(extra or {})}
    digest = _digest(result)
    same = session.scalars(
        select(ReviewRow).where(ReviewRow.revision_id == revision.id, ReviewRow.digest == digest)
    ).first()
    if same is not None:
        return same
    row = ReviewRow(
        revision_id=revision.id,
        status=ReviewStatus.DONE,
        base=review.apply.base if review.apply else None,
        applied=review.apply.applied if review.apply else False,
        exit_status=int(review.exit_status),
        result=result,
        digest=digest,
        notes=list(review.notes),
    )
    session.add(row)
    session.flush()
    # Not part of the digest: it changes when an older revision arrives late.
    since = unchanged.series_unchanged_since(session, revision)
    row.result = {
        **result,
        "unchanged_since": {str(k): v for k, v in since.items()},
        # which checkers made it: a resend is reused only by the same reviewbot
        "reviewbot_version": __version__,
    }
    seen: set[str] = set()
    for f in review.findings:
        if f.id in seen:  # two identical findings say one thing
            continue
        seen.add(f.id)
        row.findings.append(
            FindingRow(
                finding_id=f.id,
                checker=f.checker,
                severity=f.severity.value,
                file=f.file,
                line=f.line,
                function=f.function,
                message=f.message,
                patch_index=f.patch_index,
                patch_message_id=f.patch_message_id,
                evidence=[{"line": e.line, "role": e.role, "text": e.text} for e in f.evidence],
                key=f.key,
                context=_context(review, f),
            )
        )
    for run in review.simulation.runs if review.simulation else ():
        row.sim_runs.append(
            SimRunRow(
                scenario=run.scenario,
                revision=run.revision,
                outcome=SimOutcome.parse(str(run.outcome)).value,
                kind=run.kind,
                message=run.message,
                trace=list(run.trace),
                # SimRun grew these with the simulator; older pipelines lack them
                file=str(getattr(run, "file", "") or ""),
                line=int(getattr(run, "line", 0) or 0),
                function=str(getattr(run, "function", "") or ""),
            )
        )
    return row


def record_review(
    session: Session,
    review: Review,
    *,
    mbox: str | None = None,
    list_id: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> ReviewRow:
    """Store ``review`` (idempotent) and refresh its series' history and health.

    ``extra`` adds keys to the stored result (``{"reused_from": 1}``).
    """
    revision = _find_revision(session, review, list_id, mbox)
    _store_patches(session, review, revision)
    row = _store_review(session, review, revision, extra)
    session.flush()
    series = revision.series
    session.expire(series, ["revisions"])
    session.expire(revision, ["reviews"])
    history.restatus(session, series)
    summary.refresh(session, series)
    session.flush()
    return row


def finding_from_row(row: FindingRow) -> Finding:
    """The pipeline's ``Finding`` back from a stored row (same ``id``)."""
    return Finding(
        checker=row.checker,
        severity=Severity(row.severity),
        file=row.file,
        line=row.line,
        function=row.function,
        message=row.message,
        evidence=tuple(
            Evidence(
                line=int(str(e.get("line", 0))),
                role=str(e.get("role", "")),
                text=str(e.get("text", "")),
            )
            for e in row.evidence
        ),
        patch_index=row.patch_index,
        patch_message_id=row.patch_message_id,
        key=row.key,
    )


def record_if_configured(
    review: Review,
    database: str | None,
    *,
    mbox: str | None = None,
    list_id: str | None = None,
) -> int | None:
    """What ``reviewbot check`` calls: record only when a database is configured.

    Configured means ``--database URL`` or ``$REVIEWBOT_DATABASE_URL``; a
    plain ``reviewbot check`` leaves no file behind.  Returns the review row id.
    """
    import os

    from reviewbot.storage.db import ENV_VAR, database_url, open_db

    if not database and not os.environ.get(ENV_VAR):
        return None
    factory = open_db(database_url(database))
    with factory() as session:
        row = record_review(session, review, mbox=mbox, list_id=list_id)
        session.commit()
        return row.id
