"""Without a broker the watcher reviews in a bounded subprocess and goes on polling.

``reviewbot watch`` as a real daemon on a real public-inbox: one series whose
review never ends, one whose review asks for 64 GB, one ordinary.  The
watcher must read the later mail while the first review hangs, stop it at
``limits.review_timeout``, survive the second, and review the third.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reviewbot.config import LimitsConfig, SmtpConfig
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink, write_config
from reviewbot.storage.models import MessageRow, ReviewRow, RevisionRow, TaskAttemptRow
from reviewbot.storage.sessions import sessions_for
from tests.service.conftest import make_config
from tests.service.test_watch_inbox import wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_a_hanging_and_a_hogging_review_do_not_stop_the_watcher(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path
) -> None:
    cfg = make_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'rb.db'}",
        inbox_url=public_inbox.url,
        smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, sender="bot@reviewbot.test", timeout=5),
    )
    cfg = dataclasses.replace(cfg, limits=LimitsConfig(review_timeout=12, review_memory_mb=1024))
    path = write_config(cfg, tmp_path / "reviewbot.toml")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env |= {"REVIEWBOT_FAKE_HANG": "hang-v1", "REVIEWBOT_FAKE_HOG": "hog-v1"}
    env.pop("REVIEWBOT_BROKER_URL", None)
    sessions = sessions_for(cfg.database)

    def count(model: type, *where: object) -> int:
        with sessions() as s:
            return int(s.scalar(select(func.count(model.id)).where(*where)) or 0)  # type: ignore[attr-defined]

    log = tmp_path / "watch.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reviewbot", "watch", "--config", str(path)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        public_inbox.import_mbox(mbox(series_mails("hang", n=1, flagged=(1,), change_id="h-1")))
        assert wait_for(lambda: count(TaskAttemptRow, TaskAttemptRow.state == "started") == 1, 30)
        started = time.monotonic()
        public_inbox.import_mbox(mbox(series_mails("hog", n=1, flagged=(1,), change_id="g-1")))
        public_inbox.import_mbox(mbox(series_mails("ok", n=1, flagged=(1,), change_id="o-1")))
        # the watcher reads the new mail while the first review still hangs
        assert wait_for(lambda: count(MessageRow) == 6, 8), log.read_text()
        assert time.monotonic() - started < 10
        assert count(RevisionRow, RevisionRow.state == "failed") == 0
        # the hanging review is stopped, the hog fails alone, the ordinary one is mailed
        assert wait_for(lambda: len(smtp.received()) == 1, 90), log.read_text()
        assert smtp.received()[0]["In-Reply-To"] == "<ok-v1-1@example.org>"
        assert proc.poll() is None and _rss_kb(proc.pid) < 400_000
        with sessions() as s:
            failed = dict(
                s.execute(
                    select(RevisionRow.message_id, ReviewRow.error).join(
                        ReviewRow, ReviewRow.revision_id == RevisionRow.id
                    )
                ).all()
            )
        assert "review stopped after limits.review_timeout=12s" in failed["hang-v1-0@example.org"]
        assert "MemoryError" in failed["hog-v1-0@example.org"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
