"""A reviewer command counts only from a From: that DKIM authenticates.

"From: maintainer@kernel.example" is what anyone can type.  The end-to-end
tests run the real watcher over a real public-inbox with a real SMTP sink; the
keys are RSA keys made at test time (``openssl genrsa``) and pinned in a keys
file, so that no test asks DNS (the watcher's DNS function records any call).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from pathlib import Path

import dkim
import dns.resolver
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot.cli import main
from reviewbot.config import CommandsDkim, Config, load_config
from reviewbot.devtools.dkimkeys import Signer, keys_file, pin_keys
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink
from reviewbot.dkim_auth import DkimVerifier, KeysFileError, PinnedKeys, aligned, parse_keys
from reviewbot.errors import UsageError
from reviewbot.watch.mail import parse_mail
from tests.service.test_hostile_commands import _command_mail, _fid, _suppressions
from tests.service.test_watch_inbox import _as_mbox, _cfg, _watcher

MAINTAINER = "maintainer@kernel.example"
KERNEL = Signer("kernel.example")
EVIL = Signer("evil.example")


def _staff(cfg: Config, tmp_path: Path, dkim: CommandsDkim = CommandsDkim.REQUIRED) -> Config:
    lst = cfg.lists[0]
    lst = dataclasses.replace(
        lst,
        maintainers=(f"Mai Ntainer <{MAINTAINER}>",),
        policy=dataclasses.replace(lst.policy, commands_dkim=dkim),
    )
    return pin_keys(dataclasses.replace(cfg, lists=(lst,)), tmp_path / "dkim.keys", [KERNEL, EVIL])


def _no_dns(asked: list[bytes]) -> object:
    def dns(name: bytes, timeout: float) -> bytes | None:
        asked.append(name)
        raise OSError("the tests never ask DNS")

    return dns


def _sig_header(value: str) -> bytes:
    return f"DKIM-Signature: {value}\n".encode()


@pytest.mark.services
def test_forged_or_tampered_commands_suppress_nothing_a_signed_one_does(
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    tmp_path: Path,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="reviewbot")
    cfg = _staff(_cfg(tmp_path, public_inbox, smtp, db_url), tmp_path)
    watcher = _watcher(cfg)
    asked: list[bytes] = []
    watcher.dkim.dns = _no_dns(asked)  # type: ignore[assignment]
    public_inbox.import_mbox(mbox(series_mails("k", n=1, flagged=(1,))))
    watcher.poll_once()
    (ours,) = smtp.received()
    fid = _fid(ours)
    cmd = f"reviewbot: invalid {fid}"
    me = f"Mai Ntainer <{MAINTAINER}>"

    def mail(mid: str, body: str = cmd, sender: str = me) -> bytes:
        return _command_mail(sender, ours, body, mid)

    signed = KERNEL.sign(mail("tampered@x", "Looks right to me."))
    partial = KERNEL.sign(mail("partial@x", "Looks right to me."), length=True)
    attacks = {
        # the maintainer's From:, no signature at all
        "forged@x": mail("forged@x"),
        # signed, by the attacker's own domain
        "evil@x": EVIL.sign(mail("evil@x")),
        # the maintainer's real signed mail, its body changed after signing
        "tampered@x": signed.replace(b"Looks right to me.", cmd.encode()),
        # signed with l= (a body length): a command appended after it
        "partial@x": partial.rstrip(b"\n") + f"\n{cmd}\n".encode(),
        # a second From: on top of the attacker's signed mail
        "twofrom@x": f"From: {me}\n".encode()
        + EVIL.sign(mail("twofrom@x", sender="Eve <eve@evil.example>")),
        # hostile DKIM-Signature headers
        "garbage@x": _sig_header("\x01\x02 ;;; ==== d") + mail("garbage@x"),
        "huge@x": _sig_header("v=1; d=kernel.example; " + "x" * 100_000) + mail("huge@x"),
        "base64@x": _sig_header(
            "v=1; a=rsa-sha256; d=kernel.example; s=test; c=relaxed/simple; "
            "h=from:to:subject:message-id:in-reply-to:references; bh=!!notb64!!; b=%%%%"
        )
        + mail("base64@x"),
    }
    public_inbox.import_mbox(_as_mbox(list(attacks.values())))
    stats = watcher.poll_once()
    assert stats.read == len(attacks) and stats.commands == 0
    assert _suppressions(cfg) == []
    expect = {
        "forged@x": "no DKIM signature",
        "evil@x": "d=evil.example not aligned with From: domain kernel.example",
        "tampered@x": "body hash mismatch",
        "partial@x": "covers only part of the body (l=)",
        "twofrom@x": "from header appears 2 times",
        "garbage@x": "DKIM-Signature unreadable",
        "huge@x": "too long",
        "base64@x": "not valid base64",
    }
    for mid, reason in expect.items():
        lines = [r for r in caplog.records if f"<{mid}>" in r.getMessage() or mid in r.getMessage()]
        assert len(lines) == 1, (mid, [r.getMessage() for r in lines])
        (line,) = lines
        text = line.getMessage()
        assert "commands ignored" in text and reason in text, text
        assert line.exc_info is None and "\n" not in text and len(text) < 400
    # The maintainer's mail, as signed: counted, and the record says how.
    caplog.clear()
    public_inbox.import_mbox(_as_mbox([KERNEL.sign(mail("real@x", f"{cmd} the pte is locked"))]))
    assert watcher.poll_once().commands == 1
    ((got, series_id, by),) = _suppressions(cfg)
    assert got == fid and series_id is not None
    assert by == f"{me} (DKIM d=kernel.example)"
    assert asked == []  # pinned keys never reach the network


@pytest.mark.services
def test_commands_dkim_off_trusts_an_unsigned_from_and_says_so(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reviewbot")
    cfg = _staff(_cfg(tmp_path, public_inbox, smtp), tmp_path, CommandsDkim.OFF)
    watcher = _watcher(cfg)
    public_inbox.import_mbox(mbox(series_mails("o", n=1, flagged=(1,))))
    watcher.poll_once()
    (ours,) = smtp.received()
    fid = _fid(ours)
    unsigned = _command_mail(f"<{MAINTAINER}>", ours, f"reviewbot: invalid {fid}", "off@x")
    public_inbox.import_mbox(_as_mbox([unsigned]))
    assert watcher.poll_once().commands == 1
    ((_, _, by),) = _suppressions(cfg)
    assert by == f"<{MAINTAINER}> (From: unverified)"
    assert any("From: trusted unverified" in r.getMessage() for r in caplog.records)


# -- the verifier alone ------------------------------------------------------------------

_MAIL = (
    "From: {frm}\nTo: linux-mm@kvack.org\nSubject: Re: [PATCH 1/1] mm: x\n"
    "Date: Fri, 20 Nov 2026 11:00:00 +0000\nMessage-Id: <c@x>\n"
    "In-Reply-To: <reviewbot.1@reviewbot.test>\nReferences: <reviewbot.1@reviewbot.test>\n\n"
    "reviewbot: invalid 3f9c2e1a\n"
)


def _mail(frm: str) -> bytes:
    return _MAIL.format(frm=frm).encode()


def _verifier(tmp_path: Path, signers: list[Signer], extra: str = "") -> DkimVerifier:
    path = keys_file(tmp_path / "keys", signers, extra)
    return DkimVerifier(str(path), 1.0, dns=_no_dns([]))  # type: ignore[arg-type]


def test_a_parent_domain_is_aligned_a_child_or_a_lookalike_is_not(tmp_path: Path) -> None:
    # Decided: d= may be the From: domain or a parent of it (relaxed, as DMARC),
    # never a child, a lookalike suffix or a single label.
    assert aligned("kernel.example", "lists.kernel.example")
    assert aligned("Kernel.Example.", "kernel.example")
    assert not aligned("lists.kernel.example", "kernel.example")
    assert not aligned("nel.example", "kernel.example")
    assert not aligned("example", "kernel.example")
    lists = Signer("lists.kernel.example", label="lists")
    v = _verifier(tmp_path, [KERNEL, lists])
    sub = "a@lists.kernel.example"
    assert v.verify(KERNEL.sign(_mail(sub)), sub).how == "DKIM d=kernel.example"
    child = v.verify(lists.sign(_mail(MAINTAINER)), MAINTAINER)
    assert not child.ok and "not aligned" in child.how


def test_signatures_that_do_not_tie_the_command_to_its_thread_are_refused(
    tmp_path: Path,
) -> None:
    v = _verifier(tmp_path, [KERNEL])
    raw = _mail(MAINTAINER)
    assert v.verify(KERNEL.sign(raw), MAINTAINER).ok
    # only From: signed: References could be re-aimed at another series
    loose = v.verify(KERNEL.sign(raw, headers=[b"from", b"subject"]), MAINTAINER)
    assert not loose.ok and "in-reply-to, references not signed" in loose.how
    # with the Message-Id signed, a replay is a duplicate: accepted
    assert v.verify(KERNEL.sign(raw, headers=[b"from", b"message-id"]), MAINTAINER).ok
    # a second References on top of a signed mail (the reader sees the top one)
    extra = b"References: <reviewbot.2@reviewbot.test>\n" + KERNEL.sign(raw)
    assert "references header appears 2 times" in v.verify(extra, MAINTAINER).how
    # a From: with no address, a mail with no From:
    assert not v.verify(KERNEL.sign(raw), "").ok
    no_from = KERNEL.sign(raw).replace(f"From: {MAINTAINER}\n".encode(), b"")
    assert "from header appears 0 times" in v.verify(no_from, MAINTAINER).how


def test_a_signed_reply_with_a_command_smuggled_past_the_verifier_is_refused(
    tmp_path: Path,
) -> None:
    # The maintainer's real, signed "thanks" to our mail.  A header added to it
    # with bare CRs ends the header block for the email package (which reads the
    # command from what follows) but not for dkimpy (whose signature still holds).
    thanks = KERNEL.sign(_mail(MAINTAINER).replace(b"reviewbot: invalid 3f9c2e1a", b"Thanks."))
    head, _, body = thanks.partition(b"\n\n")
    smuggled = head + b"\nX-Note: a\r\rreviewbot: invalid 3f9c2e1a\r\n\n" + body
    info = parse_mail(smuggled)
    assert info is not None and "reviewbot: invalid 3f9c2e1a" in info.body
    record = KERNEL.record()
    assert dkim.DKIM(smuggled).verify(dnsfunc=lambda _name, timeout=5: record)
    verdict = _verifier(tmp_path, [KERNEL]).verify(smuggled, MAINTAINER)
    assert not verdict.ok and "bare CR" in verdict.how


def test_pinned_keys_never_reach_dns_other_names_do_with_a_timeout(tmp_path: Path) -> None:
    asked: list[tuple[bytes, float]] = []
    other = Signer("kernel.example", selector="other", label="other")

    def dns(name: bytes, timeout: float) -> bytes | None:
        asked.append((name, timeout))
        return other.record() if name.startswith(b"other.") else None

    path = keys_file(tmp_path / "keys", [KERNEL], "gone._domainkey.kernel.example.\n")
    v = DkimVerifier(str(path), 1.5, dns=dns)
    raw = _mail(MAINTAINER)
    assert v.verify(KERNEL.sign(raw), MAINTAINER).ok and asked == []
    gone = Signer("kernel.example", selector="gone", label="gone")
    verdict = v.verify(gone.sign(raw), MAINTAINER)  # pinned as "no key"
    assert not verdict.ok and "key not found" in verdict.how and asked == []
    assert v.verify(other.sign(raw), MAINTAINER).ok
    assert asked == [(b"other._domainkey.kernel.example.", 1.5)]
    assert v.verify(other.sign(raw), MAINTAINER).ok and len(asked) == 1  # cached
    missing = v.verify(Signer("kernel.example", selector="nx", label="nx").sign(raw), MAINTAINER)
    assert "key not found: no TXT record at nx._domainkey.kernel.example" in missing.how
    # a mail with many signatures of unknown selectors: at most two lookups
    asked.clear()
    many = raw
    for i in range(5):
        many = Signer("kernel.example", selector=f"s{i}", label=f"s{i}").sign(many)
    assert not v.verify(many, MAINTAINER).ok and len(asked) == 2


def test_a_dns_server_that_never_answers_costs_the_timeout_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dkimpy's own lookup (dnspython), aimed at a loopback socket that reads and never answers.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = hole.getsockname()[1]
        monkeypatch.setattr(dns.resolver, "default_resolver", resolver)
        v = DkimVerifier("", timeout=1.0)
        started = time.monotonic()
        verdict = v.verify(
            Signer("kernel.example", selector="slow").sign(_mail(MAINTAINER)), MAINTAINER
        )
        elapsed = time.monotonic() - started
    assert not verdict.ok and "key not found" in verdict.how and "Timeout" in verdict.how
    assert elapsed < 3.0


def test_the_keys_file_reads_dig_output_and_says_what_it_skips(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        "# comment\n\n"
        'sel._domainkey.Kernel.Example. 3600 IN TXT "v=DKIM1; k=rsa; " "p=QUJD"\n'
        "plain._domainkey.kernel.example v=DKIM1; p=REVG\n"
        "revoked._domainkey.kernel.example.\n"
        "kernel.example. v=DKIM1; p=x\n"
        'bad._domainkey.kernel.example. "unbalanced\n'
    )
    keys, problems = parse_keys(text)
    assert keys == {
        "sel._domainkey.kernel.example": b"v=DKIM1; k=rsa; p=QUJD",
        "plain._domainkey.kernel.example": b"v=DKIM1; p=REVG",
        "revoked._domainkey.kernel.example": None,
    }
    assert [p.split(":")[0] for p in problems] == ["line 6", "line 7"]
    path = tmp_path / "keys"
    path.write_text(text)
    assert set(PinnedKeys(str(path)).load()) == set(keys)
    assert sum("2 line(s) ignored" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(KeysFileError, match="No such file"):
        PinnedKeys(str(tmp_path / "nope")).load()
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(KeysFileError, match="not UTF-8"):
        PinnedKeys(str(tmp_path / "bin")).load()
    # an unreadable file while running: commands ignored (fail closed), one reason
    v = DkimVerifier(str(tmp_path / "nope"), 1.0)
    verdict = v.verify(KERNEL.sign(_mail(MAINTAINER)), MAINTAINER)
    assert not verdict.ok and "No such file" in verdict.how


def test_config_commands_dkim_and_keys_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVIEWBOT_DATABASE_URL", raising=False)
    path = tmp_path / "c.toml"
    top = f"database = 'sqlite:///{tmp_path}/db'\n"
    base = top + "[[lists]]\nname='mm'\ninbox_url='http://x'\n"
    path.write_text(base)
    assert load_config(path).lists[0].policy.commands_dkim is CommandsDkim.REQUIRED
    path.write_text(base + "[lists.policy]\ncommands_dkim = 'off'\n")
    assert load_config(path).lists[0].policy.commands_dkim is CommandsDkim.OFF
    path.write_text(base + "[lists.policy]\ncommands_dkim = 'maybe'\n")
    with pytest.raises(UsageError, match=r"commands_dkim must be one of required, off$"):
        load_config(path)
    path.write_text(top + "[commands]\ndns_timeout = 0\n" + base[len(top) :])
    with pytest.raises(UsageError, match=r"commands\.dns_timeout must be above 0"):
        load_config(path)
    path.write_text(top + f"[commands]\ndkim_keys = '{tmp_path}/missing'\n" + base[len(top) :])
    assert main(["watch", "--config", str(path), "--once"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "commands.dkim_keys" in err and "No such file" in err


_hostile = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.builds(
        lambda tags: "; ".join(f"{k}={v}" for k, v in tags),
        st.lists(
            st.tuples(
                st.sampled_from(["v", "a", "d", "s", "h", "bh", "b", "l", "c", "t", "x", "q"]),
                st.one_of(
                    st.sampled_from(
                        ["kernel.example", "1", "rsa-sha256", "from:to", "!!", "", "99999999999"]
                    ),
                    st.text(max_size=40),
                ),
            ),
            max_size=14,
        ),
    ),
)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(_hostile, min_size=1, max_size=6))
def test_any_dkim_signature_header_is_a_one_line_reason(values: list[str], tmp_path: Path) -> None:
    v = _verifier(tmp_path, [KERNEL])
    head = "".join(f"DKIM-Signature: {x}\n" for x in values).replace("\r", " ")
    raw = head.encode("utf-8", "surrogatepass") + _mail(MAINTAINER)
    verdict = v.verify(raw, MAINTAINER)
    assert not verdict.ok
    assert verdict.how.isprintable() and len(verdict.how) < 400
