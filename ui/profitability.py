"""Profitability and the ROI calculator: cached aggregates per period, saved scenarios, and their widgets.

The loaders are keyed like `ui/loaders.py` (database, workspace, data version, dates), so a slider move or a
table sort re-reads nothing: the what-if math in `insights/whatif.py` runs on the cached `Baseline`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd
import streamlit as st

from core import outcomes, queries, revenue, scenarios
from core.money import format_usd, format_usd_short
from core.security import InvalidInput
from insights.roi import MarginRow, PnlRow, RoiSummary, format_days
from insights.whatif import Baseline, ScenarioRow, WhatIf, WhatIfResult, compute_baseline
from ui.context import Context, require_role
from ui.db import get_settings, open_session

PERIODS = ("This month", "Last month", "This quarter", "Last quarter", "Custom range")
BASELINE_DAYS = 30  # the what-if's "today": the last 30 days, a month of traffic ending today
_WEEKLY_UP_TO_DAYS = 92  # the cost-per-outcome chart buckets by week up to a quarter, by month beyond
_RED = "color: #DC2626"
_TRENDS = {"up": "▲", "down": "▼", "flat": "→"}


# Periods -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The dates a page covers, the dates it is compared with, and how a sentence names the comparison."""

    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date
    label: str  # "this month", "last quarter", "against the previous 30 days"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _quarter_start(day: dt.date, quarters_back: int = 0) -> dt.date:
    first = day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return _month_start(first, 3 * quarters_back)


def _so_far(start: dt.date, end: dt.date, previous_start: dt.date) -> tuple[dt.date, dt.date]:
    """The same number of days into the previous period, cut at its end (Mar 31 → Feb 28)."""
    return previous_start, min(previous_start + (end - start), start - dt.timedelta(days=1))


def compute_period(choice: str, *, today: dt.date, custom: tuple[dt.date, dt.date] | None = None) -> Period:
    """A named period and what it is compared with: a period still running is compared day for day."""
    if choice == "This month":
        start = _month_start(today)
        return Period(start, today, *_so_far(start, today, _month_start(today, 1)), "this month")
    if choice == "Last month":
        start = _month_start(today, 1)
        before = _month_start(today, 2)
        return Period(
            start, _month_start(today) - dt.timedelta(days=1), before, start - dt.timedelta(days=1), "last month"
        )
    if choice == "This quarter":
        start = _quarter_start(today)
        return Period(start, today, *_so_far(start, today, _quarter_start(today, 1)), "this quarter")
    if choice == "Last quarter":
        start, before = _quarter_start(today, 1), _quarter_start(today, 2)
        end = _quarter_start(today) - dt.timedelta(days=1)
        return Period(start, end, before, start - dt.timedelta(days=1), "last quarter")
    if choice == "Custom range" and custom is not None:
        start, end = min(custom), max(custom)
        days = (end - start).days + 1
        label = f"against the previous {days} days" if days > 1 else "against the day before"
        return Period(start, end, start - dt.timedelta(days=days), start - dt.timedelta(days=1), label)
    raise ValueError(f"unknown period {choice!r}")


def render_period_picker(today: dt.date) -> Period:
    """The period radio (and the custom dates, when chosen) above the page."""
    # A closed month by default: revenue is billed on the 1st while AI cost accrues daily, so a month
    # still running flatters every margin.
    choice = st.radio(
        "Period",
        PERIODS,
        index=PERIODS.index("Last month"),
        horizontal=True,
        key="profit_period",
        label_visibility="collapsed",
    )
    custom = None
    if choice == "Custom range":
        picked = st.date_input(
            "Dates",
            value=(today - dt.timedelta(days=29), today),
            max_value=today,
            key="profit_dates",
            format="YYYY-MM-DD",
        )
        days = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
        custom = (days[0], days[-1]) if days else (today, today)
    period = compute_period(choice or PERIODS[0], today=today, custom=custom)
    st.caption(
        f"{period.start:%b %d, %Y} to {period.end:%b %d, %Y} ({period.days} days), compared with "
        f"{period.previous_start:%b %d} to {period.previous_end:%b %d, %Y}."
    )
    return period


# Cached aggregates -------------------------------------------------------------------------------


