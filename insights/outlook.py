"""The month's outlook in one pure call: forecasts for every scope, and each budget's status and history.

Pages, the CLI, the alert scheduler, the JSON API and the benchmark all start from the same two reads
(core.queries.load_scope_daily and load_scope_monthly) and the budgets, and get the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from insights import budgets as budget_rules
from insights import forecast
from insights.budgets import BudgetMonth, BudgetSpec, BudgetStatus
from insights.forecast import Forecast, MonthEndTotal, Scope

HISTORY_DAYS = 180  # what the forecasts learn from: two seasons of weekly pattern and the recent trend
MONTHS_AHEAD = 6


@dataclass(frozen=True)
class ScopeOutlook:
    """One scope's forecast, month-to-date spend and month-end total with its ranges."""

    scope: Scope
    forecast: Forecast
    realised_micros: int
    month_end: MonthEndTotal


@dataclass(frozen=True)
class Outlook:
    through: dt.date  # the last whole day of data; forecasts start the day after
    month_start: dt.date
    month_end: dt.date
    scopes: dict[Scope, ScopeOutlook]
    budgets: tuple[BudgetStatus, ...]
    history: dict[int, list[BudgetMonth]]  # budget id → past months
    month_daily: dict[Scope, pd.Series]  # each scope's spend per day so far this month
    daily: dict[Scope, pd.Series]  # each scope's spend per day over the whole history read

    @property
    def workspace(self) -> ScopeOutlook:
        return self.scopes[forecast.WORKSPACE]


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    start = day.replace(day=1)
    return start, (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def history_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The days to read for an outlook seen on ``today``: HISTORY_DAYS up to yesterday."""
    through = today - dt.timedelta(days=1)
    return through - dt.timedelta(days=HISTORY_DAYS - 1), through


def horizon_days(through: dt.date, months_ahead: int = MONTHS_AHEAD) -> int:
    """Days from the day after ``through`` to the end of the month ``months_ahead`` after today's."""
    month_start, _ = month_bounds(through + dt.timedelta(days=1))
    last = month_start
    for _ in range(months_ahead + 1):
        last = (last + dt.timedelta(days=32)).replace(day=1)
    return (last - dt.timedelta(days=1) - through).days


def scope_of(spec: BudgetSpec) -> Scope:
    return forecast.WORKSPACE if spec.scope == "workspace" else Scope(spec.scope, spec.scope_value)


def compute_outlook(
    scope_daily: pd.DataFrame,
    specs: Sequence[BudgetSpec],
    *,
    today: dt.date,
    scope_monthly: pd.DataFrame | None = None,
    months_ahead: int = MONTHS_AHEAD,
    history_months: int = 6,
) -> Outlook:
    """Forecast every scope (the workspace, the biggest departments, projects, providers and customers, and
    anything with a budget) from ``scope_daily`` and evaluate each budget for the month containing ``today``.

    ``scope_daily`` holds the days of history_window(today); ``scope_monthly`` (optional) the whole months
    before, for each budget's history.
    """
    through = today - dt.timedelta(days=1)  # today's spend is still arriving
    month_start, month_end = month_bounds(today)
    wanted = [scope_of(spec) for spec in specs]
    histories = forecast.compute_scope_histories(scope_daily, include=wanted)
    forecasts = forecast.compute_scope_forecasts(
        histories, today=through, horizon_days=horizon_days(through, months_ahead)
    )
    scopes: dict[Scope, ScopeOutlook] = {}
    month_daily: dict[Scope, pd.Series] = {}
    for scope, series in histories.items():
        index = pd.to_datetime(pd.Index(series.index)) if len(series) else pd.DatetimeIndex([])
        in_month = series[(index >= pd.Timestamp(month_start)) & (index <= pd.Timestamp(through))]
        month_daily[scope] = in_month
        realised = int(in_month.sum())
        result = forecasts[scope]
        scopes[scope] = ScopeOutlook(scope, result, realised, forecast.month_end_total(result, realised, month_end))
    statuses = tuple(
        budget_rules.evaluate_budget(
            spec, month_daily[scope_of(spec)], forecasts[scope_of(spec)], month_start=month_start, month_end=month_end
        )
        for spec in specs
    )
    history: dict[int, list[BudgetMonth]] = {}
    if scope_monthly is not None:
        for spec in specs:
            if spec.id is None:
                continue
            rows = (
                scope_monthly
                if spec.scope == "workspace"
                else scope_monthly[scope_monthly[spec.scope] == spec.scope_value]
            )
            monthly = rows.groupby("month")["amount_micros"].sum()
            history[spec.id] = budget_rules.compute_budget_history(spec, monthly, months=history_months, before=today)
    return Outlook(through, month_start, month_end, scopes, statuses, history, month_daily, histories)
