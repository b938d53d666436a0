"""The outbox: replies written with the review, sent later, never twice.

Rows are written in the same transaction as the review they come from, keyed
by (revision, patch, content): a task that runs twice writes nothing new.

Sending goes through states that say what the SMTP server may have:

- ``pending``: due at ``not_before``.
- ``sending``: claimed by one sender (committed before it connects), nothing
  transmitted yet.  While a row is ``sending``, ``not_before`` holds the claim
  time and ``last_error`` the fixed note ``CLAIM_NOTE`` (no schema change).
  A claim older than ``[outbox] lease`` belongs to a sender that died or hung
  before DATA: the row provably never went out and goes back to ``pending``.
- ``delivering``: committed just before DATA starts, and only while the
  claim is still the sender's own (``attempts`` is the claim's token), so a
  released claim can never transmit; ``sent_at`` holds when DATA started.
  The server's "250" after DATA makes it ``sent``; a refusal (4xx/5xx) makes
  it ``pending`` (retry with backoff) or ``failed``.  If the connection broke
  during DATA (``Outcome.AMBIGUOUS``) or the sender died, the row stays
  ``delivering``: the server may have it.
- A ``delivering`` row is confirmed by the list: our replies Cc the list, and
  when the watcher reads a mail with the row's Message-ID it becomes ``sent``
  ("seen on the list").  With no copy after ``[outbox] unconfirmed_after``,
  it becomes ``unconfirmed`` and ``last_error`` says what to do: a human
  checks the archive and runs ``reviewbot outbox resolve`` (it went out) or
  ``resolve --resend`` (it did not).  "Not delivered twice" beats
  "delivered twice": nothing that may have gone out is resent by itself.
- ``sent``, ``failed`` (refused for good, or no recipient deliverable),
  ``held``, ``muted``.

Internationalised addresses (RFC 6531) are mailed with SMTPUTF8 when the
server offers it; otherwise an IDN domain is sent in its A-label form when
the local part is ASCII, and the other such recipients are skipped with a
log line each (the To/Cc headers are rewritten to match).

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
import email.errors
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
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from reviewbot import addresses
from reviewbot.addresses import Recipients
from reviewbot.config import Config, ListConfig, ListPolicy, PolicyMode, ReplyTo, SmtpConfig
from reviewbot.models import Review
from reviewbot.storage.models import MessageRow, OutboxRow, RevisionRow, SeriesRow
from reviewbot.storage.thread import repliers

log = logging.getLogger(__name__)

_CRLF_RE = re.compile(rb"\r?\n")
_HEAD_END_RE = re.compile(r"\r?\n\r?\n")


class OutboxState(enum.Enum):
    PENDING = "pending"
    SENDING = "sending"  # claimed, nothing transmitted
    DELIVERING = "delivering"  # DATA started: the server may have it
    UNCONFIRMED = "unconfirmed"  # delivering, and no copy came back from the list
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


# Message-IDs are never folded (a folded id is RFC 2047-encoded: threading breaks)
_POLICY = email.policy.default.clone(max_line_length=998)
# headers in UTF-8 (RFC 6532): only for a reply that carries a non-ASCII address
_UTF8_POLICY = _POLICY.clone(utf8=True)


def _message(reply: ReplyLike, message_id: str, sender: str, rcpt: Recipients) -> EmailMessage:
    utf8 = addresses.needs_utf8([*rcpt.to, *rcpt.cc]) or not _addr(sender).isascii()
    msg = EmailMessage(policy=_UTF8_POLICY if utf8 else _POLICY)
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
    FAILED = "failed"  # refused for good (5xx), or nobody to send it to
    AMBIGUOUS = "ambiguous"  # the server may have it: the list's copy decides


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


# Called just before DATA; False (or an exception) means "do not transmit".
BeforeData = Callable[[], bool]


class DeliverFn(Protocol):
    def __call__(
        self,
        smtp_cfg: SmtpConfig,
        raw: str,
        recipients: list[str],
        *,
        before_data: BeforeData | None = None,
    ) -> Delivery: ...


def deliver(
    smtp_cfg: SmtpConfig,
    raw: str,
    recipients: list[str],
    *,
    before_data: BeforeData | None = None,
) -> Delivery:
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
    return deliver_to(target, raw, recipients, before_data=before_data)


def _addr(value: str) -> str:
    return email.utils.parseaddr(value)[1]


def _envelope(recipients: list[str], smtputf8: bool) -> list[str]:
    """The RCPT TO addresses the server can take; the others are logged."""
    out = []
    for rcpt in dict.fromkeys(recipients):
        if any(c in rcpt for c in "\r\n\x00"):
            log.warning("recipient %r skipped: a control character", rcpt)
            continue
        form = rcpt if smtputf8 else addresses.ascii_form(rcpt)
        if form is None:
            log.warning("recipient %r skipped: non-ASCII and the server has no SMTPUTF8", rcpt)
            continue
        out.append(form)
    return out


def _downgrade(raw: str) -> str:
    """The message for a server without SMTPUTF8: To/Cc as ASCII (IDN domains
    in A-label form, addresses with a non-ASCII local part left out), other
    non-ASCII headers as RFC 2047 words, each header in its place, the body as
    it was."""
    msg = email.message_from_string(raw, policy=_UTF8_POLICY)
    for name in dict.fromkeys(k.lower() for k in msg):
        values = msg.get_all(name) or []
        if all(str(v).isascii() for v in values):
            continue
        if name in ("to", "cc"):
            kept = []
            for a in (a for v in values for a in getattr(v, "addresses", ())):
                if (spec := addresses.ascii_form(a.addr_spec)) is not None:
                    local, _, domain = spec.rpartition("@")
                    kept.append(Address(a.display_name, local, domain))
            new = [addresses.header_value(kept)] if kept else []
        else:
            new = [str(v) for v in values]  # refolded by the ASCII policy: RFC 2047 words
        if len(values) == 1 and new:
            msg.replace_header(name, new[0])  # in its place
        else:
            del msg[name]
            for value in new:
                msg[name] = value
    return msg.as_string(policy=_POLICY)


def deliver_to(
    target: SmtpTarget,
    raw: str,
    recipients: list[str],
    *,
    before_data: BeforeData | None = None,
) -> Delivery:
    """One message over SMTP, telling apart "surely not sent" from "maybe sent".

    Non-ASCII recipients go with SMTPUTF8 when the server offers it; without
    it an IDN domain goes as its A-label, the rest is skipped with a log line.
    ``before_data`` runs just before DATA (the outbox records "delivering",
    ``check --send`` its ledger): when it says no, nothing is transmitted.
    """
    sender = _addr(target.sender)
    if not [r for r in recipients if not any(c in r for c in "\r\n\x00")]:
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
            smtputf8 = conn.has_extn("smtputf8")
            envelope = _envelope(recipients, smtputf8)
            if not envelope:
                why = "" if smtputf8 else " without SMTPUTF8 (the server does not offer it)"
                return Delivery(Outcome.FAILED, f"no deliverable recipient{why}")
            body = raw
            options: list[str] = []
            head_ascii = _HEAD_END_RE.split(raw, maxsplit=1)[0].isascii()
            if sender.isascii() and head_ascii and all(r.isascii() for r in envelope):
                pass  # plain ASCII mail, as always
            elif smtputf8:
                options.append("SMTPUTF8")
                conn.command_encoding = "utf-8"
            elif not sender.isascii():
                return Delivery(Outcome.FAILED, f"sender {sender!r} needs SMTPUTF8: not offered")
            else:
                body = _downgrade(raw)
            if not body.isascii() and conn.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            code, resp = conn.mail(sender, options)
            if code != 250:
                return _refused(code, resp, "MAIL FROM")
            accepted = 0
            for rcpt in envelope:
                code, resp = conn.rcpt(rcpt)
                if code in (250, 251):
                    accepted += 1
                elif code >= 500:
                    log.warning("recipient %s refused: %s %r", rcpt, code, resp)
                else:
                    return _refused(code, resp, f"RCPT {rcpt}")
            if not accepted:
                return Delivery(Outcome.FAILED, "every recipient refused")
            data = _CRLF_RE.sub(b"\r\n", body.encode("utf-8"))
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(Outcome.RETRY, f"before DATA: {exc}")
        except (UnicodeError, ValueError, email.errors.MessageError) as exc:
            # nothing was sent; it would fail again
            return Delivery(Outcome.FAILED, f"before DATA: {exc}")
        if before_data is not None:
            try:
                go = before_data()
            except Exception as exc:  # the database is away: do not transmit
                return Delivery(Outcome.RETRY, f"before DATA: not recorded: {exc}")
            if not go:
                return Delivery(Outcome.RETRY, "before DATA: the claim was taken back: not sent")
        try:
            # smtplib fixes line ends of str only; bytes must already use CRLF.
            code, resp = conn.data(data)
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
    released: int = 0  # claims past the lease, never transmitted: pending again
    unconfirmed: int = 0  # delivering with no copy from the list in time


# ``last_error`` of a row while it is claimed (``sending``); with the claim
# time in ``not_before`` it tells a claim of this code (provably nothing
# transmitted) from a row an older version left in ``sending`` (maybe sent).
CLAIM_NOTE = "claimed: nothing transmitted yet"
_LEFT_NOTE = "left in sending: may have gone out; waiting for the list's copy"
_MAYBE_SENT = (OutboxState.DELIVERING.value, OutboxState.UNCONFIRMED.value)


def confirm_echoes(session: Session, message_ids: Sequence[str]) -> int:
    """Mails read from a list: those that are copies of our own replies whose
    delivery was in doubt confirm them (``sent``, "seen on the list")."""
    ids = list(dict.fromkeys(m for m in message_ids if m))
    done = 0
    for i in range(0, len(ids), 500):
        rows = session.scalars(
            select(OutboxRow).where(
                OutboxRow.message_id.in_(ids[i : i + 500]), OutboxRow.state.in_(_MAYBE_SENT)
            )
        ).all()
        for row in rows:
            log.info("outbox %d: %s seen on the list: sent", row.id, row.state)
            row.state, row.last_error = OutboxState.SENT.value, "seen on the list"
            row.sent_at = _utc(row.sent_at) or _now()
            done += 1
    return done


def _tidy(sessions: sessionmaker[Session], cfg: Config, now: dt.datetime, stats: SendStats) -> None:
    """Give back expired claims, confirm by the list, and say what stays unknown.

    Every move is a conditional UPDATE: a sender that moves the same row at
    the same moment (to ``delivering``, ``sent``) wins or loses as a whole.
    """
    lease = now - dt.timedelta(seconds=cfg.outbox.lease)
    sending = OutboxRow.state == OutboxState.SENDING.value
    with sessions.begin() as session:
        rows = session.execute(
            select(OutboxRow.id, OutboxRow.not_before, OutboxRow.last_error).where(sending)
        ).all()
        for row_id, claimed_at, note in rows:
            claimed = _utc(claimed_at)
            if note != CLAIM_NOTE:
                # left by an older version, which claimed without a note: it may
                # have gone out, so it is treated as if DATA had started now
                changed = _run(
                    session,
                    update(OutboxRow)
                    .where(
                        OutboxRow.id == row_id,
                        sending,
                        OutboxRow.last_error.is_not_distinct_from(note),
                    )
                    .values(
                        state=OutboxState.DELIVERING.value,
                        sent_at=now,
                        last_error=_LEFT_NOTE,
                    ),
                ).rowcount
                if changed:
                    log.warning(
                        "outbox %d: left in sending by an earlier version: delivering", row_id
                    )
            elif claimed is None or claimed <= lease:
                changed = _run(
                    session,
                    update(OutboxRow)
                    .where(OutboxRow.id == row_id, sending, OutboxRow.last_error == CLAIM_NOTE)
                    .where(OutboxRow.not_before.is_(None) | (OutboxRow.not_before <= lease))
                    .values(
                        state=OutboxState.PENDING.value,
                        not_before=now,
                        last_error="a sender claimed it and stopped before DATA: sent again",
                    ),
                ).rowcount
                if changed:
                    log.warning(
                        "outbox %d: claim of %s expired before DATA: nothing sent, pending again",
                        row_id,
                        claimed.isoformat(timespec="seconds") if claimed else "?",
                    )
                    stats.released += changed
    with sessions.begin() as session:
        # copies the watcher stored before the row was marked in doubt
        seen = select(MessageRow.id).where(MessageRow.message_id == OutboxRow.message_id)
        ids = session.scalars(
            select(OutboxRow.message_id).where(OutboxRow.state.in_(_MAYBE_SENT), seen.exists())
        ).all()
        confirm_echoes(session, ids)
    limit = now - dt.timedelta(seconds=cfg.outbox.unconfirmed_after)
    delivering = OutboxRow.state == OutboxState.DELIVERING.value
    with sessions.begin() as session:
        late = session.execute(
            select(OutboxRow.id, OutboxRow.message_id, OutboxRow.sent_at)
            .where(delivering)
            .where(OutboxRow.sent_at.is_(None) | (OutboxRow.sent_at <= limit))
        ).all()
        for row_id, message_id, started in late:
            at = _utc(started)
            when = at.isoformat(timespec="seconds") if at else "?"
            changed = _run(
                session,
                update(OutboxRow)
                .where(OutboxRow.id == row_id, delivering)
                .values(
                    state=OutboxState.UNCONFIRMED.value,
                    last_error=(
                        f"DATA may have gone out at {when} but no copy of <{message_id}> came"
                        f" back from the list in {cfg.outbox.unconfirmed_after:.0f}s: if the"
                        f" archive has it, `reviewbot outbox resolve {row_id}`; if not,"
                        f" `reviewbot outbox resolve --resend {row_id}`"
                    ),
                ),
            ).rowcount
            if changed:
                log.warning(
                    "outbox %d: no copy of <%s> on the list: unconfirmed", row_id, message_id
                )
                stats.unconfirmed += changed


def send_due(
    sessions: sessionmaker[Session],
    cfg: Config,
    now: dt.datetime | None = None,
    deliver_fn: DeliverFn = deliver,
) -> SendStats:
    """Send every pending reply whose time has come, within each list's rate."""
    now = now or _now()
    stats = SendStats()
    _tidy(sessions, cfg, now, stats)
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
            # (with the recipients it goes to) before the SMTP server is even
            # contacted.  Its time is in not_before, and attempts (one more per
            # claim) is its token.
            claimed = _run(
                session,
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.state == OutboxState.PENDING.value)
                .values(
                    state=OutboxState.SENDING.value,
                    attempts=OutboxRow.attempts + 1,
                    not_before=now,
                    last_error=CLAIM_NOTE,
                    **(fresh or {}),
                ),
            ).rowcount
            session.commit()
            if not claimed:
                continue
            session.refresh(row)
            raw, recipients, attempts = row.raw, addresses.addr_specs([row.to_addrs]), row.attempts
        started: list[bool] = []
        try:
            result = deliver_fn(
                cfg.smtp,
                raw,
                recipients,
                before_data=_mark_delivering(sessions, row_id, attempts, started),
            )
        except Exception as exc:  # never leave the row claimed for a bug of ours
            log.exception("outbox %d: delivery failed", row_id)
            # after "delivering" the server may have it; before, nothing went out
            outcome = Outcome.AMBIGUOUS if started else Outcome.FAILED
            result = Delivery(outcome, f"{type(exc).__name__}: {exc}")
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
    # the same folding (and UTF-8 headers when an address needs them) as _message
    policy = _UTF8_POLICY if addresses.needs_utf8([*rcpt.to, *rcpt.cc]) else _POLICY
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