def _sum_by(frame: pd.DataFrame, key: str, value: str) -> dict[str, int]:
    if frame.empty:
        return {}
    return {str(k): int(v) for k, v in frame.groupby(key, sort=True)[value].sum().items()}


@dataclass(frozen=True)
class PeriodFigures:
    """Everything the Profitability page adds up for one period, in micro-USD and counts."""

    cost_micros: int
    value_micros: int
    cost_by_department: dict[str, int]
    cost_by_customer: dict[str, int]
    value_by_department: dict[str, int]
    outcomes_by_department: dict[str, int]
    revenue_by_customer: dict[str, int]  # net of fees, refunds and disputes
    outcome_totals: pd.DataFrame = field(repr=False)  # core.outcomes.load_outcome_totals
    efficiency: pd.DataFrame = field(repr=False)  # department, outcome, cost_micros, outcomes

    @property
    def has_outcomes(self) -> bool:
        """Whether any outcome is defined (the totals list every definition, counted or not)."""
        return not self.outcome_totals.empty

    @property
    def has_revenue(self) -> bool:
        return bool(self.revenue_by_customer)


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def _period_figures(url: str, workspace_id: int, data_version: int, start: dt.date, end: dt.date) -> PeriodFigures:
    with open_session() as session:
        spend = queries.load_spend_breakdown(session, workspace_id=workspace_id, start=start, end=end)
        totals = outcomes.load_outcome_totals(session, workspace_id=workspace_id, start=start, end=end)
        money_in = revenue.load_revenue_daily(session, workspace_id=workspace_id, start=start, end=end)
    cost_by_department = _sum_by(spend, "department", "amount_micros")
    counted = totals[totals["count"] > 0]
    efficiency = pd.DataFrame(
        {
            "department": counted["department"],
            "outcome": counted["name"],
            "cost_micros": [cost_by_department.get(d, 0) for d in counted["department"]],
            "outcomes": counted["count"],
        }
    )
    return PeriodFigures(
        cost_micros=int(spend["amount_micros"].sum()),
        value_micros=int(totals["value_micros"].sum()),
        cost_by_department=cost_by_department,
        cost_by_customer=_sum_by(spend, "customer", "amount_micros"),
        value_by_department=_sum_by(totals, "department", "value_micros"),
        outcomes_by_department=_sum_by(totals, "department", "count"),
        revenue_by_customer=_sum_by(money_in, "customer", "amount_micros"),
        outcome_totals=totals,
        efficiency=efficiency.reset_index(drop=True),
    )


def period_figures(workspace_id: int, data_version: int, start: dt.date, end: dt.date) -> PeriodFigures:
    """Cost, value, revenue and outcomes of [start, end], by department and customer; cached."""
    return _period_figures(get_settings().database_url, workspace_id, data_version, start, end)


def _bucket(day: dt.date, start: dt.date, *, monthly: bool) -> dt.date:
    first = day.replace(day=1) if monthly else day - dt.timedelta(days=day.weekday())
    return max(first, start)


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def _cost_per_outcome_frame(
    url: str, workspace_id: int, data_version: int, start: dt.date, end: dt.date
) -> pd.DataFrame:
    columns = ["period", "outcome", "department", "cost_micros", "outcomes"]
    with open_session() as session:
        daily = outcomes.load_outcome_daily(session, workspace_id=workspace_id, start=start, end=end)
        daily = daily[daily["count"] > 0]
        cost = {
            department: queries.load_daily_totals(
                session,
                workspace_id=workspace_id,
                start=start,
                end=end,
                spend_filter=queries.SpendFilter(departments=(department,)),
            )
            for department in sorted(set(daily["department"]))
        }
    if daily.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c in ("cost_micros", "outcomes") else "object") for c in columns}
        )
    monthly = (end - start).days + 1 > _WEEKLY_UP_TO_DAYS
    buckets = sorted(
        {_bucket(start + dt.timedelta(days=i), start, monthly=monthly) for i in range((end - start).days + 1)}
    )
    cost_in: dict[tuple[str, dt.date], int] = {}
    for department, frame in cost.items():
        for day, micros in zip(frame["day"].dt.date, frame["amount_micros"], strict=True):
            key = (department, _bucket(day, start, monthly=monthly))
            cost_in[key] = cost_in.get(key, 0) + int(micros)
    counts: dict[tuple[str, str, dt.date], int] = {}
    for day, outcome, department, count in zip(
        daily["day"].dt.date, daily["outcome"], daily["department"], daily["count"], strict=True
    ):
        key = (str(outcome), str(department), _bucket(day, start, monthly=monthly))
        counts[key] = counts.get(key, 0) + int(count)
    pairs = sorted({(outcome, department) for outcome, department, _ in counts})
    rows = [
        (
            bucket,
            outcome,
            department,
            cost_in.get((department, bucket), 0),
            counts.get((outcome, department, bucket), 0),
        )
        for outcome, department in pairs
        for bucket in buckets
    ]
    return pd.DataFrame(rows, columns=columns).astype({"cost_micros": "int64", "outcomes": "int64"})


