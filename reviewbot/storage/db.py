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
import re
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
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.errors import UsageError

ENV_VAR = "REVIEWBOT_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works: it only has to be the same for every reviewbot process.
_PG_LOCK_KEY = 0x72657669

_PASSWORD_RE = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")

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


def safe_url(url: str) -> str:
    """The URL as it may be printed: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: hide whatever sits between "user:" and "@"
        return _PASSWORD_RE.sub(r"\1***@", url)


def scrub(text: str, url: str) -> str:
    """An error message without the URL's password, wherever the driver echoed it."""
    try:
        password = make_url(url).password
    except Exception:
        password = None
    text = _PASSWORD_RE.sub(r"\1***@", text)
    return text.replace(str(password), "***") if password else text


def _driver_available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def normalize_url(url: str) -> str:
    """URLs as users write them: ``postgres://`` and a ``postgresql://`` whose
    default driver (psycopg 3 for SQLAlchemy 2.1) is not installed while
    psycopg2 is, which is what reviewbot's ``postgres`` extra installs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.drivername == "postgres":
        parsed = parsed.set(drivername="postgresql")
    if parsed.drivername == "postgresql":
        try:
            default_ok = _driver_available(parsed.get_dialect().driver)
        except Exception:
            default_ok = False
        if not default_ok and _driver_available("psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername == url.split(":", 1)[0]:
        return url  # nothing changed: keep the user's exact spelling
    return parsed.render_as_string(hide_password=False)


def get_engine(url: str) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        try:
            parsed = make_url(normalize_url(url))
        except ArgumentError:
            raise UsageError(f"bad database URL {safe_url(url)!r}") from None
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                try:
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise UsageError(
                        f"cannot open database {safe_url(url)}: {exc.strerror or exc}"
                    ) from None
            engine = create_engine(parsed)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            try:
                engine = create_engine(parsed, pool_pre_ping=True)
            except ModuleNotFoundError as exc:
                raise UsageError(
                    f"no driver for {safe_url(url)}: {exc} (pip install psycopg2-binary)"
                ) from None
            except (ArgumentError, NoSuchModuleError) as exc:
                raise UsageError(f"cannot open database {safe_url(url)}: {exc}") from None
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
                f"{safe_url(str(engine.url))} has reviewbot tables "
                "but no migration history: point --database at a new database"
            )
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_db(url: str) -> sessionmaker[Session]:
    """A session factory on ``url`` whose schema is at the newest migration.

    Every failure is a one-line UsageError without the URL's password.
    """
    try:
        engine = get_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise UsageError(f"cannot open database {safe_url(url)}: {scrub(str(exc), url)}") from None
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        dispose_engine(url)
        cause = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise UsageError(f"cannot open database {safe_url(url)}: {scrub(cause, url)}") from None
    return sessionmaker(engine, expire_on_commit=False)
