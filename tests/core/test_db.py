import threading

import pytest
from sqlalchemy import Engine, inspect

from core.db import make_engine, migration_status, upgrade
from tests.conftest import MIGRATION_HEAD


def test_fresh_database_gets_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    assert not migration_status(engine).up_to_date
    assert upgrade(engine) == MIGRATION_HEAD
    tables = set(inspect(engine).get_table_names())
    assert {"workspace", "user", "membership", "connection", "importbatch", "charge", "auditlog"} <= tables
    assert {"spend_rollup", "spend_month", "spend_day"} <= tables
    assert {"revenue", "webhookevent", "lease", "allocationrule", "chargeoverride"} <= tables
    assert {"outcomedefinition", "outcomecount", "apitoken", "roiscenario"} <= tables
    assert upgrade(engine) == MIGRATION_HEAD  # a second run is a no-op
    engine.dispose()


@pytest.mark.postgres
def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    engines: list[Engine] = [make_engine(postgres_url) for _ in range(3)]
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        try:
            upgrade(engine)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert all(migration_status(engine).up_to_date for engine in engines)
    for engine in engines:
        engine.dispose()


def test_migrations_match_the_models(db_url: str) -> None:
    """A model changed without a migration shows up here as a difference."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import core.models  # noqa: F401

    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []
