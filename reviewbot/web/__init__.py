"""The dashboard: a Flask app factory over storage.

``create_app(config)`` builds an app bound to one database; tests build a
fresh one each.  The app only reads storage and writes three kinds of
request (re-run, invalid, approve); it never runs the pipeline itself: a
re-run goes to an injectable ``ENQUEUE`` callable (see actions.py).

Config keys (each also read from the environment when absent):
``DATABASE_URL`` (``--database`` / ``$REVIEWBOT_DATABASE_URL``),
``REVIEWBOT_WEB_TOKEN`` (no token configured: every action is refused),
``CELERY_BROKER_URL`` (``$REVIEWBOT_BROKER_URL``), ``ENQUEUE``,
``PAGE_SIZE`` (50), ``CSP`` (True: a Content-Security-Policy that allows
no script at all; the pages need none).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, g, jsonify, render_template, request
from sqlalchemy.exc import DataError, StatementError
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, HTTPException

from reviewbot.storage.db import database_url, open_db

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        DATABASE_URL=database_url(None),
        REVIEWBOT_WEB_TOKEN=os.environ.get("REVIEWBOT_WEB_TOKEN", ""),
        CELERY_BROKER_URL=os.environ.get("REVIEWBOT_BROKER_URL", ""),
        ENQUEUE=None,
        PAGE_SIZE=50,
        CSP=True,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.extensions["reviewbot.db"] = open_db(app.config["DATABASE_URL"])

    from reviewbot.web import actions, api, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(actions.bp)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(HTTPException, _error)
    app.before_request(_validate_parameters)
    # a value the database refuses is the request's fault: 400, never 500
    app.register_error_handler(DataError, _bad_value)
    app.register_error_handler(StatementError, _bad_value)

    @app.context_processor
    def _actions() -> dict[str, bool]:
        # Without a token every action is refused: do not offer them.
        return {"actions_enabled": bool(app.config["REVIEWBOT_WEB_TOKEN"])}

    @app.after_request
    def _headers(response: Any) -> Any:
        if app.config["CSP"]:
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def db() -> Session:
    """The request's session (closed when the request ends)."""
    if "db" not in g:
        from flask import current_app

        g.db = current_app.extensions["reviewbot.db"]()
    session: Session = g.db
    return session


MAX_INT = 2**63 - 1  # ids are BIGINT at most: a larger one cannot name a row
MAX_PARAM = 4096
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _validate_parameters() -> None:
    """Every parameter of every request, before any view reads it."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 <= value <= MAX_INT:
            abort(400, description=f"{name} out of range")
        if isinstance(value, str) and (_CONTROL_RE.search(value) or len(value) > MAX_PARAM):
            abort(400, description=f"bad {name}")
    sources = [request.args]
    if request.method == "POST" and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sources.append(request.form)
    for source in sources:
        for key, value in source.items(multi=True):
            if _CONTROL_RE.search(key) or _CONTROL_RE.search(value):
                abort(400, description=f"control character in parameter {key[:40]!r}")
            if len(value) > MAX_PARAM and key != "reason":
                abort(400, description=f"parameter {key[:40]!r} too long")


def _bad_value(exc: Exception) -> Any:
    session = g.get("db")
    if session is not None:
        session.rollback()
    return _error(BadRequest(description="a parameter has a value the database cannot take"))


def _error(exc: HTTPException) -> Any:
    code = exc.code or 500
    if request.path.startswith("/api/"):
        return jsonify({"error": exc.name, "description": exc.description}), code
    return render_template("error.html", error=exc), code


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
