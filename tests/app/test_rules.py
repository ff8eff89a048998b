"""AppTest: allocation rules previewed in dollars and applied; a person's own edits to charges (and tags)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core import queries
from core.db import session_scope
from core.models import Charge, ChargeOverride, User
from core.money import format_usd
from tests.app.conftest import signed_in_app, titles
from tests.conftest import app_engine, make_member

DAY = dt.datetime.now(dt.UTC).date()


def seed(workspace_id: int) -> None:
    rows = [
        {"source_key": k, "day": DAY, "provider": "OpenAI", "model": "gpt-4o", "amount_micros": m,
         "original_amount": "0", "project": p}
        for k, m, p in (("a", 12_000_000, "proj_search"), ("b", 3_500_000, "proj_search"), ("c", 1_000_000, "proj_ads"))
    ]  # fmt: skip
    with session_scope(app_engine()) as session:
        queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)


def department_totals(workspace_id: int) -> dict[str, int]:
    with session_scope(app_engine()) as session:
        rows = session.execute(
            select(Charge.department, func.sum(Charge.amount_micros))
            .where(Charge.workspace_id == workspace_id)
            .group_by(Charge.department)
        ).all()
    return {d: int(m) for d, m in rows}


def test_a_rule_is_previewed_in_dollars_then_applied() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="owner")
    seed(workspace_id)
    at = signed_in_app("ada")
    at.switch_page("app_pages/rules.py").run()
    assert not at.exception and titles(at) == ["Who does the spend belong to?"]
    assert any("No rules yet" in i.value for i in at.info)
    next(t for t in at.text_input if t.label == "this text").input("proj_search")
    next(t for t in at.text_input if t.label == "to").input("Search")
    next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception
    assert any(f"would move **{format_usd(15_500_000)}** across 2 charges" in i.value for i in at.info)
    assert department_totals(workspace_id) == {"": 16_500_000}  # a preview changes nothing
    next(b for b in at.button if b.label == "Save and apply").click().run()
    assert not at.exception
    assert department_totals(workspace_id) == {"Search": 15_500_000, "": 1_000_000}
    assert any("When project is 'proj_search', set department to 'Search'" in m.value for m in at.markdown)


def test_viewers_see_rules_but_cannot_add_them() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner", workspace_slug="acme")
    make_member(engine, username="vic", role="viewer", workspace_slug="acme")
    seed(workspace_id)
    at = signed_in_app("vic")
    at.switch_page("app_pages/rules.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.label in ("Preview", "Save and apply", "Save my changes")]


def test_edits_to_the_charges_table_become_overrides() -> None:
    from ui import actions, context

    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    seed(workspace_id)
    with session_scope(engine) as session:
        user = session.execute(select(User)).scalar_one()
        assert user.id is not None
        ctx = context.Context(
            user_id=user.id, username="ada", name="Ada", workspace_id=workspace_id, workspace_slug="x",
            workspace_name="X", workspace_timezone="UTC", role="owner", data_version=0, workspaces=(),
        )  # fmt: skip
    before = actions.load_largest_charges(ctx, start=DAY, end=DAY)
    assert list(before["source_key"]) == ["a", "b", "c"] and list(before["tags"]) == ["", "", ""]
    after = before.copy()
    after.loc[after["source_key"] == "b", "customer"] = "Globex"
    after.loc[after["source_key"] == "c", "tags"] = "env=prod, team=ads"
    change = actions.save_charge_edits(ctx, before, after)
    assert change is not None and (change.charges, change.micros) == (2, 4_500_000)
    reloaded = actions.load_largest_charges(ctx, start=DAY, end=DAY).set_index("source_key")
    assert reloaded.at["b", "customer"] == "Globex" and reloaded.at["c", "tags"] == "env=prod, team=ads"
    assert actions.save_charge_edits(ctx, reloaded.reset_index(), reloaded.reset_index()) is None
    with session_scope(engine) as session:
        fields = sorted(session.execute(select(ChargeOverride.field)).scalars())
    assert fields == ["customer", "tag:env", "tag:team"]
