"""A finding's life across revisions: new, still present, fixed.

Two findings are the same finding when their ``Finding.id`` is equal: the id
hashes checker, file, function and the evidence text with line numbers left
out, so a finding that only moved down 40 lines in v3 is "still present",
and one whose id is gone is "fixed".  Each revision is compared with the
nearest older revision that has a review.

The id changes when the evidence text does, and authors edit the very lines
a finding quotes: v2 of the sample renames ``start_pte`` to ``start_ptep``
(the v1 nit) and the stale-pointer finding's key and evidence change with
it.  So a finding left without an equal id is paired with a leftover finding
of the older revision when both have the same checker, file, function,
evidence roles and blocking class (bug or possible bug, or not), and the
key and every evidence line are nearly the same text (``SIMILAR``); it is
then "still present", not "new" plus "fixed".
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot import identity
from reviewbot.storage.models import FindingRow, ReviewRow, RevisionRow, SeriesRow
from reviewbot.storage.states import ReviewStatus


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


# The pairing rule is shared with the replies: reviewbot/identity.py.
SIMILAR = identity.SIMILAR


def match(older: Sequence[FindingRow], newer: Sequence[FindingRow]) -> dict[int, FindingRow]:
    """For each finding of ``newer`` (by position) its counterpart in ``older``."""
    return identity.match(older, newer)


def compare(older: Sequence[FindingRow], newer: Sequence[FindingRow]) -> FindingDelta:
    pairs = match(older, newer)
    kept = {id(o) for o in pairs.values()}
    return FindingDelta(
        new=tuple(f for i, f in enumerate(newer) if i not in pairs),
        still=tuple(f for i, f in enumerate(newer) if i in pairs),
        fixed=tuple(f for f in older if id(f) not in kept),
    )


def latest_review(session: Session, revision_id: int) -> ReviewRow | None:
    """The newest finished review of a revision (re-runs add rows)."""
    return session.scalars(
        select(ReviewRow)
        .where(ReviewRow.revision_id == revision_id, ReviewRow.status == ReviewStatus.DONE)
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
        pairs = match(previous.findings, review.findings) if previous else {}
        for i, f in enumerate(review.findings):
            want = FindingStatus.STILL_PRESENT.value if i in pairs else FindingStatus.NEW.value
            if f.status != want:
                f.status = want
        previous = review


def lineage(
    session: Session, series: SeriesRow, finding_id: str
) -> list[tuple[RevisionRow, ReviewRow | None, FindingRow | None]]:
    """One finding through the revisions of a series, following renames.

    From the first revision where ``finding_id`` appears, each later review
    holds its counterpart (see :func:`match`) or nothing (fixed).
    """
    out: list[tuple[RevisionRow, ReviewRow | None, FindingRow | None]] = []
    current: FindingRow | None = None
    for rev, review in reviewed_revisions(session, series):
        found: FindingRow | None = None
        if review is not None:
            if current is None or any(f.finding_id == finding_id for f in review.findings):
                found = next((f for f in review.findings if f.finding_id == finding_id), None)
            else:
                pairs = match([current], review.findings)
                found = review.findings[next(iter(pairs))] if pairs else None
        if found is not None:
            current = found
        out.append((rev, review, found))
    return out
