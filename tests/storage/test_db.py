"""database_url(), open_db() and the migrations."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from reviewbot.errors import UsageError
from reviewbot.storage.db import (
    alembic_config,
    database_url,
    default_sqlite_path,
    dispose_engine,
    get_engine,
    head_revision,
    open_db,
)
from reviewbot.storage.models import Base
from tests.storage.dbfixtures import _pg_admin_url


def test_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("REVIEWBOT_DATABASE_URL", raising=False)
    assert database_url(None) == f"sqlite:///{tmp_path}/reviewbot/reviewbot.db"
    assert default_sqlite_path() == tmp_path / "reviewbot" / "reviewbot.db"
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", "sqlite:///env.db")
    assert database_url(None) == "sqlite:///env.db"
    assert database_url("postgresql://h/db") == "postgresql://h/db"


def test_default_file_is_created_in_xdg_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("REVIEWBOT_DATABASE_URL", raising=False)
    url = database_url(None)
    open_db(url)
    dispose_engine(url)
    assert (tmp_path / "data" / "reviewbot" / "reviewbot.db").exists()


def test_schema_matches_models(db_url: str) -> None:
    open_db(db_url)
    with get_engine(db_url).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], "models changed without a migration: alembic revision --autogenerate"


def test_open_twice_is_a_no_op(db_url: str) -> None:
    open_db(db_url)
    open_db(db_url)
    with get_engine(db_url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert "outbox" in inspect(conn).get_table_names()


def test_bad_urls_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="bad database URL"):
        open_db("not a url")
    with pytest.raises(UsageError, match="cannot open database"):
        open_db("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    with pytest.raises(UsageError, match="cannot open database bogus://x"):
        open_db("bogus://x")  # a dialect SQLAlchemy does not know


def test_tables_without_history_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(UsageError, match="no migration history"):
        open_db(url)
    dispose_engine(url)


def test_upgrade_keeps_existing_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config()
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "INSERT INTO series (id, title, author, created, updated, health, latest_version,"
                " n_bug, n_possible_bug, n_question, n_nit, n_note, sim_status, trend, paths)"
                " VALUES (1, 'mm: x', 'A <a@x>', '2026-01-01', '2026-01-01', 'clean', 1,"
                " 0, 0, 0, 0, 0, 'none', '[]', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO revisions (id, series_id, version, subject, message_id, total, state)"
                " VALUES (1, 1, 1, 's', 'm@x', 1, 'reviewed')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO reviews (id, revision_id, created, status, applied, exit_status,"
                " result, notes) VALUES (1, 1, '2026-01-01', 'done', 1, 0, '{}', '[]')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sim_runs (review_id, scenario, revision, outcome, kind, message,"
                " trace) VALUES (1, 'table-freed', 'v1', 'fail', 'k', 'm', '[]')"
            )
        )
    engine.dispose()
    open_db(url)
    with get_engine(url).connect() as conn:
        row = conn.execute(text("SELECT scenario, file, line, function FROM sim_runs")).one()
        assert tuple(row) == ("table-freed", "", 0, "")
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == head_revision()
        )
    dispose_engine(url)


def _start_together(url: str) -> None:
    """The web, the watcher and a worker may all start on a fresh database."""
    code = "import sys; from reviewbot.storage.db import open_db; open_db(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    with get_engine(url).connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [head_revision()]
    dispose_engine(url)


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    _start_together(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.services
def test_processes_starting_together_on_postgresql() -> None:
    admin_url = _pg_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    name = f"reviewbot_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _start_together(make_url(admin_url).set(database=name).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_0004_adds_thread_replies_and_goes_back(db_url: str) -> None:
    """Replies findable by thread (messages.sender, message_refs): up from 0003 with
    stored mail, down again, and up again, on SQLite and PostgreSQL."""
    open_db(db_url)
    cfg = alembic_config()
    engine = get_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
            assert "message_refs" not in inspect(conn).get_table_names()
            conn.execute(
                text(
                    "INSERT INTO messages (message_id, inbox_url, received, raw, state)"
                    " VALUES ('old@x', 'http://i/l', '2026-01-01', 'From: a@x', 'ignored')"
                )
            )
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            columns = {c["name"] for c in inspect(conn).get_columns("messages")}
            assert "sender" in columns
            indexes = inspect(conn).get_indexes("message_refs")
            assert [i["column_names"] for i in indexes if i["name"] == "ix_message_refs_ref"] == [
                ["ref"]
            ]
            assert conn.execute(text("SELECT sender FROM messages")).one() == (None,)
            mid = conn.execute(text("SELECT id FROM messages")).scalar()
            conn.execute(
                text("INSERT INTO message_refs (message_row_id, ref) VALUES (:m, :r)"),
                {"m": mid, "r": "p" * 200},
            )
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
            assert "message_refs" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT message_id FROM messages")).scalar() == "old@x"
    finally:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        dispose_engine(db_url)
