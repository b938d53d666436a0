"""Replies go to the right people: addresses parsed by the book, a cap, never twice.

Real public-inbox and watcher, a real aiosmtpd sink (its envelopes say who
was mailed), and ``reviewbot check --send`` as a subprocess.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot.config import SmtpConfig
from reviewbot.devtools.mails import AUTHOR, mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink
from reviewbot.outbox import send_due
from reviewbot.pipeline import post
from reviewbot.pipeline.report import ReplyMail
from reviewbot.storage.models import OutboxRow, RevisionRow, SeriesRow
from reviewbot.storage.sessions import sessions_for
from tests.service.conftest import check_send, make_config
from tests.service.test_watch_inbox import _cfg, _watcher

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
MANY = ", ".join(f"Person {i} <p{i}@example.org>" for i in range(500))


def _rewrite(mails: list[str], author: str, cc: str | None) -> list[str]:
    out = []
    for mail in mails:
        text = mail.replace(f"From: {AUTHOR}", f"From: {author}")
        if cc is not None:
            text = text.replace(
                "To: linux-mm@kvack.org\n", f"To: linux-mm@kvack.org\nCc: {cc}\n", 1
            )
        out.append(text)
    return out


def test_addresses_are_parsed_capped_and_never_misdirected(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    cases = {
        # a quoted display name with a comma
        "doe": ('"Doe, John" <john@example.org>', "Kit Reclaimer <kit@example.org>"),
        # 500 people on Cc
        "many": ("Ada <ada@example.org>", MANY),
        # a display name that is an address list, and a non-ASCII mailbox
        "trick": ('"eve@evil.example, mallory@evil.example" <real@example.org>', None),
        "utf": ("Zoe <zoe@example.org>", "Jörg <jörg@exämple.org>, Uli <uli@example.org>"),
    }
    for tag, (author, cc) in cases.items():
        mails = series_mails(tag, n=1, flagged=(1,), change_id=f"{tag}-1")
        public_inbox.import_mbox(mbox(_rewrite(mails, author, cc)))
    stats = _watcher(cfg).poll_once()
    assert not stats.errors and len(stats.revisions) == 4
    got = {
        m["In-Reply-To"].split("-")[0].strip("<"): rcpts
        for m, rcpts in zip(smtp.received(), smtp.envelopes(), strict=True)
    }
    assert got["doe"] == ["john@example.org", "linux-mm@kvack.org", "kit@example.org"]
    assert got["many"] == ["ada@example.org", "linux-mm@kvack.org"]  # none of the 500
    assert got["trick"] == ["real@example.org", "linux-mm@kvack.org"]
    assert got["utf"] == ["zoe@example.org", "linux-mm@kvack.org", "uli@example.org"]
    doe = next(m for m in smtp.received() if m["In-Reply-To"].startswith("<doe"))
    assert doe["To"] == '"Doe, John" <john@example.org>'
    with sessions_for(cfg.database)() as s:
        assert {r.state for r in s.scalars(select(OutboxRow))} == {"sent"}


def test_a_row_with_a_non_ascii_address_is_never_stuck_in_sending(
    smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = make_config(
        tmp_path,
        db_url,
        smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, sender="bot@reviewbot.test", timeout=5),
    )
    raw = "From: bot@reviewbot.test\nSubject: Re: x\nMessage-ID: <r1@reviewbot.test>\n\nhello\n"
    sessions = sessions_for(cfg.database)
    with sessions.begin() as s:  # as rows were written before addresses were checked
        series = SeriesRow(title="t", author="a", list_id="linux-mm")
        rev = RevisionRow(series=series, version=1, subject="s", message_id="m@x", total=1)
        s.add(rev)
        s.flush()
        for i, to in enumerate(["jörg@exämple.org, ada@example.org", "jörg@exämple.org"]):
            s.add(
                OutboxRow(
                    key=f"k{i}",
                    revision_id=rev.id,
                    message_id=f"r{i}@reviewbot.test",
                    to_addrs=to,
                    subject="Re: x",
                    raw=raw,
                    state="pending",
                    not_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                )
            )
    send_due(sessions, cfg)
    with sessions() as s:
        states = [r.state for r in s.scalars(select(OutboxRow).order_by(OutboxRow.key))]
    assert states == ["sent", "failed"]
    assert smtp.envelopes() == [["ada@example.org"]]


def _reply(n: int) -> ReplyMail:
    return ReplyMail(
        message_id=f"reviewbot.t{n}@reviewbot.test",
        in_reply_to=f"patch-{n}@example.org",
        references=(f"patch-{n}@example.org",),
        subject=f"Re: [PATCH {n}/2] mm: swap",
        to=('"Doe, John" <john@example.org>',),
        cc=("linux-mm@kvack.org", *(f"p{i}@example.org" for i in range(500))),
        body="bug: something\n",
    )


def test_send_after_a_partial_failure_never_mails_twice(smtp: SmtpSink, tmp_path: Path) -> None:
    cfg = post.SmtpConfig(host="127.0.0.1", port=smtp.port, timeout=5)
    smtp.sink.refuse_after = 1
    with pytest.raises(post.SendError, match="1 sent"):
        post.send_smtp([_reply(1), _reply(2)], cfg, tmp_path / "outbox")
    smtp.sink.refuse_after = None
    assert post.send_smtp([_reply(1), _reply(2)], cfg, tmp_path / "outbox") == 1
    assert post.send_smtp([_reply(1), _reply(2)], cfg, tmp_path / "outbox") == 0
    assert [m["In-Reply-To"] for m in smtp.received()] == [
        "<patch-1@example.org>",
        "<patch-2@example.org>",
    ]
    assert smtp.envelopes()[0] == ["john@example.org", "linux-mm@kvack.org"]


def test_check_send_twice_sends_once(smtp: SmtpSink, tmp_path: Path) -> None:
    argv, env = check_send(smtp, tmp_path)
    for _ in range(2):
        proc = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode in (0, 1), proc.stderr
    assert len(smtp.received()) == 1
