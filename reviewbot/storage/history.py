"""A finding's life across revisions: new, still present, fixed.

Two findings are the same finding when their ``Finding.id`` is equal: the id
hashes checker, file, function and the evidence text with line numbers left
out, so a finding that only moved down 40 lines in v3 is "still present",
and one whose id is gone is "fixed".  Each revision is compared with the
nearest older revision that has a review.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot.storage.models import FindingRow, ReviewRow, RevisionRow, SeriesRow


class FindingStatus(enum.Enum):
    NEW = "new"
    STILL_PRESENT = "still-present"
    FIXED = "fixed"


@dataclass(frozen=True)
class FindingDelta:
    """How ``newer`` differs from ``older`` (both lists of stored findings)."""

    new: tuple[FindingRow, ...]
    still: tuple[FindingRow, ...]
    fixed: tuple[FindingRow, ...]  # rows of the older review


def compare(older: Sequence[FindingRow], newer: Sequence[FindingRow]) -> FindingDelta:
    old_ids = {f.finding_id for f in older}
    new_ids = {f.finding_id for f in newer}
    return FindingDelta(
        new=tuple(f for f in newer if f.finding_id not in old_ids),
        still=tuple(f for f in newer if f.finding_id in old_ids),
        fixed=tuple(f for f in older if f.finding_id not in new_ids),
    )


def latest_review(session: Session, revision_id: int) -> ReviewRow | None:
    """The newest finished review of a revision (re-runs add rows)."""
    return session.scalars(
        select(ReviewRow)
        .where(ReviewRow.revision_id == revision_id, ReviewRow.status == "done")
        .order_by(ReviewRow.created.desc(), ReviewRow.id.desc())
        .limit(1)
    ).first()


def reviewed_revisions(
    session: Session, series: SeriesRow
) -> list[tuple[RevisionRow, ReviewRow | None]]:
    """Each revision of a series, oldest first, with its latest review."""
    revisions = session.scalars(
        select(RevisionRow).where(RevisionRow.series_id == series.id).order_by(RevisionRow.version)
    ).all()
    return [(rev, latest_review(session, rev.id)) for rev in revisions]


def restatus(session: Session, series: SeriesRow) -> None:
    """Set ``FindingRow.status`` of every latest review of the series.

    Done over the whole series, not only the review just recorded: v1 may
    arrive after v2 (a watcher catching up), which changes v2's statuses.
    """
    previous: ReviewRow | None = None
    for _rev, review in reviewed_revisions(session, series):
        if review is None:
            continue
        old_ids = {f.finding_id for f in previous.findings} if previous else set()
        for f in review.findings:
            want = (
                FindingStatus.STILL_PRESENT.value
                if f.finding_id in old_ids
                else FindingStatus.NEW.value
            )
            if f.status != want:
                f.status = want
        previous = review
