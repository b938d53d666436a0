"""The JSON shape of a review: a contract (``reviewbot check --format json``).

The dashboard, the workers and other tools read it; add keys, never rename.

Each patch says how much of it was reviewed: ``apply_status`` is one of
applied, partial (``failed_hunks`` did not land, the rest was reviewed),
failed (no hunk landed), skipped (it needs a hunk of an earlier patch that
did not land), missing (never received) or already-applied (the base has
it); ``failed_hunks`` gives each hunk's file, header, base and cause.
``files_not_read`` lists the files of a patch that applied but were not
read (over the size limit).  ``not_reviewed`` says, one sentence each, what
of the series was not reviewed (the reply's "Not reviewed:" list), and
``simulation_not_run`` why the simulator did not run (null when it ran).
``revision.base_source`` says where the base came from (trailer, index,
--base, --range, HEAD), ``revision.base_reason`` the same in words.
"""

from __future__ import annotations

from reviewbot.models import ApplyStatus, Review, simulation_not_run
from reviewbot.pipeline.coverage import BASE_SOURCE_WORDS, gaps, unread


def review_to_json(review: Review) -> dict[str, object]:
    apply_by_index = {p.index: p for p in review.apply.patches} if review.apply else {}

    def applied(index: int) -> bool:
        pa = apply_by_index.get(index)
        return pa is not None and pa.status is ApplyStatus.APPLIED

    rev = review.revision
    not_read = unread(review)
    return {
        "series": {
            "title": review.series.title,
            "author": review.series.author,
            "change_id": review.series.change_id,
        },
        "revision": {
            "version": rev.version,
            "base": review.apply.base if review.apply else rev.base_commit,
            "base_source": review.apply.base_source if review.apply else None,
            "base_reason": (
                BASE_SOURCE_WORDS.get(review.apply.base_source, review.apply.base_source)
                if review.apply
                else None
            ),
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
                "apply_detail": (
                    apply_by_index[p.index].detail if p.index in apply_by_index else ""
                ),
                "failed_hunks": (
                    [h.to_json() for h in apply_by_index[p.index].failed_hunks]
                    if p.index in apply_by_index
                    else []
                ),
                "author": p.author,
                "files_not_read": not_read.get(p.index, []),
            }
            for p in rev.patches
        ]
        + [
            # a patch that never arrived is in the list too, with its status
            {
                "index": m,
                "total": rev.total,
                "subject": None,
                "message_id": None,
                "applied": False,
                "apply_status": ApplyStatus.MISSING.value,
                "apply_detail": "never arrived",
                "failed_hunks": [],
                "author": None,
                "files_not_read": [],
            }
            for m in rev.missing
        ],
        "findings": [f.to_json() for f in review.findings],
        "simulation": review.simulation.to_json() if review.simulation else None,
        "simulation_not_run": simulation_not_run(review.simulation is not None, review.notes),
        "not_reviewed": gaps(review),
        "notes": list(review.notes),
    }
