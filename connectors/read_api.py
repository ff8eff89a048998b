"""The read-only JSON API's answers: query parameters checked, one workspace's numbers read and shaped as JSON.

Money is always a pair: `<name>_usd`, an exact decimal string with six places, and `<name>_micros`, the same
amount as an integer of micro-dollars. Dates are UTC days (`YYYY-MM-DD`), months `YYYY-MM`. The workspace is
always the caller's (the token's), passed in explicitly; server.py authenticates and runs these off the loop.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlmodel import Session

from connectors import alerting
from core import queries
from core.money import decimal_string
from core.queries import DIMENSIONS, GRANULARITIES
from insights import facts, metrics
from insights.budgets import BudgetStatus, percent
from insights.forecast import SCOPE_KINDS, WORKSPACE, MonthTotal, Scope
from insights.outlook import HISTORY_DAYS, ScopeOutlook

Params = Sequence[tuple[str, str]]  # the query string's (name, value) pairs, repeats included

GROUP_BY = DIMENSIONS  # provider, model, department, project, customer
DEFAULT_DAYS = 30  # `from` defaults to this many days before `to`
MAX_DAYS = 400  # per request at day granularity: a year and a bit
MAX_MONTHS = 120  # per request at month granularity: ten years
# Spend is answered for days in these years only: nothing is older, and date arithmetic stays far from its limits.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2999, 12, 31)
SPEND_PARAMS = ("from", "to", "group_by", "granularity")
FORECAST_PARAMS = ("scope",)
SUMMARY_PARAMS = ("period",)
CURRENCY = "USD"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_SHOWN = 40  # characters of a refused value repeated back in a message


class ApiRefused(Exception):
    """A request the API answers with an error: `status` is the HTTP status, `message` says what to change."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _usd(name: str, micros: int) -> dict[str, Any]:
    return {f"{name}_usd": decimal_string(micros), f"{name}_micros": int(micros)}


def _usd_range(name: str, low: int, high: int) -> dict[str, Any]:
    return {f"{name}_usd": [decimal_string(low), decimal_string(high)], f"{name}_micros": [int(low), int(high)]}


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _shown(value: str) -> str:
    return repr(value[:_SHOWN])


# Query parameters ---------------------------------------------------------------------------------------


def _single_values(params: Params, *, path: str, known: Sequence[str]) -> dict[str, str]:
    """The parameters as a dict, refusing names the endpoint does not take and names given twice."""
    values: dict[str, str] = {}
    for name, value in params:
        if name not in known:
            takes = f"known: {', '.join(known)}" if known else "it takes none"
            raise ApiRefused(422, f"{_shown(name)} is not a parameter of {path} ({takes}).")
        if name in values:
            raise ApiRefused(422, f"{name}: given more than once; give it once.")
        values[name] = value
    return values


def _day(name: str, text: str) -> dt.date:
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ApiRefused(422, f"{name}: {_shown(text)} is not a date (use YYYY-MM-DD).") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ApiRefused(422, f"{name}: {day} is outside the days meterr answers for ({FIRST_DAY} to {LAST_DAY}).")
    return day


def _choice(name: str, text: str, allowed: Sequence[str]) -> str:
    if text not in allowed:
        raise ApiRefused(422, f"{name}: {_shown(text)} is not allowed; choose one of {', '.join(allowed)}.")
    return text


