"""Engine, sessions and migrations: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from core.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout, their folder is created."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


@lru_cache(maxsize=8)
def cached_engine(url: str) -> Engine:
    """One engine (and pool) per URL for the life of the process."""
    return make_engine(url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


_MIGRATION_LOCK = 7_042_026  # any constant: PostgreSQL advisory locks are keyed by a number


def upgrade(engine: Engine) -> str:
    """Apply every pending migration; returns the revision the database is now at.

    On PostgreSQL, replicas starting together take turns behind an advisory lock, so only the first one
    migrates and the others find the schema current.
    """
    config = _alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    else:
        command.upgrade(config, "head")
    status = migration_status(engine)
    return status.current or ""


@dataclass(frozen=True)
class MigrationStatus:
    reachable: bool
    current: str | None
    head: str
    error: str | None = None

    @property
    def up_to_date(self) -> bool:
        return self.reachable and self.current == self.head


def migration_status(engine: Engine) -> MigrationStatus:
    """Whether the database answers, and whether its schema is at the newest migration."""
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head() or ""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        return MigrationStatus(reachable=False, current=None, head=head, error=type(exc).__name__)
    return MigrationStatus(reachable=True, current=current, head=head)


def insert_ignoring(session: Session, table: Any, keys: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO NOTHING for this session's database: the row that claims a unique key
    (an alert, a week's report) is inserted by exactly one of any racing writers."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    raise NotImplementedError(f"meterr supports SQLite and PostgreSQL, not {dialect}")
