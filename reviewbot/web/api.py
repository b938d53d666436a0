"""JSON API under /api/, described by an OpenAPI 3.1 document.

Same queries as the HTML pages; the OpenAPI document is written by hand
(openapi.py) and a test checks that it names every /api/ route.
"""

from __future__ import annotations

import shlex
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from reviewbot.models import Reproducer, simulation_not_run, summarise
from reviewbot.storage.models import FindingRow, ReviewRow, RevisionRow, SeriesRow
from reviewbot.web import db
from reviewbot.web.openapi import document
from reviewbot.web.queries import IndexFilters, finding_occurrences, index_page, series_view

bp = Blueprint("api", __name__, url_prefix="/api")


def series_json(s: SeriesRow) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "author": s.author,
        "change_id": s.change_id,
        "list_id": s.list_id,
        "health": s.health,
        "latest_version": s.latest_version,
        "applied": s.applied,
        "findings": {
            "bug": s.n_bug,
            "possible-bug": s.n_possible_bug,
            "question": s.n_question,
            "nit": s.n_nit,
            "note": s.n_note,
        },
        "simulator": s.sim_status,
        "trend": s.trend,
        "updated": s.updated.isoformat() if s.updated else None,
    }


def finding_json(f: FindingRow, suppressed: bool = False) -> dict[str, Any]:
    return {
        "id": f.finding_id,
        "checker": f.checker,
        "severity": f.severity,
        "file": f.file,
        "line": f.line,
        "function": f.function,
        "message": f.message,
        "patch_index": f.patch_index,
        "patch_message_id": f.patch_message_id,
        "evidence": f.evidence,
        "status": f.status,
        "context": f.context,
        "suppressed": suppressed,
    }


def review_json(r: ReviewRow, suppressed: set[str]) -> dict[str, Any]:
    return {
        "id": r.id,
        "created": r.created.isoformat() if r.created else None,
        "status": r.status,
        "base": r.base,
        "applied": r.applied,
        "exit_status": r.exit_status,
        "reused_from": (r.result or {}).get("reused_from"),
        "notes": r.notes,
        "findings": [finding_json(f, f.finding_id in suppressed) for f in r.findings],
        "simulation": [
            {
                "scenario": s.scenario,
                "revision": s.revision,
                "outcome": s.outcome,
                "kind": s.kind,
                "message": s.message,
                "trace": s.trace,
            }
            for s in r.sim_runs
        ],
        "simulation_summary": summarise(r.sim_runs).to_json() if r.sim_runs else None,
        "simulation_not_run": simulation_not_run(bool(r.sim_runs), r.notes or []),
    }


def revision_json(rev: RevisionRow, unchanged: dict[int, int] | None = None) -> dict[str, Any]:
    """A revision; ``unchanged`` maps patch index -> "unchanged since" version."""
    since = unchanged or {}
    return {
        "id": rev.id,
        "version": rev.version,
        "subject": rev.subject,
        "message_id": rev.message_id,
        "date": rev.date.isoformat() if rev.date else None,
        "state": rev.state,
        "base_commit": rev.base_commit,
        "rerun_requested": rev.rerun_requested.isoformat() if rev.rerun_requested else None,
        "patches": [
            {
                "index": p.index,
                "total": p.total,
                "subject": p.subject,
                "message_id": p.message_id,
                "author": p.author,
                "patch_id": p.patch_id,
                "applied": p.applied,
                "unchanged_since": since.get(p.index),
            }
            for p in rev.patches
        ],
    }


@bp.get("/series")
def series_list() -> Any:
    filters = IndexFilters.from_args(request.args.to_dict())
    per_page = request.args.get("per_page", type=int) or int(current_app.config["PAGE_SIZE"])
    page = index_page(db(), filters, max(1, min(per_page, 500)))
    return jsonify(
        {
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "series": [series_json(s) for s in page.series],
        }
    )


@bp.get("/series/<int:series_id>")
def series_detail(series_id: int) -> Any:
    older = request.args.get("from", type=int)
    newer = request.args.get("to", type=int)
    view = series_view(db(), series_id, older, newer)
    if view is None:
        abort(404, description="no such series")
    compare = None
    if view.delta is not None and view.older and view.newer:
        compare = {
            "from": view.older.revision.version,
            "to": view.newer.revision.version,
            "new": [f.finding_id for f in view.delta.new],
            "still_present": [f.finding_id for f in view.delta.still],
            "fixed": [f.finding_id for f in view.delta.fixed],
            "range_diff": [
                {
                    "kind": p.kind.value,
                    "old_index": p.old_index,
                    "new_index": p.new_index,
                    "subject": p.subject,
                    "diff": "\n".join(p.lines),
                }
                for p in view.rangediff
            ],
        }
    return jsonify(
        {
            "series": series_json(view.series),
            "revisions": [
                {
                    **revision_json(rv.revision, rv.unchanged),
                    "review": review_json(rv.review, view.suppressed) if rv.review else None,
                }
                for rv in view.revisions
            ],
            "compare": compare,
            "outbox": [
                {
                    "id": o.id,
                    "revision_id": o.revision_id,
                    "state": o.state,
                    "subject": o.subject,
                    "to": o.to_addrs,
                    "message_id": o.message_id,
                }
                for o in view.outbox
            ],
        }
    )


@bp.get("/findings/<finding_id>")
def finding_detail(finding_id: str) -> Any:
    occurrences = finding_occurrences(db(), finding_id)
    if not occurrences:
        abort(404, description="no such finding")
    return jsonify(
        {
            "id": finding_id,
            "occurrences": [
                {
                    "series_id": o.series.id,
                    "series_title": o.series.title,
                    "version": o.revision.version,
                    "review_id": o.review.id,
                    "finding": finding_json(o.finding),
                    "simulation": [
                        {
                            "scenario": s.scenario,
                            "outcome": s.outcome,
                            "kind": s.kind,
                            "message": s.message,
                            "trace": s.trace,
                            "reproduce": reproduce_command(s.scenario, o.revision.message_id),
                        }
                        for s in o.review.sim_runs
                        if s.outcome != "pass"
                    ],
                }
                for o in occurrences
            ],
        }
    )


def reproduce_command(scenario: str, message_id: str) -> str:
    """The command that replays one simulator case on the revision.

    Case ids read ``"table-freed order=4 index=3"`` (sim/suite.py), with the
    entry in front for entries other than do_swap_page
    (``"zap_pte_range:swap-batch order=4 index=0"``).
    """
    return shlex.join(Reproducer.from_case_id(scenario).argv(message_id))


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(document())
