"""Alembic environment: run migrations on the connection open_db hands over.

``alembic -c alembic.ini upgrade head`` works too (for developers): then the
URL comes from ``$REVIEWBOT_DATABASE_URL`` or the default of storage.db.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from reviewbot.storage.db import database_url
from reviewbot.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url(config.get_main_option("sqlalchemy.url")))
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    context.configure(url=database_url(None), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
