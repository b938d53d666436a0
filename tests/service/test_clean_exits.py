"""Temporary overlays never outlive their review: SIGTERM, SIGKILL, Celery's time limit.

A killed review used to leave ``/tmp/reviewbot-apply-*`` behind (1.3 GB from
one run).  Each test gives its processes a TMPDIR of their own, so what is
left there is theirs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot.config import SmtpConfig
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import CeleryWorker, RedisServer, SmtpSink, write_config
from reviewbot.git import OVERLAY_PREFIX, sweep_stale_overlays
from reviewbot.storage.models import RevisionRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.watcher import Watcher
from tests.service.conftest import make_config
from tests.service.test_watch_inbox import wait_for
from workers.dispatch import Dispatcher

ROOT = Path(__file__).resolve().parents[2]


def proc_pid(overlay: Path) -> str:
    return overlay.name[len(OVERLAY_PREFIX) :].split(".")[0]


def _overlays(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(f"{OVERLAY_PREFIX}*"))


@pytest.fixture
def sample_tree(tmp_path: Path) -> Path:
    from reviewbot.sample import build_sample_tree

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    return tree


def _check(tree: Path, tmp: Path, cwd: Path) -> subprocess.Popen[bytes]:
    from reviewbot.sample import series_mbox

    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp))
    env.pop("REVIEWBOT_DATABASE_URL", None)
    argv = [sys.executable, "-m", "reviewbot", "check", "--tree", str(tree)]
    argv += ["--mbox", series_mbox(2), "--outbox", str(cwd / "out"), "--format", "json"]
    with open(cwd / "check.err", "wb") as err:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)


def _kill_mid_review(tree: Path, tmp: Path, cwd: Path, sig: int) -> subprocess.Popen[bytes]:
    """Start a review and send ``sig`` while its overlay exists (retried if it was too quick)."""
    for _ in range(10):
        proc = _check(tree, tmp, cwd)
        while proc.poll() is None and not _overlays(tmp):
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=30)
            return proc
        proc.wait()
    pytest.fail("the review never held an overlay long enough to be signalled")


def test_sigterm_removes_the_overlay(sample_tree: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _kill_mid_review(sample_tree, tmp, tmp_path, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in (tmp_path / "check.err").read_text()
    assert _overlays(tmp) == []


def test_the_next_start_removes_what_sigkill_left(sample_tree: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    _kill_mid_review(sample_tree, tmp, tmp_path, signal.SIGKILL)
    left = _overlays(tmp)
    assert len(left) == 1 and left[0].name.startswith(f"{OVERLAY_PREFIX}{proc_pid(left[0])}.")
    # an overlay of a live process (this one) is left alone; one of an older
    # reviewbot (no owner in its name) once it is old
    from reviewbot.git import _start_time

    alive = tmp / f"{OVERLAY_PREFIX}{os.getpid()}.{_start_time(os.getpid())}-x"
    alive.mkdir()
    old = tmp / f"{OVERLAY_PREFIX}abcd1234"
    old.mkdir()
    os.utime(old, (time.time() - 7 * 3600, time.time() - 7 * 3600))
    proc = _check(sample_tree, tmp, tmp_path)
    assert proc.wait(timeout=120) in (0, 1)
    assert _overlays(tmp) == [alive]
    assert sweep_stale_overlays(tmp) == []


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.parametrize("limit", ["soft", "hard"])
def test_celery_time_limits_remove_the_overlay(
    *,
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    redis_server: RedisServer,
    workers: Callable[..., CeleryWorker],
    sample_tree: Path,
    tmp_path: Path,
    limit: str,
) -> None:
    """Soft: the review is interrupted and cleans up.  Hard: a review deaf to the soft
    limit and to SIGTERM is SIGKILLed by Celery; the next pool child removes what it left."""
    cfg = make_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'rb.db'}",
        inbox_url=public_inbox.url,
        broker=redis_server.url,
        smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, sender="bot@reviewbot.test", timeout=5),
    )
    path = write_config(cfg, tmp_path / "reviewbot.toml")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        "REVIEWBOT_FAKE_DELAY": "60",
        "REVIEWBOT_FAKE_OVERLAY": str(sample_tree),
        "TMPDIR": str(tmp),
    }
    if limit == "hard":
        env["REVIEWBOT_FAKE_STUBBORN"] = "1"
    worker = workers(path, env=env)
    sessions = sessions_for(cfg.database)
    dispatcher = Dispatcher(cfg, sessions)
    watcher = Watcher(cfg, sessions, dispatcher.enqueue, stale=None, send=False)
    public_inbox.import_mbox(mbox(series_mails("slow", n=1, flagged=(1,), change_id="s-1")))
    try:
        assert watcher.poll_once().revisions
        assert wait_for(lambda: bool(_overlays(tmp)), 30)
        # soft limit 5 s, hard 6 s (make_config): either way the overlay goes
        assert wait_for(lambda: not _overlays(tmp), 40), worker.log.read_text()[-2000:]
        if limit == "soft":

            def failed() -> bool:
                with sessions() as s:
                    return s.scalars(select(RevisionRow.state)).one() == "failed"

            assert wait_for(failed, 30)
        else:
            assert "Hard time limit" in worker.log.read_text()
    finally:
        dispatcher.close()
