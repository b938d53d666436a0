"""Small pieces: mail parsing on odd input, reviewer commands, epoch discovery, CLI errors."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewbot.addresses import addr_specs, choose, parse_addresses, sender_of
from reviewbot.cli import main
from reviewbot.devtools.mails import series_mails
from reviewbot.errors import FetchError
from reviewbot.reviewer_commands import parse_commands
from reviewbot.watch.epochs import discover_epochs
from reviewbot.watch.mail import parse_mail, touches


def test_parse_patch_mail() -> None:
    info = parse_mail(series_mails("p", version=3, n=2)[2].encode())
    assert info is not None
    assert (info.version, info.index, info.total, info.is_patch) == (3, 2, 2, True)
    assert info.thread_root == "p-v3-0@example.org"
    assert info.paths == ("mm/swapfile.c",)
    assert touches(info.paths, ("mm/swap*.c",)) and not touches(info.paths, ("mm/memory.c",))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"Subject: [PATCH 1/2] no message id\n\nbody\n",
        b"\xff\xfe\x00garbage",
        b"Message-Id: <x@y>\nDate: not a date\nSubject: =?utf-8?q?caf=C3=A9?=\n\n\xe9t\xe9\n",
    ],
)
def test_bad_mail_never_raises(raw: bytes) -> None:
    info = parse_mail(raw)
    if info is not None:
        assert info.message_id == "x@y" and info.date is None and not info.is_patch
        assert info.subject == "café"


def test_replies_and_covers_are_told_apart() -> None:
    cover = parse_mail(series_mails("q")[0].encode())
    assert cover is not None and cover.index == 0 and cover.is_patch
    assert cover.change_id == "20261126-swap-batch-0123456789ab"
    reply = parse_mail(b"Message-Id: <r@x>\nSubject: Re: [PATCH 1/3] mm: x\n\n> diff\n")
    assert reply is not None and reply.is_reply and not reply.is_patch


@pytest.mark.parametrize(
    ("value", "sender"),
    [
        ("Kit Reclaimer <kit@example.org>", "Kit Reclaimer <kit@example.org>"),
        ('"Doe, John" <john@example.org>', '"Doe, John" <john@example.org>'),
        ("=?utf-8?q?Doe=2C_John?= <john@example.org>", '"Doe, John" <john@example.org>'),
        (
            '"eve@evil.example, mallory@evil.example" <real@example.org>',
            '"eve@evil.example, mallory@evil.example" <real@example.org>',  # a name, one address
        ),
        ("eve@evil.example, mallory@evil.example <x@evil.example>", None),
        ("a@example.org, b@example.org", None),
        ("undisclosed-recipients:;", None),
        # an internationalised mailbox is one (mailed with SMTPUTF8 when offered)
        ("Jörg <jörg@exämple.org>", "Jörg <jörg@exämple.org>"),
        ("Jörg <j\u202eörg@example.org>", None),  # a bidi override is no mailbox
        ("no-domain", None),
        ("Kit\n <kit@example.org>", "Kit <kit@example.org>"),
        ("=?utf-8?q?Nul=00Name?= <nul@example.org>", "nul@example.org"),
        ("=?utf-8?q?Esc=1B]0;x=07?= <esc@example.org>", "esc@example.org"),
        (f"{'N' * 600} <long@example.org>", "long@example.org"),
        ("", None),
    ],
)
def test_a_replier_is_one_address_or_nobody(value: str, sender: str | None) -> None:
    got = sender_of(value)
    assert got == sender
    if got is not None:
        assert len(parse_addresses([got])) == 1 and "evil" not in addr_specs([got])[0]


def test_repliers_come_after_the_list_and_before_the_others() -> None:
    rcpt = choose(
        ["Ada <ada@example.org>"],
        ["linux-mm@kvack.org"],
        ["Cc One <cc1@example.org>"],
        5,
        ["bot@reviewbot.test"],
        thread=["R1 <r1@example.org>", "bot@reviewbot.test", "ada@example.org", "r2@example.org"],
    )
    assert rcpt.envelope == [
        "ada@example.org",
        "linux-mm@kvack.org",
        "r1@example.org",
        "r2@example.org",
        "cc1@example.org",
    ]
    assert rcpt.dropped == 0
    # no room left for the patch's others: none of them, all counted
    rcpt = choose(["ada@example.org"], ["l@x.org"], ["c1@x.org", "c2@x.org"], 4, thread=["r@x.org"])
    assert rcpt.envelope == ["ada@example.org", "l@x.org", "r@x.org"] and rcpt.dropped == 2
    # repliers fill the room one by one
    rcpt = choose(["ada@example.org"], ["l@x.org"], [], 3, thread=["r1@x.org", "r2@x.org"])
    assert rcpt.envelope == ["ada@example.org", "l@x.org", "r1@x.org"] and rcpt.dropped == 1


def test_commands_outside_quotes_only() -> None:
    body = (
        '> Wrong? Reply with "reviewbot: invalid <id>"\n'
        "> reviewbot: invalid 11111111\n"
        "reviewbot: invalid 3F9C2E1A the pte is locked here\n"
        "  reviewbot: invalid 77b0c415\n"
        "reviewbot: invalid zzzzzzzz\n"
    )
    cmds = parse_commands(body)
    assert [(c.finding_id, c.reason) for c in cmds] == [
        ("3f9c2e1a", "the pte is locked here"),
        ("77b0c415", ""),
    ]


class _Manifest(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path.endswith("/manifest.js.gz"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def manifest_server() -> Iterator[tuple[str, type[_Manifest]]]:
    handler = type("H", (_Manifest,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/linux-mm", handler
    finally:
        server.shutdown()
        server.server_close()


def test_epochs_come_from_the_manifest(manifest_server: tuple[str, type[_Manifest]]) -> None:
    url, handler = manifest_server
    manifest = {f"/linux-mm/git/{n}.git": {"fingerprint": "x"} for n in (2, 0, 1)}
    handler.body = gzip.compress(json.dumps(manifest).encode())
    assert discover_epochs(url) == [0, 1, 2]
    handler.body = b"<html>not json</html>"
    with pytest.raises(FetchError, match="not a public-inbox manifest"):
        discover_epochs(url)
    with pytest.raises(FetchError):
        discover_epochs("http://127.0.0.1:9/nothing")
    # a gzip bomb (a few KB that inflate to 64 MB) is refused, not inflated
    handler.body = gzip.compress(b" " * (64 << 20))
    assert len(handler.body) < 100_000
    with pytest.raises(FetchError, match="over 4 MB, not a public-inbox manifest"):
        discover_epochs(url)
    # an epoch number too long to be one is no epoch
    handler.body = gzip.compress(
        json.dumps({"/l/git/0.git": {}, f"/l/git/{'9' * 5000}.git": {}}).encode()
    )
    assert discover_epochs(url) == [0]


def test_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    # set (not deleted) so that monkeypatch restores it after `worker` writes it
    monkeypatch.setenv("REVIEWBOT_CONFIG", str(empty))
    monkeypatch.delenv("REVIEWBOT_BROKER_URL", raising=False)
    assert main(["watch", "--config", str(empty), "--once", "--database", db]) == 2
    assert "no [[lists]]" in capsys.readouterr().err
    assert main(["link", "--database", db, "<a@b>", "<c@d>"]) == 2
    assert capsys.readouterr().err.strip() == "reviewbot: no revision with message-id a@b"
    assert main(["outbox", "--config", str(empty), "--database", db, "approve", "x"]) == 2
    capsys.readouterr()
    assert main(["outbox", "--config", str(empty), "--database", db, "list"]) == 0
    assert capsys.readouterr().out == "outbox: no replies\n"  # an empty list says so
    assert main(["worker", "--config", str(empty)]) == 2
    assert "no broker" in capsys.readouterr().err
