"""Reviewer commands have authority: nobody else can silence a finding.

A real public-inbox, the watcher reviewing in-process, a real SMTP sink: the
bot's replies are the outbox rows that commands must answer to.  The mails
that must count are DKIM-signed by example.org with a key made at test time
and pinned in a keys file (reviewbot/devtools/dkimkeys.py); the forged ones
are not signed, which is also what these tests are about.
"""

from __future__ import annotations

import dataclasses
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reviewbot.config import Config
from reviewbot.devtools.dkimkeys import Signer, pin_keys
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink
from reviewbot.storage.models import SuppressionRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.web import create_app
from tests.service.test_watch_inbox import _as_mbox, _cfg, _watcher

pytestmark = pytest.mark.services

MAINTAINER = "mai@example.org"
EXAMPLE_ORG = Signer("example.org")  # the maintainer's and the series author's domain


def _with_staff(cfg: Config, tmp_path: Path) -> Config:
    lst = dataclasses.replace(cfg.lists[0], maintainers=(f"Mai Ntainer <{MAINTAINER}>",))
    return pin_keys(dataclasses.replace(cfg, lists=(lst,)), tmp_path / "dkim.keys", [EXAMPLE_ORG])


def _fid(reply: Message) -> str:
    return str(reply.get_payload()).split("[id ")[1].split("]")[0]


def _command_mail(
    sender: str, ours: Message, body: str, mid: str, refs: str | None = None
) -> bytes:
    references = refs if refs is not None else ours["Message-ID"]
    return (
        f"From: {sender}\nTo: linux-mm@kvack.org\nSubject: Re: {ours['Subject']}\n"
        f"Date: Fri, 20 Nov 2026 11:00:00 +0000\nMessage-Id: <{mid}>\n"
        f"In-Reply-To: {references.split()[-1]}\nReferences: {references}\n\n{body}\n"
    ).encode()


def _suppressions(cfg: Config) -> list[tuple[str, int | None, str]]:
    with sessions_for(cfg.database)() as s:
        rows = s.scalars(select(SuppressionRow).order_by(SuppressionRow.id))
        return [(r.finding_id, r.series_id, r.by) for r in rows]


