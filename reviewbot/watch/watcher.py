"""The watcher's loop: poll each inbox, store new mail, queue ready revisions.

One poll, per configured list: discover the epochs, fetch each mirror, read
the mails after the epoch's cursor and commit them with the new cursor in one
transaction (a crash re-reads at most one batch, and duplicates are dropped
by message-id), confirm our own replies whose delivery was in doubt when
their copy comes back (reviewbot.outbox), apply reviewer commands, then
group patches into revisions and enqueue each new one.  The watcher also
re-enqueues revisions whose task was lost and sends the outbox rows that are
due.  An unreachable inbox makes the watcher back off (doubling, up to
``watch.backoff_max``) and resume from its cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.config import Config, ListConfig
from reviewbot.dkim_auth import DkimVerifier
from reviewbot.errors import FetchError
from reviewbot.outbox import SendStats, confirm_echoes, send_due
from reviewbot.reviewer_commands import apply_commands
from reviewbot.storage.models import CursorRow
from reviewbot.watch.epochs import EpochMirror, discover_epochs
from reviewbot.watch.mail import MailInfo, parse_mail
from reviewbot.watch.series import group_pending, quarantine, store_messages

log = logging.getLogger(__name__)

BATCH = 500  # mails per transaction
# what a hostile mail can make the database (or the text going to it) raise
_STORE_ERRORS = (SQLAlchemyError, ValueError, UnicodeError)


def _line(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return f"{type(exc).__name__}: {text}"[:500]


def _parse(raw: bytes) -> MailInfo | str:
    """The mail's MailInfo, or why it could not be read (the reason it is quarantined)."""
    try:
        info = parse_mail(raw)
    except Exception as exc:  # a mail the email package chokes on is data, not a crash
        return f"unreadable: {_line(exc)}"
    return info if info is not None else "no Message-Id"


