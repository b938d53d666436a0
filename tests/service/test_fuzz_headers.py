"""Hypothesis over mail headers: the watcher's whole door, on SQLite and PostgreSQL.

Each example is a mail with generated From/To/Cc/Subject/Message-Id/
References/In-Reply-To/Date headers (raw, RFC 2047-encoded, folded, NULs,
escape sequences, very long) and a body with reviewer commands.  It goes
through what the watcher does with a mail: read it, store it (or quarantine
it) with the cursor, apply its commands, group it, choose the recipients of a
reply to it, build that reply, print its subject on a terminal.  Nothing may
raise, hang, or leave a NUL, a control character or an unparsed address
behind.  The budget is fixed (derandomized, a set number of examples), so CI
runs the same cases every time.
"""

from __future__ import annotations

import base64
import datetime as dt
from email.headerregistry import Address
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from reviewbot import addresses
from reviewbot.config import ListPolicy
from reviewbot.outbox import _message
from reviewbot.storage.models import MessageRow, SuppressionRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.storage.thread import MAX_REFS, repliers
from reviewbot.terminal import escape_controls
from reviewbot.watch.mail import MailInfo
from reviewbot.watch.series import group_pending
from reviewbot.watch.watcher import PollStats, Watcher, _parse
from tests.service.conftest import make_config
from tests.support.deadline import deadline

EXAMPLES = 200

_nasty = st.sampled_from(
    [
        "\x00",
        "\x1b]0;owned\x07",
        "\x1b[2J",
        "\r\n",
        "\n ",
        "\udcff",
        "é",
        "Ω≈ç√",
        '"',
        ",",
        "<",
        ">",
        "@",
        ";",
        ":",
        "(",
        ")",
        "\\",
        "=?",
        "?=",
        "\t",
        "\u202e",
        "\ufeff",
    ]
)
_text = st.lists(st.one_of(_nasty, st.text(max_size=12)), max_size=12).map("".join)
_long = st.integers(min_value=190, max_value=2000).map(lambda n: "x" * n)
_word = st.one_of(_text, _long, st.just(""))


def _encoded(value: str) -> str:
    raw = value.encode("utf-8", "surrogatepass")
    return f"=?utf-8?b?{base64.b64encode(raw).decode()}?="


_header = st.one_of(_word, _word.map(_encoded))
_msgid = st.one_of(
    st.builds(lambda a, b: f"<{a}@{b}>", _word, _word),
    _word,
    st.just("<reviewbot.0@reviewbot.test>"),
)
_addr = st.one_of(
    st.builds(lambda n, a, d: f'"{n}" <{a}@{d}>', _text, _word, _word),
    st.builds(lambda n, a, d: f"{n} <{a}@{d}>", _text, _word, _word),
    _header,
    st.just('"Doe, John" <john@example.org>'),
    st.just(", ".join(f"p{i}@example.org" for i in range(300))),
)
_date = st.one_of(
    _word,
    st.just("Fri, 20 Nov 2026 10:00:00 +0000"),
    st.just("Mon, 31 Dec 9999 23:59:59 -9999"),
    st.just("Thu, 01 Jan 0001 00:00:00 +2400"),
)
_subject = st.one_of(
    _header,
    st.builds(
        lambda v, i, n, t: f"[PATCH v{v} {i}/{n}] {t}",
        st.integers(),
        st.integers(),
        st.integers(),
        _text,
    ),
)
_body = st.one_of(
    _text,
    st.builds(
        lambda ids: "\n".join(f"reviewbot: invalid {i}" for i in ids),
        st.lists(st.text("0123456789abcdef", min_size=6, max_size=16), max_size=50),
    ),
    st.just("diff --git a/mm/memory.c b/mm/memory.c\n--- a/mm/memory.c\n+++ b/mm/memory.c\n"),
)


_charset = st.sampled_from(["utf-8", "latin-1", "x-bogus", "utf-7", ""])


@st.composite
def mails(draw: st.DrawFn) -> bytes:
    headers = {
        "From": draw(_addr),
        "To": draw(_addr),
        "Cc": draw(_addr),
        "Subject": draw(_subject),
        "Message-Id": draw(_msgid),
        "References": " ".join(draw(st.lists(_msgid, max_size=4))),
        "In-Reply-To": draw(_msgid),
        "Date": draw(_date),
        "Content-Type": f"text/plain; charset={draw(_charset)}",
    }
    lines = [f"{k}: {v}" for k, v in headers.items() if draw(st.booleans()) or k == "Message-Id"]
    text = "\n".join(lines) + "\n\n" + draw(_body) + "\n"
    return text.encode("utf-8", "surrogatepass")


def _clean(text: str) -> bool:
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@pytest.mark.services
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=mails())
def test_any_headers_pass_the_door_without_a_traceback(
    raw: bytes, db_url: str, tmp_path: Path
) -> None:
    cfg = make_config(tmp_path, db_url)
    lst = cfg.lists[0]
    sessions = sessions_for(cfg.database)
    watcher = Watcher(cfg, sessions, lambda _rid: True, send=False)
    stats = PollStats()
    with deadline(20, "one mail"):
        info = _parse(raw)
        watcher._store_batch(lst, 0, [("c" * 40, raw)], stats)
        with sessions.begin() as s:
            group_pending(s, lst, dt.datetime(2030, 1, 1, tzinfo=dt.UTC), 0, 120)
        assert stats.read == 1 and stats.stored + stats.duplicates + stats.quarantined == 1
        assert stats.commands == 0  # no outbox row: no command counts
        if isinstance(info, MailInfo):
            assert _clean(info.subject) and _clean(info.author) and len(info.message_id) <= 200
            assert not any(ord(c) < 32 for c in info.subject)
            if info.sender is not None:  # one address to mail back, or nobody
                assert len(addresses.parse_addresses([info.sender])) == 1
                assert len(info.sender) <= addresses.MAX_SENDER and _clean(info.sender)
            rcpt = addresses.choose(
                [info.author],
                [lst.address],
                [],
                ListPolicy().max_recipients,
                thread=[info.sender or ""],
            )
            for spec in rcpt.envelope:
                assert not any(c in spec for c in "\r\n\x00 ,<>")
                # non-ASCII only as a well-formed internationalised mailbox
                assert spec.isascii() or addresses.usable(Address(addr_spec=spec))
            reply = _Reply(info)
            _message(reply, "reviewbot.x@reviewbot.test", cfg.smtp.sender, rcpt).as_string()
            shown = escape_controls(info.subject)
            assert "\x1b]" not in shown and "\x07" not in shown
    with sessions() as s:
        assert s.scalars(select(SuppressionRow)).first() is None
        for row in s.scalars(select(MessageRow)):
            assert _clean(row.raw) and len(row.message_id) <= 200
            assert len(row.refs) <= MAX_REFS and all(len(r.ref) <= 200 for r in row.refs)
            for ref in row.refs:  # the query the outbox makes finds the reply
                assert (row.sender in repliers(s, ref.ref)) is (row.sender is not None)


class _Reply:
    def __init__(self, info: MailInfo):
        self.in_reply_to = info.message_id
        self.references = info.references
        self.subject = f"Re: {info.subject}"
        self.to = (info.author,)
        self.cc = ()
        self.body = "bug: something\n"
