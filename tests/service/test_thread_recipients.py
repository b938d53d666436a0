"""A reply goes to the people who replied in the patch's thread, under the cap.

Real public-inbox, the watcher (reviews in its child process), the outbox and
a real aiosmtpd sink whose envelopes say who was mailed; ``reviewbot check
--send`` as a subprocess for the developer's path.  Reviewers who answered
patch 2 get the bot's reply to patch 2, not the one to patch 1; one who
answers after the review was written but before it is sent gets it too; 30
repliers under ``max_recipients = 20`` make exactly 20 recipients; the bot's
own mail, a From: made of addresses and 600-character ids add nobody wrong.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import os
import subprocess
import sys
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot.addresses import choose
from reviewbot.config import Config, PolicyMode
from reviewbot.devtools.mails import AUTHOR, LIST, mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink
from reviewbot.outbox import approve, send_due
from reviewbot.storage.models import MessageRefRow, MessageRow, OutboxRow
from reviewbot.storage.sessions import sessions_for
from tests.service.test_watch_inbox import _cfg, _watcher

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
ADA = "ada@example.org"
LONG_ID = "r" * 590 + "@evil.example"


def _answer(
    frm: str, msgid: str, parent: str, refs: list[str], subject: str = "mm: swap: step"
) -> str:
    """A reviewer's mail in a thread (not a patch)."""
    return (
        f"From: {frm}\nTo: {LIST}\nSubject: Re: [PATCH 2/2] {subject}\n"
        "Date: Fri, 20 Nov 2026 11:00:00 +0000\n"
        f"Message-Id: <{msgid}>\nIn-Reply-To: <{parent}>\n"
        f"References: {' '.join(f'<{r}>' for r in refs)}\n\n"
        "> +\tif (unlikely(nr_pages > 2))\n\nWhy not nr_pages >= 2 here?\n"
    )


def _with_policy(cfg: Config, **kw: object) -> Config:
    lst = cfg.lists[0]
    policy = dataclasses.replace(lst.policy, **kw)  # type: ignore[arg-type]
    return dataclasses.replace(cfg, lists=(dataclasses.replace(lst, policy=policy),))


def _by_patch(smtp: SmtpSink) -> dict[str, list[str]]:
    return {
        str(m["In-Reply-To"]).strip("<>"): rcpts
        for m, rcpts in zip(smtp.received(), smtp.envelopes(), strict=True)
    }


def _mail_to(smtp: SmtpSink, patch: str) -> Message:
    return next(m for m in smtp.received() if m["In-Reply-To"] == f"<{patch}>")


