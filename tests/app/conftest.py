from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

HOME = str(Path(__file__).resolve().parents[2] / "Home.py")


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def new_app() -> AppTest:
    return AppTest.from_file(HOME, default_timeout=60)


def signed_in_app(username: str) -> AppTest:
    """An app whose session is already signed in, as the sign-in cookie would leave it."""
    at = new_app()
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.run()
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_username").input(username)
    next(t for t in at.text_input if t.label == "Password").input(password)
    return at.button[0].click().run()


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


@pytest.fixture(autouse=True)
def _fresh_app(app_env: Path) -> None:
    """Every AppTest runs against its own empty database."""


def open_demo_page(page: str, title: str, *, role: str = "viewer") -> tuple[AppTest, int, dt.date]:
    """Ada (in `role`) on `page` of a workspace holding the demo up to today; the page shows `title`."""
    from tests.conftest import app_engine, load_demo, make_member

    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role=role)
    today = utc_today()
    load_demo(engine, workspace_id, today)
    at = signed_in_app("ada")
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert titles(at) == [title]
    return at, workspace_id, today
