"""The watcher against a real public-inbox on loopback, reviews in-process, real SMTP.

These use the fake pipeline (tests/service/fakepipe.py) to test the service's
own logic: reading epochs from a cursor, duplicates, the inbox going away,
threading of replies, reviewer commands and v1 -> v2 linking.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reviewbot.cli import main
from reviewbot.config import Config, SmtpConfig
from reviewbot.devtools.dkimkeys import Signer, pin_keys
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink, write_config
from reviewbot.storage.models import (
    CursorRow,
    MessageRow,
    ReviewRow,
    RevisionRow,
    SuppressionRow,
)
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.watcher import Watcher
from tests.service.conftest import make_config
from workers.dispatch import Dispatcher

pytestmark = pytest.mark.services


def _cfg(tmp_path: Path, pi: PublicInbox, smtp: SmtpSink, db: str | None = None) -> Config:
    return make_config(
        tmp_path,
        db or f"sqlite:///{tmp_path / 'rb.db'}",
        inbox_url=pi.url,
        smtp=SmtpConfig(
            host="127.0.0.1", port=smtp.port, sender="reviewbot <bot@reviewbot.test>", timeout=5
        ),
    )


def _watcher(cfg: Config) -> Watcher:
    sessions = sessions_for(cfg.database)
    dispatcher = Dispatcher(cfg, sessions)
    return Watcher(cfg, sessions, dispatcher.enqueue, stale=dispatcher.stale)


@contextlib.contextmanager
def running(watcher: Watcher) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def _as_mbox(raws: list[bytes]) -> bytes:
    return b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + r + b"\n" for r in raws)


def test_new_series_gets_one_threaded_reply_per_flagged_patch(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp)
    watcher = _watcher(cfg)
    with running(watcher):
        time.sleep(0.5)  # the watcher is polling an empty inbox
        started = time.monotonic()
        public_inbox.import_mbox(mbox(series_mails("w", n=3, flagged=(1, 3))))
        assert wait_for(lambda: len(smtp.received()) >= 2, 30)
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # a few more polls: nothing more is sent
    received = smtp.received()
    assert len(received) == 2 and elapsed < 30
    assert sorted(m["In-Reply-To"] for m in received) == [
        "<w-v1-1@example.org>",
        "<w-v1-3@example.org>",
    ]
    for m in received:
        assert m["Message-ID"].endswith("@reviewbot.test>")
        assert "<w-v1-0@example.org>" in m["References"]
    # The list delivers our replies back to the inbox; b4 sees them in the thread.
    public_inbox.import_mbox(_as_mbox(smtp.raw()))
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("b4")), "mbox", "-C", "-o", "-", "w-v1-0@example.org"],
        env=public_inbox.b4_env(tmp_path / "b4cache"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "6 messages in the thread" in proc.stderr
    for m in received:
        assert m["Message-ID"] in text


def test_same_message_twice_gives_one_review(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    mails = series_mails("dup", n=2, flagged=(2,))
    public_inbox.import_mbox(mbox(mails))
    # The same Message-Id again with other bytes: public-inbox keeps both copies.
    again = [m.rstrip("\n") + "\n(resent)\n" for m in mails]
    public_inbox.import_mbox(mbox(again))
    watcher = _watcher(cfg)
    first = watcher.poll_once()
    assert (first.read, first.stored, first.duplicates) == (6, 3, 3)
    watcher.poll_once()
    sessions = sessions_for(cfg.database)
    with sessions() as s:
        assert s.scalar(select(func.count(RevisionRow.id))) == 1
        assert s.scalar(select(func.count(ReviewRow.id))) == 1
    assert len(smtp.received()) == 1


def test_inbox_down_backs_off_and_resumes_from_cursor(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp)
    public_inbox.import_mbox(mbox(series_mails("up", n=2, flagged=(1,))))
    watcher = _watcher(cfg)
    assert watcher.poll_once().read == 3
    public_inbox.stop()
    waits = []
    for _ in range(3):
        stats = watcher.poll_once()
        assert stats.errors and stats.read == 0
        waits.append(watcher.next_wait())
    assert waits == sorted(waits) and waits[0] > cfg.watch.interval
    assert waits[-1] <= cfg.watch.backoff_max
    public_inbox.import_mbox(mbox(series_mails("later", n=2, flagged=(2,), change_id=None)))
    public_inbox.serve()  # same port
    stats = watcher.poll_once()
    assert not stats.errors and stats.read == 3  # only the new mail
    assert watcher.next_wait() == cfg.watch.interval
    with sessions_for(cfg.database)() as s:
        assert s.scalar(select(func.count(MessageRow.id))) == 6
        assert s.scalar(select(func.count(RevisionRow.id))) == 2
        assert s.scalars(select(CursorRow)).one().epoch == 0
    assert len(smtp.received()) == 2


def test_v2_is_linked_reviewed_and_names_what_was_fixed(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    lst = dataclasses.replace(cfg.lists[0], maintainers=("mai@example.org",))
    # The maintainer's reply is DKIM-signed by example.org (a key made now, pinned).
    signer = Signer("example.org")
    cfg = pin_keys(dataclasses.replace(cfg, lists=(lst,)), tmp_path / "dkim.keys", [signer])
    watcher = _watcher(cfg)
    public_inbox.import_mbox(mbox(series_mails("s", version=1, n=3, flagged=(1, 2, 3))))
    watcher.poll_once()
    v1_replies = smtp.received()
    assert len(v1_replies) == 3
    # A maintainer says the finding on patch 2 is wrong, replying to our mail.
    ours = next(m for m in v1_replies if m["In-Reply-To"] == "<s-v1-2@example.org>")
    fid = str(ours.get_payload()).split("[id ")[1].split("]")[0]
    reply = (
        "From: Mai Ntainer <mai@example.org>\nTo: linux-mm@kvack.org\n"
        f"Subject: Re: {ours['Subject']}\nDate: Fri, 20 Nov 2026 11:00:00 +0000\n"
        f"Message-Id: <mai-1@example.org>\nIn-Reply-To: {ours['Message-ID']}\n"
        f"References: <s-v1-0@example.org> <s-v1-2@example.org> {ours['Message-ID']}\n\n"
        f"> bug: something  [id {fid}]\n\nreviewbot: invalid {fid} the lock is held here\n"
    )
    public_inbox.import_mbox(_as_mbox([signer.sign(reply.encode())]))
    watcher.poll_once()
    with sessions_for(cfg.database)() as s:
        sup = s.scalars(select(SuppressionRow)).one()
        assert (sup.finding_id, sup.by) == (
            fid,
            "Mai Ntainer <mai@example.org> (DKIM d=example.org)",
        )
        assert "lock is held" in sup.reason
    # v2 fixes patch 1, keeps 2 (suppressed) and 3.
    public_inbox.import_mbox(mbox(series_mails("s2", version=2, n=3, flagged=(2, 3))))
    watcher.poll_once()
    v2_replies = smtp.received()[3:]
    assert [m["In-Reply-To"] for m in v2_replies] == ["<s2-v2-3@example.org>"]
    body = str(v2_replies[0].get_payload())
    assert "still present since v1" in body and "Fixed since v1:" in body
    with sessions_for(cfg.database)() as s:
        revs = s.scalars(select(RevisionRow).order_by(RevisionRow.version)).all()
        assert [r.version for r in revs] == [1, 2] and revs[0].series_id == revs[1].series_id
        statuses = {f.finding_id: f.status for f in revs[1].reviews[0].findings}
        assert fid not in statuses and set(statuses.values()) == {"still-present"}


def test_watch_command_once(
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REVIEWBOT_BROKER_URL", raising=False)
    monkeypatch.delenv("REVIEWBOT_DATABASE_URL", raising=False)
    cfg = _cfg(tmp_path, public_inbox, smtp)
    path = write_config(cfg, tmp_path / "reviewbot.toml")
    public_inbox.import_mbox(mbox(series_mails("cli", n=2, flagged=(1,))))
    assert main(["watch", "--config", str(path), "--once"]) == 0
    assert "read 3, new 3, revisions 1" in capsys.readouterr().out
    assert len(smtp.received()) == 1
    assert main(["outbox", "--config", str(path), "list"]) == 0
    assert " sent " in capsys.readouterr().out
    public_inbox.stop()
    assert main(["watch", "--config", str(path), "--once"]) == 2
    assert "error: linux-mm:" in capsys.readouterr().out


def test_first_poll_starts_at_the_newest_mail_without_backfill(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp)
    cfg = dataclasses.replace(cfg, watch=dataclasses.replace(cfg.watch, backfill=False))
    public_inbox.import_mbox(mbox(series_mails("old", n=2, flagged=(1, 2))))
    watcher = _watcher(cfg)
    assert watcher.poll_once().read == 0  # the archive is not reviewed (nor replied to)
    public_inbox.import_mbox(mbox(series_mails("new", n=2, flagged=(2,), change_id=None)))
    stats = watcher.poll_once()
    assert stats.read == 3 and len(stats.revisions) == 1
    assert [m["In-Reply-To"] for m in smtp.received()] == ["<new-v1-2@example.org>"]


def test_watch_daemon_stops_cleanly_on_sigterm(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path
) -> None:
    import os
    import signal

    cfg = _cfg(tmp_path, public_inbox, smtp)
    path = write_config(cfg, tmp_path / "reviewbot.toml")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("REVIEWBOT_BROKER_URL", None)
    log = tmp_path / "watch.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reviewbot", "watch", "--config", str(path)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        public_inbox.import_mbox(mbox(series_mails("d", n=2, flagged=(1,))))
        assert wait_for(lambda: len(smtp.received()) == 1, 30), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "1 revisions queued" in log.read_text()
