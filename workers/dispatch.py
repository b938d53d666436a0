"""How the watcher hands a revision to the workers, or runs it itself.

With a broker configured the task is published by name (no import of the
task module, so the watcher does not load the pipeline).  Without one the
review runs in a process of its own (workers/review_one.py), bounded in
memory (``limits.review_memory_mb``) and in time (``limits.review_timeout``,
then it is killed and the revision marked failed): a series that makes the
interpreter spin or a binary patch that eats memory cannot take the watcher
down with it.  ``wait`` says how long enqueue waits for it (the daemon: not
at all, ``pump`` on each poll reaps and starts; ``watch --once``: until it
is done).  Every enqueue is recorded in
``task_attempts``: the watcher re-enqueues a revision that stayed ``queued``
too long (a task lost with a Redis restart), which is safe because the task
is idempotent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from reviewbot import task_names
from reviewbot.config import Config, config_to_dict
from reviewbot.storage.models import RevisionRow, TaskAttemptRow
from reviewbot.storage.states import AttemptState, RevisionState
from workers import jobs

log = logging.getLogger(__name__)


@dataclass
class _Running:
    revision_id: int
    proc: subprocess.Popen[bytes]
    deadline: float


class Dispatcher:
    def __init__(
        self,
        cfg: Config,
        sessions: sessionmaker[Session],
        run_inline: Callable[[int], object] | None = None,
        wait: float | None = None,
    ):
        self.cfg = cfg
        self.sessions = sessions
        self._app = None
        self._inline = run_inline
        self.wait = cfg.limits.review_timeout + 10 if wait is None else wait
        self._queue: deque[int] = deque()
        self._running: _Running | None = None
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
        """Publish (or start) one review; False if the broker could not be reached."""
        self._record(revision_id, AttemptState.QUEUED)
        if self._app is None and self._inline is not None:
            try:
                self._inline(revision_id)
            except jobs.TransientError as exc:
                log.warning("revision %d: %s (will retry)", revision_id, exc)
            return True
        if self._app is None:
            if revision_id not in self._queue and (
                self._running is None or self._running.revision_id != revision_id
            ):
                self._queue.append(revision_id)
            self.pump()
            if self.wait > 0:
                self.drain(self.wait)
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

    # -- reviews in a subprocess (no broker) -------------------------------------
    def pump(self) -> None:
        """Reap the review process, stop it past its deadline, start the next one."""
        run = self._running
        if run is not None:
            code = run.proc.poll()
            if code is None and time.monotonic() > run.deadline:
                self._stop(run)
                limit = self.cfg.limits.review_timeout
                reason = f"review stopped after limits.review_timeout={limit:g}s"
                log.warning("revision %d: %s", run.revision_id, reason)
                jobs.fail_revision(self.sessions, run.revision_id, reason)
                code = run.proc.returncode
            if code is not None:
                if code < 0:  # killed by a signal (the kernel's OOM killer, an operator)
                    reason = f"review process killed by signal {-code}"
                    jobs.fail_revision(self.sessions, run.revision_id, reason)
                self._running = None
        if self._running is None and self._queue:
            self._running = self._start(self._queue.popleft())

    def _start(self, revision_id: int) -> _Running:
        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        proc = subprocess.Popen(
            [sys.executable, "-m", "workers.review_one", str(revision_id)],
            stdin=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its git children die with it
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(config_to_dict(self.cfg)).encode())
            proc.stdin.close()
        except OSError:
            pass  # it died at once: reaped by the next pump
        log.info("revision %d: review started (pid %d)", revision_id, proc.pid)
        return _Running(revision_id, proc, time.monotonic() + self.cfg.limits.review_timeout)

    @staticmethod
    def _stop(run: _Running) -> None:
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, sig)
            try:
                run.proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def drain(self, timeout: float) -> bool:
        """Wait until every queued review has run (or ``timeout``); True when done."""
        end = time.monotonic() + timeout
        while True:
            self.pump()
            if self._running is None and not self._queue:
                return True
            if time.monotonic() > end:
                return False
            time.sleep(0.05)

    @property
    def busy(self) -> bool:
        return self._running is not None or bool(self._queue)

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
        if self._running is not None:
            self._stop(self._running)  # SIGTERM: the review removes its overlay
            self._running = None
        if self._app is not None:
            self._app.close()
