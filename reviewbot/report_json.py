"""The JSON shape of a review: a contract (``reviewbot check --format json``).

The dashboard, the workers and other tools read it; add keys, never rename.
"""

from __future__ import annotations

from reviewbot.models import ApplyStatus, Review


def review_to_json(review: Review) -> dict[str, object]:
    apply_by_index = {p.index: p for p in review.apply.patches} if review.apply else {}

    def applied(index: int) -> bool:
        pa = apply_by_index.get(index)
        return pa is not None and pa.status is ApplyStatus.APPLIED

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
            "applied": bool(review.apply and review.apply.applied),
            "missing": list(rev.missing),
        },
        "patches": [
            {
                "index": p.index,
                "total": p.total,
                "subject": p.subject,
                "message_id": p.message_id,
                "applied": applied(p.index),
                "apply_status": (
                    apply_by_index[p.index].status.value if p.index in apply_by_index else None
                ),
            }
            for p in rev.patches
        ],
        "findings": [f.to_json() for f in review.findings],
        "simulation": review.simulation.to_json() if review.simulation else None,
        "notes": list(review.notes),
    }
