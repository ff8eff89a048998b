"""Does AI pay for itself? ROI, payback, cost per outcome, department P&L, customer margins: pure and exact.

Money is integer micro-USD in and out; ratios are Decimal; anything divided by zero is None ("n/a").
The what-if sliders live beside this in `insights/whatif.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import pandas as pd

from core.money import MICROS_PER_USD, format_usd
from insights.metrics import UNALLOCATED

TOTAL = "Total"
# Whole dollars read better in a sentence once the amount is this large ("$1,200", not "$1,200.00").
_WHOLE_DOLLARS_FROM_MICROS = 100 * MICROS_PER_USD


def div_half_even(numerator: int, denominator: int) -> int:
    """Exact integer division rounded half-even (banker's rounding), for micro-dollar results."""
    return round(Fraction(numerator, denominator))


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    return None if denominator == 0 else Decimal(numerator) / Decimal(denominator)


def _usd_in_words(micros: int) -> str:
    return format_usd(micros, cents=abs(micros) < _WHOLE_DOLLARS_FROM_MICROS)


def _display(name: str) -> str:
    return name or UNALLOCATED


@dataclass(frozen=True)
class RoiSummary:
    """Value against cost for a period; `roi` and `payback_days` are None where they cannot be computed."""

    cost_micros: int
    value_micros: int
    net_micros: int
    roi: Decimal | None  # (value − cost) / cost; None when there is no cost
    payback_days: Decimal | None  # days of value to cover the cost; 0 without cost, None without value
    days: int
    verdict: str


def _verdict(cost: int, value: int) -> str:
    if cost < 0:
        return "AI credits exceeded charges in this period"
    if cost == 0:
        return "No AI cost in this period"
    if value <= 0:
        return f"AI cost {_usd_in_words(cost)} and no outcome value was recorded"
    if value < cost:
        return f"AI cost {_usd_in_words(cost - value)} more than the value it created"
    per_dollar = (Decimal(value) / Decimal(cost)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"AI returned ${per_dollar:,} for every $1 spent"


def compute_roi(cost_micros: int, value_micros: int, *, days: int) -> RoiSummary:
    """ROI, net value and payback over a period of `days` days, with a one-line verdict in plain English.

    A net credit (negative cost) has no meaningful ROI either, so it is treated like no cost.
    """
    if days <= 0:
        raise ValueError("a period has at least one day")
    roi: Decimal | None = None
    payback: Decimal | None = Decimal(0)
    if cost_micros > 0:
        roi = _ratio(value_micros - cost_micros, cost_micros)
        # cost ÷ (value ÷ days), as one exact integer product and a single division
        payback = Decimal(cost_micros * days) / Decimal(value_micros) if value_micros > 0 else None
    return RoiSummary(
        cost_micros=cost_micros,
        value_micros=value_micros,
        net_micros=value_micros - cost_micros,
        roi=roi,
        payback_days=payback,
        days=days,
        verdict=_verdict(cost_micros, value_micros),
    )


def format_days(days: Decimal | None) -> str:
    """Payback or breakeven for display: '12.5 days', '1 day', or 'n/a' when value never covers the cost."""
    if days is None:
        return "n/a"
    rounded = days.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN).normalize()
    shown = f"{rounded:,f}"
    return f"{shown} day" if rounded == 1 else f"{shown} days"


def compute_cost_per_outcome(cost_micros: int, outcomes: int) -> int | None:
    """AI cost per outcome in micro-dollars, rounded half-even; None when nothing was achieved."""
    if outcomes <= 0:
        return None
    return div_half_even(cost_micros, outcomes)


def _change_in_cost_per_outcome(previous: tuple[int, int], current: tuple[int, int]) -> Decimal | None:
    """(c1/o1) / (c0/o0) − 1, computed as (c1·o0 − c0·o1) / (c0·o1) so nothing is rounded before the end."""
    (c0, o0), (c1, o1) = previous, current
    if o0 <= 0 or o1 <= 0 or c0 <= 0:
        return None
    return Decimal(c1 * o0 - c0 * o1) / Decimal(c0 * o1)


@dataclass(frozen=True)
class CostPerOutcomePoint:
    """One period of the cost-per-outcome line; `change` is against the group's previous period."""

    period: Any  # whatever the frame's period column holds: a date, a Timestamp or a label
    group: str  # the `by` column's value; "" when not grouped
    cost_micros: int
    outcomes: int
    cost_per_outcome_micros: int | None
    change: Decimal | None


def compute_cost_per_outcome_trend(frame: pd.DataFrame, *, by: str | None = None) -> list[CostPerOutcomePoint]:
    """Cost per outcome per period from columns period, cost_micros, outcomes (and `by`), oldest first.

    Rows sharing a period (and group) are summed. `change` compares with the previous period present in the
    frame; it is None when either period has no outcomes or the earlier one had no cost.
    """
    if frame.empty:
        return []
    keys = [by, "period"] if by else ["period"]
    grouped = frame.groupby(keys, sort=True)[["cost_micros", "outcomes"]].sum()
    points: list[CostPerOutcomePoint] = []
    previous: dict[str, tuple[int, int]] = {}
    for key, row in grouped.iterrows():
        group, period = (str(key[0]), key[1]) if by else ("", key)
        cost, outcomes = int(row["cost_micros"]), int(row["outcomes"])
        before = previous.get(group)
        points.append(
            CostPerOutcomePoint(
                period=period,
                group=group,
                cost_micros=cost,
                outcomes=outcomes,
                cost_per_outcome_micros=compute_cost_per_outcome(cost, outcomes),
                change=_change_in_cost_per_outcome(before, (cost, outcomes)) if before else None,
            )
        )
        previous[group] = (cost, outcomes)
    return points


@dataclass(frozen=True)
class PnlRow:
    """One department's AI profit and loss; the last row of a P&L is the total (`is_total`)."""

    department: str  # display name: "" becomes "Unallocated"
    cost_micros: int
    value_micros: int
    net_micros: int
    roi: Decimal | None
    outcomes: int
    cost_per_outcome_micros: int | None
    previous_net_micros: int | None  # None when no previous period was given
    net_change_micros: int | None
    roi_change: Decimal | None  # ROI now − ROI then, when both exist
    trend: str | None  # "up" | "down" | "flat" by net change; None without a previous period
    is_total: bool = False


def _pnl_row(
    name: str, cost: int, value: int, outcomes: int, previous: tuple[int, int] | None, *, is_total: bool = False
) -> PnlRow:
    roi = _ratio(value - cost, cost) if cost > 0 else None
    net = value - cost
    previous_net = net_change = roi_change = trend = None
    if previous is not None:
        previous_cost, previous_value = previous
        previous_net = previous_value - previous_cost
        net_change = net - previous_net
        previous_roi = _ratio(previous_value - previous_cost, previous_cost) if previous_cost > 0 else None
        roi_change = roi - previous_roi if roi is not None and previous_roi is not None else None
        trend = "up" if net_change > 0 else "down" if net_change < 0 else "flat"
    return PnlRow(
        department=name,
        cost_micros=cost,
        value_micros=value,
        net_micros=net,
        roi=roi,
        outcomes=outcomes,
        cost_per_outcome_micros=compute_cost_per_outcome(cost, outcomes),
        previous_net_micros=previous_net,
        net_change_micros=net_change,
        roi_change=roi_change,
        trend=trend,
        is_total=is_total,
    )


def compute_department_pnl(
    cost_by_department: Mapping[str, int],
    value_by_department: Mapping[str, int],
    outcomes_by_department: Mapping[str, int],
    previous_cost_by_department: Mapping[str, int] | None = None,
    previous_value_by_department: Mapping[str, int] | None = None,
) -> list[PnlRow]:
    """Department P&L, best net first, then a total row whose money and outcome columns are the exact sums.

    Every department named in any mapping gets a row (one that stopped using AI still shows its trend).
    The total's ROI and cost per outcome are recomputed from its sums, not added up.
    """
    has_previous = previous_cost_by_department is not None or previous_value_by_department is not None
    previous_cost = previous_cost_by_department or {}
    previous_value = previous_value_by_department or {}
    names = set(cost_by_department) | set(value_by_department) | set(outcomes_by_department)
    if has_previous:
        names |= set(previous_cost) | set(previous_value)

    def previous_of(name: str) -> tuple[int, int] | None:
        return (previous_cost.get(name, 0), previous_value.get(name, 0)) if has_previous else None

    rows = [
        _pnl_row(
            _display(name),
            cost_by_department.get(name, 0),
            value_by_department.get(name, 0),
            outcomes_by_department.get(name, 0),
            previous_of(name),
        )
        for name in names
    ]
    rows.sort(key=lambda row: (-row.net_micros, row.department))
    total = _pnl_row(
        TOTAL,
        sum(row.cost_micros for row in rows),
        sum(row.value_micros for row in rows),
        sum(row.outcomes for row in rows),
        (sum(previous_cost.values()), sum(previous_value.values())) if has_previous else None,
        is_total=True,
    )
    return [*rows, total]


@dataclass(frozen=True)
class MarginRow:
    """A customer's revenue less the AI cost allocated to them."""

    customer: str
    revenue_micros: int
    cost_micros: int
    margin_micros: int
    margin: Decimal | None  # share of revenue; None when there is no (positive) revenue


def _margin_order(row: MarginRow) -> tuple[int, Decimal, int, str]:
    # Losses with no revenue first (an infinitely bad margin), then by margin %, then break-even non-payers.
    if row.margin is None:
        rank = 0 if row.margin_micros < 0 else 2
        return rank, Decimal(0), row.margin_micros, row.customer
    return 1, row.margin, row.margin_micros, row.customer


def compute_customer_margins(
    revenue_by_customer: Mapping[str, int], cost_by_customer: Mapping[str, int]
) -> list[MarginRow]:
    """Margin per customer, worst first; customers with AI cost and no revenue come first with a loss.

    Revenue and cost with no customer ("") are left out: they belong to nobody's margin.
    """
    names = (set(revenue_by_customer) | set(cost_by_customer)) - {""}
    rows = []
    for name in names:
        revenue, cost = revenue_by_customer.get(name, 0), cost_by_customer.get(name, 0)
        margin = revenue - cost
        rows.append(
            MarginRow(
                customer=name,
                revenue_micros=revenue,
                cost_micros=cost,
                margin_micros=margin,
                margin=_ratio(margin, revenue) if revenue > 0 else None,
            )
        )
    return sorted(rows, key=_margin_order)


@dataclass(frozen=True)
class EfficiencyInsight:
    """A meaningful change in one department's cost per outcome, with the sentence that says it."""

    department: str
    outcome: str
    previous_cost_per_outcome_micros: int
    cost_per_outcome_micros: int
    change: Decimal  # ratio: -0.23 means 23% cheaper per outcome
    sentence: str


def _noun(outcome: str) -> str:
    # "Qualified lead" → "qualified lead", but "NPS survey" keeps its acronym.
    if len(outcome) > 1 and outcome[0].isupper() and not outcome[1].isupper():
        return outcome[0].lower() + outcome[1:]
    return outcome


def _sums(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    if frame.empty:
        return {}
    grouped = frame.groupby(["department", "outcome"])[["cost_micros", "outcomes"]].sum()
    return {
        (str(department), str(outcome)): (int(row["cost_micros"]), int(row["outcomes"]))
        for (department, outcome), row in grouped.iterrows()
    }


def compute_efficiency_insights(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    *,
    period_label: str = "this month",
    min_change: Decimal = Decimal("0.05"),
    limit: int = 3,
) -> list[EfficiencyInsight]:
    """Sentences about cost per outcome moving by at least `min_change`, largest move first, at most `limit`.

    Both frames have columns department, outcome, cost_micros, outcomes (the department's AI cost against
    that outcome's count); pairs missing from either period, or without outcomes, say nothing.
    """
    before, now = _sums(previous), _sums(current)
    insights = []
    for key in before.keys() & now.keys():
        change = _change_in_cost_per_outcome(before[key], now[key])
        if change is None or abs(change) < min_change:
            continue
        department, outcome = key
        old = compute_cost_per_outcome(*before[key])
        new = compute_cost_per_outcome(*now[key])
        assert old is not None and new is not None  # both periods have outcomes, or change would be None
        pct = (abs(change) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        subject = f"{department}'s cost" if department else "Unallocated cost"
        verb = "fell" if change < 0 else "rose"
        insights.append(
            EfficiencyInsight(
                department=_display(department),
                outcome=outcome,
                previous_cost_per_outcome_micros=old,
                cost_per_outcome_micros=new,
                change=change,
                sentence=(
                    f"{subject} per {_noun(outcome)} {verb} {pct}% {period_label} "
                    f"({format_usd(old)} → {format_usd(new)})"
                ),
            )
        )
    insights.sort(key=lambda item: (-abs(item.change), item.department, item.outcome))
    return insights[:limit]
