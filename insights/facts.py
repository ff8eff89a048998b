"""The computed facts of one reporting period: what the executive summary, the PDF, the insights feed, the
weekly email and the API's summary all say, so they can never disagree. Pure: frames and results in, facts out.

A period is a calendar month. The month in progress runs to the last whole day (today's spend is still
arriving) and is compared with the same days of the month before; a finished month with the whole month before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd

from core.money import decimal_string, format_usd
from insights.advice import Advice
from insights.anomalies import Anomaly
from insights.budgets import BudgetMonth, BudgetStatus
from insights.outlook import Outlook
from insights.roi import EfficiencyInsight, PnlRow, compute_department_pnl, compute_efficiency_insights

TREND_DAYS = 90  # the spend-trend chart's history
DRIVER_DIMENSIONS = ("department", "project", "model", "provider")
TOP_DRIVERS = 5
TOP_SAVINGS = 5
UNALLOCATED = "Unallocated"


class PeriodError(ValueError):
    """A period that is not a month with data to report on; the message says what to give instead."""


@dataclass(frozen=True)
class Period:
    """The month reported on, the days of it covered, and the days it is compared with."""

    month: dt.date  # first day of the month
    start: dt.date
    end: dt.date  # the last day covered: the month's last day, or the last whole day of a month in progress
    previous_start: dt.date
    previous_end: dt.date
    partial: bool  # the month is still in progress

    @property
    def key(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def month_end(self) -> dt.date:
        return _month_end(self.month)

    @property
    def comparison_label(self) -> str:
        """ "the same 20 days of October" or "October 2026"."""
        if self.partial:
            days = "day" if self.days == 1 else f"{self.days} days"
            return f"the same {days} of {self.previous_start:%B}"
        return f"{self.previous_start:%B %Y}"


def _month_end(first: dt.date) -> dt.date:
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def parse_period(text: str | None, *, today: dt.date) -> Period:
    """'2026-10' → that month; None → the month holding the last whole day. A future month is refused."""
    last_whole_day = today - dt.timedelta(days=1)
    if text is None or not text.strip():
        month = last_whole_day.replace(day=1)
    else:
        try:
            month = dt.datetime.strptime(text.strip(), "%Y-%m").date()
        except ValueError:
            raise PeriodError(
                f"'{text.strip()[:20]}' is not a month; give it as YYYY-MM, for example 2026-10."
            ) from None
    if month > last_whole_day.replace(day=1):
        raise PeriodError(
            f"{month:%B %Y} has no whole day of spend yet; choose {last_whole_day:%B %Y} or an earlier month."
        )
    end = min(_month_end(month), last_whole_day)
    previous_start = (month - dt.timedelta(days=1)).replace(day=1)
    days = (end - month).days
    previous_end = min(previous_start + dt.timedelta(days=days), month - dt.timedelta(days=1))
    return Period(month, month, end, previous_start, previous_end, partial=end < _month_end(month))


@dataclass(frozen=True)
class Share:
    name: str
    micros: int
    share: Decimal  # of the period's total, 0–1


@dataclass(frozen=True)
class Driver:
    """One department, project, model or provider whose spend moved between the two periods."""

    dimension: str
    name: str
    current_micros: int
    previous_micros: int

    @property
    def change_micros(self) -> int:
        return self.current_micros - self.previous_micros

    @property
    def change(self) -> Decimal | None:
        return _ratio(self.change_micros, self.previous_micros)


@dataclass(frozen=True)
class Range:
    """A forecast total with its 80% range."""

    median: int
    lower80: int
    upper80: int


@dataclass(frozen=True)
class BudgetFact:
    label: str  # "Whole workspace", or the department/project/provider/customer
    scope: str
    amount_micros: int
    spent_micros: int
    projected: Range | None  # month end, for the month in progress
    state: str  # over | overrun_predicted | at_risk | on_track (in progress); over | within (a finished month)
    exceed_date: dt.date | None
    sentence: str

    @property
    def at_risk(self) -> bool:
        return self.state in ("over", "overrun_predicted", "at_risk")


@dataclass(frozen=True)
class SpikeFact:
    day: dt.date
    subject: str  # "Project code-assistant"
    actual_micros: int
    expected_micros: int
    impact_micros: int
    driver: str  # "model claude-opus-4-1", or ""
    sentence: str


@dataclass(frozen=True)
class RoiFact:
    cost_micros: int
    value_micros: int
    net_micros: int
    roi: Decimal | None  # (value − cost) / cost
    outcomes: int
    pnl: tuple[PnlRow, ...]  # departments, best net first, then the total row


@dataclass(frozen=True)
class SavingFact:
    title: str
    kind: str
    monthly_saving_micros: int
    confidence: str


@dataclass(frozen=True)
class ReportFacts:
    """Every number the report may state; money in integer micro-USD."""

    workspace_name: str
    period: Period
    generated_on: dt.date
    total_micros: int
    previous_total_micros: int
    drivers: tuple[Driver, ...]  # biggest moves first
    departments: tuple[Share, ...]  # biggest first
    providers: tuple[Share, ...]
    models: tuple[Share, ...]
    trend: tuple[tuple[dt.date, int], ...]  # spend per day over the TREND_DAYS to the period's end, zeros kept
    forecast: tuple[tuple[dt.date, int, int, int], ...]  # day, median, lower80, upper80: to month end, in progress
    month_end: Range | None  # realised + forecast, for a month in progress
    next_month: Range | None
    budgets: tuple[BudgetFact, ...]
    spikes: tuple[SpikeFact, ...]
    roi: RoiFact | None  # when outcomes are defined
    efficiency: tuple[EfficiencyInsight, ...]
    savings: tuple[SavingFact, ...]  # open recommendations, biggest first
    savings_total_micros: int  # all open recommendations a month
    realised_savings_micros: int  # adopted recommendations, measured, a month
    notes: tuple[str, ...] = field(default=())  # sections left out and why, for the reader

    @property
    def change_micros(self) -> int:
        return self.total_micros - self.previous_total_micros

    @property
    def change(self) -> Decimal | None:
        return _ratio(self.change_micros, self.previous_total_micros)

    @property
    def budgets_at_risk(self) -> tuple[BudgetFact, ...]:
        return tuple(b for b in self.budgets if b.at_risk)

    @property
    def has_spend(self) -> bool:
        return self.total_micros != 0 or self.previous_total_micros != 0


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator <= 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _display(name: object) -> str:
    text = str(name)
    return text if text else UNALLOCATED


def _sums(frame: pd.DataFrame, dimension: str) -> dict[str, int]:
    if frame.empty:
        return {}
    return {str(k): int(v) for k, v in frame.groupby(dimension, sort=True)["amount_micros"].sum().items()}


def compute_shares(frame: pd.DataFrame, dimension: str, *, top: int | None = None) -> tuple[Share, ...]:
    """Spend by one dimension, biggest first (ties by name); with ``top``, the rest summed into "Other"."""
    sums = _sums(frame, dimension)
    total = sum(sums.values())
    ranked = sorted(sums.items(), key=lambda item: (-item[1], item[0]))
    if top is not None and len(ranked) > top:
        rest = sum(v for _, v in ranked[top - 1 :])
        ranked = [*ranked[: top - 1], ("Other", rest)]
        return tuple(
            Share(name if name == "Other" else _display(name), v, _ratio(v, total) or Decimal(0)) for name, v in ranked
        )
    return tuple(Share(_display(name), v, _ratio(v, total) or Decimal(0)) for name, v in ranked)


def compute_drivers(current: pd.DataFrame, previous: pd.DataFrame, *, top: int = TOP_DRIVERS) -> tuple[Driver, ...]:
    """The biggest moves in spend by department, project, model and provider, largest absolute change first.

    A move that repeats a bigger one through another dimension (the department whose one project grew) is
    kept once, so the list names different things.
    """
    found: list[Driver] = []
    for dimension in DRIVER_DIMENSIONS:
        now, before = _sums(current, dimension), _sums(previous, dimension)
        for name in now.keys() | before.keys():
            if not name and dimension in ("department", "project"):
                continue  # "unallocated grew" is not a driver anyone can act on
            moved = Driver(dimension, name, now.get(name, 0), before.get(name, 0))
            if moved.change_micros != 0:
                found.append(moved)
    found.sort(key=lambda d: (-abs(d.change_micros), DRIVER_DIMENSIONS.index(d.dimension), d.name))
    chosen: list[Driver] = []
    for driver in found:
        if any(_same_move(driver, kept, current, previous) for kept in chosen):
            continue
        chosen.append(driver)
        if len(chosen) == top:
            break
    return tuple(chosen)


def _same_move(a: Driver, b: Driver, current: pd.DataFrame, previous: pd.DataFrame) -> bool:
    """Whether two drivers are one move seen through two dimensions: the spend they share moved by at least 90%
    of each one's own change (the one model of the project that grew)."""
    if a.dimension == b.dimension:
        return False

    def shared(frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        both = (frame[a.dimension].astype(str) == a.name) & (frame[b.dimension].astype(str) == b.name)
        return int(frame.loc[both, "amount_micros"].sum())

    overlap = shared(current) - shared(previous)
    return all(
        overlap * moved.change_micros > 0 and abs(overlap) * 10 >= abs(moved.change_micros) * 9 for moved in (a, b)
    )


def _trend(daily: pd.DataFrame, end: dt.date) -> tuple[tuple[dt.date, int], ...]:
    start = end - dt.timedelta(days=TREND_DAYS - 1)
    amounts = {}
    if not daily.empty:
        amounts = {pd.Timestamp(d).date(): int(v) for d, v in zip(daily["day"], daily["amount_micros"], strict=True)}
    days = (start + dt.timedelta(days=i) for i in range(TREND_DAYS))
    return tuple((day, amounts.get(day, 0)) for day in days)


def _budget_in_progress(status: BudgetStatus) -> BudgetFact:
    projected = status.projected
    return BudgetFact(
        label=status.spec.label,
        scope=status.spec.scope,
        amount_micros=status.spec.amount_micros,
        spent_micros=status.realised_micros,
        projected=Range(projected.median, projected.lower80, projected.upper80),
        state=status.state,
        exceed_date=status.exceeded_on or status.exceed_date,
        sentence=status.sentence,
    )


def _budget_finished(status: BudgetStatus, month: BudgetMonth) -> BudgetFact:
    over = month.spent_micros > month.amount_micros
    label = status.spec.label
    verb = "went over" if over else "stayed within"
    return BudgetFact(
        label=label,
        scope=status.spec.scope,
        amount_micros=month.amount_micros,
        spent_micros=month.spent_micros,
        projected=None,
        state="over" if over else "within",
        exceed_date=None,
        sentence=f"{label} {verb} its {_usd(month.amount_micros)} budget in {month.month:%B %Y}.",
    )


def _usd(micros: int) -> str:
    return format_usd(micros, cents=False)


def _spike(anomaly: Anomaly) -> SpikeFact:
    subject = {"model": "Model", "project": "Project"}.get(anomaly.dimension, "")
    driver_label = {"model": "model", "project": "project", "api_key": "API key"}.get(anomaly.driver_dimension, "")
    return SpikeFact(
        day=anomaly.day,
        subject=f"{subject} {anomaly.value}".strip(),
        actual_micros=anomaly.actual_micros,
        expected_micros=anomaly.expected_micros,
        impact_micros=anomaly.impact_micros,
        driver=f"{driver_label} {anomaly.driver_value}".strip() if anomaly.driver_value else "",
        sentence=anomaly.sentence,
    )


@dataclass(frozen=True)
class RoiInputs:
    """The Profitability page's period figures, for the current and the previous period."""

    cost_by_department: Mapping[str, int]
    value_by_department: Mapping[str, int]
    outcomes_by_department: Mapping[str, int]
    efficiency: pd.DataFrame  # department, outcome, cost_micros, outcomes
    previous_cost_by_department: Mapping[str, int]
    previous_value_by_department: Mapping[str, int]
    previous_efficiency: pd.DataFrame
    has_outcomes: bool


def _roi(inputs: RoiInputs | None, period: Period) -> tuple[RoiFact | None, tuple[EfficiencyInsight, ...]]:
    if inputs is None or not inputs.has_outcomes:
        return None, ()
    pnl = compute_department_pnl(
        inputs.cost_by_department,
        inputs.value_by_department,
        inputs.outcomes_by_department,
        inputs.previous_cost_by_department,
        inputs.previous_value_by_department,
    )
    total = pnl[-1]
    label = "so far this month" if period.partial else f"in {period.month:%B}"
    efficiency = compute_efficiency_insights(inputs.efficiency, inputs.previous_efficiency, period_label=label)
    fact = RoiFact(total.cost_micros, total.value_micros, total.net_micros, total.roi, total.outcomes, tuple(pnl))
    return fact, tuple(efficiency)


def compute_facts(
    *,
    workspace_name: str,
    period: Period,
    generated_on: dt.date,
    current: pd.DataFrame,
    previous: pd.DataFrame,
    daily: pd.DataFrame,
    outlook: Outlook | None = None,
    anomalies: Sequence[Anomaly] = (),
    roi: RoiInputs | None = None,
    advice: Advice | None = None,
) -> ReportFacts:
    """The facts of ``period``.

    ``current`` and ``previous`` are core.queries.load_spend_breakdown frames of the period and the one it is
    compared with; ``daily`` the spend per day over the trend window; ``outlook`` the forecasts and budgets of
    the month holding ``generated_on`` (with history, for a finished month's budgets); ``advice`` the open
    recommendations and adopted ones.
    """
    total = int(current["amount_micros"].sum()) if not current.empty else 0
    previous_total = int(previous["amount_micros"].sum()) if not previous.empty else 0
    notes: list[str] = []

    month_end = next_month = None
    forecast_days: tuple[tuple[dt.date, int, int, int], ...] = ()
    budgets: list[BudgetFact] = []
    if outlook is not None:
        workspace = outlook.workspace
        if period.partial and outlook.month_start == period.month:
            total_end = workspace.month_end
            month_end = Range(total_end.median, total_end.lower80, total_end.upper80)
            forecast_days = tuple(
                (d.day, d.median, d.lower80, d.upper80) for d in workspace.forecast.days if d.day <= period.month_end
            )
            following = [m for m in workspace.forecast.months if m.month > period.month]
            if following:
                next_month = Range(following[0].median, following[0].lower80, following[0].upper80)
            budgets = [_budget_in_progress(status) for status in outlook.budgets]
        else:
            for status in outlook.budgets:
                month = next(
                    (m for m in outlook.history.get(status.spec.id or -1, []) if m.month == period.month), None
                )
                if month is not None:
                    budgets.append(_budget_finished(status, month))
    if not budgets:
        notes.append("No budgets are set, so there is no budget section.")

    state_rank = {"over": 0, "overrun_predicted": 1, "at_risk": 2, "on_track": 3, "within": 3}
    budgets.sort(key=lambda b: (state_rank.get(b.state, 4), -b.spent_micros, b.label))
    roi_fact, efficiency = _roi(roi, period)
    if roi_fact is None:
        notes.append("No business outcomes are defined, so there is no return-on-investment section.")

    savings: tuple[SavingFact, ...] = ()
    savings_total = realised = 0
    if advice is not None:
        savings = tuple(
            SavingFact(r.title, r.kind, r.monthly_saving_micros, r.confidence) for r in advice.open[:TOP_SAVINGS]
        )
        savings_total = sum(r.monthly_saving_micros for r in advice.open)
        realised = sum(a.savings.realised_monthly_micros for a in advice.adopted if a.savings.enough_data)

    return ReportFacts(
        workspace_name=workspace_name,
        period=period,
        generated_on=generated_on,
        total_micros=total,
        previous_total_micros=previous_total,
        drivers=compute_drivers(current, previous),
        departments=compute_shares(current, "department", top=8),
        providers=compute_shares(current, "provider", top=6),
        models=compute_shares(current, "model", top=6),
        trend=_trend(daily, period.end),
        forecast=forecast_days,
        month_end=month_end,
        next_month=next_month,
        budgets=tuple(budgets),
        spikes=tuple(_spike(a) for a in anomalies),
        roi=roi_fact,
        efficiency=efficiency,
        savings=savings,
        savings_total_micros=savings_total,
        realised_savings_micros=realised,
        notes=tuple(notes),
    )


def _money(micros: int) -> dict[str, Any]:
    return {"usd": decimal_string(micros), "micros": micros}


def _ratio_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def facts_to_dict(facts: ReportFacts) -> dict[str, Any]:
    """The facts as JSON-ready data (money as exact decimal strings and integer micro-USD), for the API."""
    period = facts.period

    def rng(value: Range | None) -> dict[str, Any] | None:
        if value is None:
            return None
        return {"median": _money(value.median), "lower80": _money(value.lower80), "upper80": _money(value.upper80)}

    def shares(items: tuple[Share, ...]) -> list[dict[str, Any]]:
        return [{"name": s.name, "spend": _money(s.micros), "share": str(s.share)} for s in items]

    return {
        "workspace": facts.workspace_name,
        "period": {
            "month": period.key,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "in_progress": period.partial,
            "compared_with": {"start": period.previous_start.isoformat(), "end": period.previous_end.isoformat()},
        },
        "generated_on": facts.generated_on.isoformat(),
        "total": _money(facts.total_micros),
        "previous_total": _money(facts.previous_total_micros),
        "change": _money(facts.change_micros),
        "change_ratio": _ratio_text(facts.change),
        "month_end_forecast": rng(facts.month_end),
        "next_month_forecast": rng(facts.next_month),
        "drivers": [
            {
                "dimension": d.dimension,
                "name": _display(d.name),
                "current": _money(d.current_micros),
                "previous": _money(d.previous_micros),
                "change": _money(d.change_micros),
            }
            for d in facts.drivers
        ],
        "departments": shares(facts.departments),
        "providers": shares(facts.providers),
        "budgets": [
            {
                "label": b.label,
                "scope": b.scope,
                "amount": _money(b.amount_micros),
                "spent": _money(b.spent_micros),
                "projected": rng(b.projected),
                "state": b.state,
                "exceed_date": b.exceed_date.isoformat() if b.exceed_date else None,
                "sentence": b.sentence,
            }
            for b in facts.budgets
        ],
        "spikes": [
            {
                "day": s.day.isoformat(),
                "subject": s.subject,
                "actual": _money(s.actual_micros),
                "expected": _money(s.expected_micros),
                "impact": _money(s.impact_micros),
                "driver": s.driver,
                "sentence": s.sentence,
            }
            for s in facts.spikes
        ],
        "roi": None
        if facts.roi is None
        else {
            "cost": _money(facts.roi.cost_micros),
            "value": _money(facts.roi.value_micros),
            "net": _money(facts.roi.net_micros),
            "roi": _ratio_text(facts.roi.roi),
            "outcomes": facts.roi.outcomes,
        },
        "savings": [
            {"title": s.title, "kind": s.kind, "monthly": _money(s.monthly_saving_micros), "confidence": s.confidence}
            for s in facts.savings
        ],
        "savings_total_monthly": _money(facts.savings_total_micros),
        "realised_savings_monthly": _money(facts.realised_savings_micros),
    }
