"""Alembic environment: the engine is handed in by core.db (or built from DATABASE_URL for the alembic CLI)."""

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import core.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from core.db import make_engine
from core.settings import load_settings

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    shared = context.config.attributes.get("connection")  # core.db hands one in while it holds a lock
    if shared is not None:
        _run(shared)
        return
    engine = context.config.attributes.get("engine") or make_engine(load_settings().database_url)
    with engine.begin() as connection:
        _run(connection)


run_migrations_online()
