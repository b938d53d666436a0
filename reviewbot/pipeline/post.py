"""Deliver replies: to a maildir outbox (always), over SMTP (only with --send).

The outbox file name is derived from the reply's Message-ID, so reviewing
the same revision twice rewrites the same file instead of queueing a second
copy.  SMTP settings come from the config or ``REVIEWBOT_SMTP_*``; when the
server cannot be reached the replies stay in the outbox and the error is one
clear line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.errors
import email.policy
import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reviewbot.addresses import choose, header_value, needs_utf8
from reviewbot.errors import UsageError
from reviewbot.pipeline.report import ReplyMail

log = logging.getLogger(__name__)
# ReplyMail.as_message's policy, with UTF-8 headers (RFC 6532)
_SMTP_UTF8 = email.policy.SMTP.clone(max_line_length=998, utf8=True)


class SendError(UsageError):
    """The SMTP server refused or could not be reached (exit 2)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0
    configured: bool = True  # False: no host given anywhere, localhost:25 assumed

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, defaults: Mapping[str, object] | None = None
    ) -> SmtpConfig:
        """``REVIEWBOT_SMTP_{HOST,PORT,STARTTLS,USER,PASSWORD}`` over ``defaults``."""
        env = os.environ if env is None else env
        d = dict(defaults or {})

        def get(name: str) -> str | None:
            value = env.get(f"REVIEWBOT_SMTP_{name.upper()}")
            if value is None and d.get(name) is not None:
                value = str(d[name])
            return value

        port = get("port")
        try:
            port_n = int(port) if port else 25
        except ValueError:
            raise UsageError(f"SMTP port {port!r} is not a number") from None
        tls = (get("starttls") or "").lower() in ("1", "yes", "true", "on")
        return cls(
            configured=bool(get("host")),
            host=get("host") or "localhost",
            port=port_n,
            starttls=tls,
            user=get("user"),
            password=get("password"),
        )


def _filename(reply: ReplyMail) -> str:
    return hashlib.sha1(reply.message_id.encode()).hexdigest()[:16] + ".reviewbot"


def to_maildir(replies: Iterable[ReplyMail], directory: Path | str) -> list[Path]:
    """Write each reply into ``directory/new`` (a maildir), atomically."""
    root = Path(directory)
    try:
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"outbox {root}: {exc.strerror or exc}") from None
    written = []
    for reply in replies:
        name = _filename(reply)
        tmp = root / "tmp" / f"{name}.{os.getpid()}"
        final = root / "new" / name
        try:
            data = reply.as_bytes()
        except (UnicodeError, ValueError, email.errors.MessageError) as exc:
            # a header the email package cannot write back (hostile encoded words)
            raise UsageError(f"reply to {reply.in_reply_to}: cannot be written: {exc}") from None
        try:  # a read-only or full outbox is the user's to fix, not a traceback
            tmp.write_bytes(data)
            tmp.replace(final)
        except OSError as exc:
            raise UsageError(f"outbox {root}: {exc.strerror or exc}") from None
        written.append(final)
    return written


def _sent_marker(outbox: Path, reply: ReplyMail) -> Path:
    return outbox / "sent" / _filename(reply)


def send_smtp(
    replies: Iterable[ReplyMail],
    config: SmtpConfig,
    outbox: Path | str | None = None,
    max_recipients: int = 20,
) -> int:
    """Send every reply not sent before; returns how many were sent.  SendError on failure.

    The same SMTP path as the service's outbox (reviewbot.outbox.deliver_to),
    the same recipients rules (reviewbot.addresses), and a ledger: just before
    DATA a reply leaves ``OUTBOX/sent/NAME`` ("delivering"), rewritten "sent"
    when the server took it and removed when the server refused it.  A later
    run never sends a reply with a ledger entry again: one left "delivering"
    or "ambiguous" (the run was killed, or the connection broke, during DATA)
    may have gone out, and is skipped with a line saying how to send it anyway.
    """
    from reviewbot.outbox import Outcome, SmtpTarget, deliver_to

    replies = list(replies)
    target = SmtpTarget(
        host=config.host,
        port=config.port,
        sender="",
        timeout=config.timeout,
        starttls=config.starttls,
        user=config.user or "",
        password=config.password or "",
    )
    sent, errors = 0, []
    for reply in replies:
        marker = _sent_marker(Path(outbox), reply) if outbox is not None else None
        if marker is not None and marker.exists():
            _say_if_in_doubt(marker, reply)
            continue
        # the first Cc is the patch's To (the list, as b4 and git send-email write it);
        # the people who replied in the thread come before the patch's other To/Cc
        rcpt = choose(
            reply.to,
            reply.cc[:1],
            reply.cc[1:],
            max_recipients,
            exclude=(reply.sender,),
            thread=reply.thread,
        )
        try:
            msg = reply.as_message()
            for name, addrs in (("To", rcpt.to), ("Cc", rcpt.cc)):
                del msg[name]
                if addrs:
                    msg[name] = header_value(addrs)
            # UTF-8 headers (RFC 6532) only for a reply to an internationalised address
            policy = _SMTP_UTF8 if needs_utf8([*rcpt.to, *rcpt.cc]) else None
            raw = msg.as_bytes(policy=policy).decode("utf-8", "replace")
        except (UnicodeError, ValueError, email.errors.MessageError) as exc:
            errors.append(f"{reply.message_id}: cannot be written: {exc}")
            continue
        started: list[bool] = []

        def before_data(marker: Path | None = marker, started: list[bool] = started) -> bool:
            if marker is not None:
                stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                _write_marker(marker, f"delivering {stamp}: DATA started\n")
            started.append(True)
            return True

        result = deliver_to(
            dataclasses.replace(target, sender=reply.sender),
            raw,
            rcpt.envelope,
            before_data=before_data,
        )
        if marker is not None and result.outcome in (Outcome.SENT, Outcome.AMBIGUOUS):
            _write_marker(marker, f"{result.outcome.value} {result.detail}\n")
        elif marker is not None and started:
            marker.unlink(missing_ok=True)  # the server answered no to DATA: not delivered
        if result.outcome is Outcome.SENT:
            sent += 1
            continue
        errors.append(f"{reply.message_id}: {result.outcome.value}: {result.detail}")
        if result.outcome is not Outcome.FAILED:
            break  # the server is down or the connection broke: the rest waits for a rerun
    if errors:
        hint = "" if config.configured else " (REVIEWBOT_SMTP_HOST is not set)"
        done = f"{sent} sent, " if sent else ""
        raise SendError(f"SMTP {config.host}:{config.port}{hint}: {done}{'; '.join(errors)}")
    return sent


def _say_if_in_doubt(marker: Path, reply: ReplyMail) -> None:
    """A ledger entry that is not "sent": the reply may have gone out; one line says so."""
    try:
        with marker.open("rb") as fh:
            state = fh.read(64).decode("ascii", "replace").split(" ", 1)[0].strip()
    except OSError:
        state = "?"
    if state != "sent":
        log.warning(
            "reviewbot: reply to %s may have been sent by an earlier run (%s during DATA):"
            " not sent again; delete %s to send it",
            reply.in_reply_to,
            "connection broken" if state == "ambiguous" else "killed",
            marker,
        )


def _write_marker(marker: Path, text: str) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(text)
    except OSError as exc:
        raise SendError(f"outbox {marker.parent}: {exc.strerror or exc}") from None