def cost_per_outcome_frame(workspace_id: int, data_version: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per week (per month beyond a quarter) and outcome: the outcome's department's AI cost and its count.

    Columns period, outcome, department, cost_micros, outcomes: what `insights.roi.compute_cost_per_outcome_trend`
    reads with by="outcome". A department's cost counts against each of its outcomes, as in the P&L.
    """
    return _cost_per_outcome_frame(get_settings().database_url, workspace_id, data_version, start, end)


def baseline_range(today: dt.date) -> tuple[dt.date, dt.date]:
    return today - dt.timedelta(days=BASELINE_DAYS - 1), today


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def _whatif_baseline(url: str, workspace_id: int, data_version: int, today: dt.date) -> Baseline:
    start, end = baseline_range(today)
    with open_session() as session:
        usage, volumes = scenarios.load_whatif_aggregates(session, workspace_id=workspace_id, start=start, end=end)
    return compute_baseline(usage, volumes, on=today, days=BASELINE_DAYS)


def whatif_baseline(workspace_id: int, data_version: int, today: dt.date) -> Baseline:
    """The last 30 days as small aggregates (cost and tokens per model, outcome counts and values); cached."""
    return _whatif_baseline(get_settings().database_url, workspace_id, data_version, today)


# Scenarios ---------------------------------------------------------------------------------------


def save_scenario(context: Context, name: str, whatif: WhatIf) -> tuple[str, bool]:
    """Save the sliders under a name (replacing one of that name); returns the name as saved and whether it
    is new. Admins only."""
    require_role(context, "admin")
    with open_session() as session:
        scenario, created = scenarios.save_scenario(
            session, workspace_id=context.workspace_id, name=name, settings=whatif.to_settings()
        )
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id,
            action="scenario.saved" if created else "scenario.replaced", name=scenario.name,
        )  # fmt: skip
    return scenario.name, created


def load_scenarios(context: Context) -> dict[str, WhatIf]:
    """Saved scenarios by name, oldest first; one whose settings no longer read is left out."""
    with open_session() as session:
        saved = scenarios.load_scenarios(session, workspace_id=context.workspace_id)
    loaded: dict[str, WhatIf] = {}
    for scenario in saved:
        try:
            loaded[scenario.name] = WhatIf.from_settings(scenario.settings)
        except (TypeError, ValueError):
            continue
    return loaded


def delete_scenario(context: Context, name: str) -> None:
    """Forget a saved scenario; admins only. Raises InvalidInput when it is already gone."""
    require_role(context, "admin")
    with open_session() as session:
        try:
            scenarios.delete_scenario(session, workspace_id=context.workspace_id, name=name)
        except queries.NotFound as error:
            raise InvalidInput(str(error)) from None
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="scenario.deleted", name=name
        )


# Formatting --------------------------------------------------------------------------------------


def format_roi(roi: Decimal | None) -> str:
    """ROI as a whole percentage ('412%', '-35%'), or 'n/a' without cost."""
    if roi is None:
        return "n/a"
    pct = (roi * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return f"{pct if pct != 0 else Decimal(0):,}%"


def format_roi_change(change: Decimal | None) -> str | None:
    """An ROI difference in percentage points ('+12.5 pts'); None when there is none to show."""
    if change is None:
        return None
    points = (change * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    if points == 0:
        return None
    return f"{'+' if points > 0 else '-'}{abs(points):,} pts"


def format_usd_change(micros: int) -> str | None:
    """A change in money for a metric's delta ('+$1.2k', '-$300'); None when nothing changed."""
    if micros == 0:
        return None
    return f"{'+' if micros > 0 else '-'}{format_usd_short(abs(micros))}"


def format_days_change(days: Decimal | None) -> str | None:
    """A change in breakeven ('-3.2 days'); None when there is none or it rounds away."""
    if days is None or format_days(abs(days)) in ("0 days", "n/a"):
        return None
    return f"{'+' if days > 0 else '-'}{format_days(abs(days))}"


# Rendering ---------------------------------------------------------------------------------------


def render_roi_tiles(summary: RoiSummary) -> None:
    value, cost, net, roi, payback = st.columns(5)
    tiles = (
        (value, "Value created", format_usd_short(summary.value_micros),
         f"Exactly {format_usd(summary.value_micros)}: every outcome counted in the period × its value per unit."),
        (cost, "AI cost", format_usd_short(summary.cost_micros), f"Exactly {format_usd(summary.cost_micros)}."),
        (net, "Net value", format_usd_short(summary.net_micros),
         f"Exactly {format_usd(summary.net_micros)}: value created less AI cost."),
        (roi, "ROI", format_roi(summary.roi), "(value − cost) ÷ cost; n/a when there was no AI cost."),
        (payback, "Payback", format_days(summary.payback_days),
         "Days of the value AI created in this period it takes to cover the period's AI cost; "
         "n/a when no value was recorded."),
    )  # fmt: skip
    for column, label, shown, explained in tiles:
        column.metric(label, shown, help=explained, border=True)


def _styled(frame: pd.DataFrame, money: list[str], red: list[str]) -> Any:
    def red_if_negative(value: Any) -> str:
        return _RED if isinstance(value, int | float) and value < 0 else ""

    styler = frame.style.format({c: lambda v: "n/a" if pd.isna(v) else format_usd(int(v)) for c in money})
    return styler.map(red_if_negative, subset=red)


def render_pnl(rows: list[PnlRow]) -> None:
    """The department P&L with a total row; exact micro-dollars underneath, dollars on screen."""
    frame = pd.DataFrame(
        {
            "Department": [r.department for r in rows],
            "AI cost": [r.cost_micros for r in rows],
            "Value": [r.value_micros for r in rows],
            "Net": [r.net_micros for r in rows],
            "ROI": [format_roi(r.roi) for r in rows],
            "Outcomes": [r.outcomes for r in rows],
            "Cost per outcome": pd.array([r.cost_per_outcome_micros for r in rows], dtype="Int64"),
            "Trend": [f"{_TRENDS[r.trend]} {format_usd_change(r.net_change_micros or 0) or '$0'}" if r.trend else "n/a"
                      for r in rows],
        }
    )  # fmt: skip
    money = ["AI cost", "Value", "Net", "Cost per outcome"]
    st.dataframe(_styled(frame, money, ["Net"]), hide_index=True, key="pnl_table")


def render_margins(rows: list[MarginRow]) -> None:
    frame = pd.DataFrame(
        {
            "Customer": [r.customer for r in rows],
            "Revenue": [r.revenue_micros for r in rows],
            "AI cost": [r.cost_micros for r in rows],
            "Margin": [r.margin_micros for r in rows],
            "Margin %": [format_roi(r.margin) for r in rows],
        }
    )
    st.dataframe(_styled(frame, ["Revenue", "AI cost", "Margin"], ["Margin"]), hide_index=True, key="margin_table")


def _model_label(model: tuple[str, str]) -> str:
    return f"{model[0]} · {model[1]}"


def render_whatif_sliders(baseline: Baseline) -> WhatIf:
    """The levers; every default means "as today". Models are offered biggest spend first."""
    models = [
        (u.provider, u.model) for u in sorted(baseline.usage, key=lambda u: (-u.cost_micros, u.provider, u.model))
    ]
    left, right = st.columns(2)
    multiplier = left.slider("Value per outcome (× today's value)", 0.0, 3.0, 1.0, 0.05, format="%.2f×",
                             key="whatif_value")  # fmt: skip
    growth = left.slider("Outcome volume growth", -50, 200, 0, 5, format="%d%%", key="whatif_growth",
                         help="More outcomes need proportionally more AI traffic: cost grows with value.")  # fmt: skip
    price = left.slider("Provider price change", -50, 50, 0, 5, format="%d%%", key="whatif_price")
    caching = right.slider("Prompt caching adoption", 0, 100, 0, 5, format="%d%%", key="whatif_caching",
                           help="Share of today's uncached input tokens served from the cache instead.")  # fmt: skip
    batch = right.slider("Batch API adoption", 0, 100, 0, 5, format="%d%%", key="whatif_batch",
                         help="Share of traffic sent through batch APIs at half price.")  # fmt: skip
    switch_from = switch_to = None
    share = 0
    if models:
        source, target = right.columns(2)
        switch_from = source.selectbox("Move traffic from", models, format_func=_model_label, key="whatif_from")
        switch_to = target.selectbox(
            "to", models, index=min(1, len(models) - 1), format_func=_model_label, key="whatif_to"
        )
        share = right.slider("Share of that traffic moved", 0, 100, 0, 5, format="%d%%", key="whatif_share")
    return WhatIf(
        value_multiplier=multiplier, volume_growth_pct=growth, switch_from=switch_from, switch_to=switch_to,
        switch_share_pct=share, price_change_pct=price, caching_pct=caching, batch_pct=batch,
    )  # fmt: skip


def render_whatif_result(result: WhatIfResult) -> None:
    """Today and the scenario side by side: four tiles each, the scenario's with its change against today."""
    today, scenario = result.today, result.scenario
    now, then = st.columns(2, border=True)
    now.subheader("Today", help=f"The last {today.days} days, as they happened.")
    then.subheader("With these changes")
    for column, summary, deltas in (
        (now, today, (None, None, None, None)),
        (then, scenario, (format_usd_change(result.cost_delta_micros), format_usd_change(result.value_delta_micros),
                          format_roi_change(result.roi_delta), format_days_change(result.breakeven_delta_days))),
    ):  # fmt: skip
        cost, value = column.columns(2)  # two by two: four tiles in half a page would cut the figures short
        roi, breakeven = column.columns(2)
        cost.metric("Monthly AI cost", format_usd_short(summary.cost_micros), delta=deltas[0], delta_color="inverse",
                    help=f"Exactly {format_usd(summary.cost_micros)}.")  # fmt: skip
        value.metric("Monthly value", format_usd_short(summary.value_micros), delta=deltas[1],
                     help=f"Exactly {format_usd(summary.value_micros)}.")  # fmt: skip
        roi.metric("ROI", format_roi(summary.roi), delta=deltas[2])
        breakeven.metric("Breakeven", format_days(summary.payback_days), delta=deltas[3], delta_color="inverse",
                         help="Days of value it takes to cover a month of AI cost.")  # fmt: skip
        column.caption(summary.verdict + ".")
    if result.switch_ratio is not None:
        pct = (result.switch_ratio * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
        st.caption(f"The moved traffic costs {pct}% of what it does today, at genai-prices list prices for its mix.")
    if result.unpriced:
        st.caption(f"No list prices for {', '.join(result.unpriced)}: price-based levers leave them as they are.")
    if result.cache_price_assumed:
        st.caption(f"No cache price listed for {', '.join(result.cache_price_assumed)}: assumed half the input price.")


def scenario_table(rows: list[ScenarioRow]) -> pd.DataFrame:
    """The comparison table as text, exactly as shown."""
    return pd.DataFrame(
        {
            "Scenario": [r.name for r in rows],
            "Monthly AI cost": [format_usd(r.cost_micros) for r in rows],
            "Monthly value": [format_usd(r.value_micros) for r in rows],
            "Net": [format_usd(r.net_micros) for r in rows],
            "ROI": [format_roi(r.roi) for r in rows],
            "Breakeven": [format_days(r.breakeven_days) for r in rows],
            "Net vs today": [format_usd_change(r.net_delta_micros) or "–" for r in rows],
            "ROI vs today": [format_roi_change(r.roi_delta) or "–" for r in rows],
        }
    )
