"""AppTest: the Profitability page against numbers computed from the same database with core queries + insights."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import outcomes, queries, revenue
from core.db import session_scope
from core.money import format_usd_short
from insights import roi
from tests.app.conftest import open_demo_page, signed_in_app, utc_today
from tests.conftest import app_engine, make_member
from ui.profitability import compute_period, format_roi

PAGE = "app_pages/profitability.py"


def month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def quarter_start(day: dt.date, back: int = 0) -> dt.date:
    return month_start(day.replace(month=3 * ((day.month - 1) // 3) + 1), 3 * back)


def expected_range(choice: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """Worked out here, independently of the page's own period code."""
    return {
        "This month": (month_start(today), today),
        "Last month": (month_start(today, 1), month_start(today) - dt.timedelta(days=1)),
        "This quarter": (quarter_start(today), today),
        "Last quarter": (quarter_start(today, 1), quarter_start(today) - dt.timedelta(days=1)),
    }[choice]


def figures(workspace_id: int, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with session_scope(app_engine()) as session:
        return (
            queries.load_spend_breakdown(session, workspace_id=workspace_id, start=start, end=end),
            outcomes.load_outcome_totals(session, workspace_id=workspace_id, start=start, end=end),
            revenue.load_revenue_daily(session, workspace_id=workspace_id, start=start, end=end),
        )


def by(frame: pd.DataFrame, key: str, value: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame.groupby(key)[value].sum().items()}


def demo_app(role: str = "viewer") -> tuple[AppTest, int, dt.date]:
    return open_demo_page(PAGE, "Does AI pay for itself?", role=role)


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The table with this column (st.dataframe keeps no user key in AppTest unless it is selectable)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("choice", ["Last month", "This month", "This quarter", "Last quarter"])
def test_tiles_are_the_periods_exact_roi(choice: str) -> None:
    at, workspace_id, today = demo_app()
    if choice != "Last month":  # the default: a closed month
        at.radio(key="profit_period").set_value(choice).run()
    start, end = expected_range(choice, today)
    spend, totals, _ = figures(workspace_id, start, end)
    cost, value = int(spend["amount_micros"].sum()), int(totals["value_micros"].sum())
    assert cost > 0 and value > 0
    summary = roi.compute_roi(cost, value, days=(end - start).days + 1)
    assert tiles(at) == {
        "Value created": format_usd_short(value),
        "AI cost": format_usd_short(cost),
        "Net value": format_usd_short(value - cost),
        "ROI": format_roi(summary.roi),
        "Payback": roi.format_days(summary.payback_days),
    }
    assert f"**{summary.verdict}.**" in [m.value for m in at.markdown]
    assert any(c.value.startswith(f"{start:%b %d, %Y} to {end:%b %d, %Y}") for c in at.caption)


def test_a_custom_range() -> None:
    at, workspace_id, today = demo_app()
    at.radio(key="profit_period").set_value("Custom range").run()
    start, end = today - dt.timedelta(days=44), today - dt.timedelta(days=10)
    at.date_input(key="profit_dates").set_value((start, end)).run()
    assert not at.exception
    spend, totals, _ = figures(workspace_id, start, end)
    summary = roi.compute_roi(int(spend["amount_micros"].sum()), int(totals["value_micros"].sum()), days=35)
    assert tiles(at)["ROI"] == format_roi(summary.roi)
    assert tiles(at)["Payback"] == roi.format_days(summary.payback_days)


def test_the_pnl_shows_a_loss_making_department_and_exact_totals() -> None:
    at, workspace_id, today = demo_app()
    period = compute_period("Last month", today=today)
    spend, totals, _ = figures(workspace_id, period.start, period.end)
    previous_spend, previous_totals, _ = figures(workspace_id, period.previous_start, period.previous_end)
    expected = roi.compute_department_pnl(
        by(spend, "department", "amount_micros"),
        by(totals, "department", "value_micros"),
        by(totals, "department", "count"),
        by(previous_spend, "department", "amount_micros"),
        by(previous_totals, "department", "value_micros"),
    )
    table = table_with(at, "Department")
    assert list(table["Department"]) == [row.department for row in expected]
    assert list(table["Net"]) == [row.net_micros for row in expected]
    assert list(table["AI cost"]) == [row.cost_micros for row in expected]
    assert list(table["ROI"]) == [format_roi(row.roi) for row in expected]
    losers = table[table["Net"] < 0]
    assert "Data Science" in set(losers["Department"])
    total = table.iloc[-1]
    assert total["Department"] == "Total"
    assert (
        total["Net"] == table["Net"].iloc[:-1].sum() == int(totals["value_micros"].sum() - spend["amount_micros"].sum())
    )
    assert all(trend[0] in "▲▼→" for trend in table["Trend"])


def test_customer_margins_put_the_loss_first() -> None:
    at, workspace_id, today = demo_app()
    period = compute_period("Last month", today=today)
    spend, _, money_in = figures(workspace_id, period.start, period.end)
    expected = roi.compute_customer_margins(
        by(money_in, "customer", "amount_micros"), by(spend, "customer", "amount_micros")
    )
    table = table_with(at, "Customer")
    assert list(table["Customer"]) == [row.customer for row in expected]
    assert list(table["Margin"]) == [row.margin_micros for row in expected]
    first = table.iloc[0]
    assert first["Customer"] == "Northwind" and first["Margin"] < 0
    assert (table["Margin"].iloc[1:] >= 0).all()
    assert first["Margin %"] == format_roi(Decimal(int(first["Margin"])) / Decimal(int(first["Revenue"])))


def test_efficiency_sentences_and_the_cost_per_outcome_chart() -> None:
    at, workspace_id, today = demo_app()
    at.radio(key="profit_period").set_value("Last quarter").run()
    period = compute_period("Last quarter", today=today)

    def frame(start: dt.date, end: dt.date) -> pd.DataFrame:
        spend, totals, _ = figures(workspace_id, start, end)
        cost = by(spend, "department", "amount_micros")
        counted = totals[totals["count"] > 0]
        return pd.DataFrame(
            {
                "department": counted["department"],
                "outcome": counted["name"],
                "cost_micros": [cost.get(d, 0) for d in counted["department"]],
                "outcomes": counted["count"],
            }
        )

    expected = roi.compute_efficiency_insights(
        frame(period.start, period.end), frame(period.previous_start, period.previous_end), period_label="last quarter"
    )
    assert expected, "the demo's quarter should have at least one efficiency change to talk about"
    shown = "\n".join(m.value for m in at.markdown)
    for item in expected:
        assert f"- {item.sentence}." in shown
    assert at.get("plotly_chart"), "the cost-per-outcome chart is drawn"


def test_no_outcomes_and_no_revenue_say_what_to_do() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    today = utc_today()
    with session_scope(engine) as session:
        queries.upsert_charges(
            session,
            workspace_id=workspace_id,
            rows=[{"source_key": "a", "day": today - dt.timedelta(days=20), "provider": "OpenAI", "model": "gpt-4o",
                   "amount_micros": 5_000_000, "original_amount": "5", "department": "Support"}],
        )  # fmt: skip
    at = signed_in_app("ada")
    at.switch_page(PAGE).run()
    assert not at.exception
    info = [i.value for i in at.info]
    assert any(text.startswith("**No business outcomes defined yet.**") for text in info)
    assert any("Connect Stripe" in text for text in info)
    assert not at.metric, "no ROI tiles without outcomes: they would only say -100%"
    links = {link.value: link.proto.page for link in at.page_link}
    assert links["Define your business outcomes"].endswith("outcomes")
    assert links["Connect Stripe"].endswith("connect")


def test_outcomes_without_counts_still_show_the_tiles() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    with session_scope(engine) as session:
        outcomes.save_outcome_definition(session, workspace_id=workspace_id, name="Lead", unit="lead", value_usd="10")
    at = signed_in_app("ada")
    at.switch_page(PAGE).run()
    assert not at.exception
    assert tiles(at) == {"Value created": "$0", "AI cost": "$0", "Net value": "$0", "ROI": "n/a", "Payback": "0 days"}
    assert "**No AI cost in this period.**" in [m.value for m in at.markdown]


@pytest.mark.parametrize("role", ["owner", "admin", "viewer"])
def test_every_role_sees_the_page(role: str) -> None:
    at, _, _ = demo_app(role)
    assert len(at.metric) == 5
