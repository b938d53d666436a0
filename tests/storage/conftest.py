"""Fixtures of the storage tests (see dbfixtures.py)."""

from tests.storage.dbfixtures import db, db_url, pg_database, session

__all__ = ["db", "db_url", "pg_database", "session"]
