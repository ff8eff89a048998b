"""AppTest: the ROI calculator. Every slider moves the numbers exactly as insights.whatif says; scenarios persist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import demo, queries
from core.db import session_scope
from core.money import format_usd_short, to_micros
from core.scenarios import load_scenarios, save_scenario
from insights import whatif
from insights.roi import format_days
from insights.whatif import Baseline, WhatIf, compute_baseline
from tests.app.conftest import signed_in_app, titles, utc_today
from tests.conftest import app_engine, load_demo, make_member
from ui.profitability import format_days_change, format_roi, format_roi_change, format_usd_change, scenario_table

PAGE = "app_pages/roi.py"
CHEAP = ("OpenAI", "gpt-4o-mini")


def demo_baseline(today: dt.date) -> Baseline:
    """The last 30 days straight from the demo's own rows, not from the database the page reads."""
    start = today - dt.timedelta(days=29)
    charges = demo.build_demo_charges(today)
    spend = pd.DataFrame([c for c in charges if start <= c["day"] <= today])
    values = {o.name: to_micros(o.value_usd) for o in demo.DEMO_OUTCOMES}
    counts = pd.DataFrame(
        [
            {"outcome": name, "count": count, "value_micros": values[name]}
            for name, day, _, count in demo.build_demo_outcome_counts(today, charges)
            if start <= day <= today
        ]
    )
    return compute_baseline(spend, counts, on=today, days=30)


def demo_app(role: str = "admin") -> tuple[AppTest, int, Baseline]:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role=role)
    today = utc_today()
    load_demo(engine, workspace_id, today)
    at = signed_in_app("ada")
    at.switch_page(PAGE).run()
    assert not at.exception and titles(at) == ["ROI calculator: what if…"]
    return at, workspace_id, demo_baseline(today)


def shown_levers(at: AppTest) -> WhatIf:
    """What the sliders and model pickers say now, read from the widgets."""
    return WhatIf(
        value_multiplier=at.slider(key="whatif_value").value,
        volume_growth_pct=at.slider(key="whatif_growth").value,
        price_change_pct=at.slider(key="whatif_price").value,
        caching_pct=at.slider(key="whatif_caching").value,
        batch_pct=at.slider(key="whatif_batch").value,
        switch_from=at.selectbox(key="whatif_from").value,
        switch_to=at.selectbox(key="whatif_to").value,
        switch_share_pct=at.slider(key="whatif_share").value,
    )


def expected_metrics(result: whatif.WhatIfResult) -> list[tuple[str, str, str | None]]:
    def four(summary: Any, deltas: tuple[str | None, ...]) -> list[tuple[str, str, str | None]]:
        values = (
            format_usd_short(summary.cost_micros),
            format_usd_short(summary.value_micros),
            format_roi(summary.roi),
            format_days(summary.payback_days),
        )
        labels = ("Monthly AI cost", "Monthly value", "ROI", "Breakeven")
        return list(zip(labels, values, deltas, strict=True))

    return four(result.today, (None,) * 4) + four(
        result.scenario,
        (
            format_usd_change(result.cost_delta_micros),
            format_usd_change(result.value_delta_micros),
            format_roi_change(result.roi_delta),
            format_days_change(result.breakeven_delta_days),
        ),
    )


def shown_metrics(at: AppTest) -> list[tuple[str, str, str | None]]:
    return [(m.label, m.value, m.delta or None) for m in at.metric]


