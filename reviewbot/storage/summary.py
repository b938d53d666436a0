"""The health line of a series, kept on the series row.

The dashboard index lists 10,000 series, filtered and paginated; computing
each one's health from its revisions, reviews and findings at request time
would cost a dozen joins per row.  Instead every write that can change it
(a review recorded, a finding suppressed, a re-run requested, a revision
queued or failed by the workers) calls :func:`refresh`, and the index reads
one row per series.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot.models import simulation_not_run, summarise
from reviewbot.storage.diffs import paths
from reviewbot.storage.history import reviewed_revisions
from reviewbot.storage.models import ReviewRow, SeriesRow, SuppressionRow
from reviewbot.storage.states import ReviewStatus, RevisionState


class Health(enum.Enum):
    """What the index says about a series' latest revision."""

    PENDING = "pending"  # not reviewed yet, or a re-run was requested
    FAILED = "failed"  # the review itself failed
    NOT_APPLIED = "not-applied"  # a patch did not apply on the base
    FINDINGS = "findings"  # at least one bug or possible bug
    CLEAN = "clean"  # reviewed, applied, nothing blocking


SEVERITY_COLUMNS = {
    "bug": "n_bug",
    "possible-bug": "n_possible_bug",
    "question": "n_question",
    "nit": "n_nit",
    "note": "n_note",
}


def suppressed_ids(session: Session, series_id: int) -> set[str]:
    """Findings marked invalid for this series (or for every series)."""
    rows = session.scalars(
        select(SuppressionRow.finding_id).where(
            (SuppressionRow.series_id == series_id) | (SuppressionRow.series_id.is_(None))
        )
    )
    return set(rows)


def sim_status(review: ReviewRow | None) -> str:
    """The simulator's health for the reviewed revision of ``review``:
    fail, pass, unknown (mostly not simulated) or none."""
    if review is None or not review.sim_runs:
        return "none"
    return summarise(review.sim_runs).health


def sim_sentence(review: ReviewRow | None) -> str:
    """``68 of 68 runs of v2 could not be simulated: frobnicate() is unknown``,
    ``Simulator: no simulated path touched (...)`` for a review it did not
    run in, or ""."""
    if review is None:
        return ""
    if not review.sim_runs:
        why = simulation_not_run(False, review.notes or [])
        return f"Simulator: {why}" if why else ""
    return summarise(review.sim_runs).not_simulated_sentence()


def counts(review: ReviewRow | None, hidden: set[str]) -> dict[str, int]:
    out = dict.fromkeys(SEVERITY_COLUMNS, 0)
    if review is None:
        return out
    for f in review.findings:
        if f.finding_id not in hidden and f.severity in out:
            out[f.severity] += 1
    return out


def refresh(session: Session, series: SeriesRow) -> None:
    """Recompute the denormalised health columns of one series."""
    session.flush()
    hidden = suppressed_ids(session, series.id)
    history = reviewed_revisions(session, series)
    trend: list[dict[str, int]] = []
    touched: dict[str, None] = {}
    for rev, review in history:
        for patch in rev.patches:
            for p in paths(patch.diff):
                touched.setdefault(p, None)
        if review is None:
            continue
        c = counts(review, hidden)
        trend.append(
            {
                "version": rev.version,
                "bug": c["bug"],
                "possible_bug": c["possible-bug"],
                "other": c["question"] + c["nit"] + c["note"],
                "sim_fail": int(sim_status(review) == "fail"),
            }
        )
    series.trend = trend
    series.paths = "\n" + "".join(p + "\n" for p in touched)
    if not history:
        series.health = Health.PENDING.value
        return
    latest, review = history[-1]
    series.latest_version = latest.version
    series.latest_revision_id = latest.id
    c = counts(review, hidden)
    for sev, column in SEVERITY_COLUMNS.items():
        setattr(series, column, c[sev])
    series.sim_status = sim_status(review)
    series.applied = review.applied if review is not None else None
    if latest.state == RevisionState.FAILED and latest.rerun_requested is None:
        health = Health.FAILED  # the workers gave up on this revision
    elif (
        review is None or latest.rerun_requested is not None or latest.state == RevisionState.QUEUED
    ):
        health = Health.PENDING
    elif review.status == ReviewStatus.FAILED:
        health = Health.FAILED
    elif not review.applied:
        health = Health.NOT_APPLIED
    elif c["bug"] or c["possible-bug"]:
        health = Health.FINDINGS
    else:
        health = Health.CLEAN
    series.health = health.value
    series.updated = review.created if review is not None else dt.datetime.now(dt.UTC)
