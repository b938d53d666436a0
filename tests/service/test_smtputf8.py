"""Internationalised addresses (RFC 6531): mailed with SMTPUTF8 when the server
offers it, as A-labels or skipped (one log line each) when it does not.

A real public-inbox, the watcher, and aiosmtpd on loopback started with
``enable_SMTPUTF8`` True or False: its envelopes and MAIL FROM parameters
say what was sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from email import message_from_bytes
from email.headerregistry import Address
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot import addresses
from reviewbot.config import SmtpConfig
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink
from reviewbot.outbox import Recipients, _message, send_due
from reviewbot.storage.models import OutboxRow, RevisionRow, SeriesRow
from reviewbot.storage.sessions import sessions_for
from tests.service.conftest import make_config
from tests.service.test_hostile_recipients import _rewrite
from tests.service.test_watch_inbox import _cfg, _watcher

pytestmark = pytest.mark.services

CC = "Jörg <jörg@exämple.org>, Uli <uli@bücher.example>, Kit <kit@example.org>"


@pytest.fixture
def utf8_smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(smtputf8=True)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def _one_reply(pi: PublicInbox, sink: SmtpSink, tmp_path: Path, db_url: str) -> None:
    cfg = _cfg(tmp_path, pi, sink, db_url)
    mails = series_mails("intl", n=1, flagged=(1,), change_id="intl-1")
    pi.import_mbox(mbox(_rewrite(mails, "Zoe <zoe@example.org>", CC)))
    stats = _watcher(cfg).poll_once()
    assert not stats.errors and len(stats.revisions) == 1
    with sessions_for(cfg.database)() as s:
        assert [r.state for r in s.scalars(select(OutboxRow))] == ["sent"]


def test_a_non_ascii_cc_is_mailed_with_smtputf8_when_offered(
    public_inbox: PublicInbox, utf8_smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    _one_reply(public_inbox, utf8_smtp, tmp_path, db_url)
    assert utf8_smtp.envelopes() == [
        [
            "zoe@example.org",
            "linux-mm@kvack.org",
            "jörg@exämple.org",
            "uli@bücher.example",
            "kit@example.org",
        ]
    ]
    assert "SMTPUTF8" in utf8_smtp.sink.mail_options[0]
    (raw,) = utf8_smtp.raw()
    head = raw.split(b"\r\n\r\n")[0].decode("utf-8")
    assert "Jörg <jörg@exämple.org>" in head and "Uli <uli@bücher.example>" in head


def test_without_smtputf8_idn_goes_as_punycode_and_the_rest_is_skipped(
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    tmp_path: Path,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="reviewbot.outbox"):
        _one_reply(public_inbox, smtp, tmp_path, db_url)
    # the IDN domain in its A-label form; the UTF-8 local part skipped; the others mailed
    assert smtp.envelopes() == [
        ["zoe@example.org", "linux-mm@kvack.org", "uli@xn--bcher-kva.example", "kit@example.org"]
    ]
    assert "SMTPUTF8" not in smtp.sink.mail_options[0]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == [
        "recipient 'jörg@exämple.org' skipped: non-ASCII and the server has no SMTPUTF8"
    ]
    (raw,) = smtp.raw()
    head = raw.split(b"\r\n\r\n")[0]
    assert head.isascii()  # no 8-bit header to a server that did not offer SMTPUTF8
    msg = message_from_bytes(raw)
    assert msg["Cc"] == "linux-mm@kvack.org, Uli <uli@xn--bcher-kva.example>, Kit <kit@example.org>"


def test_a_reply_left_with_nobody_is_failed_not_retried(
    smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = make_config(
        tmp_path,
        db_url,
        smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, sender="bot@reviewbot.test", timeout=5),
    )
    rcpt = addresses.choose(["Jörg <jörg@exämple.org>"], [], [], 20)
    assert rcpt.envelope == ["jörg@exämple.org"]  # kept by the parser

    class Reply:
        in_reply_to, references, subject = "p@x", ("p@x",), "Re: x"
        to, cc, body = ("jörg@exämple.org",), (), "hello\n"

    raw = _message(Reply(), "r1@reviewbot.test", cfg.smtp.sender, rcpt).as_string()
    sessions = sessions_for(cfg.database)
    with sessions.begin() as s:
        rev = RevisionRow(
            series=SeriesRow(title="t", author="a", list_id="linux-mm"),
            version=1,
            subject="s",
            message_id="m@x",
            total=1,
        )
        s.add(rev)
        s.flush()
        s.add(
            OutboxRow(
                key="k",
                revision_id=rev.id,
                message_id="r1@reviewbot.test",
                to_addrs=", ".join(rcpt.envelope),
                subject="Re: x",
                raw=raw,
                state="pending",
                not_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            )
        )
    assert send_due(sessions, cfg).failed == 1
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert send_due(sessions, cfg, now=later).failed == 0  # never retried
    with sessions() as s:
        row = s.scalars(select(OutboxRow)).one()
    assert row.state == "failed" and "without SMTPUTF8" in (row.last_error or "")
    assert smtp.envelopes() == []


def test_only_a_non_ascii_address_makes_utf8_headers() -> None:
    class Reply:
        in_reply_to, references, subject = "p@x", ("p@x",), "Re: café"
        to, cc, body = (), (), "hello\n"

    ascii_rcpt = Recipients([Address("Zoë", "zoe", "example.org")], [])
    raw = _message(Reply(), "r@x", "bot@x", ascii_rcpt).as_string()
    assert raw.isascii()  # display names and subject as RFC 2047 words, as always
    assert "To: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>" in raw
    intl = Recipients([Address("Zoë", "zoë", "example.org")], [])
    raw = _message(Reply(), "r@x", "bot@x", intl).as_string()
    assert "To: Zoë <zoë@example.org>" in raw and "Subject: Re: café" in raw


@pytest.mark.parametrize(
    ("spec", "kept"),
    [
        ("jörg@exämple.org", True),
        ("uli@bücher.example", True),
        ("用户@例子.广告", True),
        ("ö" * 33 + "@example.org", False),  # 66 octets of local part
        ("a@" + "ä" * 64 + ".org", False),  # a label over 63 octets
        ("jö\u202erg@example.org", False),  # a bidi override
        ("jö\u200brg@example.org", False),  # a zero-width space
        ("jö\x85rg@example.org", False),  # a C1 control
        ("jörg@exa_mple.örg", False),  # neither IDNA nor letters and digits
        ("jörg@-bad-.örg", False),
    ],
)
def test_internationalised_addresses_are_validated(spec: str, kept: bool) -> None:
    got = addresses.addr_specs([spec])
    assert got == ([spec] if kept else [])
