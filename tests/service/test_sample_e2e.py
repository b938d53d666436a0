"""End to end with the real pipeline: inbox -> watcher -> Redis -> Celery worker -> SMTP.

The bundled sample series (sample/series/v1..v3.mbox) is appended to a real
public-inbox; a ``reviewbot worker`` subprocess reviews it on the sample tree
with reviewbot's own pipeline.  v1 must give exactly one threaded reply per
patch with findings within 30 s, visible to ``b4 mbox``; v2 must be linked to
v1 (change-id) and its reply must name what was fixed since v1 and what is
still present.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot.config import SmtpConfig
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import CeleryWorker, RedisServer, SmtpSink, write_config
from reviewbot.sample import build_sample_tree
from reviewbot.storage.models import RevisionRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.watcher import Watcher
from tests.service.conftest import make_config
from tests.service.test_watch_inbox import running, wait_for
from workers.dispatch import Dispatcher

pytestmark = [pytest.mark.services, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SERIES = ROOT / "sample" / "series"


def _body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)


def _patches_with_findings(db: str, version: int) -> set[str]:
    with sessions_for(db)() as s:
        rev = s.scalars(select(RevisionRow).where(RevisionRow.version == version)).one()
        findings = rev.reviews[-1].findings
        return {f.patch_message_id for f in findings if f.patch_message_id}


def test_sample_series_v1_then_v2(
    *,
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    redis_server: RedisServer,
    workers: Callable[..., CeleryWorker],
    tmp_path: Path,
) -> None:
    tree = tmp_path / "tree"
    build_sample_tree(tree)
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    cfg = make_config(
        tmp_path,
        db,
        inbox_url=public_inbox.url,
        broker=redis_server.url,
        pipeline="",
        tree=tree,
        simulate=True,
        smtp=SmtpConfig(
            host="127.0.0.1", port=smtp.port, sender="reviewbot <bot@reviewbot.test>", timeout=5
        ),
    )
    workers(write_config(cfg, tmp_path / "reviewbot.toml"))
    sessions = sessions_for(db)
    dispatcher = Dispatcher(cfg, sessions)
    watcher = Watcher(cfg, sessions, dispatcher.enqueue, stale=dispatcher.stale)
    try:
        with running(watcher):
            started = time.monotonic()
            public_inbox.import_mbox(SERIES / "v1.mbox")
            assert wait_for(lambda: len(smtp.received()) >= 1, 30), "no reply within 30 s"
            elapsed = time.monotonic() - started
            wait_for(lambda: False, 2)  # later polls send nothing more
            v1_replies = smtp.received()
            flagged = _patches_with_findings(db, 1)
            assert flagged and sorted(m["In-Reply-To"] for m in v1_replies) == sorted(
                f"<{m}>" for m in flagged
            )
            assert elapsed < 30

            public_inbox.import_mbox(SERIES / "v2.mbox")
            assert wait_for(lambda: len(smtp.received()) > len(v1_replies), 30)
            wait_for(lambda: False, 2)
    finally:
        dispatcher.close()
    v2_replies = smtp.received()[len(v1_replies) :]
    assert len(v2_replies) == len(_patches_with_findings(db, 2))
    for m in v1_replies + v2_replies:
        assert m["Message-ID"].endswith("@reviewbot.test>")
        assert m["References"] and m["In-Reply-To"] in m["References"]
    text = "\n".join(_body(m) for m in v2_replies)
    assert "Fixed since v1:" in text
    assert "still present since v1" in text
    with sessions() as s:
        revs = s.scalars(select(RevisionRow).order_by(RevisionRow.version)).all()
        assert [r.version for r in revs] == [1, 2]
        assert revs[0].series_id == revs[1].series_id
        assert {r.state for r in revs} == {"reviewed"}
    # The list hands our replies back to the archive: b4 sees them in the v1 thread.
    public_inbox.import_mbox(
        b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + raw + b"\n" for raw in smtp.raw())
    )
    cover = "20261102093000.4101-1-ada@example.org"
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("b4")), "mbox", "-C", "-o", "-", cover],
        env=public_inbox.b4_env(tmp_path / "b4cache"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for m in v1_replies:
        assert m["Message-ID"] in proc.stdout
