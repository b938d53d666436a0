"""Database fixtures shared by the storage and web tests.

``db_url`` is parametrized: a fresh SQLite file per test, and the real
PostgreSQL at 127.0.0.1:5432 (marked ``services``), where a throwaway
database is created once per test session, emptied before each test and
dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.storage.db import dispose_engine, open_db
from reviewbot.storage.models import Base

PG_ADMIN_URLS = [
    os.environ.get("REVIEWBOT_TEST_POSTGRES_URL", ""),
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
]


def _pg_admin_url() -> str | None:
    for url in filter(None, PG_ADMIN_URLS):
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except OperationalError:
            continue
        finally:
            engine.dispose()
    return None


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a PostgreSQL database that exists for this test session only."""
    admin_url = _pg_admin_url()
    if admin_url is None:
        msg = "PostgreSQL at 127.0.0.1:5432 is not reachable"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    name = f"reviewbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reviewbot.db'}"
        yield url
        dispose_engine(url)
        return
    url = request.getfixturevalue("pg_database")
    factory = open_db(url)
    with factory() as s, s.begin():
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        s.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield url


@pytest.fixture
def db(db_url: str) -> sessionmaker[Session]:
    return open_db(db_url)


@pytest.fixture
def session(db: sessionmaker[Session]) -> Iterator[Session]:
    with db() as s:
        yield s
