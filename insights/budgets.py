"""Monthly budgets against realised spend and the forecast: state, exceed dates with ranges, thresholds. Pure.

A budget is exceeded when spend goes strictly above its amount; a threshold is reached when spend is at or
above its share of the amount (exactly 75% counts for the 75% threshold). Both are exact integer maths.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd

from core.money import MICROS_PER_USD, format_usd
from insights.forecast import Forecast, MonthEndTotal, month_end_total

SCOPES = ("workspace", "department", "project", "provider", "customer")
DEFAULT_THRESHOLDS = (75, 100)
# Whole dollars read better in a sentence once the amount is this large ("$5,000", not "$5,000.00").
_WHOLE_DOLLARS_FROM_MICROS = 100 * MICROS_PER_USD

State = Literal["over", "overrun_predicted", "at_risk", "on_track"]


@dataclass(frozen=True)
class BudgetSpec:
    """A monthly spending limit on the workspace or one department, project, provider or customer."""

    id: int | None
    scope: str  # one of SCOPES
    scope_value: str  # "" for the workspace
    amount_micros: int  # per calendar month
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS  # percents of the amount

    @property
    def label(self) -> str:
        return "Whole workspace" if self.scope == "workspace" else self.scope_value


@dataclass(frozen=True)
class BudgetStatus:
    """Where a budget stands this month; exceed dates are None when already over or not expected by month end."""

    spec: BudgetSpec
    month_start: dt.date
    month_end: dt.date
    through: dt.date  # last whole day with data (the forecast's ``today``)
    realised_micros: int  # spend from month_start through ``through``
    utilisation: float  # realised / amount
    projected: MonthEndTotal  # realised + forecast to month end: median and 80%/95% ranges
    projected_utilisation: float  # projected.median / amount
    state: State
    exceeded_on: dt.date | None  # when over: the first day cumulative spend went above the amount
    exceed_date: dt.date | None  # median path: first day realised + cum_median > amount
    exceed_earliest: dt.date | None  # first day realised + cum_upper80 > amount
    exceed_latest: dt.date | None  # first day realised + cum_lower80 > amount; None = may not exceed this month
    crossed: tuple[int, ...]  # thresholds reached by realised spend
    sentence: str


@dataclass(frozen=True)
class BudgetMonth:
    """One past calendar month against today's budget amount."""

    month: dt.date  # first day
    spent_micros: int
    amount_micros: int
    utilisation: float
    over: bool


def evaluate_budget(
    spec: BudgetSpec, month_daily: pd.Series, forecast: Forecast, *, month_start: dt.date, month_end: dt.date
) -> BudgetStatus:
    """Realised spend to ``forecast.today`` plus the forecast to ``month_end`` against the budget.

    ``month_daily`` maps days (dates or Timestamps) to micros; days outside the month or after the forecast's
    ``today`` are ignored, missing days are zero. The forecast must start no later than ``month_start``.
    """
    amount = spec.amount_micros
    if amount <= 0:
        raise ValueError(f"budget {spec.label!r} has no positive amount")
    through = forecast.today
    if through < month_start - dt.timedelta(days=1):
        raise ValueError(f"the forecast starts after {through}, more than a day before the month ({month_start})")
    daily = _daily_in(month_daily, month_start, min(through, month_end))
    realised = sum(daily.values())
    projected = month_end_total(forecast, realised, month_end)

    exceeded_on = None
    if realised > amount:
        running = 0
        for day in sorted(daily):
            running += daily[day]
            if running > amount:
                exceeded_on = day
                break
        exceed_date = exceed_earliest = exceed_latest = None
    else:
        ahead = [d for d in forecast.days if d.day <= month_end]
        exceed_date = next((d.day for d in ahead if realised + d.cum_median > amount), None)
        exceed_earliest = next((d.day for d in ahead if realised + d.cum_upper80 > amount), None)
        exceed_latest = next((d.day for d in ahead if realised + d.cum_lower80 > amount), None)

    state: State
    if realised > amount:
        state = "over"
    elif projected.median > amount:
        state = "overrun_predicted"
    elif projected.upper80 > amount:
        state = "at_risk"
    else:
        state = "on_track"

    status = BudgetStatus(
        spec=spec,
        month_start=month_start,
        month_end=month_end,
        through=through,
        realised_micros=realised,
        utilisation=realised / amount,
        projected=projected,
        projected_utilisation=projected.median / amount,
        state=state,
        exceeded_on=exceeded_on,
        exceed_date=exceed_date,
        exceed_earliest=exceed_earliest,
        exceed_latest=exceed_latest,
        crossed=tuple(pct for pct in sorted(set(spec.thresholds)) if realised * 100 >= pct * amount),
        sentence="",
    )
    return _with_sentence(status)


