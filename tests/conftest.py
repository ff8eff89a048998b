"""Fixtures: a fresh database per test (SQLite always, PostgreSQL when reachable), app environment, users."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from core import demo, queries
from core.db import MIGRATIONS_DIR, make_engine, session_scope, upgrade

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("METERR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TODAY = dt.date(2026, 11, 21)
# The newest migration: what a fresh database must be upgraded to.
MIGRATION_HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
PASSWORD = "Sup3rSecret"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "not here"
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}); set METERR_TEST_POSTGRES_URL"
    return None


_PG_PROBLEM: str | None | bool = False  # False = not checked yet


def require_postgres() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_problem()
    if _PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"{_PG_PROBLEM} — PostgreSQL tests are mandatory when CI=true")
        pytest.skip(str(_PG_PROBLEM))


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A URL whose connections live in a new, empty PostgreSQL schema, dropped afterwards."""
    require_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with _postgres_schema() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """For what only PostgreSQL does (several replicas on one database)."""
    with _postgres_schema() as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


@pytest.fixture
def workspace_id(engine: Engine) -> int:
    """A committed, empty workspace."""
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Test Co")
        assert workspace.id is not None
        return workspace.id


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at a fresh SQLite file and fast bcrypt, as `make run` would with its own data/."""
    data = tmp_path / "data"
    monkeypatch.setenv("METERR_DATA_DIR", str(data))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{data / 'meterr.db'}")
    monkeypatch.setenv("METERR_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("METERR_COOKIE_KEY", "test-cookie-key-" + "x" * 32)
    return data


def app_engine() -> Engine:
    engine = make_engine(os.environ["DATABASE_URL"])
    upgrade(engine)
    return engine


def make_member(engine: Engine, *, username: str, role: str, workspace_slug: str | None = None) -> int:
    """A user with PASSWORD in a workspace (created when missing); returns the workspace id."""
    with session_scope(engine) as session:
        if workspace_slug is None:
            workspace = queries.create_workspace(session, name=f"{username} Co")
        else:
            try:
                workspace = queries.load_workspace(session, slug=workspace_slug)
            except queries.NotFound:
                workspace = queries.create_workspace(session, name=workspace_slug, slug=workspace_slug)
        user = queries.create_user(
            session,
            username=username,
            email=f"{username}@example.com",
            name=username.title(),
            password=PASSWORD,
            rounds=4,
        )
        assert workspace.id is not None and user.id is not None
        queries.add_member(session, workspace_id=workspace.id, user_id=user.id, role=role)
        return workspace.id


def load_demo(engine: Engine, workspace_id: int, today: dt.date = TODAY) -> demo.DemoResult:
    with session_scope(engine) as session:
        return demo.load_demo(session, workspace_id=workspace_id, today=today)
