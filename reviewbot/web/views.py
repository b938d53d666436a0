"""HTML pages: the index of series, a series, a finding.

Every value that comes from a patch or a mail reaches the templates as plain
data and is escaped by Jinja's autoescape; no template uses ``|safe`` on it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from reviewbot.storage.history import lineage
from reviewbot.storage.summary import Health
from reviewbot.web import db
from reviewbot.web.api import reproduce_command
from reviewbot.web.charts import trend_svg
from reviewbot.web.queries import (
    SEVERITY_ORDER,
    IndexFilters,
    finding_occurrences,
    index_page,
    series_view,
)

bp = Blueprint("views", __name__)

NOTICES = {
    "rerun": "Re-run requested: the revision is queued for review.",
    "invalid": "Finding marked invalid: it will not be raised again.",
    "approved": "Email approved: it will be sent.",
}


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {
        "trend_svg": trend_svg,
        "reproduce": reproduce_command,
        "severities": SEVERITY_ORDER,
        "healths": [h.value for h in Health],
        "notice": NOTICES.get(request.args.get("notice", ""), ""),
    }


def _version_arg(name: str) -> int | None:
    value = request.args.get(name, "").lstrip("v")
    # isdigit() says yes to "²", which int() refuses: ASCII decimals only
    return int(value) if value.isascii() and value.isdecimal() and len(value) < 10 else None


@bp.get("/")
def index() -> str:
    filters = IndexFilters.from_args(request.args.to_dict())
    page = index_page(db(), filters, int(current_app.config["PAGE_SIZE"]))
    return render_template("index.html", page=page, filters=filters)


@bp.get("/series/<int:series_id>")
def series(series_id: int) -> str:
    view = series_view(db(), series_id, _version_arg("from"), _version_arg("to"))
    if view is None:
        abort(404, description="no such series")
    return render_template("series.html", view=view)


@bp.get("/findings/<finding_id>")
def finding(finding_id: str) -> str:
    session = db()
    occurrences = finding_occurrences(session, finding_id)
    if not occurrences:
        abort(404, description="no such finding")
    histories = {}
    for occ in occurrences:
        if occ.series.id not in histories:
            histories[occ.series.id] = lineage(session, occ.series, finding_id)
    latest = occurrences[-1]
    runs = []
    for occ in occurrences:
        for run in occ.review.sim_runs:
            if run.outcome == "pass":
                continue
            here = bool(run.function) and (run.function, run.file) == (
                occ.finding.function,
                occ.finding.file,
            )
            runs.append((occ, run, here))
    # runs that failed in the finding's own function first: they are its reproducer
    runs.sort(key=lambda t: (not t[2], t[0].revision.version))
    return render_template(
        "finding.html",
        runs=runs,
        finding_id=finding_id,
        occurrences=occurrences,
        latest=latest,
        histories=histories,
    )
