"""Since which revision a patch stood unchanged: "unchanged since v1" per patch.

Patches 1..k of v2 with the same git patch-ids as in v1, on the same base,
leave the tree after patch k exactly as v1 left it; the dashboard says so
per patch, and ``record_review`` keeps it in the stored result.  Only a
prefix counts: patch 3 with an unchanged patch-id after a changed patch 2
applies to another tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from reviewbot.storage import history
from reviewbot.storage.models import ReviewRow, RevisionRow


@dataclass(frozen=True)
class Step:
    """One reviewed revision as ``unchanged_since`` sees it."""

    version: int
    base: str | None
    patch_ids: Sequence[tuple[int, str | None]]  # (index, patch-id), by index


def step(revision: RevisionRow, review: ReviewRow | None) -> Step:
    base = review.base if review is not None and review.base else revision.base_commit
    return Step(revision.version, base, [(p.index, p.patch_id) for p in revision.patches])


def _prefix(a: Sequence[tuple[int, str | None]], b: Sequence[tuple[int, str | None]]) -> int:
    n = 0
    for (ia, pa), (ib, pb) in zip(a, b, strict=False):
        if ia != ib or pa is None or pa != pb:
            break
        n += 1
    return n


def unchanged_since(steps: Sequence[Step], version: int) -> dict[int, int]:
    """Patch index -> the oldest version since which it and all before it stood.

    ``steps`` are the reviewed revisions of a series (any order).  Walking
    back from ``version``, a patch stays "unchanged since vN" only while every
    revision in between had the same base and the same patch-ids up to it;
    an unreviewed revision in between (not in ``steps``) is passed over.
    """
    by_version = {s.version: s for s in steps}
    current = by_version.get(version)
    if current is None:
        return {}
    out: dict[int, int] = {}
    reach = len(current.patch_ids)
    for older in sorted((s for s in steps if s.version < version), key=lambda s: -s.version):
        if older.base != current.base:
            break
        reach = min(reach, _prefix(current.patch_ids, older.patch_ids))
        if reach == 0:
            break
        for index, _pid in current.patch_ids[:reach]:
            out[index] = older.version
    return out


def series_unchanged_since(session: Session, revision: RevisionRow) -> dict[int, int]:
    """``unchanged_since`` of one stored revision, from its series' stored reviews."""
    steps = [
        step(rev, review)
        for rev, review in history.reviewed_revisions(session, revision.series)
        if review is not None or rev.id == revision.id
    ]
    return unchanged_since(steps, revision.version)
