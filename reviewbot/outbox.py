"""The outbox: replies written with the review, sent later, never twice.

Rows are written in the same transaction as the review they come from, keyed
by (revision, patch, content): a task that runs twice writes nothing new.
The sender claims a row (``pending`` -> ``sending``, committed) before it
talks to SMTP and marks it ``sent`` after the server accepted the DATA.  If
the process dies between the two, the row stays ``sending`` and is never
retried automatically: a human resolves it (``reviewbot outbox resolve``),
because "not delivered twice" beats "delivered twice".  Errors before DATA
(server down, recipients refused with 4xx) are safe to retry with backoff.

Per-list policy decides the initial state: ``muted`` (recorded, never sent),
``held`` (waits for ``reviewbot outbox approve``) or ``pending`` after a
delay; who the reply goes to; a rate limit per hour; a maximum series size;
and whether "no findings" replies are sent at all.

Who a reply goes to is chosen when it is written and again when it is
claimed for sending (reviewbot.addresses.choose): people who replied in the
patch's thread in between (reviewbot.storage.thread) join its Cc, under the
list's ``max_recipients``, and the row's To/Cc and ``to_addrs`` are
rewritten before a byte goes to the SMTP server.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import enum
import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from reviewbot import addresses
from reviewbot.addresses import Recipients
from reviewbot.config import Config, ListConfig, ListPolicy, PolicyMode, ReplyTo, SmtpConfig
from reviewbot.models import Review
from reviewbot.storage.models import OutboxRow, RevisionRow, SeriesRow
from reviewbot.storage.thread import repliers

log = logging.getLogger(__name__)

_CRLF_RE = re.compile(rb"\r?\n")


class OutboxState(enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"
    MUTED = "muted"


class ReplyLike(Protocol):
    """What the report stage's ReplyMail offers (reviewbot.pipeline.report)."""

    @property
    def in_reply_to(self) -> str: ...
    @property
    def references(self) -> Sequence[str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def to(self) -> Sequence[str]: ...
    @property
    def cc(self) -> Sequence[str]: ...
    @property
    def body(self) -> str: ...


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def outbox_key(revision_id: int, reply: ReplyLike) -> str:
    material = "\0".join([str(revision_id), reply.in_reply_to, reply.subject, reply.body])
    return hashlib.sha256(material.encode()).hexdigest()


def _is_clean(reply: ReplyLike, review: Review) -> bool:
    with_findings = {f.patch_message_id for f in review.findings}
    cover = review.revision.cover
    if cover is not None and reply.in_reply_to == cover.message_id:
        return not review.findings
    return reply.in_reply_to not in with_findings


def _thread_wanted(lst: ListConfig | None, policy: ListPolicy) -> bool:
    return lst is not None and bool(lst.address) and policy.reply_to is ReplyTo.BOTH


def _recipients(
    reply: ReplyLike,
    lst: ListConfig | None,
    policy: ListPolicy,
    thread: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Recipients:
    listaddr = [lst.address] if lst is not None and lst.address else []
    cap = policy.max_recipients
    if policy.reply_to is ReplyTo.AUTHOR or not listaddr:
        return addresses.choose(reply.to, [], [], cap, exclude)
    if policy.reply_to is ReplyTo.LIST:
        return addresses.choose([], listaddr, [], cap, exclude)
    # the people who replied in the thread, then everyone the patch was sent
    # to, stay on the thread as a human reviewer would keep them, under the cap
    return addresses.choose(reply.to, listaddr, reply.cc, cap, exclude, thread=thread)


def _message(reply: ReplyLike, message_id: str, sender: str, rcpt: Recipients) -> EmailMessage:
    # Message-IDs are never folded (a folded id is RFC 2047-encoded: threading breaks)
    msg = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    msg["From"] = sender
    if rcpt.to:
        msg["To"] = addresses.header_value(rcpt.to)
    if rcpt.cc:
        msg["Cc"] = addresses.header_value(rcpt.cc)
    # plain text: an "=?utf-8?b?...?=" in it must not be read as an encoded word
    msg["Subject"] = reply.subject.replace("=?", "= ?")
    msg["Date"] = email.utils.format_datetime(_now())
    msg["Message-ID"] = f"<{message_id}>"
    msg["In-Reply-To"] = f"<{reply.in_reply_to}>"
    refs = list(dict.fromkeys([*reply.references, reply.in_reply_to]))
    msg["References"] = " ".join(f"<{r}>" for r in refs)
    msg["X-Mailer"] = "reviewbot"
    msg.set_content(reply.body)
    return msg


def write_replies(
    session: Session,
    cfg: Config,
    revision: RevisionRow,
    review: Review,
    replies: Sequence[ReplyLike],
    *,
    now: dt.datetime | None = None,
) -> list[OutboxRow]:
    """Queue the replies of one review under its list's policy (in the caller's transaction)."""
    now = now or _now()
    series = session.get(SeriesRow, revision.series_id)
    lst = cfg.list_named(series.list_id if series else None)
    policy = lst.policy if lst is not None else ListPolicy()  # unknown list: muted
    too_big = revision.total > policy.max_series_size
    rows = []
    for reply in replies:
        if _is_clean(reply, review) and not policy.send_clean:
            continue
        key = outbox_key(revision.id, reply)
        if session.scalar(select(OutboxRow.id).where(OutboxRow.key == key)):
            continue
        message_id = f"reviewbot.{key[:24]}@{cfg.message_domain}"
        thread = repliers(session, reply.in_reply_to) if _thread_wanted(lst, policy) else []
        rcpt = _recipients(reply, lst, policy, thread, [cfg.smtp.sender])
        msg = _message(reply, message_id, cfg.smtp.sender, rcpt)
        state, note = {
            PolicyMode.MUTED: (OutboxState.MUTED, "list is muted"),
            PolicyMode.HOLD: (OutboxState.HELD, None),
            PolicyMode.SEND: (OutboxState.PENDING, None),
        }[policy.mode]
        if too_big:
            state, note = OutboxState.MUTED, f"series of {revision.total} > max_series_size"
        elif not rcpt.envelope:
            state, note = OutboxState.MUTED, "no valid recipient"
        elif rcpt.dropped:
            note = f"{rcpt.dropped} Cc over max_recipients={policy.max_recipients} not mailed"
        row = OutboxRow(
            key=key,
            revision_id=revision.id,
            patch_message_id=reply.in_reply_to,
            message_id=message_id,
            to_addrs=", ".join(rcpt.envelope),
            subject=reply.subject,
            raw=msg.as_string(),
            state=state.value,
            not_before=now + dt.timedelta(seconds=policy.delay),
            last_error=note,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _run(session: Session, stmt: Any) -> CursorResult[Any]:
    """Execute a DML statement (its rowcount says whether the claim was won)."""
    return cast(CursorResult[Any], session.execute(stmt))


# -- sending ---------------------------------------------------------------


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # nothing was sent: safe to try again
    FAILED = "failed"  # refused for good (5xx)
    AMBIGUOUS = "ambiguous"  # the server may have it: a human decides


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send: the one SMTP path of the outbox and ``check --send``."""

    host: str
    port: int
    sender: str
    timeout: float = 30.0
    starttls: bool = False
    user: str = ""
    password: str = ""


def deliver(smtp_cfg: SmtpConfig, raw: str, recipients: list[str]) -> Delivery:
    """One message over SMTP with the service's settings (password read at send time)."""
    password = ""
    if smtp_cfg.user:
        try:
            password = Path(smtp_cfg.password_file).read_text().strip()
        except OSError as exc:
            return Delivery(Outcome.RETRY, f"connect: password_file: {exc.strerror or exc}")
    target = SmtpTarget(
        host=smtp_cfg.host,
        port=smtp_cfg.port,
        sender=smtp_cfg.sender,
        timeout=smtp_cfg.timeout,
        starttls=smtp_cfg.starttls,
        user=smtp_cfg.user,
        password=password,
    )
    return deliver_to(target, raw, recipients)


def deliver_to(target: SmtpTarget, raw: str, recipients: list[str]) -> Delivery:
    """One message over SMTP, telling apart "surely not sent" from "maybe sent".

    Non-ASCII envelope addresses are skipped with a log line (no SMTPUTF8).
    """
    _, sender = email.utils.parseaddr(target.sender)
    ascii_rcpts = [r for r in recipients if r.isascii() and "\n" not in r and "\r" not in r]
    for skipped in set(recipients) - set(ascii_rcpts):
        log.warning("recipient %r skipped: not an ASCII address", skipped)
    if not ascii_rcpts:
        return Delivery(Outcome.FAILED, "no deliverable recipient")
    try:
        conn = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        return Delivery(Outcome.RETRY, f"connect {target.host}:{target.port}: {exc}")
    try:
        try:
            conn.ehlo()
            if target.starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if target.user:
                conn.login(target.user, target.password)
            code, resp = conn.mail(sender)
            if code != 250:
                return _refused(code, resp, "MAIL FROM")
            accepted = 0
            for rcpt in ascii_rcpts:
                code, resp = conn.rcpt(rcpt)
                if code in (250, 251):
                    accepted += 1
                elif code >= 500:
                    log.warning("recipient %s refused: %s %r", rcpt, code, resp)
                else:
                    return _refused(code, resp, f"RCPT {rcpt}")
            if not accepted:
                return Delivery(Outcome.FAILED, "every recipient refused")
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(Outcome.RETRY, f"before DATA: {exc}")
        except (UnicodeError, ValueError) as exc:  # nothing was sent; it would fail again
            return Delivery(Outcome.FAILED, f"before DATA: {exc}")
        try:
            # smtplib fixes line ends of str only; bytes must already use CRLF.
            code, resp = conn.data(_CRLF_RE.sub(b"\r\n", raw.encode("utf-8")))
        except smtplib.SMTPDataError as exc:
            return _refused(exc.smtp_code, exc.smtp_error, "DATA")
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(Outcome.AMBIGUOUS, f"during DATA: {exc}")
        if code != 250:
            return _refused(code, resp, "DATA")
        return Delivery(Outcome.SENT, resp.decode("utf-8", "replace"))
    finally:
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()


def _refused(code: int, resp: bytes | str, stage: str) -> Delivery:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    outcome = Outcome.FAILED if code >= 500 else Outcome.RETRY
    return Delivery(outcome, f"{stage}: {code} {text}")


def _list_of(session: Session, row: OutboxRow) -> str | None:
    if row.revision_id is None:
        return None
    return session.scalar(
        select(SeriesRow.list_id)
        .join(RevisionRow, RevisionRow.series_id == SeriesRow.id)
        .where(RevisionRow.id == row.revision_id)
    )


def _sent_last_hour(session: Session, list_name: str | None, now: dt.datetime) -> int:
    q = (
        select(func.count(OutboxRow.id))
        .join(RevisionRow, RevisionRow.id == OutboxRow.revision_id)
        .join(SeriesRow, SeriesRow.id == RevisionRow.series_id)
        .where(OutboxRow.state == OutboxState.SENT.value)
        .where(OutboxRow.sent_at >= now - dt.timedelta(hours=1))
        .where(SeriesRow.list_id == list_name)
    )
    return int(session.scalar(q) or 0)


@dataclass
class SendStats:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    ambiguous: int = 0
    rate_limited: int = 0


def send_due(
    sessions: sessionmaker[Session],
    cfg: Config,
    now: dt.datetime | None = None,
    deliver_fn: Callable[[SmtpConfig, str, list[str]], Delivery] = deliver,
) -> SendStats:
    """Send every pending reply whose time has come, within each list's rate."""
    now = now or _now()
    stats = SendStats()
    with sessions() as session:
        due = session.scalars(
            select(OutboxRow.id)
            .where(OutboxRow.state == OutboxState.PENDING.value)
            .where((OutboxRow.not_before.is_(None)) | (OutboxRow.not_before <= now))
            .order_by(OutboxRow.id)
        ).all()
    for row_id in due:
        with sessions() as session:
            row = session.get(OutboxRow, row_id)
            if row is None:
                continue
            list_name = _list_of(session, row)
            lst = cfg.list_named(list_name)
            rate = lst.policy.rate_per_hour if lst is not None else 0
            if _sent_last_hour(session, list_name, now) >= rate:
                stats.rate_limited += 1
                continue
            # Who replied in the thread since the row was written joins it now.
            fresh = _readdressed(session, cfg, row, lst)
            # The claim: only one sender gets the row, and the claim is durable
            # (with the recipients it goes to) before a byte goes to the SMTP server.
            claimed = _run(
                session,
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.state == OutboxState.PENDING.value)
                .values(
                    state=OutboxState.SENDING.value,
                    attempts=OutboxRow.attempts + 1,
                    **(fresh or {}),
                ),
            ).rowcount
            session.commit()
            if not claimed:
                continue
            session.refresh(row)
            raw, recipients, attempts = row.raw, addresses.addr_specs([row.to_addrs]), row.attempts
        try:
            result = deliver_fn(cfg.smtp, raw, recipients)
        except Exception as exc:  # never leave the row in "sending" for a bug of ours
            log.exception("outbox %d: delivery failed", row_id)
            result = Delivery(Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        _settle(sessions, row_id, result, attempts, now)
        setattr(stats, result.outcome.value, getattr(stats, result.outcome.value) + 1)
        if result.outcome is Outcome.RETRY and result.detail.startswith("connect"):
            break  # the server is down: the other rows would each wait for the same timeout
    return stats


_ADDRESS_FIELDS = ("to", "cc")


def _with_recipients(raw: str, rcpt: Recipients) -> str:
    """``raw`` with its To: and Cc: fields replaced by ``rcpt`` (after From:)."""
    head, sep, body = raw.partition("\n\n")
    kept: list[str] = []
    skipping = False
    at = 0
    for line in head.split("\n"):
        if line[:1] in (" ", "\t"):  # a folded field goes with the field above it
            if not skipping:
                kept.append(line)
            continue
        name = line.split(":", 1)[0].strip().lower()
        skipping = name in _ADDRESS_FIELDS
        if not skipping:
            kept.append(line)
            if name == "from":
                at = len(kept)
    # the same folding as the rows written by _message
    policy = email.policy.default.clone(max_line_length=998)
    fields = []
    for name, addrs in (("To", rcpt.to), ("Cc", rcpt.cc)):
        if addrs:
            value = policy.header_factory(name, addresses.header_value(addrs))
            fields.append(value.fold(policy=policy).rstrip("\n"))
    while at < len(kept) and kept[at][:1] in (" ", "\t"):
        at += 1  # after a folded From: too
    return "\n".join([*kept[:at], *fields, *kept[at:]]) + sep + body


def _readdressed(
    session: Session, cfg: Config, row: OutboxRow, lst: ListConfig | None
) -> dict[str, str] | None:
    """New ``raw`` and ``to_addrs`` for a row whose thread gained repliers, else None.

    The row's To: is the author as chosen when it was written, its Cc: the
    list, the repliers known then and the patch's other To/Cc if they fitted;
    choosing again with the repliers known now keeps that order under the cap.
    """
    policy = lst.policy if lst is not None else ListPolicy()
    if lst is None or not _thread_wanted(lst, policy) or not row.patch_message_id:
        return None
    try:
        thread = repliers(session, row.patch_message_id)
        if not thread:
            return None
        msg = email.message_from_string(row.raw, policy=email.policy.compat32)
        to = [str(v) for v in msg.get_all("To", [])]
        cc = [str(v) for v in msg.get_all("Cc", [])]
        rcpt = addresses.choose(
            to, [lst.address], cc, policy.max_recipients, [cfg.smtp.sender], thread=thread
        )
        if not rcpt.envelope or rcpt.envelope == addresses.addr_specs([row.to_addrs]):
            return None
        raw = _with_recipients(row.raw, rcpt)
    except Exception as exc:  # never a reason not to send what was written
        log.warning("outbox %d: recipients not recomputed: %s", row.id, exc)
        return None
    added = len(rcpt.envelope) - len(addresses.addr_specs([row.to_addrs]))
    log.info("outbox %d: %d recipient(s) now, %+d since written", row.id, len(rcpt.envelope), added)
    return {"raw": raw, "to_addrs": ", ".join(rcpt.envelope)}


def _settle(
    sessions: sessionmaker[Session],
    row_id: int,
    result: Delivery,
    attempts: int,
    now: dt.datetime,
) -> None:
    with sessions() as session:
        row = session.get(OutboxRow, row_id)
        assert row is not None
        row.last_error = None if result.outcome is Outcome.SENT else result.detail
        if result.outcome is Outcome.SENT:
            row.state, row.sent_at = OutboxState.SENT.value, _now()
        elif result.outcome is Outcome.RETRY:
            backoff = min(5.0 * 2 ** max(attempts - 1, 0), 3600.0)
            row.state = OutboxState.PENDING.value
            row.not_before = now + dt.timedelta(seconds=backoff)
        elif result.outcome is Outcome.FAILED:
            row.state = OutboxState.FAILED.value
        # AMBIGUOUS stays "sending": resolved by hand, never resent by itself.
        session.commit()
    if result.outcome is not Outcome.SENT:
        log.warning("outbox %d: %s: %s", row_id, result.outcome.value, result.detail)


def approve(session: Session, ids: Sequence[int]) -> int:
    """held -> pending (a maintainer's approval)."""
    res = _run(
        session,
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.state == OutboxState.HELD.value)
        .values(state=OutboxState.PENDING.value, not_before=_now()),
    )
    return int(res.rowcount)


def resolve(session: Session, ids: Sequence[int], resend: bool) -> int:
    """A row stuck in ``sending``: a human says it went out (sent) or did not (pending)."""
    state = OutboxState.PENDING if resend else OutboxState.SENT
    res = _run(
        session,
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.state == OutboxState.SENDING.value)
        .values(
            state=state.value, sent_at=None if resend else _now(), last_error="resolved by hand"
        ),
    )
    return int(res.rowcount)