def test_reviewers_of_patch_2_get_the_reply_to_patch_2_only(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    cover, p1, p2 = (f"t-v1-{i}@example.org" for i in range(3))
    mails = series_mails("t", n=2, flagged=(1, 2), change_id="thread-1")
    mails += [
        _answer("Kit Reclaimer <kit@example.org>", "kit-1@example.org", p2, [cover, p2]),
        # a reply to Kit's reply: still in patch 2's thread
        _answer(
            "Morgan Pagetable <morgan@example.org>",
            "morgan-1@example.org",
            "kit-1@example.org",
            [cover, p2, "kit-1@example.org"],
        ),
        _answer("Kit Reclaimer <KIT@example.org>", "kit-2@example.org", p2, [cover, p2]),  # again
        # a display name made of addresses: the one real address, never the names
        _answer(
            '"eve@evil.example, mallory@evil.example" <real@example.org>',
            "trick-1@example.org",
            p2,
            [cover, p2],
        ),
        # a From: of two addresses (unquoted): nobody
        _answer(
            "eve@evil.example, mallory@evil.example <x@evil.example>",
            "trick-2@example.org",
            p2,
            [cover, p2],
        ),
        # the bot's own address never mails itself
        _answer("reviewbot <bot@reviewbot.test>", "old@reviewbot.test", p2, [cover, p2]),
    ]
    public_inbox.import_mbox(mbox(mails))
    stats = _watcher(cfg).poll_once()
    assert not stats.errors and len(stats.revisions) == 1
    got = _by_patch(smtp)
    assert got[p2] == [
        ADA,
        LIST,
        "kit@example.org",
        "morgan@example.org",
        "real@example.org",
    ]
    assert got[p1] == [ADA, LIST]
    assert not any("evil" in r for rcpts in got.values() for r in rcpts)
    cc = _mail_to(smtp, p2)["Cc"]
    assert "Kit Reclaimer <kit@example.org>" in cc and "mallory" in cc  # the quoted name, kept
    assert [a for _, a in email.utils.getaddresses([cc])] == got[p2][1:]
    with sessions_for(cfg.database)() as s:
        rows = {r.patch_message_id: r for r in s.scalars(select(OutboxRow))}
        assert rows[p2].to_addrs == ", ".join(got[p2]) and rows[p2].state == "sent"


def test_a_reviewer_who_answers_before_the_reply_is_sent_gets_it(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _with_policy(_cfg(tmp_path, public_inbox, smtp, db_url), mode=PolicyMode.HOLD)
    cover, p1, p2 = (f"late-v1-{i}@example.org" for i in range(3))
    mails = series_mails("late", n=2, flagged=(1, 2), change_id="late-1")
    mails.append(_answer("Early Bird <early@example.org>", "early@example.org", p1, [cover, p1]))
    public_inbox.import_mbox(mbox(mails))
    watcher = _watcher(cfg)
    assert len(watcher.poll_once().revisions) == 1
    sessions = sessions_for(cfg.database)
    with sessions() as s:
        held = {r.patch_message_id: r for r in s.scalars(select(OutboxRow))}
    assert {r.state for r in held.values()} == {"held"}
    assert held[p1].to_addrs == f"{ADA}, {LIST}, early@example.org"
    # After the review was written: a reviewer answers patch 1, and the bot's
    # own reply comes back through the list under another From: (its
    # Message-ID is in the outbox: it is no replier).
    ours = _answer("Reviewbot Relay <relay@lists.example>", held[p2].message_id, p1, [cover, p1])
    late = _answer("Late Comer <late@example.org>", "late-1@example.org", p1, [cover, p1])
    public_inbox.import_mbox(mbox([late, ours]))
    assert watcher.poll_once().stored == 2
    with sessions.begin() as s:
        assert approve(s, [r.id for r in held.values()]) == 2
    assert send_due(sessions, cfg).sent == 2
    got = _by_patch(smtp)
    assert got[p1] == [ADA, LIST, "early@example.org", "late@example.org"]
    assert got[p2] == [ADA, LIST]
    assert "Late Comer <late@example.org>" in _mail_to(smtp, p1)["Cc"]
    with sessions() as s:
        row = s.get(OutboxRow, held[p1].id)
        assert row is not None and row.state == "sent"
        assert row.to_addrs == ", ".join(got[p1])
        assert "Late Comer <late@example.org>" in row.raw  # what was mailed is what is kept


def test_thirty_repliers_under_a_cap_of_twenty(
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp)
    cfg = _with_policy(cfg, mode=PolicyMode.HOLD, max_recipients=20)
    cover, p1 = "many-v1-0@example.org", "many-v1-1@example.org"
    mails = series_mails("many", n=1, flagged=(1,), change_id="many-1")
    mails += [
        _answer(f"Reviewer {i} <r{i}@example.org>", f"r{i}@example.org", p1, [cover, p1])
        for i in range(30)
    ]
    public_inbox.import_mbox(mbox(mails))
    watcher = _watcher(cfg)
    assert len(watcher.poll_once().revisions) == 1
    sessions = sessions_for(cfg.database)
    with sessions() as s:
        row = s.scalars(select(OutboxRow)).one()
    assert row.last_error == "12 Cc over max_recipients=20 not mailed"
    with sessions.begin() as s:
        approve(s, [row.id])
    with caplog.at_level(logging.INFO, logger="reviewbot"):
        assert send_due(sessions, cfg).sent == 1
    (rcpts,) = smtp.envelopes()
    assert rcpts == [ADA, LIST, *(f"r{i}@example.org" for i in range(18))]  # order of arrival
    over = [r for r in caplog.records if "thread repliers over" in r.getMessage()]
    assert len(over) == 1 and "12 of 30" in over[0].getMessage()
    # the same choice, by itself: 20 mailed, 12 counted as dropped
    thread = [f"Reviewer {i} <r{i}@example.org>" for i in range(30)]
    rcpt = choose([AUTHOR], [LIST], ["cc@example.org"], 20, thread=thread)
    assert len(rcpt.envelope) == 20 and rcpt.dropped == 13  # 12 repliers and the Cc


def test_hostile_ids_in_a_thread_are_stored_and_answered(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    cover, p1 = "hid-v1-0@example.org", "hid-v1-1@example.org"
    mails = series_mails("hid", n=1, flagged=(1,), change_id="hid-1")
    mails += [
        # a 600-character Message-Id
        _answer("Long Id <long@example.org>", LONG_ID, p1, [cover, p1]),
        # an answer to it (its In-Reply-To is 600 characters), and 100 more ids
        _answer(
            "Deep Thread <deep@example.org>",
            "deep-1@example.org",
            LONG_ID,
            [cover, p1, *(f"x{i}@example.org" for i in range(100)), LONG_ID],
        ),
        # a NUL in the display name (an encoded word hides it from public-inbox)
        _answer("=?utf-8?q?Nul=00Name?= <nul@example.org>", "nul-1@example.org", p1, [cover, p1]),
    ]
    public_inbox.import_mbox(mbox(mails))
    stats = _watcher(cfg).poll_once()
    assert not stats.errors and stats.quarantined == 0 and len(stats.revisions) == 1
    (rcpts,) = smtp.envelopes()
    assert rcpts == [ADA, LIST, "long@example.org", "deep@example.org", "nul@example.org"]
    with sessions_for(cfg.database)() as s:
        deep = s.scalars(select(MessageRow).where(MessageRow.message_id == "deep-1@example.org"))
        refs = [r.ref for r in deep.one().refs]
        assert len(refs) == 40 and refs[:2] == [cover, p1]
        assert refs[-1].startswith("rrrr") and "#" in refs[-1]  # hashed, as stored ids are
        long_row = s.scalars(select(MessageRow).where(MessageRow.message_id.like("rrrr%"))).one()
        assert long_row.message_id == refs[-1]
        assert all(len(r.ref) <= 200 for r in s.scalars(select(MessageRefRow)))


def test_check_send_mails_the_reviewers_of_the_fetched_thread(
    smtp: SmtpSink, tmp_path: Path
) -> None:
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    cover, p1, p3 = (f"20261102093000.4101-{i}-ada@example.org" for i in (1, 2, 4))
    thread = Path(series_mbox(1)).read_text()
    answers = [
        _answer("Rae Viewer <rae@example.org>", "rae-1@example.org", p3, [cover, p3]),
        _answer("Nat Other <nat@example.org>", "nat-1@example.org", p1, [cover, p1]),
        _answer(
            "Sam Second <sam@example.org>",
            "sam-1@example.org",
            "rae-1@example.org",
            [cover, p3, "rae-1@example.org"],
        ),
        # an earlier reply of the bot (its Message-ID form), relayed under another From:
        _answer(
            "Relay <relay@lists.example>", "reviewbot.0123abcd.v1-3@reviewbot.test", p3, [cover, p3]
        ),
        _answer(
            '"eve@evil.example, mallory@evil.example" <real@example.org>',
            "trick@example.org",
            p3,
            [cover, p3],
        ),
    ]
    full = tmp_path / "thread.mbox"
    full.write_text(
        thread + "".join(f"From mboxrd@z Thu Jan  1 00:00:00 1970\n{a}\n" for a in answers)
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        REVIEWBOT_SMTP_HOST="127.0.0.1",
        REVIEWBOT_SMTP_PORT=str(smtp.port),
        REVIEWBOT_FROM="reviewbot <bot@reviewbot.test>",
    )
    env.pop("REVIEWBOT_DATABASE_URL", None)
    argv = [sys.executable, "-m", "reviewbot", "check", "--tree", str(tree), "--no-simulate"]
    argv += ["--mbox", str(full), "--send", "--outbox", str(tmp_path / "out")]
    proc = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode in (0, 1), proc.stderr
    got = _by_patch(smtp)
    assert list(got) == [p3]  # the sample's v1 has findings on patch 3 only
    rcpts = got[p3]
    assert rcpts[:5] == [
        ADA,
        "linux-mm@lists.example.org",
        "rae@example.org",
        "sam@example.org",
        "real@example.org",
    ]
    assert "nat@example.org" not in rcpts and "relay@lists.example" not in rcpts
    assert not any("evil" in r for r in rcpts)
    assert {"morgan@example.org", "kit@example.org"} <= set(rcpts[5:])  # the patch's own Cc
    # the developer path has no list policy: $REVIEWBOT_MAX_RECIPIENTS is its cap
    env["REVIEWBOT_MAX_RECIPIENTS"] = "3"
    argv[-1] = str(tmp_path / "out-capped")  # a new ledger: this reply is sent again
    proc = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert smtp.envelopes()[-1] == [ADA, "linux-mm@lists.example.org", "rae@example.org"]
    env["REVIEWBOT_MAX_RECIPIENTS"] = "1"  # below the author and the list: said, not obeyed
    argv[-1] = str(tmp_path / "out-one")
    proc = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2 and "REVIEWBOT_MAX_RECIPIENTS must be at least 2" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_reply_to_the_cover_letter_reaches_the_whole_thread(db_url: str) -> None:
    from reviewbot.storage.thread import repliers
    from reviewbot.watch.mail import parse_mail
    from reviewbot.watch.series import store_messages

    sessions = sessions_for(db_url)
    cover, p1, p2 = (f"cv-v1-{i}@example.org" for i in range(3))
    mails = series_mails("cv", n=2, flagged=(1, 2), change_id="cv-1")
    mails += [
        _answer("On Cover <cover@example.org>", "oc@example.org", cover, [cover]),
        _answer("On Two <two@example.org>", "o2@example.org", p2, [cover, p2]),
        _answer("On One <one@example.org>", "o1@example.org", p1, [cover, p1]),
        _answer("On Two <two@example.org>", "o2b@example.org", p2, [cover, p2]),
    ]
    with sessions.begin() as s:
        stored, _ = store_messages(
            s, "http://inbox", [(m.encode(), parse_mail(m.encode())) for m in mails]
        )
        assert len(stored) == 7
    with sessions() as s:
        assert repliers(s, cover) == [
            "On Cover <cover@example.org>",
            "On Two <two@example.org>",
            "On One <one@example.org>",
        ]
        assert repliers(s, p2) == ["On Two <two@example.org>"]
        assert repliers(s, p1) == ["On One <one@example.org>"]
        assert repliers(s, "nobody@example.org") == []
