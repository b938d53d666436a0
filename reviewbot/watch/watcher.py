"""The watcher's loop: poll each inbox, store new mail, queue ready revisions.

One poll, per configured list: discover the epochs, fetch each mirror, read
the mails after the epoch's cursor and commit them with the new cursor in one
transaction (a crash re-reads at most one batch, and duplicates are dropped
by message-id), apply reviewer commands, then group patches into revisions
and enqueue each new one.  The watcher also re-enqueues revisions whose task
was lost and sends the outbox rows that are due.  An unreachable inbox makes
the watcher back off (doubling, up to ``watch.backoff_max``) and resume from
its cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.config import Config, ListConfig
from reviewbot.errors import FetchError
from reviewbot.outbox import SendStats, send_due
from reviewbot.reviewer_commands import apply_commands
from reviewbot.storage.models import CursorRow
from reviewbot.watch.epochs import EpochMirror, discover_epochs
from reviewbot.watch.mail import parse_mail
from reviewbot.watch.series import group_pending, store_messages

log = logging.getLogger(__name__)

BATCH = 500  # mails per transaction


@dataclass
class PollStats:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    commands: int = 0
    revisions: list[int] = field(default_factory=list)
    requeued: int = 0
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
    ):
        self.cfg = cfg
        self.sessions = sessions
        self.enqueue = enqueue
        self.stale = stale
        self.send = send
        self.failures: dict[str, int] = {}

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
        items = [(raw, parse_mail(raw)) for _commit, raw in batch]
        with self.sessions.begin() as session:
            stored, dups = store_messages(session, lst.inbox_url, items)
            stats.read += len(items)
            stats.stored += len(stored)
            stats.duplicates += dups
            for info in stored:
                if not info.is_patch:
                    stats.commands += len(apply_commands(session, info, lst))
            cursor = session.scalar(
                select(CursorRow).where(
                    CursorRow.inbox_url == lst.inbox_url, CursorRow.epoch == epoch
                )
            )
            if cursor is None:
                session.add(CursorRow(inbox_url=lst.inbox_url, epoch=epoch, commit=batch[-1][0]))
            else:
                cursor.commit = batch[-1][0]
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
            wait = self.next_wait() - (time.monotonic() - started)
            stop.wait(max(wait, 0.0))