def _months_spanned(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


@dataclass(frozen=True)
class SpendQuery:
    """What GET /api/v1/spend was asked for, checked."""

    start: dt.date
    end: dt.date
    granularity: str
    group_by: str | None


def parse_spend_query(params: Params, *, today: dt.date) -> SpendQuery:
    """from (default 30 days before to), to (today), granularity (day) and group_by (none), checked."""
    values = _single_values(params, path="/api/v1/spend", known=SPEND_PARAMS)
    end = _day("to", values["to"]) if "to" in values else today
    start = _day("from", values["from"]) if "from" in values else max(end - dt.timedelta(days=DEFAULT_DAYS), FIRST_DAY)
    granularity = _choice("granularity", values.get("granularity", "day"), GRANULARITIES)
    group_by = _choice("group_by", values["group_by"], GROUP_BY) if "group_by" in values else None
    if start > end:
        raise ApiRefused(422, f"from ({start}) is after to ({end}); give a from on or before to.")
    days = (end - start).days + 1
    if granularity == "day" and days > MAX_DAYS:
        raise ApiRefused(
            422,
            f"from {start} to {end} is {days} days; granularity=day answers at most {MAX_DAYS} days at once "
            "(ask for granularity=month, or split the range).",
        )
    months = _months_spanned(start, end)
    if granularity == "month" and months > MAX_MONTHS:
        raise ApiRefused(
            422, f"from {start} to {end} spans {months} months; granularity=month answers at most {MAX_MONTHS}."
        )
    return SpendQuery(start, end, granularity, group_by)


def parse_no_params(params: Params, *, path: str) -> None:
    """Refuse any query parameter: the endpoint takes none, and a typo should not pass silently."""
    _single_values(params, path=path, known=())


def parse_forecast_scope(params: Params) -> Scope:
    """`scope=workspace` (the default) or `scope=department:Marketing` (or project:, provider:, customer:)."""
    values = _single_values(params, path="/api/v1/forecast", known=FORECAST_PARAMS)
    text = values.get("scope", "workspace")
    if text == "workspace":
        return WORKSPACE
    kind, colon, value = text.partition(":")
    if not colon or kind not in SCOPE_KINDS or not value.strip():
        kinds = ", ".join(f"{k}:NAME" for k in SCOPE_KINDS)
        raise ApiRefused(422, f"scope: {_shown(text)} is not a scope; use workspace or one of {kinds}.")
    return Scope(kind, value.strip())


def parse_period(params: Params, *, today: dt.date) -> str | None:
    """`period=YYYY-MM`, a month with at least one whole day behind it; None for the month holding yesterday."""
    values = _single_values(params, path="/api/v1/summary", known=SUMMARY_PARAMS)
    if "period" not in values:
        return None
    text = values["period"]
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ApiRefused(422, f"period: {_shown(text)} is not a month (use YYYY-MM, e.g. {today:%Y-%m}).")
    first = dt.date(int(match[1]), int(match[2]), 1)
    if first < FIRST_DAY:
        raise ApiRefused(422, f"period: {text} is before {FIRST_DAY:%Y-%m}, the first month meterr answers for.")
    latest = (today - dt.timedelta(days=1)).replace(day=1)
    if first > latest:
        raise ApiRefused(
            422,
            f"period: {text} has no whole day of spend yet (today is {today} UTC); choose {latest:%Y-%m} or earlier.",
        )
    return text


# Answers --------------------------------------------------------------------------------------------------


def load_spend_json(session: Session, *, workspace_id: int, query: SpendQuery) -> dict[str, Any]:
    """Spend per day or month in the range, optionally per one dimension, and the range's total."""
    frame = queries.load_spend_series(
        session, workspace_id=workspace_id, start=query.start, end=query.end, granularity=query.granularity,
        group_by=query.group_by,
    )  # fmt: skip
    shape = "%Y-%m-%d" if query.granularity == "day" else "%Y-%m"
    groups = frame[query.group_by].tolist() if query.group_by else [None] * len(frame)
    rows = []
    for period, group, micros in zip(frame["period"], groups, frame["amount_micros"].tolist(), strict=True):
        row: dict[str, Any] = {"period": period.strftime(shape)}
        if query.group_by:
            row[query.group_by] = group
        rows.append(row | _usd("amount", micros))
    return {
        "from": query.start.isoformat(), "to": query.end.isoformat(), "granularity": query.granularity,
        "group_by": query.group_by, "currency": CURRENCY,
        **_usd("total", sum(int(m) for m in frame["amount_micros"].tolist())), "rows": rows,
    }  # fmt: skip


def _budget_json(status: BudgetStatus) -> dict[str, Any]:
    spec, projected = status.spec, status.projected
    return {
        "id": spec.id, "scope": spec.scope, "scope_value": spec.scope_value, "label": spec.label,
        **_usd("amount", spec.amount_micros), **_usd("month_to_date", status.realised_micros),
        "utilisation_percent": percent(status.realised_micros, spec.amount_micros),
        **_usd("projected", projected.median), **_usd_range("projected_range80", projected.lower80, projected.upper80),
        "projected_utilisation_percent": percent(projected.median, spec.amount_micros),
        "state": status.state, "exceeded_on": _iso(status.exceeded_on), "exceed_date": _iso(status.exceed_date),
        "exceed_range80": [_iso(status.exceed_earliest), _iso(status.exceed_latest)],
        "thresholds": list(spec.thresholds), "crossed": list(status.crossed), "sentence": status.sentence,
    }  # fmt: skip


def load_budgets_json(session: Session, *, workspace_id: int, today: dt.date) -> dict[str, Any]:
    """Every budget this month: spend so far, the projected month end and its range, the state and sentence."""
    view = alerting.load_outlook(session, workspace_id=workspace_id, today=today)
    return {
        "month_start": view.month_start.isoformat(), "month_end": view.month_end.isoformat(),
        "through": view.through.isoformat(), "currency": CURRENCY,
        "budgets": [_budget_json(status) for status in view.budgets],
    }  # fmt: skip


def _month_json(month: MonthTotal) -> dict[str, Any]:
    return {
        "month": f"{month.month:%Y-%m}", "days": month.days, **_usd("median", month.median),
        **_usd_range("range80", month.lower80, month.upper80), **_usd_range("range95", month.lower95, month.upper95),
    }  # fmt: skip


def _find_scope(scopes: Iterable[Scope], wanted: Scope) -> Scope | None:
    """The scope asked for, matching its name in any case when there is no exact match."""
    scopes = list(scopes)
    if wanted in scopes:
        return wanted
    folded = wanted.value.casefold()
    return next((s for s in scopes if s.kind == wanted.kind and s.value.casefold() == folded), None)


def _scope_json(item: ScopeOutlook) -> dict[str, Any]:
    total = item.month_end
    return {
        "scope": item.scope.kind, "scope_value": item.scope.value, "method": item.forecast.method,
        "history_days": item.forecast.history_days, **_usd("month_to_date", item.realised_micros),
        **_usd("month_end", total.median), **_usd_range("month_end_range80", total.lower80, total.upper80),
        **_usd_range("month_end_range95", total.lower95, total.upper95),
    }  # fmt: skip


def load_forecast_json(session: Session, *, workspace_id: int, today: dt.date, scope: Scope) -> dict[str, Any]:
    """One scope's month to date, month-end total with 80%/95% ranges, and the following months' totals."""
    view = alerting.load_outlook(session, workspace_id=workspace_id, today=today)
    found = _find_scope(view.scopes, scope)
    if found is None:
        raise ApiRefused(
            404,
            f"There is no forecast for {scope.kind} {_shown(scope.value)}: meterr forecasts the workspace, the "
            f"12 largest departments, projects, providers and customers of the last {HISTORY_DAYS} days, and every "
            "budget's scope.",
        )
    item = view.scopes[found]
    return {
        "month_start": view.month_start.isoformat(), "month_end": view.month_end.isoformat(),
        "through": view.through.isoformat(), "currency": CURRENCY, **_scope_json(item),
        # The first forecast month is the rest of this one, already inside month_end: only later months here.
        "months": [_month_json(m) for m in item.forecast.months if m.month > view.month_start],
    }  # fmt: skip


def _change_percent(change: Decimal | None) -> float | None:
    return None if change is None else float((change * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def load_summary_json(session: Session, *, workspace_id: int, today: dt.date, period: str | None) -> dict[str, Any]:
    """The headline numbers of a month (default: the month holding yesterday) up to its last whole day: spend
    against the same days of the month before, the month-end forecast while the month runs, spend per provider.
    """
    chosen = facts.parse_period(period, today=today)  # the report's own rule, so the API and the summary agree
    first, end, month_end = chosen.start, chosen.end, chosen.month_end
    previous_first, previous_to = chosen.previous_start, chosen.previous_end
    daily = queries.load_daily_totals(session, workspace_id=workspace_id, start=previous_first, end=end)
    summary = metrics.compute_summary(daily, today=end)
    providers = queries.load_spend_series(
        session, workspace_id=workspace_id, start=first, end=end, granularity="month", group_by="provider"
    )
    forecast: dict[str, Any] | None = None
    if end < month_end:  # the month holding today: the outlook's month
        item = alerting.load_outlook(session, workspace_id=workspace_id, today=today).workspace
        forecast = {
            "method": item.forecast.method, **_usd("month_end", item.month_end.median),
            **_usd_range("month_end_range80", item.month_end.lower80, item.month_end.upper80),
            **_usd_range("month_end_range95", item.month_end.lower95, item.month_end.upper95),
        }  # fmt: skip
    return {
        "period": f"{first:%Y-%m}", "from": first.isoformat(), "to": end.isoformat(), "complete": end == month_end,
        "currency": CURRENCY, **_usd("spend", summary.this_month_micros),
        "previous_from": previous_first.isoformat(), "previous_to": previous_to.isoformat(),
        **_usd("previous_spend", summary.last_month_same_days_micros),
        **_usd("previous_month", summary.last_month_micros),
        "change_percent": _change_percent(summary.change), "forecast": forecast,
        "by_provider": [
            {"provider": provider, **_usd("amount", micros)}
            for provider, micros in zip(providers["provider"], providers["amount_micros"].tolist(), strict=True)
        ],
    }  # fmt: skip
