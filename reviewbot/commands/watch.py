"""``reviewbot watch``: follow the configured inboxes and queue reviews."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import threading
from types import FrameType

from reviewbot.config import load_config
from reviewbot.dkim_auth import DkimVerifier, KeysFileError
from reviewbot.errors import UsageError
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.watcher import Watcher
from workers.dispatch import Dispatcher


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.database:
        cfg = dataclasses.replace(cfg, database=args.database)
    if args.interval is not None:
        if args.interval <= 0:
            raise UsageError("--interval must be positive")
        cfg = dataclasses.replace(cfg, watch=dataclasses.replace(cfg.watch, interval=args.interval))
    if not cfg.lists:
        raise UsageError("no [[lists]] in the config: nothing to watch")
    try:  # a pinned keys file that cannot be read: said now, not at the first command
        DkimVerifier(cfg.commands.dkim_keys).check_keys()
    except KeysFileError as exc:
        raise UsageError(f"config: commands.dkim_keys: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # Alembic's "Context impl SQLiteImpl." on every start is noise, not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sessions = sessions_for(cfg.database)
    # Without a broker each review runs in a bounded subprocess: the daemon goes
    # on polling meanwhile (wait=0); --once waits for its reviews.
    dispatcher = Dispatcher(cfg, sessions, wait=None if args.once else 0)
    watcher = Watcher(
        cfg, sessions, dispatcher.enqueue, stale=dispatcher.stale, tick=dispatcher.pump
    )
    try:
        if args.once:
            stats = watcher.poll_once()
            print(f"read {stats.read}, new {stats.stored}, revisions {len(stats.revisions)}")
            for err in stats.errors:
                print(f"error: {err}")
            return 2 if stats.errors else 0
        stop = threading.Event()

        def _stop(_sig: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        watcher.run(stop)
        return 0
    finally:
        dispatcher.close()
