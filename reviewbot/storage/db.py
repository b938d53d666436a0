"""Where the database is and how it comes to have the right schema.

Every command that touches storage (check, watch, worker, outbox, serve)
goes through :func:`open_db`, which creates or upgrades the schema with
Alembic on first use.  Nobody runs ``alembic upgrade`` by hand, and the same
migrations serve SQLite (the default) and PostgreSQL.

Where the database is, first match wins:

1. the ``--database URL`` flag;
2. ``$REVIEWBOT_DATABASE_URL``;
3. a SQLite file ``reviewbot.db`` in the XDG data directory:
   ``$XDG_DATA_HOME/reviewbot/reviewbot.db``, else
   ``~/.local/share/reviewbot/reviewbot.db``.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.errors import UsageError

ENV_VAR = "REVIEWBOT_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works: it only has to be the same for every reviewbot process.
_PG_LOCK_KEY = 0x72657669

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def default_sqlite_path() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "reviewbot" / "reviewbot.db"


def database_url(arg: str | None) -> str:
    """The URL to use: the flag, else the environment, else the XDG file."""
    if arg:
        return arg
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    return f"sqlite:///{default_sqlite_path()}"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the dashboard read while a worker writes; the timeout makes a
    # second writer wait instead of failing with "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def get_engine(url: str) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise UsageError(f"bad database URL {url!r}: {exc}") from None
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            try:
                engine = create_engine(url, pool_pre_ping=True)
            except ModuleNotFoundError as exc:
                raise UsageError(f"no driver for {url!r}: {exc}") from None
        _engines[url] = engine
        return engine


def dispose_engine(url: str) -> None:
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes.

    SQLite takes its write lock only at the first write, after Alembic has
    read the version table, so two processes starting on a fresh file would
    both create the tables.  A lock file next to the database settles it.
    """
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    head = head_revision()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with _sqlite_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting at once (web and worker) must not both migrate.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        tables = set(inspect(conn).get_table_names())
        if "series" in tables and "alembic_version" not in tables:
            raise UsageError(
                f"{engine.url.render_as_string(hide_password=True)} has reviewbot tables "
                "but no migration history: point --database at a new database"
            )
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_db(url: str) -> sessionmaker[Session]:
    """A session factory on ``url`` whose schema is at the newest migration."""
    try:
        engine = get_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise UsageError(f"cannot open database {url!r}: {exc}") from None
    try:
        upgrade(engine)
    except OperationalError as exc:
        safe = engine.url.render_as_string(hide_password=True)
        raise UsageError(f"cannot open database {safe}: {exc.orig}") from None
    return sessionmaker(engine, expire_on_commit=False)
