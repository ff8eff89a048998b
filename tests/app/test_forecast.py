"""AppTest: the Forecast & budgets page against numbers computed from the same database with core + insights."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from connectors import alerting
from core.db import session_scope
from core.money import format_usd_short
from insights import outlook
from tests.app.conftest import open_demo_page
from tests.conftest import app_engine

PAGE = "app_pages/forecast.py"


def demo_app(role: str = "viewer") -> tuple[AppTest, int, dt.date]:
    return open_demo_page(PAGE, "What will it cost, and will we stay within budget?", role=role)


def expected_outlook(workspace_id: int, today: dt.date) -> outlook.Outlook:
    with session_scope(app_engine()) as session:
        return alerting.load_outlook(session, workspace_id=workspace_id, today=today)


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
