"""AppTest: the Connect-data wizard against a fake OpenAI admin API served on loopback."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import session_scope
from core.models import Charge, Connection
from tests.app.conftest import signed_in_app, titles
from tests.conftest import app_engine, make_member
from tests.connectors.test_openai_costs import KEY, FakeOpenAI, cost_result
from tests.fakes.http_server import serve


def open_connect(username: str):  # type: ignore[no-untyped-def]
    at = signed_in_app(username)
    at.switch_page("app_pages/connect.py").run()
    assert not at.exception and titles(at) == ["Connect your data"]
    return at


def test_viewers_cannot_connect_data() -> None:
    make_member(app_engine(), username="vic", role="viewer")
    at = open_connect("vic")
    assert any("Only owners and admins can connect data" in i.value for i in at.info)
    assert not [b for b in at.button if b.key and b.key.startswith("source_")]


def test_openai_key_test_backfill_and_connection_list(monkeypatch: pytest.MonkeyPatch) -> None:
    workspace_id = make_member(app_engine(), username="ada", role="owner")
    fake = FakeOpenAI()
    today = dt.datetime.now(dt.UTC).date()
    fake.costs[today - dt.timedelta(days=10)] = [cost_result(40.5, "gpt-4o-2024-08-06, input", "proj_a")]
    fake.costs[today - dt.timedelta(days=3)] = [cost_result(7.71, "gpt-4o-2024-08-06, output", "proj_a")]
    with serve(fake) as base:
        monkeypatch.setenv("METERR_OPENAI_API_BASE", base)
        at = open_connect("ada")
        at.button(key="source_openai").click().run()
        at.radio(key="wizard_how").set_value("api_key")
        at.button(key="wizard_next").click().run()
        assert not at.exception
        at.text_input(key="wizard_key").input("sk-proj-not-an-admin-key").run()
        assert any("may be a project key" in w.value for w in at.warning)
        at.text_input(key="wizard_key").input(KEY)
        at.button(key="wizard_test").click().run()
        assert not at.exception
        assert [s.value for s in at.success][0].startswith("Connected to OpenAI")
        at.button(key="wizard_start").click().run()
        assert not at.exception
        assert [s.value for s in at.success] == ["Imported $48.21 of spend across 8 days from OpenAI."]
    # Stored sealed: the list shows the key's last four characters only, never the key.
    with session_scope(app_engine()) as session:
        connection = session.execute(select(Connection)).scalar_one()
        assert connection.workspace_id == workspace_id and connection.secret_hint == "…" + KEY[-4:]
        assert KEY not in (connection.secret_ciphertext or "") and connection.cursor == today.isoformat()
        total = session.execute(select(func.sum(Charge.amount_micros))).scalar_one()
        assert total == 48_210_000
    # Nor is it anywhere in the database files (main file and write-ahead log).
    database = Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///"))
    for file in database.parent.glob(database.name + "*"):
        assert KEY.encode() not in file.read_bytes(), file
    at.run()
    assert any("$48.21" in m.value for m in at.markdown)
    assert all(KEY not in m.value for m in at.markdown)


def test_a_rejected_key_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    make_member(app_engine(), username="ada", role="owner")

    def rejected(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": {"message": "insufficient permissions"}})

    with serve(rejected) as base:
        monkeypatch.setenv("METERR_OPENAI_API_BASE", base)
        at = open_connect("ada")
        at.button(key="source_openai").click().run()
        at.radio(key="wizard_how").set_value("api_key")
        at.button(key="wizard_next").click().run()
        at.text_input(key="wizard_key").input("sk-proj-abc123")
        at.button(key="wizard_test").click().run()
    assert not at.exception
    assert any("admin key" in e.value for e in at.error)


def test_a_webhook_shows_its_url_and_secret_once() -> None:
    make_member(app_engine(), username="ada", role="owner")
    at = open_connect("ada")
    at.button(key="source_custom").click().run()
    at.radio(key="wizard_how").set_value("webhook")
    at.button(key="wizard_next").click().run()
    at.button(key="wizard_webhook").click().run()
    assert not at.exception
    with session_scope(app_engine()) as session:
        connection = session.execute(select(Connection)).scalar_one()
    codes = [c.value for c in at.code]
    assert codes[0].endswith(f"/api/webhooks/{connection.id}")
    secret = codes[1]
    assert len(secret) >= 40 and connection.secret_hint == "…" + secret[-4:]
    assert secret not in (connection.secret_ciphertext or "")
    at.button(key="wizard_webhook_done").click().run()
    assert not [c for c in at.code if c.value == secret]


def test_a_connection_can_be_renamed_given_a_new_key_and_removed() -> None:
    from core import queries
    from core.settings import current_settings

    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    with session_scope(engine) as session:
        connection = queries.create_connection(
            session, workspace_id=workspace_id, provider="OpenAI", method="api_key", name="OpenAI (old)"
        )
        queries.save_connection_secret(session, connection=connection, secret=KEY, box=current_settings().secret_box())
        connection_id = connection.id
    at = open_connect("ada")
    new_key = "sk-admin-REPLACED-key-abcdefghijklmnop-WXYZ"
    at.text_input(key=f"edit_name_{connection_id}").input("OpenAI production")
    at.text_input(key=f"edit_key_{connection_id}").input(new_key)
    at.button(key=f"edit_save_{connection_id}").click().run()
    assert not at.exception
    with session_scope(engine) as session:
        saved = session.get(Connection, connection_id)
        assert saved is not None and saved.name == "OpenAI production" and saved.secret_hint == "…WXYZ"
        assert (
            queries.load_connection_secret(
                session, workspace_id=workspace_id, connection_id=connection_id, box=current_settings().secret_box()
            )
            == new_key
        )
    at.button(key=f"remove_{connection_id}").click().run()
    at.button(key=f"remove_yes_{connection_id}").click().run()
    assert not at.exception
    with session_scope(engine) as session:
        assert session.get(Connection, connection_id) is None
