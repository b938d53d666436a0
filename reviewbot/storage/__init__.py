"""Persistent state: SQLite by default, PostgreSQL by URL (SQLAlchemy 2)."""
