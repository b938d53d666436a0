"""Celery tasks: thin shims that take ids and call workers.jobs.

Task names are a contract, kept in ``reviewbot/task_names.py``: the web
dashboard sends ``REVIEW_REVISION`` with a revision id to ask for a (re-)review.
"""

from __future__ import annotations

from functools import cache

from celery import Task

from reviewbot import task_names
from reviewbot.outbox import send_due
from reviewbot.storage.sessions import sessions_for
from workers import jobs
from workers.celery_app import app, config
from workers.pipeline import Pipeline, load_pipeline


@cache
def _pipeline() -> Pipeline:
    return load_pipeline(config.pipeline)


@app.task(name=task_names.REVIEW_REVISION, bind=True, max_retries=None)  # type: ignore[untyped-decorator,unused-ignore]
def review_revision(self: Task, revision_id: int, force: bool = False) -> str:  # type: ignore[type-arg,unused-ignore]
    try:
        result = jobs.review_revision(
            config, sessions_for(config.database), _pipeline(), int(revision_id), force=force
        )
    except jobs.TransientError as exc:
        retries = int(self.request.retries or 0)
        if retries + 1 >= config.worker.max_attempts:
            raise
        raise self.retry(exc=exc, countdown=config.worker.retry_backoff * 2**retries) from exc
    return result.value


@app.task(name=task_names.SEND_OUTBOX)  # type: ignore[untyped-decorator,unused-ignore]
def send_outbox() -> dict[str, int]:
    stats = send_due(sessions_for(config.database), config)
    return dict(vars(stats))
