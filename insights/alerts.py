"""Alerts worth sending, from budget statuses and anomalies: pure candidates the database fires once each.

Every candidate carries a ``dedupe_key`` unique within a workspace; saving it under a unique constraint is
what makes an alert fire once whichever process or day finds it, so the keys here must never change shape.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from core.money import decimal_string
from insights.budgets import BudgetStatus, day_label, percent, usd

MAX_TITLE = 255  # the alert table's title column
MAX_KEY = 255  # the alert table's dedupe_key column
_DIMENSION_LABELS = {"api_key": "API key"}


class Anomaly(Protocol):
    """What an anomaly from insights.anomalies offers (read-only, so frozen dataclasses fit)."""

    @property
    def day(self) -> dt.date: ...
    @property
    def dimension(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def actual_micros(self) -> int: ...
    @property
    def expected_micros(self) -> int: ...
    @property
    def impact_micros(self) -> int: ...
    @property
    def driver_dimension(self) -> str: ...
    @property
    def driver_value(self) -> str: ...
    @property
    def sentence(self) -> str: ...


@dataclass(frozen=True)
class AlertCandidate:
    """An alert to save and deliver; ``detail`` holds only JSON values (str, int, float, bool, None, list, dict)."""

    kind: Literal["threshold", "overrun", "anomaly"]
    dedupe_key: str
    budget_id: int | None
    period: str  # "2026-11" for budgets, "2026-11-18" for an anomaly's day
    title: str
    body: str
    amount_micros: int  # the headline figure: spend so far, projected month end, or an anomaly's impact
    detail: dict[str, Any]


def compute_budget_alerts(statuses: Sequence[BudgetStatus]) -> list[AlertCandidate]:
    """One alert per threshold reached, and one when the forecast says the budget will run out this month."""
    alerts: list[AlertCandidate] = []
    for status in statuses:
        spec = status.spec
        if spec.id is None:  # not saved yet: nothing to attach the alert to
            continue
        period = f"{status.month_start:%Y-%m}"
        prefix = f"budget:{spec.id}:{period}"
        detail = _budget_detail(status)
        spent, limit = usd(status.realised_micros), usd(spec.amount_micros)
        used = (
            f"{_owner(status)} has spent {spent} of its {limit} budget for {status.month_start:%B %Y} "
            f"through {day_label(status.through)} ({percent(status.realised_micros, spec.amount_micros)}%)."
        )
        for pct in status.crossed:
            alerts.append(
                AlertCandidate(
                    kind="threshold",
                    dedupe_key=f"{prefix}:threshold:{pct}",
                    budget_id=spec.id,
                    period=period,
                    title=_clip(f"{_name(status)} budget: {pct}% reached ({spent} of {limit} spent)"),
                    body=f"{used} That reaches the {pct}% alert threshold. {status.sentence}",
                    amount_micros=status.realised_micros,
                    detail=detail | {"threshold": pct},
                )
            )
        if status.state == "overrun_predicted":
            on = f"on {day_label(status.exceed_date)}" if status.exceed_date else "by the end of the month"
            projected = status.projected
            alerts.append(
                AlertCandidate(
                    kind="overrun",
                    dedupe_key=f"{prefix}:overrun",
                    budget_id=spec.id,
                    period=period,
                    title=_clip(f"{_owner(status)} is on track to exceed its {limit} budget {on}"),
                    body=(
                        f"{used} The forecast for the whole month is {usd(projected.median)}{_month_range(status)}, "
                        f"so the budget would run out {on}{_when(status)}."
                    ),
                    amount_micros=projected.median,
                    detail=detail,
                )
            )
    return alerts


def compute_anomaly_alerts(anomalies: Sequence[Anomaly], *, since: dt.date) -> list[AlertCandidate]:
    """One alert per anomaly on or after ``since``, keyed by what and when so a re-run never repeats it."""
    alerts = []
    for anomaly in anomalies:
        if anomaly.day < since:
            continue
        day = anomaly.day.isoformat()
        what = f"{_dimension_label(anomaly.dimension)} {anomaly.value or '(unallocated)'}"
        key = f"anomaly:{anomaly.dimension}:{anomaly.value}:{day}"
        if len(key) > MAX_KEY:  # an overlong name still needs a stable, unique key
            digest = hashlib.sha256(anomaly.value.encode()).hexdigest()[:32]
            key = f"anomaly:{anomaly.dimension[:64]}:sha256-{digest}:{day}"
        title = (
            f"Unusual spend on {what} on {day_label(anomaly.day)}: {usd(anomaly.actual_micros)} "
            f"against about {usd(anomaly.expected_micros)} expected"
        )
        body = anomaly.sentence.strip() or (
            f"{what[0].upper()}{what[1:]} spent {usd(anomaly.actual_micros)} on {day_label(anomaly.day)}, "
            f"against about {usd(anomaly.expected_micros)} expected."
        )
        if anomaly.driver_value and anomaly.driver_value not in body:
            driver = f"{_dimension_label(anomaly.driver_dimension)} {anomaly.driver_value}"
            body += f" Most of the change came from {driver}."
        alerts.append(
            AlertCandidate(
                kind="anomaly",
                dedupe_key=key,
                budget_id=None,
                period=day,
                title=_clip(title),
                body=body,
                amount_micros=anomaly.impact_micros,
                detail={
                    "dimension": anomaly.dimension,
                    "value": anomaly.value,
                    "day": day,
                    "actual_usd": decimal_string(anomaly.actual_micros),
                    "expected_usd": decimal_string(anomaly.expected_micros),
                    "impact_usd": decimal_string(anomaly.impact_micros),
                    "driver_dimension": anomaly.driver_dimension,
                    "driver_value": anomaly.driver_value,
                },
            )
        )
    return alerts


def _budget_detail(status: BudgetStatus) -> dict[str, Any]:
    spec, projected = status.spec, status.projected

    def iso(day: dt.date | None) -> str | None:
        return None if day is None else day.isoformat()

    return {
        "budget_id": spec.id,
        "label": spec.label,
        "scope": spec.scope,
        "scope_value": spec.scope_value,
        "month": f"{status.month_start:%Y-%m}",
        "through": status.through.isoformat(),
        "state": status.state,
        "amount_usd": decimal_string(spec.amount_micros),
        "spent_usd": decimal_string(status.realised_micros),
        "utilisation": round(status.utilisation, 4),
        "projected_median_usd": decimal_string(projected.median),
        "projected_lower80_usd": decimal_string(projected.lower80),
        "projected_upper80_usd": decimal_string(projected.upper80),
        "projected_lower95_usd": decimal_string(projected.lower95),
        "projected_upper95_usd": decimal_string(projected.upper95),
        "exceeded_on": iso(status.exceeded_on),
        "exceed_date": iso(status.exceed_date),
        "exceed_earliest": iso(status.exceed_earliest),
        "exceed_latest": iso(status.exceed_latest),
        "thresholds": list(spec.thresholds),
    }


def _name(status: BudgetStatus) -> str:
    """What a title calls the budget's owner: "Marketing", "Workspace"."""
    return "Workspace" if status.spec.scope == "workspace" else status.spec.scope_value


def _owner(status: BudgetStatus) -> str:
    """What a sentence starts with for the budget's owner: "Marketing", "The workspace"."""
    if status.spec.scope == "workspace":
        return "The workspace"
    return status.spec.scope_value  # a name keeps its own case ("acme-corp", "OpenAI")


def _month_range(status: BudgetStatus) -> str:
    """The month-end total's 80% range, or "" when the forecast has no spread (a constant history)."""
    low, high = status.projected.lower80, status.projected.upper80
    return "" if low == high else f" (80% range {usd(low)}–{usd(high)})"


def _when(status: BudgetStatus) -> str:
    """The exceed date's 80% range as a trailing clause, or "" when it is a single day."""
    early, late = status.exceed_earliest, status.exceed_latest
    if early is None or early == late:
        return ""
    if late is None:
        return f" (as early as {day_label(early)}, though it may also last the month)"
    return f" (between {day_label(early)} and {day_label(late)})"


def _dimension_label(dimension: str) -> str:
    return _DIMENSION_LABELS.get(dimension, dimension.replace("_", " "))


def _clip(text: str, limit: int = MAX_TITLE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
