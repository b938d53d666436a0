"""Alembic migrations of the reviewbot schema (applied by storage.db.open_db)."""
