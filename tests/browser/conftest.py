"""A real server (`streamlit run server.py`) and Debian's headless Chromium for journeys a person takes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def chromium_path() -> str | None:
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} — browser journeys are mandatory when CI=true")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        _skip_or_fail("Debian chromium is not installed (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    return str(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """`streamlit run server.py` on a free port with an empty database of its own."""
    port = _free_port()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "METERR_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'meterr.db'}",
        "METERR_BCRYPT_ROUNDS": "4",
        "METERR_COOKIE_KEY": "browser-test-cookie-key-" + "y" * 24,
        # A code edit elsewhere while a journey runs must not reload the app under it.
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
        "METERR_SYNC_INTERVAL_MINUTES": "0",
        "METERR_ALERT_INTERVAL_MINUTES": "0",
    }
    log = (tmp_path / "server.log").open("w")
    command = [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield LiveServer(url=base, database_url=env["DATABASE_URL"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def settle(page, timeout: int = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished its script run and no element is stale."""
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function("!document.querySelector('[data-stale=\"true\"]')", timeout=timeout)


def sign_in(page, base_url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Open meterr, sign in, and wait for the Overview a signed-in person lands on."""
    from playwright.sync_api import expect

    page.goto(base_url)
    settle(page)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    expect(page.get_by_role("heading", name="Where does the money go?")).to_be_visible(timeout=30_000)
