"""Grouping stored mails into revisions, and linking v1 -> vN (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.config import Config
from reviewbot.devtools.mails import series_mails
from reviewbot.storage.models import MessageRow, PatchRow, RevisionRow, SeriesRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.mail import parse_mail
from reviewbot.watch.series import group_pending, link_revisions, store_message
from tests.service.conftest import make_config

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _feed(
    sessions: sessionmaker[Session], cfg: Config, mails: list[str], now: dt.datetime = NOW
) -> list[int]:
    lst = cfg.lists[0]
    with sessions.begin() as s:
        for m in mails:
            raw = m.encode()
            store_message(s, lst.inbox_url, raw, parse_mail(raw))
    with sessions.begin() as s:
        return group_pending(s, lst, now, cfg.watch.grace, cfg.watch.link_window_days)


def test_complete_series_makes_one_revision(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    mails = series_mails("a", n=3)
    assert _feed(sessions, cfg, mails[:3]) == []  # cover, 1/3, 2/3: waits for 3/3
    (rid,) = _feed(sessions, cfg, mails[3:] + mails[:1])  # 3/3 and the cover again
    with sessions() as s:
        rev = s.get(RevisionRow, rid)
        assert rev is not None
        assert (rev.version, rev.total, rev.state) == (1, 3, "queued")
        assert [p.index for p in rev.patches] == [1, 2, 3]
        assert rev.series.change_id == "20261126-swap-batch-0123456789ab"
        assert rev.mbox is not None and rev.mbox.count("From mboxrd@z") == 4
        assert (
            s.scalar(select(MessageRow.state).where(MessageRow.message_id == "a-v1-0@example.org"))
            == "grouped"
        )
        assert len(s.scalars(select(MessageRow)).all()) == 4  # the duplicate cover was dropped


def test_incomplete_series_waits_for_grace(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    mails = series_mails("b", n=3)
    assert _feed(sessions, cfg, mails[:2]) == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=cfg.watch.grace + 1)
    (rid,) = _feed(sessions, cfg, [], now=later)
    with sessions() as s:
        rev = s.get(RevisionRow, rid)
        assert rev is not None and [p.index for p in rev.patches] == [1]
    # the straggler 2/3 arriving after the review started is not a new revision
    assert _feed(sessions, cfg, mails[2:3], now=later) == []


def test_unrelated_paths_are_ignored(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    assert _feed(sessions, cfg, series_mails("c", path="drivers/net/foo.c")) == []
    with sessions() as s:
        assert s.scalars(select(RevisionRow)).all() == []
        assert {r.state for r in s.scalars(select(MessageRow))} == {"ignored"}


def test_v2_links_by_change_id_then_by_title(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    (v1,) = _feed(sessions, cfg, series_mails("d", version=1))
    (v2,) = _feed(sessions, cfg, series_mails("d2", version=2, when=NOW + dt.timedelta(days=3)))
    # v3 lost its change-id: linked by title and author within the window
    (v3,) = _feed(
        sessions,
        cfg,
        series_mails("d3", version=3, change_id=None, when=NOW + dt.timedelta(days=6)),
    )
    # a v2 of another series with the same author but another title is not linked
    (other,) = _feed(
        sessions,
        cfg,
        series_mails("e", version=2, change_id=None, title="mm: shmem: something else"),
    )
    with sessions() as s:
        revs = {r.id: r for r in s.scalars(select(RevisionRow))}
        assert revs[v1].series_id == revs[v2].series_id == revs[v3].series_id
        assert revs[other].series_id != revs[v1].series_id
        assert [r.version for r in revs[v1].series.revisions] == [1, 2, 3]


def test_link_command_links_the_rest(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    (v1,) = _feed(sessions, cfg, series_mails("f", version=1, change_id=None))
    (v2,) = _feed(
        sessions,
        cfg,
        series_mails("g", version=2, change_id=None, title="mm: swap: a renamed series"),
    )
    with sessions.begin() as s:
        link_revisions(s, "<f-v1-0@example.org>", "g-v2-2@example.org")  # any patch works
    with sessions() as s:
        a, b = s.get(RevisionRow, v1), s.get(RevisionRow, v2)
        assert a is not None and b is not None and a.series_id == b.series_id
        assert len(s.scalars(select(SeriesRow)).all()) == 1
        assert len(s.scalars(select(PatchRow)).all()) == 6


def test_link_a_revision_to_itself_is_refused(db_url: str, tmp_path: Path) -> None:
    # used to print "linked: ..." and exit 0, having done nothing
    from reviewbot.errors import UsageError

    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    _feed(sessions, cfg, series_mails("h", version=1, change_id=None))
    with sessions.begin() as s, pytest.raises(UsageError, match="are the same revision"):
        link_revisions(s, "<h-v1-0@example.org>", "h-v1-1@example.org")
