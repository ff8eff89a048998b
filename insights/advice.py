"""Savings advice in one pure call: open recommendations (without those already decided) and the tracker's
realised savings for each adopted one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from insights.recommendations import Recommendation, compute_recommendations
from insights.savings import SavingsResult, compute_savings

WINDOW_DAYS = 30
TRACKER_DAYS = 60  # what the tracker reads: up to 30 days either side of a recent adoption


@dataclass(frozen=True)
class Adopted:
    """An adopted recommendation and what it has saved since."""

    key: str
    title: str
    estimated_monthly_micros: int
    adopted_on: dt.date
    savings: SavingsResult


@dataclass(frozen=True)
class Advice:
    start: dt.date
    end: dt.date  # the last whole day analysed
    open: tuple[Recommendation, ...]  # ranked by monthly saving
    dismissed: tuple[Recommendation, ...]
    adopted: tuple[Adopted, ...]


def analysis_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last WINDOW_DAYS whole days before ``today``."""
    end = today - dt.timedelta(days=1)
    return end - dt.timedelta(days=WINDOW_DAYS - 1), end


def adoption_detail(rec: Recommendation, adopted_on: dt.date) -> dict[str, Any]:
    """What the tracker needs to measure a recommendation after adoption (stored with the decision)."""
    return {
        "kind": rec.kind, "provider": rec.provider, "model": rec.model, "project": rec.project,
        "target_model": rec.target_model, "target_provider": rec.target_provider,
        "adopted_on": adopted_on.isoformat(),
    }  # fmt: skip


def track(detail: Mapping[str, Any], daily: pd.DataFrame, *, today: dt.date) -> SavingsResult:
    """The tracker's before/after for one adoption: a model switch is measured over both models in its project."""
    adopted_on = dt.date.fromisoformat(str(detail["adopted_on"]))
    target = str(detail.get("target_model") or "")
    switch = (str(detail.get("model") or ""), target) if target else ()
    if detail.get("target_provider"):  # a move to another provider: follow the project across providers
        return compute_savings(daily, adopted_on=adopted_on, today=today, project=str(detail.get("project", "")))
    return compute_savings(
        daily, adopted_on=adopted_on, today=today, provider=str(detail.get("provider", "")),
        model="" if switch else str(detail.get("model", "")), project=str(detail.get("project", "")), models=switch,
    )  # fmt: skip


def local_hours(hourly: pd.DataFrame | None, timezone: str, on: dt.date) -> pd.DataFrame | None:
    """Stored UTC hours moved to the workspace's clock (its offset on ``on``), where "office hours" are judged."""
    if hourly is None or hourly.empty or timezone == "UTC":
        return hourly
    noon = dt.datetime.combine(on, dt.time(12), ZoneInfo(timezone))
    offset = noon.utcoffset() or dt.timedelta(0)
    shift = round(offset.total_seconds() / 3600)
    return hourly.assign(hour=(hourly["hour"].astype("int64") + shift) % 24)


def compute_advice(
    usage: pd.DataFrame,
    tracker_daily: pd.DataFrame,
    decisions: Mapping[str, tuple[str, str, int, Mapping[str, Any]]],
    *,
    today: dt.date,
    hourly: pd.DataFrame | None = None,
    timezone: str = "UTC",
) -> Advice:
    """``decisions``: key → (status, title, estimated monthly micros, detail), as stored by core.decisions;
    ``hourly``: requests per provider, model, project and hour over the window, the Batch API's best evidence."""
    start, end = analysis_window(today)
    found = compute_recommendations(usage, end=end, window_days=WINDOW_DAYS, hourly=local_hours(hourly, timezone, end))
    open_ = tuple(r for r in found if r.key not in decisions)
    dismissed = tuple(r for r in found if decisions.get(r.key, ("",))[0] == "dismissed")
    adopted = tuple(
        Adopted(key, title, estimate, dt.date.fromisoformat(str(detail["adopted_on"])),
                track(detail, tracker_daily, today=today))
        for key, (status, title, estimate, detail) in sorted(decisions.items())
        if status == "adopted" and detail.get("adopted_on")
    )  # fmt: skip
    return Advice(start, end, open_, dismissed, adopted)
