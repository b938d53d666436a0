"""Deliver replies: to a maildir outbox (always), over SMTP (only with --send).

The outbox file name is derived from the reply's Message-ID, so reviewing
the same revision twice rewrites the same file instead of queueing a second
copy.  SMTP settings come from the config or ``REVIEWBOT_SMTP_*``; when the
server cannot be reached the replies stay in the outbox and the error is one
clear line.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from reviewbot.errors import UsageError
from reviewbot.pipeline.report import ReplyMail


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
        try:  # a read-only or full outbox is the user's to fix, not a traceback
            tmp.write_bytes(reply.as_bytes())
            tmp.replace(final)
        except OSError as exc:
            raise UsageError(f"outbox {root}: {exc.strerror or exc}") from None
        written.append(final)
    return written


def send_smtp(replies: Iterable[ReplyMail], config: SmtpConfig) -> int:
    """Send every reply; returns how many were sent.  SendError on failure."""
    replies = list(replies)
    if not replies:
        return 0
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.user:
                smtp.login(config.user, config.password or "")
            for reply in replies:
                msg = reply.as_message()
                recipients = [a for _, a in getaddresses([*reply.to, *reply.cc]) if a]
                smtp.send_message(msg, to_addrs=recipients or None)
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        hint = "" if config.configured else " (REVIEWBOT_SMTP_HOST is not set)"
        raise SendError(f"SMTP {config.host}:{config.port}{hint}: {exc}") from None
    return len(replies)