def scenarios_shown(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Scenario" in d.value.columns)


# slider key → a position that is not today's; the model switch also picks the models first
MOVES = [
    ("whatif_value", 1.5),
    ("whatif_growth", 25),
    ("whatif_price", -20),
    ("whatif_caching", 60),
    ("whatif_batch", 40),
    ("whatif_share", 50),
]


def move(at: AppTest, key: str, value: Any) -> None:
    if key == "whatif_share":
        at.selectbox(key="whatif_to").set_value(CHEAP)
    at.slider(key=key).set_value(value).run()
    assert not at.exception


def test_at_rest_the_scenario_is_today() -> None:
    at, _, baseline = demo_app()
    result = whatif.compute_whatif(baseline, WhatIf())
    assert result.today.cost_micros > 0 and result.today.value_micros > 0
    assert shown_metrics(at) == expected_metrics(result)
    assert shown_metrics(at)[:4] == [(label, value, None) for label, value, _ in shown_metrics(at)[4:]]


@pytest.mark.parametrize(("key", "value"), MOVES, ids=[key for key, _ in MOVES])
def test_each_slider_moves_the_numbers_exactly(key: str, value: Any) -> None:
    at, _, baseline = demo_app()
    move(at, key, value)
    levers = shown_levers(at)
    result = whatif.compute_whatif(baseline, levers)
    assert result.scenario != result.today, f"{key} at {value} should change something"
    assert shown_metrics(at) == expected_metrics(result)
    if key == "whatif_share":
        assert levers.switch_to == CHEAP and result.switch_ratio is not None
        assert any(c.value.startswith("The moved traffic costs") for c in at.caption)


def test_all_sliders_together() -> None:
    at, _, baseline = demo_app()
    for key, value in MOVES:
        move(at, key, value)
        assert shown_metrics(at) == expected_metrics(whatif.compute_whatif(baseline, shown_levers(at))), key
    levers = shown_levers(at)
    assert (levers.caching_pct, levers.batch_pct, levers.switch_share_pct) == (60, 40, 50)


def test_save_compare_replace_and_delete_a_scenario() -> None:
    at, workspace_id, baseline = demo_app("admin")
    move(at, "whatif_batch", 40)
    at.text_input(key="scenario_name").input("Half on batch")
    at.button(key="save_scenario_button").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Saved 'Half on batch'."]
    saved = {"Half on batch": shown_levers(at)}
    expected = scenario_table(whatif.compare_scenarios(baseline, saved))
    pd.testing.assert_frame_equal(scenarios_shown(at), expected)
    assert list(expected["Scenario"]) == ["Today", "Half on batch"]

    move(at, "whatif_caching", 60)
    at.text_input(key="scenario_name").input("half ON batch")
    at.button(key="save_scenario_button").click().run()
    assert [s.value for s in at.success] == ["Replaced 'half ON batch'."]
    table = scenarios_shown(at)
    assert list(table["Scenario"]) == ["Today", "half ON batch"]
    replaced = whatif.compare_scenarios(baseline, {"half ON batch": shown_levers(at)})
    pd.testing.assert_frame_equal(table, scenario_table(replaced))

    at.selectbox(key="scenario_to_delete").set_value("half ON batch")
    at.button(key="delete_scenario_button").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Deleted 'half ON batch'."]
    assert list(scenarios_shown(at)["Scenario"]) == ["Today"]
    with session_scope(app_engine()) as session:
        assert load_scenarios(session, workspace_id=workspace_id) == []
        actions = [a.action for a in queries.load_audit(session, workspace_id=workspace_id)]
    assert actions[:3] == ["scenario.deleted", "scenario.replaced", "scenario.saved"]


def test_a_scenario_needs_a_name() -> None:
    at, workspace_id, _ = demo_app("owner")
    at.button(key="save_scenario_button").click().run()
    assert any("Give the scenario a name" in e.value for e in at.error)
    with session_scope(app_engine()) as session:
        assert load_scenarios(session, workspace_id=workspace_id) == []


def test_viewers_play_but_cannot_save_or_delete() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner", workspace_slug="shared")
    make_member(engine, username="vic", role="viewer", workspace_slug="shared")
    today = utc_today()
    load_demo(engine, workspace_id, today)
    with session_scope(engine) as session:
        save_scenario(
            session, workspace_id=workspace_id, name="Owner's plan", settings=WhatIf(batch_pct=20).to_settings()
        )
    at = signed_in_app("vic")
    at.switch_page(PAGE).run()
    move(at, "whatif_price", 10)
    assert at.button(key="save_scenario_button").disabled
    assert "Only a workspace admin or owner can save scenarios." in [c.value for c in at.caption]
    assert list(scenarios_shown(at)["Scenario"]) == ["Today", "Owner's plan"]
    assert not [b for b in at.button if b.key == "delete_scenario_button"]


def test_no_spend_yet() -> None:
    make_member(app_engine(), username="ada", role="owner")
    at = signed_in_app("ada")
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.info[0].value.startswith("**No AI spend in the last 30 days.**")
    assert not at.slider and not at.metric


@pytest.mark.parametrize(
    ("formatted", "expected"),
    [
        (format_roi(None), "n/a"),
        (format_roi(Decimal("4.1234")), "412%"),
        (format_roi(Decimal("-0.004")), "0%"),
        (format_roi(Decimal("25")), "2,500%"),
        (format_roi_change(Decimal("0.125")), "+12.5 pts"),
        (format_roi_change(Decimal("-0.0004")), None),
        (format_usd_change(-6_360_000_000), "-$6.36k"),
        (format_usd_change(0), None),
        (format_days_change(Decimal("-1.06")), "-1.1 days"),
        (format_days_change(Decimal("0.01")), None),
        (format_days_change(None), None),
    ],
)
def test_formatting(formatted: str | None, expected: str | None) -> None:
    assert formatted == expected
