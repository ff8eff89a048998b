"""AppTest: the Optimize page on the demo: recommendations with dollars, adopt and dismiss, the savings tracker."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from core import decisions, demo, queries
from core.db import session_scope
from core.money import format_usd
from insights import advice
from tests.app.conftest import open_demo_page
from tests.conftest import app_engine

PAGE = "app_pages/optimize.py"


def demo_app(role: str = "viewer") -> tuple[AppTest, int, dt.date]:
    return open_demo_page(PAGE, "What should we change?", role=role)


def expected(workspace_id: int, today: dt.date) -> advice.Advice:
    start, end = advice.analysis_window(today)
    with session_scope(app_engine()) as session:
        usage = queries.load_usage_profile(session, workspace_id=workspace_id, start=start, end=end)
        since = end - dt.timedelta(days=400)
        daily = queries.load_model_daily(session, workspace_id=workspace_id, start=since, end=end)
        chosen = {
            k: (r.status, r.title, r.estimated_monthly_micros, dict(r.detail))
            for k, r in decisions.load_decisions(session, workspace_id=workspace_id).items()
        }
    return advice.compute_advice(usage, daily, chosen, today=today)


def test_demo_shows_recommendations_worth_real_money_and_the_adopted_migrations_saving() -> None:
    at, workspace_id, today = demo_app("viewer")
    view = expected(workspace_id, today)
    assert len([r for r in view.open if r.monthly_saving_micros >= 100_000_000]) >= 3
    shown = " ".join(m.value for m in at.markdown)
    for rec in view.open:
        assert rec.title in shown
    assert demo.DEMO_ADOPTED_KEY not in {r.key for r in view.open}
    (adopted,) = view.adopted
    assert adopted.savings.enough_data and adopted.savings.realised_monthly_micros > 0
    table = next(d.value for d in at.dataframe if "Realised a month" in d.value.columns)
    assert table["Realised a month"].tolist() == [format_usd(adopted.savings.realised_monthly_micros)]
    assert not any(b.label == "Mark as adopted" for b in at.button)  # viewers read only


def test_an_admin_adopts_one_and_dismisses_another() -> None:
    at, workspace_id, today = demo_app("admin")
    first, second = expected(workspace_id, today).open[:2]
    adopt = [b for b in at.button if b.label == "Mark as adopted"]
    adopt[0].click().run()
    assert not at.exception
    assert any(f"Adopted: {first.title}" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Dismiss").click().run()
    with session_scope(app_engine()) as session:
        got = decisions.load_decisions(session, workspace_id=workspace_id)
    assert (got[first.key].status, got[first.key].estimated_monthly_micros) == ("adopted", first.monthly_saving_micros)
    assert got[first.key].detail["adopted_on"] == today.isoformat()
    assert (got[second.key].status, got[second.key].reason) == ("dismissed", decisions.DISMISS_REASONS[0])
    shown = " ".join(m.value for m in at.markdown)
    assert first.title not in shown and second.title not in shown


def test_the_price_check_finds_the_demos_bedrock_discount_and_records_it_as_a_rate() -> None:
    from decimal import Decimal

    from core import price_overrides

    at, workspace_id, today = demo_app("admin")
    shown = " ".join(m.value for m in at.markdown)
    assert "billed a steady 10.0% below list" in shown
    models = next(d.value for d in at.dataframe if "Likely cause" in d.value.columns and "Days off" in d.value.columns)
    bedrock = models[models["Provider"] == "AWS Bedrock"]
    assert set(bedrock["Likely cause"]) == {"A discount"} and set(bedrock["Difference"]) == {"-10.0%"}
    next(b for b in at.button if b.label.startswith("Record a 10.0% discount on AWS Bedrock")).click().run()
    assert not at.exception
    with session_scope(app_engine()) as session:
        (rate,) = price_overrides.load_price_overrides(session, workspace_id=workspace_id)
    assert (rate.provider, rate.model, rate.discount_bp) == ("AWS Bedrock", "", 1000)
    assert Decimal(rate.discount_bp) / 100 == Decimal(10)
    # With the rate recorded, Bedrock's bills match the estimate and nothing is flagged any more.
    assert "billed a steady 10.0% below list" not in " ".join(m.value for m in at.markdown)
