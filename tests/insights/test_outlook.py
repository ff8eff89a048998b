"""The month's outlook: scopes, budgets and history from one frame; the demo tells its budget story every day."""

import datetime as dt

import pandas as pd
import pytest

from core import demo
from insights import outlook
from insights.budgets import BudgetSpec
from insights.forecast import WORKSPACE, Scope

USD = 1_000_000
TODAY = dt.date(2026, 11, 21)


def constant_frame(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Marketing spends $100 a day on OpenAI, Sales $40 a day on Anthropic for customer Globex."""
    rows = []
    day = start
    while day <= end:
        rows.append((pd.Timestamp(day), "OpenAI", "Marketing", "site", "", 100 * USD))
        rows.append((pd.Timestamp(day), "Anthropic", "Sales", "crm", "Globex", 40 * USD))
        day += dt.timedelta(days=1)
    return pd.DataFrame(rows, columns=["day", "provider", "department", "project", "customer", "amount_micros"])


def test_constant_spend_gives_exact_month_ends_budget_states_and_exceed_dates() -> None:
    start, end = outlook.history_window(TODAY)
    assert (start, end) == (dt.date(2026, 5, 25), dt.date(2026, 11, 20))
    specs = [
        BudgetSpec(1, "workspace", "", 5_000 * USD),
        BudgetSpec(2, "department", "Marketing", 2_500 * USD),  # $2,000 by Nov 20, +$100/day → over after Nov 25
        BudgetSpec(3, "department", "Sales", 900 * USD),  # $800 by Nov 20, +$40/day → over after Nov 22
        BudgetSpec(4, "customer", "Hooli", 10 * USD),  # no spend at all
    ]
    monthly = pd.DataFrame(
        [(dt.date(2026, 10, 1), "OpenAI", "Marketing", "site", "", 3_100 * USD)],
        columns=["month", "provider", "department", "project", "customer", "amount_micros"],
    )
    view = outlook.compute_outlook(constant_frame(start, end), specs, today=TODAY, scope_monthly=monthly)
    assert (view.through, view.month_start, view.month_end) == (end, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert view.workspace.realised_micros == 20 * 140 * USD
    assert view.workspace.month_end.median == view.workspace.month_end.upper95 == 30 * 140 * USD
    assert view.scopes[Scope("project", "crm")].month_end.median == 30 * 40 * USD
    assert view.scopes[Scope("customer", "Globex")].realised_micros == 800 * USD
    assert Scope("customer", "") not in view.scopes
    states = {s.spec.id: s for s in view.budgets}
    assert states[1].state == "on_track" and states[1].exceed_date is None
    assert states[2].state == "overrun_predicted"
    assert (states[2].exceed_date, states[2].exceed_earliest, states[2].exceed_latest) == (dt.date(2026, 11, 26),) * 3
    assert states[3].state == "overrun_predicted" and states[3].exceed_date == dt.date(2026, 11, 23)
    assert states[4].state == "on_track" and states[4].realised_micros == 0 and states[4].projected.median == 0
    october = [m for m in view.history[2] if m.month == dt.date(2026, 10, 1)]
    assert [(m.spent_micros, m.over) for m in october] == [(3_100 * USD, True)]
    assert [m.month for m in view.history[2]] == [dt.date(2026, m, 1) for m in range(5, 11)]
    assert view.history[1][-1].spent_micros == 3_100 * USD  # the workspace sums every scope


def test_the_horizon_reaches_the_end_of_the_sixth_month_ahead() -> None:
    assert outlook.horizon_days(dt.date(2026, 11, 20)) == (dt.date(2027, 5, 31) - dt.date(2026, 11, 20)).days
    assert outlook.horizon_days(dt.date(2026, 11, 30), 1) == (dt.date(2027, 1, 31) - dt.date(2026, 11, 30)).days


def test_an_empty_workspace_has_a_flat_zero_outlook() -> None:
    empty = pd.DataFrame(columns=["day", "provider", "department", "project", "customer", "amount_micros"])
    view = outlook.compute_outlook(empty, [BudgetSpec(1, "workspace", "", USD)], today=TODAY)
    assert list(view.scopes) == [WORKSPACE]
    assert view.workspace.month_end.median == 0 and view.budgets[0].state == "on_track"


@pytest.mark.parametrize("today", [dt.date(2026, 11, 21), dt.date(2026, 11, 9), dt.date(2027, 2, 17)], ids=str)
def test_the_demo_budgets_are_on_track_predicted_to_overrun_and_over(today: dt.date) -> None:
    charges = demo.build_demo_charges(today)
    frame = pd.DataFrame(charges)
    start, end = outlook.history_window(today)
    frame = frame[(frame["day"] >= start) & (frame["day"] <= end)]
    daily = frame.groupby(["day", "provider", "department", "project", "customer"], as_index=False)[
        "amount_micros"
    ].sum()
    specs = [BudgetSpec(i, s, v, a) for i, (s, v, a) in enumerate(demo.build_demo_budgets(today, charges), start=1)]
    view = outlook.compute_outlook(daily, specs, today=today)
    assert {s.spec.label: s.state for s in view.budgets} == {
        "Whole workspace": "on_track", "Marketing": "overrun_predicted", "Data Science": "over",
    }  # fmt: skip
    marketing = next(s for s in view.budgets if s.spec.label == "Marketing")
    assert marketing.exceed_date is not None and today <= marketing.exceed_date <= view.month_end
    assert marketing.sentence.startswith("On track to exceed the $")
