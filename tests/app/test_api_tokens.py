"""AppTest: API tokens under Settings — chosen scopes, shown once, listed with their scopes, read-only for viewers."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from core import api_tokens
from core.db import session_scope
from core.models import ApiToken, AuditLog
from tests.app.conftest import signed_in_app
from tests.conftest import app_engine, make_member


def open_settings(username: str):  # type: ignore[no-untyped-def]
    at = signed_in_app(username)
    at.switch_page("app_pages/settings.py").run()
    assert not at.exception
    return at


def checkbox(at, label: str):  # type: ignore[no-untyped-def]
    return next(c for c in at.checkbox if c.label == label)


def test_an_owner_creates_a_read_and_write_token_then_revokes_it() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    at = open_settings("ada")
    assert checkbox(at, "Read spend, budgets and forecasts (spend:read)").value is True  # the default here
    assert checkbox(at, "Write outcomes (outcomes:write)").value is False
    next(t for t in at.text_input if t.label == "Token name").input("Finance dashboard")
    checkbox(at, "Write outcomes (outcomes:write)").check()
    next(b for b in at.button if b.label == "Create token").click().run()
    assert not at.exception
    [shown] = [c.value for c in at.code]
    with session_scope(engine) as session:
        token = session.execute(select(ApiToken)).scalar_one()
        assert (token.workspace_id, token.name, token.scopes) == (workspace_id, "Finance dashboard",
                                                                  "outcomes:write spend:read")  # fmt: skip
        assert token.token_hash == api_tokens.hash_token(shown)
        audit = session.execute(select(AuditLog).where(col(AuditLog.action) == "token.created")).scalar_one()
        assert audit.detail == {"token_id": token.id, "scopes": "outcomes:write spend:read"}
    [line] = [m.value for m in at.markdown if m.value.startswith("**Finance dashboard**")]
    assert f"…{shown[-4:]}" in line and "`outcomes:write`, `spend:read`" in line and "active" in line

    at.run()
    assert not at.code  # shown once only
    next(b for b in at.button if b.label == "Revoke").click().run()
    assert not at.exception
    with session_scope(engine) as session:
        assert api_tokens.authenticate_token(session, shown) is None
    assert any("revoked" in m.value for m in at.markdown if m.value.startswith("**Finance dashboard**"))


def test_a_token_that_may_do_nothing_is_refused() -> None:
    make_member(app_engine(), username="ada", role="admin")
    at = open_settings("ada")
    next(t for t in at.text_input if t.label == "Token name").input("Nothing")
    checkbox(at, "Read spend, budgets and forecasts (spend:read)").uncheck()
    next(b for b in at.button if b.label == "Create token").click().run()
    assert [e.value for e in at.error] == ["Choose at least one thing the token may do."]
    assert not at.code
    with session_scope(app_engine()) as session:
        assert session.execute(select(ApiToken)).first() is None


def test_a_viewer_sees_the_tokens_but_cannot_change_them() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner", workspace_slug="shared")
    make_member(engine, username="vic", role="viewer", workspace_slug="shared")
    with session_scope(engine) as session:
        _, plaintext = api_tokens.create_api_token(session, workspace_id=workspace_id, name="BI export",
                                                   scopes="spend:read")  # fmt: skip
    at = open_settings("vic")
    [line] = [m.value for m in at.markdown if m.value.startswith("**BI export**")]
    assert "`spend:read`" in line and plaintext not in line
    assert "Only owners and admins can create or revoke API tokens." in [c.value for c in at.caption]
    labels = {b.label for b in at.button}
    assert "Create token" not in labels and "Revoke" not in labels
    assert not [t for t in at.text_input if t.label == "Token name"]
