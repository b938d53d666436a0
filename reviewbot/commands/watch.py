"""``reviewbot watch``: follow the configured inboxes and queue reviews."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import threading
from types import FrameType

from reviewbot.config import load_config
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # Alembic's "Context impl SQLiteImpl." on every start is noise, not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sessions = sessions_for(cfg.database)
    dispatcher = Dispatcher(cfg, sessions)
    watcher = Watcher(cfg, sessions, dispatcher.enqueue, stale=dispatcher.stale)
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
