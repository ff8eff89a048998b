"""Overview numbers from daily rollup rows: pure, exact integer micro-USD, no I/O."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

UNALLOCATED = "Unallocated"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month_start(day: dt.date) -> dt.date:
    first = month_start(day)
    return month_start(first - dt.timedelta(days=1))


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


@dataclass(frozen=True)
class SpendSummary:
    """The tiles: this month so far, last month, the fair change, and the month-end projection."""

    today: dt.date
    this_month_micros: int
    last_month_micros: int
    last_month_same_days_micros: int
    projection_micros: int
    days_elapsed: int
    days_in_month: int

    @property
    def change(self) -> Decimal | None:
        """This month so far against the same days of last month; None when last month had nothing."""
        if self.last_month_same_days_micros == 0:
            return None
        return Decimal(self.this_month_micros - self.last_month_same_days_micros) / Decimal(
            self.last_month_same_days_micros
        )

    @property
    def projection_change(self) -> Decimal | None:
        if self.last_month_micros == 0:
            return None
        return Decimal(self.projection_micros - self.last_month_micros) / Decimal(self.last_month_micros)


def _daily_totals(rows: pd.DataFrame) -> pd.Series:
    if rows.empty:
        return pd.Series(dtype="int64")
    totals = rows.groupby("day", sort=True)["amount_micros"].sum()
    totals.index = pd.DatetimeIndex(totals.index).date
    return totals.astype("int64")


def _between(totals: pd.Series, first: dt.date, last: dt.date) -> int:
    if totals.empty:
        return 0
    mask = (totals.index >= first) & (totals.index <= last)
    return int(totals[mask].sum())


def compute_summary(rows: pd.DataFrame, *, today: dt.date) -> SpendSummary:
    """Tiles for the month containing `today`; projection = realised + daily average × days remaining."""
    totals = _daily_totals(rows)
    this_start, last_start = month_start(today), previous_month_start(today)
    last_end = this_start - dt.timedelta(days=1)
    this_month = _between(totals, this_start, today)
    same_day_last_month = last_start.replace(day=min(today.day, days_in_month(last_start)))
    elapsed, length = today.day, days_in_month(today)
    # Integer arithmetic keeps the projection exact to the micro-dollar (rounded down).
    projection = this_month + this_month * (length - elapsed) // elapsed
    return SpendSummary(
        today=today,
        this_month_micros=this_month,
        last_month_micros=_between(totals, last_start, last_end),
        last_month_same_days_micros=_between(totals, last_start, same_day_last_month),
        projection_micros=projection,
        days_elapsed=elapsed,
        days_in_month=length,
    )


def compute_cumulative(rows: pd.DataFrame, *, today: dt.date) -> pd.DataFrame:
    """Running spend by day of month for this month (to today) and last month: day, month, micros."""
    totals = _daily_totals(rows)
    frames = []
    for label, first, last in (
        ("Last month", previous_month_start(today), month_start(today) - dt.timedelta(days=1)),
        ("This month", month_start(today), today),
    ):
        days = pd.date_range(first, last, freq="D").date
        series = totals.reindex(days, fill_value=0).cumsum() if len(totals) else pd.Series(0, index=days)
        frames.append(
            pd.DataFrame({"day_of_month": [d.day for d in days], "month": label, "micros": series.to_numpy()})
        )
    return pd.concat(frames, ignore_index=True)


def total_micros(rows: pd.DataFrame) -> int:
    """Exact total spend of rollup or daily rows."""
    return int(rows["amount_micros"].sum()) if len(rows) else 0


def compute_breakdown(rows: pd.DataFrame, dimension: str, *, top: int | None = None) -> pd.DataFrame:
    """Spend by one dimension, largest first: name, micros, share; the tail beyond `top` becomes 'Other'."""
    if rows.empty:
        return pd.DataFrame({"name": pd.Series(dtype="str"), "micros": pd.Series(dtype="int64"), "share": []})
    grouped = rows.groupby(dimension)["amount_micros"].sum().sort_values(ascending=False, kind="stable")
    grouped.index = [name or UNALLOCATED for name in grouped.index]
    if top is not None and len(grouped) > top:
        head, tail = grouped.iloc[:top], grouped.iloc[top:]
        grouped = pd.concat([head, pd.Series({"Other": int(tail.sum())})])
    total = int(grouped.sum())
    frame = pd.DataFrame({"name": grouped.index.astype(str), "micros": grouped.to_numpy().astype("int64")})
    frame["share"] = frame["micros"] / total if total else 0.0
    return frame


def compute_hierarchy(rows: pd.DataFrame, path: tuple[str, ...] = ("department", "project", "model")) -> pd.DataFrame:
    """Spend at the leaves of a path, for a treemap; unallocated levels get a readable name."""
    if rows.empty:
        return pd.DataFrame(columns=[*path, "micros"])
    grouped = rows.groupby(list(path), as_index=False)["amount_micros"].sum()
    grouped = grouped.rename(columns={"amount_micros": "micros"})
    for level in path:
        grouped[level] = grouped[level].replace("", UNALLOCATED)
    return grouped[grouped["micros"] > 0].reset_index(drop=True)


def compute_heatmap(rows: pd.DataFrame) -> pd.DataFrame:
    """Daily spend as weekday (rows, Mon–Sun) × week starting Monday (columns); missing days are NaN."""
    totals = _daily_totals(rows)
    if totals.empty:
        return pd.DataFrame(index=list(WEEKDAYS))
    days = pd.date_range(min(totals.index), max(totals.index), freq="D")
    series = totals.reindex(days.date, fill_value=0)
    frame = pd.DataFrame(
        {
            "weekday": [WEEKDAYS[d.weekday()] for d in days],
            "week": [(d - dt.timedelta(days=d.weekday())) for d in days.date],
            "micros": series.to_numpy(),
        }
    )
    grid = frame.pivot(index="weekday", columns="week", values="micros").reindex(list(WEEKDAYS))
    return grid


def compute_drilldown(rows: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """Spend and usage grouped by the chosen columns, largest first, for the table and CSV."""
    if rows.empty:
        return pd.DataFrame(columns=[*by, "micros", "input_tokens", "output_tokens", "requests"])
    grouped = rows.groupby(list(by), as_index=False)[
        ["amount_micros", "input_tokens", "output_tokens", "requests"]
    ].sum()
    grouped = grouped.rename(columns={"amount_micros": "micros"}).sort_values(
        ["micros", *by], ascending=[False, *[True] * len(by)], kind="stable"
    )
    return grouped.reset_index(drop=True)
