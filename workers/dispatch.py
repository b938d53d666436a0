"""How the watcher hands a revision to the workers, or runs it itself.

With a broker configured the task is published by name (no import of the
task module, so the watcher does not load the pipeline).  Without one the
review runs in-process, right away.  Every enqueue is recorded in
``task_attempts``: the watcher re-enqueues a revision that stayed ``queued``
too long (a task lost with a Redis restart), which is safe because the task
is idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from reviewbot import task_names
from reviewbot.config import Config
from reviewbot.storage.models import RevisionRow, TaskAttemptRow
from reviewbot.storage.states import AttemptState, RevisionState
from workers import jobs

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        cfg: Config,
        sessions: sessionmaker[Session],
        run_inline: Callable[[int], object] | None = None,
    ):
        self.cfg = cfg
        self.sessions = sessions
        self._app = None
        self._inline = run_inline
        if cfg.broker:
            from workers.celery_app import make_app

            self._app = make_app(cfg)

    def _record(self, revision_id: int, state: AttemptState, error: str | None = None) -> None:
        with self.sessions.begin() as session:
            session.add(
                TaskAttemptRow(
                    task=task_names.ENQUEUE, revision_id=revision_id, state=state, error=error
                )
            )

    def enqueue(self, revision_id: int) -> bool:
        """Publish (or run) one review; False if the broker could not be reached."""
        self._record(revision_id, AttemptState.QUEUED)
        if self._app is None:
            if self._inline is None:
                from workers.pipeline import load_pipeline

                pipeline = load_pipeline(self.cfg.pipeline)
                self._inline = lambda rid: jobs.review_revision(
                    self.cfg, self.sessions, pipeline, rid
                )
            try:
                self._inline(revision_id)
            except jobs.TransientError as exc:
                log.warning("revision %d: %s (will retry)", revision_id, exc)
            return True
        try:
            self._app.send_task(
                task_names.REVIEW_REVISION,
                args=[revision_id],
                retry=True,
                retry_policy={
                    "max_retries": 2,
                    "interval_start": 0.2,
                    "interval_step": 0.5,
                    "interval_max": 1,
                },
            )
        except (KombuOperationalError, OSError) as exc:
            log.warning("revision %d: broker unreachable: %s", revision_id, exc)
            self._record(revision_id, AttemptState.ENQUEUE_FAILED, str(exc)[:500])
            return False
        return True

    def stale(self, now: dt.datetime) -> list[int]:
        """Queued revisions with no sign of life for ``watch.requeue_after`` seconds."""
        cutoff = now - dt.timedelta(seconds=self.cfg.watch.requeue_after)
        last = (
            select(TaskAttemptRow.revision_id, func.max(TaskAttemptRow.created).label("at"))
            .group_by(TaskAttemptRow.revision_id)
            .subquery()
        )
        with self.sessions() as session:
            rows = session.execute(
                select(RevisionRow.id, last.c.at)
                .outerjoin(last, last.c.revision_id == RevisionRow.id)
                .where(RevisionRow.state == RevisionState.QUEUED)
            ).all()
        out = []
        for rid, seen in rows:
            at = seen.replace(tzinfo=dt.UTC) if seen is not None and seen.tzinfo is None else seen
            if at is None or at < cutoff:
                out.append(rid)
        return out

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
