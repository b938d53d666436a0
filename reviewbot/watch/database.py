"""One session factory per database URL for the watcher, workers and outbox.

SQLite gets WAL and a busy timeout (a watcher and two workers write to the
same file); PostgreSQL is used as it is.  The schema is created on first use.
When the storage package provides ``open_db`` (schema upgrades) it is used.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.storage.models import Base

_LOCK = threading.Lock()
_FACTORIES: dict[str, sessionmaker[Session]] = {}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return engine


def sessions_for(url: str) -> sessionmaker[Session]:
    """The (cached) session factory for ``url``."""
    with _LOCK:
        factory = _FACTORIES.get(url)
        if factory is None:
            factory = sessionmaker(make_engine(url), expire_on_commit=False)
            _FACTORIES[url] = factory
        return factory


def dispose_all() -> None:
    """Close every pooled connection (tests, and workers after fork)."""
    with _LOCK:
        for factory in _FACTORIES.values():
            bind = factory.kw.get("bind")
            if isinstance(bind, Engine):
                bind.dispose()
        _FACTORIES.clear()
