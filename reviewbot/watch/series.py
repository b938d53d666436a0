"""Turn stored mails into series and revisions, and link v1 -> vN.

Every mail read from an inbox is committed as a MessageRow first (with the
epoch cursor, in one transaction), so nothing is lost between polls.  Patches
are grouped by thread root (the cover letter, or patch 1/n when there is no
cover); a revision is created once all n/m have arrived or the grace period
has passed, and only if one of its patches touches the configured paths.
A revision is linked to an earlier one by its ``change-id:`` trailer, then by
title and author within a time window; ``reviewbot link`` links the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from reviewbot.config import ListConfig
from reviewbot.storage.models import (
    MessageRefRow,
    MessageRow,
    PatchRow,
    RevisionRow,
    SeriesRow,
)
from reviewbot.storage.states import MessageState, RevisionState
from reviewbot.storage.thread import thread_refs
from reviewbot.watch.mail import MailInfo, parse_mail, touches

log = logging.getLogger(__name__)

_MBOX_FROM = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # SQLite drops the zone
    return value


def decode_raw(raw: bytes) -> str:
    """Mails as text for the database: UTF-8 (kernel mail is), NULs dropped (PostgreSQL)."""
    return raw.decode("utf-8", "replace").replace("\x00", "")


def to_mboxrd(raws: Iterable[str]) -> bytes:
    out = bytearray()
    for raw in raws:
        data = raw.encode("utf-8")
        out += _MBOX_FROM + _FROM_LINE.sub(rb">\1", data)
        if not data.endswith(b"\n"):
            out += b"\n"
        out += b"\n"
    return bytes(out)


def _row(inbox_url: str, raw: bytes, info: MailInfo) -> MessageRow:
    """A mail as stored; a reply also says who wrote it and which ids it answers."""
    row = MessageRow(
        message_id=info.message_id,
        inbox_url=inbox_url,
        raw=decode_raw(raw),
        state=MessageState.NEW if info.is_patch else MessageState.IGNORED,
    )
    if not info.is_patch:
        row.sender = info.sender
        row.refs = [MessageRefRow(ref=ref) for ref in thread_refs(info.references)]
    return row


def store_message(session: Session, inbox_url: str, raw: bytes, info: MailInfo | None) -> bool:
    """Record one mail; False for a message-id already seen (the same mail twice)."""
    if info is None:
        return False
    if session.scalar(select(MessageRow.id).where(MessageRow.message_id == info.message_id)):
        return False
    session.add(_row(inbox_url, raw, info))
    session.flush()
    return True


def quarantine(
    session: Session, inbox_url: str, raw: bytes, info: MailInfo | None, reason: str
) -> int:
    """Keep a mail that could not be stored aside, with why; 1 if a row was written.

    Its key is a hash of its bytes (its own Message-Id may be what failed).
    """
    key = f"quarantine.{hashlib.sha256(raw).hexdigest()[:40]}@reviewbot.invalid"
    label = info.message_id[:200] if info is not None else "?"
    log.warning("%s: mail %s quarantined: %s", inbox_url, label, reason)
    try:
        with session.begin_nested():
            if session.scalar(select(MessageRow.id).where(MessageRow.message_id == key)):
                return 0
            session.add(
                MessageRow(
                    message_id=key,
                    inbox_url=inbox_url,
                    raw=decode_raw(raw),
                    state=MessageState.QUARANTINED,
                    reason=f"{reason} (Message-Id {label})"[:2000],
                )
            )
            session.flush()
    except (SQLAlchemyError, ValueError, UnicodeError) as exc:
        log.error("%s: mail %s could not even be quarantined: %s", inbox_url, label, exc)
        return 0
    return 1


def store_messages(
    session: Session, inbox_url: str, items: list[tuple[bytes, MailInfo | None]]
) -> tuple[list[MailInfo], int]:
    """Record a batch of mails with one look-up; returns the new ones and the duplicates."""
    ids = [info.message_id for _, info in items if info is not None]
    seen = set(session.scalars(select(MessageRow.message_id).where(MessageRow.message_id.in_(ids))))
    stored, dups = [], 0
    for raw, info in items:
        if info is None or info.message_id in seen:
            dups += 1
            continue
        seen.add(info.message_id)
        session.add(_row(inbox_url, raw, info))
        stored.append(info)
    session.flush()
    return stored, dups


@dataclass
class _Group:
    root: str
    mails: dict[int, tuple[MessageRow, MailInfo]]
    oldest: dt.datetime

    @property
    def total(self) -> int:
        return max(info.total for _, info in self.mails.values())

    @property
    def version(self) -> int:
        return max(info.version for _, info in self.mails.values())

    def complete(self) -> bool:
        total = self.total
        if not set(range(1, total + 1)) <= set(self.mails):
            return False
        if total == 1 or 0 in self.mails:
            return True
        first = self.mails[1][1]
        return first.message_id == self.root  # no cover letter: 1/n is the root


def group_pending(
    session: Session, lst: ListConfig, now: dt.datetime, grace: float, link_window_days: float
) -> list[int]:
    """Create the revisions that are ready; returns their ids (state ``queued``)."""
    rows = session.scalars(
        select(MessageRow).where(
            MessageRow.inbox_url == lst.inbox_url, MessageRow.state == MessageState.NEW
        )
    ).all()
    groups: dict[str, _Group] = {}
    for row in rows:
        try:
            info = parse_mail(row.raw.encode("utf-8"))
        except Exception as exc:  # stored before a reader bug: kept aside, not a wedge
            row.state, row.reason = (
                MessageState.QUARANTINED,
                f"unreadable: {type(exc).__name__}: {exc}"[:500],
            )
            continue
        if info is None or not info.is_patch:
            row.state = MessageState.IGNORED
            continue
        received = _utc(row.received) or now
        group = groups.setdefault(info.thread_root, _Group(info.thread_root, {}, received))
        group.oldest = min(group.oldest, received)
        group.mails.setdefault(info.index, (row, info))
        if info.index in group.mails and group.mails[info.index][0] is not row:
            row.state = (
                MessageState.IGNORED
            )  # a second n/m in one thread (a resend): first one wins
    created = []
    known = _known_roots(session, list(groups))
    for group in groups.values():
        if group.root in known:
            for row, _ in group.mails.values():
                row.state = MessageState.IGNORED  # a straggler after its revision was reviewed
            continue
        if not group.complete() and (now - group.oldest).total_seconds() < grace:
            continue
        if not any(touches(info.paths, lst.paths) for _, info in group.mails.values()):
            for row, _ in group.mails.values():
                row.state = MessageState.IGNORED
            continue
        try:
            with session.begin_nested():
                rid = _create_revision(session, lst, group, link_window_days)
        except (OperationalError, InterfaceError):
            raise
        except (SQLAlchemyError, ValueError, UnicodeError) as exc:
            # one bad series must not keep every later one from being grouped
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:500]
            log.warning("%s: series not stored, its mails quarantined: %s", group.root, reason)
            for row, _ in group.mails.values():
                row.state, row.reason = MessageState.QUARANTINED, f"grouping failed: {reason}"
            continue
        for row, _ in group.mails.values():
            row.state = MessageState.GROUPED if rid is not None else MessageState.IGNORED
        if rid is not None:
            created.append(rid)
    session.flush()
    return created


def _known_roots(session: Session, roots: list[str]) -> set[str]:
    """Thread roots that already belong to a revision (as its head or one of its patches)."""
    known: set[str] = set()
    for i in range(0, len(roots), 500):
        chunk = roots[i : i + 500]
        known.update(
            session.scalars(select(RevisionRow.message_id).where(RevisionRow.message_id.in_(chunk)))
        )
        known.update(
            session.scalars(select(PatchRow.message_id).where(PatchRow.message_id.in_(chunk)))
        )
    return known


def _norm_title(title: str) -> str:
    return " ".join(title.lower().split())


def find_series(
    session: Session, info: MailInfo, change_id: str | None, version: int, window_days: float
) -> SeriesRow | None:
    """The series an incoming revision continues: by change-id, then title + author."""
    if change_id:
        series = session.scalar(select(SeriesRow).where(SeriesRow.change_id == change_id))
        if series is not None:
            return series
    if version <= 1:
        return None
    when = info.date or dt.datetime.now(dt.UTC)
    window = dt.timedelta(days=window_days)
    title = _norm_title(info.title)
    candidates = session.scalars(
        select(SeriesRow).where(func.lower(SeriesRow.author).contains(info.author_addr))
    ).all()
    for series in sorted(candidates, key=lambda s: s.id, reverse=True):
        if _norm_title(series.title) != title:
            continue
        versions = {r.version for r in series.revisions}
        dates = [d for r in series.revisions if (d := _utc(r.date)) is not None]
        if version in versions:
            continue
        if dates and min(abs(when - d) for d in dates) > window:
            continue
        return series
    return None


def _create_revision(
    session: Session, lst: ListConfig, group: _Group, window_days: float
) -> int | None:
    _, head = group.mails.get(0) or group.mails[min(group.mails)]
    change_id = next(
        (info.change_id for _, (_, info) in sorted(group.mails.items()) if info.change_id), None
    )
    version = group.version
    series = find_series(session, head, change_id, version, window_days)
    if series is None:
        series = SeriesRow(
            title=head.title, author=head.author, change_id=change_id, list_id=lst.name
        )
        session.add(series)
    elif change_id and series.change_id is None:
        series.change_id = change_id
    if series.id is not None and any(r.version == version for r in series.revisions):
        log.info("%s: v%d of series %d already recorded, ignored", group.root, version, series.id)
        return None
    ordered = [group.mails[i] for i in sorted(group.mails)]
    revision = RevisionRow(
        series=series,
        version=version,
        subject=head.subject,
        message_id=head.message_id,
        total=group.total,
        date=head.date,
        state=RevisionState.QUEUED,
        mbox=to_mboxrd(row.raw for row, _ in ordered).decode("utf-8"),
    )
    session.add(revision)
    for _row, info in ordered:
        if info.index == 0:
            continue
        revision.patches.append(
            PatchRow(
                index=info.index,
                total=info.total,
                subject=info.title,
                message_id=info.message_id,
                author=info.author,
                date=info.date.isoformat() if info.date else "",
            )
        )
    session.flush()  # one flush: series, revision and patches get their ids together
    log.info("revision %d: v%d of %r (%d mails)", revision.id, version, head.title, len(ordered))
    return revision.id


def link_revisions(session: Session, older_msgid: str, newer_msgid: str) -> RevisionRow:
    """Move the newer revision into the older one's series (``reviewbot link``)."""
    from reviewbot.errors import UsageError

    def find(msgid: str) -> RevisionRow:
        msgid = msgid.strip().strip("<>")
        rev = session.scalar(select(RevisionRow).where(RevisionRow.message_id == msgid))
        if rev is None:
            patch = session.scalar(select(PatchRow).where(PatchRow.message_id == msgid))
            rev = patch.revision if patch is not None else None
        if rev is None:
            raise UsageError(f"no revision with message-id {msgid}")
        return rev

    older, newer = find(older_msgid), find(newer_msgid)
    if older.id == newer.id:
        raise UsageError(f"{older_msgid} and {newer_msgid} are the same revision")
    if older.series_id == newer.series_id:
        return newer
    if any(r.version == newer.version for r in older.series.revisions):
        raise UsageError(
            f"series {older.series_id} already has a v{newer.version}: cannot link {newer_msgid}"
        )
    old_series = newer.series
    newer.series_id = older.series_id
    session.flush()
    session.expire_all()
    if not session.scalars(
        select(RevisionRow.id).where(RevisionRow.series_id == old_series.id)
    ).first():
        session.delete(session.get(SeriesRow, old_series.id))
    session.flush()
    return newer
