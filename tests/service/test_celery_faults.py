"""Real Celery workers on a real redis-server: killed workers, Redis restarts.

The watcher runs in this process and publishes to Redis; workers are
``reviewbot worker`` subprocesses.  What must hold: every review completes
exactly once and every reply reaches the SMTP server exactly once, whatever
dies in between.  Timeouts are shortened (visibility 8 s, restore scan 1 s,
re-enqueue after 4 s) so the suite stays fast.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reviewbot.config import Config, SmtpConfig
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import CeleryWorker, RedisServer, SmtpSink, write_config
from reviewbot.storage.models import ReviewRow, RevisionRow, TaskAttemptRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.task_names import REVIEW_REVISION as REVIEW_TASK
from reviewbot.watch.watcher import Watcher
from tests.service.conftest import make_config
from tests.service.test_watch_inbox import running, wait_for
from workers.dispatch import Dispatcher

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _setup(
    tmp_path: Path, db: str, pi: PublicInbox, smtp: SmtpSink, redis: RedisServer
) -> tuple[Config, Path]:
    cfg = make_config(
        tmp_path,
        db,
        inbox_url=pi.url,
        broker=redis.url,
        smtp=SmtpConfig(
            host="127.0.0.1", port=smtp.port, sender="reviewbot <bot@reviewbot.test>", timeout=5
        ),
    )
    return cfg, write_config(cfg, tmp_path / "reviewbot.toml")


def _watcher(cfg: Config) -> tuple[Watcher, Dispatcher]:
    sessions = sessions_for(cfg.database)
    dispatcher = Dispatcher(cfg, sessions)
    return Watcher(cfg, sessions, dispatcher.enqueue, stale=dispatcher.stale), dispatcher


def _done_reviews(cfg: Config) -> Counter[int]:
    with sessions_for(cfg.database)() as s:
        rows = s.scalars(select(ReviewRow.revision_id).where(ReviewRow.status == "done")).all()
    return Counter(rows)


def _assert_each_once(smtp: SmtpSink, expected: int) -> None:
    ids = [m["Message-ID"] for m in smtp.received()]
    assert len(ids) == expected, ids
    assert len(set(ids)) == expected


def test_sigkill_mid_review_completes_once(
    *,
    db_url: str,
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    redis_server: RedisServer,
    workers: Callable[..., CeleryWorker],
    tmp_path: Path,
) -> None:
    cfg, path = _setup(tmp_path, db_url, public_inbox, smtp, redis_server)
    slow = {"REVIEWBOT_FAKE_DELAY": "3"}
    first = workers(path, env=slow)
    watcher, dispatcher = _watcher(cfg)
    sessions = sessions_for(cfg.database)

    def started() -> bool:
        with sessions() as s:
            return bool(
                s.scalar(
                    select(func.count(TaskAttemptRow.id)).where(
                        TaskAttemptRow.task == REVIEW_TASK, TaskAttemptRow.state == "started"
                    )
                )
            )

    try:
        with running(watcher):
            public_inbox.import_mbox(mbox(series_mails("k", n=3, flagged=(1, 2))))
            assert wait_for(started, 30), "the worker never started the review"
            first.kill()
            workers(path, env=slow)
            assert wait_for(lambda: len(smtp.received()) >= 2, 45)
            wait_for(lambda: False, 2)  # a few more polls and redeliveries: nothing more
    finally:
        dispatcher.close()
    _assert_each_once(smtp, 2)
    assert list(_done_reviews(cfg).values()) == [1]
    with sessions() as s:
        tries = s.scalar(
            select(func.count(TaskAttemptRow.id)).where(
                TaskAttemptRow.task == REVIEW_TASK, TaskAttemptRow.state == "started"
            )
        )
        assert tries is not None and tries >= 2
        assert s.scalars(select(RevisionRow.state)).all() == ["reviewed"]


def test_redis_restarted_three_times_loses_and_doubles_nothing(
    *,
    sqlite_url: str,
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    redis_server: RedisServer,
    workers: Callable[..., CeleryWorker],
    tmp_path: Path,
) -> None:
    """Redis keeps nothing across a restart here: queued and unacked tasks are lost.

    The first restart comes right after every review was published, while most
    still wait in the queue; the watcher must notice the revisions that made no
    progress and publish them again.
    """
    cfg, path = _setup(tmp_path, sqlite_url, public_inbox, smtp, redis_server)
    env = {"REVIEWBOT_FAKE_DELAY": "1"}
    workers(path, env=env)
    workers(path, env=env)
    watcher, dispatcher = _watcher(cfg)
    sessions = sessions_for(cfg.database)
    n_series = 6

    def attempts(task: str, state: str) -> int:
        with sessions() as s:
            return int(
                s.scalar(
                    select(func.count(TaskAttemptRow.id)).where(
                        TaskAttemptRow.task == task, TaskAttemptRow.state == state
                    )
                )
                or 0
            )

    try:
        with running(watcher):
            public_inbox.import_mbox(
                b"".join(
                    mbox(series_mails(f"r{i}", n=2, flagged=(2,), change_id=f"chg-{i}"))
                    for i in range(n_series)
                )
            )
            assert wait_for(lambda: attempts("enqueue", "queued") >= n_series, 30)
            for _ in range(3):
                redis_server.restart()
                wait_for(lambda: False, 1.0)
            assert wait_for(lambda: len(smtp.received()) >= n_series, 90), (
                f"{len(smtp.received())} of {n_series} replies"
            )
            wait_for(lambda: False, 3)
    finally:
        dispatcher.close()
    _assert_each_once(smtp, n_series)
    done = _done_reviews(cfg)
    assert len(done) == n_series and set(done.values()) == {1}
    # Tasks were lost with Redis and published again (not a vacuous run).
    assert attempts("enqueue", "queued") > n_series
    assert attempts(REVIEW_TASK, "done") == n_series


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_sigkill_of_the_pool_child_is_redelivered(
    *,
    sqlite_url: str,
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    redis_server: RedisServer,
    workers: Callable[..., CeleryWorker],
    tmp_path: Path,
) -> None:
    """acks_late + reject_on_worker_lost: the main worker survives and runs the task again."""
    import os
    import signal

    cfg, path = _setup(tmp_path, sqlite_url, public_inbox, smtp, redis_server)
    # A long visibility timeout: only reject_on_worker_lost can bring the task back in time.
    cfg = dataclasses.replace(cfg, worker=dataclasses.replace(cfg.worker, visibility_timeout=60))
    path = write_config(cfg, path)
    worker = workers(path, env={"REVIEWBOT_FAKE_DELAY": "3"})
    watcher, dispatcher = _watcher(cfg)
    watcher = Watcher(cfg, sessions_for(cfg.database), dispatcher.enqueue, stale=None)
    sessions = sessions_for(cfg.database)

    def started() -> int:
        with sessions() as s:
            return int(
                s.scalar(
                    select(func.count(TaskAttemptRow.id)).where(
                        TaskAttemptRow.task == REVIEW_TASK, TaskAttemptRow.state == "started"
                    )
                )
                or 0
            )

    try:
        with running(watcher):
            public_inbox.import_mbox(mbox(series_mails("c", n=2, flagged=(2,))))
            assert wait_for(lambda: started() == 1, 30)
            assert worker.proc is not None
            (child,) = _children(worker.proc.pid)
            os.kill(child, signal.SIGKILL)
            # Well before the visibility timeout: the task was given back when the child
            # died (billiard notices within a few seconds), not found by kombu's scan.
            assert wait_for(lambda: len(smtp.received()) >= 1, 25)
            wait_for(lambda: False, 1.5)
    finally:
        dispatcher.close()
    _assert_each_once(smtp, 1)
    assert started() == 2
    assert worker.proc is not None and worker.proc.poll() is None  # the worker lives on
