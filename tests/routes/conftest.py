"""Route fixtures: one app per process, each test reading its own fresh database."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import app_engine


@pytest.fixture(scope="session")
def server_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app per process: Streamlit's runtime cannot be started again once it has stopped."""
    import server

    data = tmp_path_factory.mktemp("server")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("METERR_DATA_DIR", str(data))
        patch.setenv("DATABASE_URL", f"sqlite:///{data / 'meterr.db'}")
        with TestClient(server.app) as client:  # runs the lifespan, which applies the migrations
            assert client.get("/api/health").json()["migrations"] == "current"
            yield client


@pytest.fixture
def client(server_client: TestClient, app_env: Path) -> TestClient:
    """The shared app, now reading this test's own fresh database (settings are read per request)."""
    app_engine()
    return server_client
