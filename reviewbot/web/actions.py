"""The three writes the dashboard allows, each behind the token.

Re-run a revision, mark a finding invalid, approve a held email.  The token
comes from ``REVIEWBOT_WEB_TOKEN`` and is given as the ``token`` form field
or an ``Authorization: Bearer`` header; without a configured token every
action is refused.  HTML forms post to ``/actions/...`` and are redirected
back (303); the same actions under ``/api/...`` answer JSON.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, request, url_for
from sqlalchemy import select

from reviewbot import task_names
from reviewbot.storage import summary
from reviewbot.storage.models import OutboxRow, RevisionRow, SeriesRow, SuppressionRow
from reviewbot.storage.states import RevisionState
from reviewbot.web import db

log = logging.getLogger(__name__)
bp = Blueprint("actions", __name__)


def authorised() -> bool:
    expected = str(current_app.config.get("REVIEWBOT_WEB_TOKEN") or "")
    if not expected:
        return False
    given = request.form.get("token", "")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:].strip()
    return hmac.compare_digest(given.encode(), expected.encode())


def _require_token() -> None:
    if not authorised():
        abort(403, description="this action needs the dashboard token")


def celery_enqueue(broker_url: str) -> Callable[[int], None]:
    """Send ``reviewbot.review_revision(revision_id)`` to the workers."""

    def send(revision_id: int) -> None:
        from celery import Celery

        celery = Celery("reviewbot-web", broker=broker_url)
        # A maintainer's click must not hang on a dead broker: fail at once,
        # the request is already stored and a worker sweep can pick it up.
        celery.conf.update(
            broker_connection_timeout=2,
            broker_connection_retry=False,
            broker_connection_max_retries=0,
            broker_transport_options={"socket_connect_timeout": 2, "max_retries": 0},
        )
        try:
            celery.send_task(task_names.REVIEW_REVISION, args=[revision_id], retry=False)
        finally:
            celery.close()

    return send


def enqueue_for(app: Flask) -> Callable[[int], None] | None:
    hook = app.config.get("ENQUEUE")
    if callable(hook):
        return hook  # type: ignore[no-any-return]
    broker = app.config.get("CELERY_BROKER_URL")
    return celery_enqueue(str(broker)) if broker else None


def rerun(revision_id: int) -> dict[str, Any]:
    session = db()
    revision = session.get(RevisionRow, revision_id)
    if revision is None:
        abort(404, description="no such revision")
    revision.rerun_requested = dt.datetime.now(dt.UTC)
    revision.state = RevisionState.QUEUED
    summary.refresh(session, revision.series)
    session.commit()
    queued = False
    send = enqueue_for(current_app._get_current_object())  # type: ignore[attr-defined]
    if send is not None:
        try:
            send(revision_id)
            queued = True
        except Exception as exc:  # the request is stored; a worker sweep finds it
            log.warning("could not queue revision %s: %s", revision_id, exc)
    return {"revision": revision_id, "series": revision.series_id, "queued": queued}


def mark_invalid(finding_id: str) -> dict[str, Any]:
    session = db()
    series_id = request.form.get("series", type=int)
    if series_id is None and request.is_json:
        body = request.get_json(silent=True) or {}
        series_id = body.get("series") if isinstance(body.get("series"), int) else None
    if series_id is not None and not (
        0 < series_id < 2**63 and session.get(SeriesRow, series_id) is not None
    ):
        abort(404, description="no such series")
    reason = (request.form.get("reason") or "")[:2000]
    row = session.scalars(
        select(SuppressionRow).where(SuppressionRow.finding_id == finding_id[:16])
    ).first()
    touched = {series_id}
    if row is None:
        row = SuppressionRow(
            finding_id=finding_id[:16], series_id=series_id, by="dashboard", reason=reason
        )
        session.add(row)
    elif series_id is not None and row.series_id not in (None, series_id):
        # One row per finding id (the table's key): invalid in two series
        # means invalid everywhere.
        touched.add(row.series_id)
        row.series_id = None
    session.flush()
    for sid in touched - {None}:
        series = session.get(SeriesRow, sid)
        if series is not None:
            summary.refresh(session, series)
    session.commit()
    return {"finding": finding_id, "suppressed": True, "series": series_id}


def approve(outbox_id: int) -> dict[str, Any]:
    session = db()
    row = session.get(OutboxRow, outbox_id)
    if row is None:
        abort(404, description="no such email")
    if row.state != "held":
        abort(409, description=f"email is {row.state}, not held")
    row.state = "pending"
    session.commit()
    return {"outbox": outbox_id, "state": row.state, "revision": row.revision_id}


def _back(series_id: int | None, notice: str) -> Any:
    if series_id is None:
        return redirect(url_for("views.index", notice=notice), code=303)
    return redirect(url_for("views.series", series_id=series_id, notice=notice), code=303)


@bp.post("/actions/revisions/<int:revision_id>/rerun")
def rerun_form(revision_id: int) -> Any:
    _require_token()
    done = rerun(revision_id)
    return _back(done["series"], "rerun")


@bp.post("/actions/findings/<finding_id>/invalid")
def invalid_form(finding_id: str) -> Any:
    _require_token()
    done = mark_invalid(finding_id)
    return _back(done["series"], "invalid")


@bp.post("/actions/outbox/<int:outbox_id>/approve")
def approve_form(outbox_id: int) -> Any:
    _require_token()
    done = approve(outbox_id)
    rev = db().get(RevisionRow, done["revision"]) if done["revision"] else None
    return _back(rev.series_id if rev else None, "approved")


@bp.post("/api/revisions/<int:revision_id>/rerun")
def rerun_api(revision_id: int) -> Any:
    _require_token()
    return jsonify(rerun(revision_id)), 202


@bp.post("/api/findings/<finding_id>/invalid")
def invalid_api(finding_id: str) -> Any:
    _require_token()
    return jsonify(mark_invalid(finding_id))


@bp.post("/api/outbox/<int:outbox_id>/approve")
def approve_api(outbox_id: int) -> Any:
    _require_token()
    return jsonify(approve(outbox_id))
