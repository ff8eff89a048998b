"""AppTest: outcomes from a template, counts by CSV (all or nothing) and by the grid, and API tokens shown once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core import api_tokens, outcomes
from core.db import session_scope
from core.models import ApiToken, OutcomeCount
from tests.app.conftest import signed_in_app, titles
from tests.conftest import app_engine, make_member


def open_outcomes(username: str):  # type: ignore[no-untyped-def]
    at = signed_in_app(username)
    at.switch_page("app_pages/outcomes.py").run()
    assert not at.exception and titles(at) == ["What does AI produce for the business?"]
    return at


def test_an_outcome_from_a_template_then_a_token_shown_once() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="owner")
    at = open_outcomes("ada")
    assert any("No outcomes yet" in i.value for i in at.info)
    template = next(t for t in outcomes.OUTCOME_TEMPLATES if t.name == "Qualified lead")
    at.selectbox[0].set_value(template)
    next(b for b in at.button if b.label == "Add outcome").click().run()
    assert not at.exception
    with session_scope(app_engine()) as session:
        [saved] = outcomes.load_outcome_definitions(session, workspace_id=workspace_id)
    assert (saved.name, saved.value_micros, saved.department) == ("Qualified lead", 120_000_000, "Marketing")

    next(t for t in at.text_input if t.label == "Token name").input("Helpdesk")
    next(b for b in at.button if b.label == "Create token").click().run()
    assert not at.exception
    [shown] = [c.value for c in at.code]
    with session_scope(app_engine()) as session:
        token = session.execute(select(ApiToken)).scalar_one()
        assert token.token_hash == api_tokens.hash_token(shown) and shown not in token.token_hash
    at.run()
    assert not [c for c in at.code if c.value == shown]  # once only


def test_counts_can_be_corrected_in_the_grid() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    today = dt.datetime.now(dt.UTC).date()
    with session_scope(engine) as session:
        lead = outcomes.save_outcome_definition(
            session, workspace_id=workspace_id, name="Qualified lead", unit="lead", value_usd="120"
        )
        assert lead.id is not None
        outcomes.upsert_outcome_counts(session, workspace_id=workspace_id, rows=[(lead.id, today, "", 7)])
    at = open_outcomes("ada")
    from ui import context
    from ui import outcomes as ui_outcomes

    ctx = context.Context(
        user_id=1, username="ada", name="Ada", workspace_id=workspace_id, workspace_slug="x", workspace_name="X",
        workspace_timezone="UTC", role="owner", data_version=0, workspaces=(),
    )  # fmt: skip
    before = ui_outcomes.load_recent_counts(ctx)
    assert before.to_dict("records") == [{"day": today, "outcome": "Qualified lead", "department": "", "count": 7}]
    after = before.copy()
    after.loc[0, "count"] = 9
    saved = ui_outcomes.save_count_edits(ctx, before, after)
    assert saved is not None and saved.replaced == 1
    with session_scope(engine) as session:
        assert session.execute(select(func.sum(OutcomeCount.count))).scalar_one() == 9
    assert ui_outcomes.save_count_edits(ctx, after, after) is None
    assert not at.exception
