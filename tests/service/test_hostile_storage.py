"""Headers nobody should write cannot wedge the watcher (SQLite and PostgreSQL).

A 600-character Message-Id or a 300-character change-id overflowed a VARCHAR
on PostgreSQL: the poll failed, and every later mail of the list was never
read.  Now such ids are hashed at the door, a mail that still cannot be
stored is quarantined with its reason, and the cursor moves on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import reviewbot.watch.watcher as watcher_module
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink
from reviewbot.storage.models import CursorRow, MessageRow, RevisionRow, SeriesRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.storage.states import MessageState
from reviewbot.watch.series import quarantine
from tests.service.test_watch_inbox import _cfg, _watcher

pytestmark = pytest.mark.services

LONG_ID = "a" * 590 + "@evil.example"


def _long_id_series() -> list[str]:
    mails = series_mails("long", n=2, flagged=(1,), change_id="c" * 300)
    return [m.replace("long-v1-0@example.org", LONG_ID) for m in mails]


def _nul_subject_series() -> list[str]:
    # RFC 2047 hides the NUL from public-inbox; the reader decodes it
    mails = series_mails("nul", n=1, flagged=(1,), change_id="nul-1")
    return [
        m.replace("Subject: [PATCH 0/1] mm:", "Subject: =?utf-8?q?[PATCH_0/1]_mm=00=1B]0;x=07:?=")
        for m in mails
    ]


def test_hostile_ids_neither_stop_the_watcher_nor_hide_the_next_series(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    watcher = _watcher(cfg)
    public_inbox.import_mbox(mbox(_long_id_series()))
    public_inbox.import_mbox(mbox(_nul_subject_series()))
    public_inbox.import_mbox(mbox(series_mails("next", n=2, flagged=(2,), change_id="next-1")))
    stats = watcher.poll_once()
    assert not stats.errors and stats.read == 8
    assert len(stats.revisions) == 3
    sessions = sessions_for(cfg.database)
    with sessions() as s:
        series = list(s.scalars(select(SeriesRow)))
        subjects = [r.subject for r in s.scalars(select(RevisionRow))]
        long_rev = s.scalar(select(RevisionRow).where(RevisionRow.message_id.like("aaaa%")))
        assert long_rev is not None and len(long_rev.message_id) <= 200
        assert any(sr.change_id and sr.change_id.startswith("ccc") for sr in series)
        titles = [*subjects, *(sr.title for sr in series)]
        assert not any("\x00" in t or "\x1b" in t for t in titles)
    # the replies go out, threaded; an id is never folded into RFC 2047 words
    replies = {m["In-Reply-To"]: m for m in smtp.received()}
    assert set(replies) == {
        "<long-v1-1@example.org>",
        "<nul-v1-1@example.org>",
        "<next-v1-2@example.org>",
    }
    refs = replies["<long-v1-1@example.org>"]["References"].split()
    assert refs[0].startswith("<aaaa") and refs[0].endswith(">") and "=?" not in refs[0]
    # and the list goes on being read
    public_inbox.import_mbox(mbox(series_mails("later", n=1, flagged=(1,), change_id="later-1")))
    stats = watcher.poll_once()
    assert not stats.errors and stats.read == 2 and len(stats.revisions) == 1


def test_a_mail_the_reader_chokes_on_is_quarantined_and_the_cursor_moves(
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    watcher = _watcher(cfg)
    real = watcher_module.parse_mail

    def choking(raw: bytes) -> object:  # a reader bug on one shape of mail
        if b"poison" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw)

    monkeypatch.setattr(watcher_module, "parse_mail", choking)
    poison = "From: x@example.org\nSubject: poison\nMessage-Id: <p-1@x>\n\npoison\n"
    public_inbox.import_mbox(mbox([poison]))
    public_inbox.import_mbox(mbox(series_mails("after", n=1, flagged=(1,), change_id="a-1")))
    stats = watcher.poll_once()
    assert not stats.errors and len(stats.revisions) == 1 and stats.quarantined == 1
    with sessions_for(cfg.database)() as s:
        kept = s.scalars(
            select(MessageRow).where(MessageRow.state == MessageState.QUARANTINED)
        ).one()
        assert kept.reason.startswith("unreadable: RecursionError") and "poison" in kept.raw
        assert s.scalars(select(CursorRow)).one().commit
    assert watcher.poll_once().read == 0  # read once, kept aside, not read again
    # a second quarantine of the same bytes writes nothing new
    with sessions_for(cfg.database).begin() as s:
        assert quarantine(s, cfg.lists[0].inbox_url, kept.raw.encode(), None, "again") == 0
