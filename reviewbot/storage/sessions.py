"""One session factory per database URL for the watcher, workers and outbox.

The schema is created or upgraded by storage's ``open_db`` (Alembic) on first
use; SQLite gets WAL and a busy timeout there.  The factory is cached per
process, and a worker child drops the pooled connections it inherited.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from reviewbot.storage.db import dispose_engine, open_db

_LOCK = threading.Lock()
_FACTORIES: dict[str, sessionmaker[Session]] = {}


def sessions_for(url: str) -> sessionmaker[Session]:
    """The (cached) session factory for ``url``, schema up to date."""
    with _LOCK:
        factory = _FACTORIES.get(url)
        if factory is None:
            factory = open_db(url)
            _FACTORIES[url] = factory
        return factory


def dispose_all() -> None:
    """Close every pooled connection (tests, and workers after fork)."""
    with _LOCK:
        urls = list(_FACTORIES)
        _FACTORIES.clear()
    for url in urls:
        dispose_engine(url)
