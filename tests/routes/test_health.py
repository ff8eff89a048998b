import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from tests.conftest import MIGRATION_HEAD, app_engine


def test_health_reports_database_and_migrations(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "database": "reachable", "migrations": "current",
        "revision": MIGRATION_HEAD, "head": MIGRATION_HEAD,
    }  # fmt: skip


def test_health_says_when_migrations_are_behind(client: TestClient) -> None:
    with app_engine().begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["migrations"] == "behind" and response.json()["database"] == "reachable"


def test_health_says_when_the_database_is_unreachable(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_the_app_itself_is_served(client: TestClient) -> None:
    assert client.get("/_stcore/health").text == "ok"