def test_anonymous_and_forged_commands_suppress_nothing(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _with_staff(_cfg(tmp_path, public_inbox, smtp, db_url), tmp_path)
    watcher = _watcher(cfg)
    public_inbox.import_mbox(mbox(series_mails("v", n=2, flagged=(1, 2))))
    watcher.poll_once()
    ours = smtp.received()
    assert len(ours) == 2
    fid = _fid(ours[0])
    attacks = [
        # anyone, replying to our real mail
        _command_mail("Eve <eve@evil.example>", ours[0], f"reviewbot: invalid {fid}", "e1@x"),
        # a maintainer's name with another address
        _command_mail(
            f"Mai Ntainer <mai@evil.example> ({MAINTAINER})",
            ours[0],
            f"reviewbot: invalid {fid}",
            "e2@x",
        ),
        # the maintainer, but in reply to a made-up id of our domain (no outbox row)
        _command_mail(
            f"Mai Ntainer <{MAINTAINER}>",
            ours[0],
            f"reviewbot: invalid {fid}",
            "e3@x",
            refs="<reviewbot.0000@reviewbot.test>",
        ),
        # the maintainer, quoting the command only
        _command_mail(f"<{MAINTAINER}>", ours[0], f"> reviewbot: invalid {fid}", "e4@x"),
        # the maintainer, a finding id the series never had
        _command_mail(f"<{MAINTAINER}>", ours[0], "reviewbot: invalid 0badf00d", "e5@x"),
    ]
    public_inbox.import_mbox(_as_mbox(attacks))
    stats = watcher.poll_once()
    assert stats.read == 5 and stats.commands == 0
    assert _suppressions(cfg) == []
    # the real maintainer, replying to the real mail: counted, for that series only
    real = _command_mail(f"Mai <{MAINTAINER}>", ours[0], f"reviewbot: invalid {fid} ok", "m@x")
    public_inbox.import_mbox(_as_mbox([EXAMPLE_ORG.sign(real)]))
    assert watcher.poll_once().commands == 1
    ((got, series_id, by),) = _suppressions(cfg)
    assert got == fid and series_id is not None and MAINTAINER in by
    assert by.endswith("(DKIM d=example.org)")


def test_an_author_silences_only_their_own_series(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = pin_keys(_cfg(tmp_path, public_inbox, smtp, db_url), tmp_path / "k", [EXAMPLE_ORG])
    watcher = _watcher(cfg)
    # Two series with the same finding id (same checker, file, function, key).
    public_inbox.import_mbox(mbox(series_mails("victim", n=1, flagged=(1,), change_id="v-1")))
    public_inbox.import_mbox(mbox(series_mails("att", n=1, flagged=(1,), change_id="a-1")))
    watcher.poll_once()
    replies = {m["In-Reply-To"]: m for m in smtp.received()}
    victim, attacker = replies["<victim-v1-1@example.org>"], replies["<att-v1-1@example.org>"]
    fid = _fid(victim)
    assert _fid(attacker) == fid
    # The attacker is the author of their own series (series_mails' author) ...
    author = "Ada Swapwright <ada@example.org>"
    cmd = f"reviewbot: invalid {fid}"
    signed = EXAMPLE_ORG.sign(_command_mail(author, attacker, cmd, "a1@x"))
    public_inbox.import_mbox(_as_mbox([signed]))
    assert watcher.poll_once().commands == 1
    ((_, series_id, _),) = _suppressions(cfg)
    # ... and the suppression is theirs alone: the victim series still gets it.
    public_inbox.import_mbox(
        mbox(series_mails("victim2", version=2, n=1, flagged=(1,), change_id="v-1"))
    )
    watcher.poll_once()
    v2 = [m for m in smtp.received() if m["In-Reply-To"] == "<victim2-v2-1@example.org>"]
    assert len(v2) == 1 and fid in str(v2[0].get_payload())
    # Someone else replying to the victim's mail: ignored.
    eve = "Eve <eve@evil.example>"
    public_inbox.import_mbox(_as_mbox([_command_mail(eve, victim, cmd, "a2@x")]))
    assert watcher.poll_once().commands == 0
    assert len(_suppressions(cfg)) == 1 and _suppressions(cfg)[0][1] == series_id


def test_a_20000_line_mail_makes_at_most_the_cap(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path
) -> None:
    cfg = _with_staff(_cfg(tmp_path, public_inbox, smtp), tmp_path)
    cap = cfg.lists[0].policy.max_commands
    watcher = _watcher(cfg)
    n = cap + 2
    public_inbox.import_mbox(mbox(series_mails("big", n=n, flagged=tuple(range(1, n + 1)))))
    watcher.poll_once()
    ours = smtp.received()
    ids = [_fid(m) for m in ours]
    assert len(set(ids)) == n
    lines = [f"reviewbot: invalid {i}" for i in ids]
    lines += [f"reviewbot: invalid {k:08x}" for k in range(20_000 - len(lines))]
    mail = _command_mail(f"<{MAINTAINER}>", ours[0], "\n".join(lines), "flood@x")
    public_inbox.import_mbox(_as_mbox([EXAMPLE_ORG.sign(mail)]))
    assert watcher.poll_once().commands == cap
    with sessions_for(cfg.database)() as s:
        assert s.scalar(select(func.count(SuppressionRow.id))) == cap
    # The dashboard says who suppressed what.
    app = create_app({"DATABASE_URL": cfg.database, "TESTING": True})
    with sessions_for(cfg.database)() as s:
        series_id = s.scalars(select(SuppressionRow.series_id)).first()
    page = app.test_client().get(f"/series/{series_id}").get_data(as_text=True)
    assert "Marked invalid" in page and page.count(MAINTAINER) >= cap
    assert page.count("DKIM d=example.org") >= cap
    assert all(i in page for i in ids[:cap])