@dataclass
class _Counts:
    stored: int = 0
    duplicates: int = 0
    commands: int = 0
    quarantined: int = 0
    confirmed: int = 0

    def add(self, other: _Counts) -> None:
        for name in ("stored", "duplicates", "commands", "quarantined", "confirmed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PollStats:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    commands: int = 0
    revisions: list[int] = field(default_factory=list)
    requeued: int = 0
    quarantined: int = 0
    confirmed: int = 0  # outbox rows in doubt whose copy came back from the list
    errors: list[str] = field(default_factory=list)
    sent: SendStats | None = None


class Watcher:
    def __init__(
        self,
        cfg: Config,
        sessions: sessionmaker[Session],
        enqueue: Callable[[int], bool],
        stale: Callable[[dt.datetime], list[int]] | None = None,
        send: bool = True,
        *,
        tick: Callable[[], None] | None = None,
    ):
        self.cfg = cfg
        self.sessions = sessions
        self.enqueue = enqueue
        self.stale = stale
        self.send = send
        # called after each poll and every second between polls: the dispatcher
        # reaps and starts its review processes (workers/dispatch.py)
        self.tick = tick
        self.failures: dict[str, int] = {}
        # who sent a reviewer command: pinned DKIM keys, then DNS
        self.dkim = DkimVerifier(cfg.commands.dkim_keys, cfg.commands.dns_timeout)

    # -- one poll ------------------------------------------------------------
    def poll_once(self, now: dt.datetime | None = None) -> PollStats:
        stats = PollStats()
        for lst in self.cfg.lists:
            try:
                self._read_list(lst, stats)
                self.failures.pop(lst.name, None)
            except FetchError as exc:
                self.failures[lst.name] = self.failures.get(lst.name, 0) + 1
                stats.errors.append(f"{lst.name}: {exc}")
                log.warning("%s: %s", lst.name, exc)
        now = now or dt.datetime.now(dt.UTC)
        for lst in self.cfg.lists:
            with self.sessions.begin() as session:
                created = group_pending(
                    session, lst, now, self.cfg.watch.grace, self.cfg.watch.link_window_days
                )
            stats.revisions.extend(created)
        for rid in stats.revisions:
            self.enqueue(rid)
        if self.stale is not None:
            for rid in self.stale(now):
                if rid not in stats.revisions:
                    log.info("revision %d: no progress, queued again", rid)
                    self.enqueue(rid)
                    stats.requeued += 1
        if self.tick is not None:
            self.tick()
        if self.send:
            stats.sent = send_due(self.sessions, self.cfg)
        return stats

    def _cursors(self, inbox_url: str) -> dict[int, str]:
        with self.sessions() as session:
            rows = session.scalars(select(CursorRow).where(CursorRow.inbox_url == inbox_url))
            return {row.epoch: row.commit for row in rows}

    def _start_at_head(self, lst: ListConfig, epochs: list[int]) -> None:
        """First poll of an inbox without backfill: today's mail on, not the archive."""
        newest = EpochMirror(self.cfg.state_dir, lst.inbox_url, epochs[-1])
        newest.update()
        head = newest.head()
        if head is not None:
            with self.sessions.begin() as session:
                session.add(CursorRow(inbox_url=lst.inbox_url, epoch=epochs[-1], commit=head))
        log.info("%s: starting at epoch %d, %s", lst.name, epochs[-1], head or "empty")

    def _read_list(self, lst: ListConfig, stats: PollStats) -> None:
        epochs = discover_epochs(lst.inbox_url)
        if not epochs:
            return
        cursors = self._cursors(lst.inbox_url)
        if not cursors and not self.cfg.watch.backfill:
            self._start_at_head(lst, epochs)
            cursors = self._cursors(lst.inbox_url)
            if cursors:
                return
        # Epochs before the newest one read are frozen (public-inbox only appends
        # to the last): fetching them again every poll would cost a round trip each.
        start = max(cursors, default=epochs[0])
        for epoch in (e for e in epochs if e >= start):
            mirror = EpochMirror(self.cfg.state_dir, lst.inbox_url, epoch)
            mirror.update()
            cursor = cursors.get(epoch)
            batch: list[tuple[str, bytes]] = []
            for msg in mirror.messages_after(cursor):
                batch.append((msg.commit, msg.raw))
                if len(batch) >= BATCH:
                    self._store_batch(lst, epoch, batch, stats)
                    batch = []
            if batch:
                self._store_batch(lst, epoch, batch, stats)

    def _store_batch(
        self, lst: ListConfig, epoch: int, batch: list[tuple[str, bytes]], stats: PollStats
    ) -> None:
        """Store a batch with the cursor after it; a mail that cannot be stored is
        quarantined with its reason, and never holds the cursor back."""
        items = [(raw, _parse(raw)) for _commit, raw in batch]
        try:
            with self.sessions.begin() as session:
                counts = self._store(session, lst, items)
                self._advance(session, lst.inbox_url, epoch, batch[-1][0])
        except (OperationalError, InterfaceError):
            raise
        except _STORE_ERRORS as exc:
            log.warning("%s: batch not stored (%s): storing mail by mail", lst.name, _line(exc))
            counts = _Counts()
            with self.sessions.begin() as session:
                for raw, info in items:
                    try:
                        with session.begin_nested():
                            counts.add(self._store(session, lst, [(raw, info)]))
                    except (OperationalError, InterfaceError):
                        raise  # the database is away: no mail's fault, the poll is retried
                    except _STORE_ERRORS as one:
                        mail = info if isinstance(info, MailInfo) else None
                        if quarantine(session, lst.inbox_url, raw, mail, _line(one)):
                            counts.quarantined += 1
                        else:
                            counts.duplicates += 1
                self._advance(session, lst.inbox_url, epoch, batch[-1][0])
        stats.read += len(items)
        stats.stored += counts.stored
        stats.duplicates += counts.duplicates
        stats.commands += counts.commands
        stats.quarantined += counts.quarantined
        stats.confirmed += counts.confirmed

    def _store(
        self, session: Session, lst: ListConfig, items: list[tuple[bytes, MailInfo | str]]
    ) -> _Counts:
        counts = _Counts()
        good: list[tuple[bytes, MailInfo | None]] = []
        for raw, info in items:
            if isinstance(info, str):  # unreadable: kept aside with the reason
                if quarantine(session, lst.inbox_url, raw, None, info):
                    counts.quarantined += 1
                else:
                    counts.duplicates += 1  # the same bytes, kept aside before
            else:
                good.append((raw, info))
        stored, dups = store_messages(session, lst.inbox_url, good)
        counts.duplicates += dups
        counts.stored = len(stored)
        # our own replies come back through the list: a reply whose delivery
        # was in doubt (the connection broke during DATA) is sent after all
        counts.confirmed = confirm_echoes(session, [info.message_id for info in stored])
        raws = {info.message_id: raw for raw, info in good if info is not None}
        for info in stored:
            if not info.is_patch:
                as_sent = raws.get(info.message_id)
                counts.commands += len(apply_commands(session, info, lst, as_sent, self.dkim))
        return counts

    def _advance(self, session: Session, inbox_url: str, epoch: int, commit: str) -> None:
        cursor = session.scalar(
            select(CursorRow).where(CursorRow.inbox_url == inbox_url, CursorRow.epoch == epoch)
        )
        if cursor is None:
            session.add(CursorRow(inbox_url=inbox_url, epoch=epoch, commit=commit))
        else:
            cursor.commit = commit
            cursor.updated = dt.datetime.now(dt.UTC)

    # -- the loop --------------------------------------------------------------
    def next_wait(self) -> float:
        worst = max(self.failures.values(), default=0)
        if not worst:
            return self.cfg.watch.interval
        return float(min(self.cfg.watch.interval * 2.0**worst, self.cfg.watch.backoff_max))

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            started = time.monotonic()
            try:
                stats = self.poll_once()
                if stats.stored or stats.revisions or stats.requeued:
                    log.info(
                        "poll: %d read, %d new, %d revisions queued, %d requeued",
                        stats.read,
                        stats.stored,
                        len(stats.revisions),
                        stats.requeued,
                    )
            except Exception:  # the watcher is a daemon: log, back off, keep going
                log.exception("poll failed")
                self.failures["_poll"] = self.failures.get("_poll", 0) + 1
            else:
                self.failures.pop("_poll", None)
            end = started + self.next_wait()
            while not stop.is_set() and (left := end - time.monotonic()) > 0:
                stop.wait(min(left, 1.0) if self.tick is not None else left)
                if self.tick is not None:
                    try:
                        self.tick()
                    except Exception:
                        log.exception("review dispatch failed")