def _mark_delivering(
    sessions: sessionmaker[Session], row_id: int, attempts: int, started: list[bool]
) -> BeforeData:
    """sending -> delivering, committed, only while the claim is still ours."""

    def mark() -> bool:
        started.append(True)
        with sessions.begin() as session:
            won = _run(
                session,
                update(OutboxRow)
                .where(
                    OutboxRow.id == row_id,
                    OutboxRow.state == OutboxState.SENDING.value,
                    OutboxRow.attempts == attempts,
                )
                .values(
                    state=OutboxState.DELIVERING.value,
                    sent_at=_now(),
                    last_error="DATA started: waiting for the server's answer",
                ),
            ).rowcount
        return bool(won)

    return mark


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
        ours = row.attempts == attempts and row.state in (OutboxState.SENDING.value, *_MAYBE_SENT)
        if not ours:
            # the claim was given back (lease), confirmed by the list or resolved by hand
            log.warning(
                "outbox %d: %s not recorded: the row is %s now",
                row_id,
                result.outcome.value,
                row.state,
            )
            return
        row.last_error = None if result.outcome is Outcome.SENT else result.detail
        if result.outcome is Outcome.SENT:
            row.state, row.sent_at = OutboxState.SENT.value, _now()
        elif result.outcome is Outcome.RETRY:
            backoff = min(5.0 * 2 ** max(attempts - 1, 0), 3600.0)
            row.state = OutboxState.PENDING.value
            row.not_before = now + dt.timedelta(seconds=backoff)
        elif result.outcome is Outcome.FAILED:
            row.state = OutboxState.FAILED.value
        else:  # AMBIGUOUS: the server may have it; the list's copy will tell
            row.state = OutboxState.DELIVERING.value
            row.sent_at = _utc(row.sent_at) or _now()
            row.last_error = f"{result.detail}: may have gone out; waiting for the list's copy"
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


# what `outbox resolve` works on: rows whose delivery is in doubt (and
# ``sending``, as before: a claim a human knows to be dead)
RESOLVABLE = (OutboxState.SENDING.value, *_MAYBE_SENT)


def resolve(session: Session, ids: Sequence[int], resend: bool) -> int:
    """A row in doubt (``delivering``, ``unconfirmed``, ``sending``): a human says
    it went out (sent) or did not (pending)."""
    state = OutboxState.PENDING if resend else OutboxState.SENT
    res = _run(
        session,
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.state.in_(RESOLVABLE))
        .values(
            state=state.value,
            sent_at=None if resend else _now(),
            not_before=_now(),
            last_error="resolved by hand",
        ),
    )
    return int(res.rowcount)
