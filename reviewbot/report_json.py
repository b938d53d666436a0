"""``reviewbot check --format json``: one dict shape for the CLI and storage.

The shape is the contract of issue 2; the report stage prints it and storage
keeps it verbatim as ``reviews.result``, so both call :func:`review_to_json`.
"""

from __future__ import annotations

from reviewbot.models import ApplyStatus, Review


def _patch_status(review: Review, index: int) -> str:
    if review.apply is None:
        return ""
    for p in review.apply.patches:
        if p.index == index:
            return p.status.value
    return ""


def review_to_json(review: Review) -> dict[str, object]:
    """The JSON-ready dict of one review (plain types only)."""
    rev = review.revision
    return {
        "series": {
            "title": review.series.title,
            "author": review.series.author,
            "change_id": review.series.change_id,
        },
        "revision": {
            "version": rev.version,
            "base": review.apply.base if review.apply else rev.base_commit,
            "applied": review.apply.applied if review.apply else False,
        },
        "patches": [
            {
                "index": p.index,
                "total": p.total,
                "subject": p.subject,
                "message_id": p.message_id,
                "applied": _patch_status(review, p.index) == ApplyStatus.APPLIED.value,
            }
            for p in rev.patches
        ],
        "findings": [f.to_json() for f in review.findings],
        "simulation": review.simulation.to_json() if review.simulation else None,
        "notes": list(review.notes),
        "missing": list(rev.missing),
    }