def compute_budget_history(
    spec: BudgetSpec, monthly: Mapping[dt.date, int] | pd.Series, *, months: int = 6, before: dt.date
) -> list[BudgetMonth]:
    """The ``months`` whole calendar months before the month containing ``before``, oldest first."""
    spent: dict[dt.date, int] = {}
    for key, micros in monthly.items():
        first = _as_date(key).replace(day=1)
        spent[first] = spent.get(first, 0) + int(micros)
    history = []
    month = before.replace(day=1)
    for _ in range(max(months, 0)):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        total = spent.get(month, 0)
        history.append(
            BudgetMonth(month, total, spec.amount_micros, total / spec.amount_micros, total > spec.amount_micros)
        )
    return history[::-1]


def usd(micros: int) -> str:
    """Money as a sentence shows it: whole dollars from $100 ("$5,000"), cents below ("$12.50")."""
    return format_usd(micros, cents=abs(micros) < _WHOLE_DOLLARS_FROM_MICROS)


def day_label(day: dt.date) -> str:
    """'Nov 23'."""
    return f"{day:%b} {day.day}"


def percent(part: int, whole: int) -> int:
    """``part`` as a whole percent of ``whole``, rounded half up, in exact integer maths."""
    return (200 * part + whole) // (2 * whole)


def exceed_range(status: BudgetStatus) -> str:
    """The 80% range of the exceed date: 'Nov 19–27', 'Nov 19 – not this month', '' when it is one day."""
    early, late = status.exceed_earliest, status.exceed_latest
    if early is None:
        return ""
    if late is None:
        return f"{day_label(early)} – not this month"
    if early == late:
        return ""
    return f"{day_label(early)}–{late.day}" if early.month == late.month else f"{day_label(early)}–{day_label(late)}"


def _with_sentence(status: BudgetStatus) -> BudgetStatus:
    return replace(status, sentence=_sentence(status))


def _sentence(status: BudgetStatus) -> str:
    spec, amount, realised = status.spec, status.spec.amount_micros, status.realised_micros
    limit, spent = usd(amount), usd(realised)
    if status.state == "over" and spent == limit:  # rounding to whole dollars would hide the overspend
        limit, spent = format_usd(amount), format_usd(realised)
    budget = f"the {limit} {'workspace' if spec.scope == 'workspace' else spec.scope_value} budget"
    if status.state == "over":
        since = f" since {day_label(status.exceeded_on)}" if status.exceeded_on else ""
        return f"Over {budget}{since}: {spent} spent, {percent(realised, amount)}%."
    if status.state == "overrun_predicted":
        on = f" on {day_label(status.exceed_date)}" if status.exceed_date else ""
        spread = exceed_range(status)
        return f"On track to exceed {budget}{on}{f' (range {spread})' if spread else ''}."
    median = status.projected.median
    if status.state == "at_risk":
        could = f" from {day_label(status.exceed_earliest)}" if status.exceed_earliest else " by month end"
        return f"Likely to stay within {budget} ({usd(median)} projected), but it could exceed it{could}."
    if status.through >= status.month_end:
        return f"Within budget: {usd(realised)} spent of {budget} ({percent(realised, amount)}%)."
    return f"On track: {usd(median)} projected of {budget} ({percent(median, amount)}%)."


def _daily_in(series: pd.Series, start: dt.date, end: dt.date) -> dict[dt.date, int]:
    """Micros per day for days in [start, end] (several rows for one day are summed)."""
    days: dict[dt.date, int] = {}
    for key, micros in series.items():
        day = _as_date(key)
        if start <= day <= end and not pd.isna(micros):
            days[day] = days.get(day, 0) + int(micros)
    return days


def _as_date(value: object) -> dt.date:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(str(value)).date()
