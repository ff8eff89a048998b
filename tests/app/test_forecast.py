"""AppTest: the Forecast & budgets page against numbers computed from the same database with core + insights."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from core import budgets, queries
from core.db import session_scope
from core.money import format_usd_short
from insights import outlook
from insights.budgets import BudgetSpec
from tests.app.conftest import signed_in_app, titles, utc_today
from tests.conftest import app_engine, load_demo, make_member

PAGE = "app_pages/forecast.py"


def demo_app(role: str = "viewer") -> tuple[AppTest, int, dt.date]:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role=role)
    today = utc_today()
    load_demo(engine, workspace_id, today)
    at = signed_in_app("ada")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert titles(at) == ["What will it cost, and will we stay within budget?"]
    return at, workspace_id, today


def expected_outlook(workspace_id: int, today: dt.date) -> outlook.Outlook:
    start, end = outlook.history_window(today)
    with session_scope(app_engine()) as session:
        daily = queries.load_scope_daily(session, workspace_id=workspace_id, start=start, end=end)
        specs = [
            BudgetSpec(b.id, b.scope, b.scope_value, b.amount_micros, tuple(b.thresholds))
            for b in budgets.load_budgets(session, workspace_id=workspace_id)
        ]
    return outlook.compute_outlook(daily, specs, today=today)


def test_demo_shows_month_end_forecast_and_each_budget_sentence() -> None:
    at, workspace_id, today = demo_app()
    view = expected_outlook(workspace_id, today)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["This month so far"] == format_usd_short(view.workspace.realised_micros)
    assert tiles["Month-end forecast"] == format_usd_short(view.workspace.month_end.median)
    shown = " ".join(m.value for m in at.markdown)
    for status in view.budgets:
        assert status.sentence in shown
    states = {s.spec.scope_value or "workspace": s.state for s in view.budgets}
    print(states)
