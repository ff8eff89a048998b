"""Spend anomalies: daily spikes per provider, model and project, each with its likely driver. Pure, no I/O.

Method, per (dimension, value) daily series; a day without rows is zero spend once the series has appeared:

- Expected spend for day d is the median of the same weekday over the previous ``baseline_days // 7`` weeks
  (four by default; at least two observed weeks are needed). Weekends run at 35-45% of weekdays, so a
  weekday-blind baseline would call every Monday a spike; comparing Mondays with Mondays needs no seasonal model.
  A median of four ignores one bad week, so a spike does not lift the baseline enough to hide a second spike a
  week later, and it never touches the baseline of the day after (a different weekday).
- The residual is scored as a log ratio, log((actual + $1) / (expected + $1)): spend noise is multiplicative
  (a weekday's swings are two to three times a weekend's in dollars), so a MAD in dollars mixes the two and is
  too small for weekdays, and a dollar ratio is skewed upwards; on the demo year both doubled the z >= 3.5 days.
- Scale: 1.4826 x the MAD of those log ratios over the previous ``2 x baseline_days`` days (each by the same
  rule; at least seven). Four weeks of them gave twice the z >= 3.5 days of eight on the demo year, and the
  MAD ignores earlier spikes. The scale is floored at log(1.10): day-to-day moves within ±10% are ordinary
  however smooth the history, so a flat series gives a large but finite z and needs a ~40% rise to reach 3.5.
  (A 5% floor flagged one ordinary +25-29% day of a smooth two-model project in 21 of 24 demo 90-day windows.)
- A day in [start, end] is flagged when z >= ``z_threshold`` and actual - expected >= ``min_impact_micros``.
  Only spikes: dips, and recoveries after a spike, are never reported. A rise that carries on from the day
  before with the same driver (a new workload, a job running for days) is one episode, reported on its first
  day only; otherwise a new $900/day model would repeat daily until the baseline catches up two weeks later.
- Forecast residuals (the ETS models in ``insights.forecast``) were the alternative: fitting ~30 series per
  run costs seconds, and a fitted level absorbs a spike and then sits too high for the days after it; medians
  over a day x series matrix cost milliseconds and forget a spike as soon as it leaves the window.

Driver: within the flagged slice each sub-slice (model, project, API key, less the anomaly's own dimension) is
compared with its own same-weekday median, counting zero for weeks before it appeared (as its slice did). Of the
sub-slices whose rise is at least 80% of the largest rise, the narrowest (least spend that day) wins, so a
project whose one model ran away names the model, not the project's single API key; ties go to model, then
project, then API key. Blank values ("" = unknown) never drive.

One runaway job shows up in its provider, its model and its project at once. Anomalies of one day are merged
when they share a driver or one's value is the other's driver; the largest impact is kept (ties: the higher
score, i.e. the narrower slice) and the others are listed in ``also``, largest impact first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.money import format_usd

DIMENSIONS = ("provider", "model", "project")
DRIVER_DIMENSIONS = ("model", "project", "api_key")
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution x this = its standard deviation
SCALE_FLOOR = float(np.log(1.10))  # ±10% is ordinary day-to-day variation, however smooth a series has been
DRIVER_SHARE = 0.8  # a sub-slice with 80% of the largest change is as good a driver, and narrower is better
SCALE_WINDOWS = 2  # the scale looks back 2 x baseline_days: four weeks of residuals give too jumpy a MAD
LOG_OFFSET_MICROS = 1_000_000
MIN_WEEKS = 2  # same-weekday observations an expected value needs
MIN_RESIDUALS = 7  # residuals a scale needs
_SUBJECT = {"provider": "{}", "model": "Model {}", "project": "Project {}"}
_DRIVER_LABEL = {"model": "model", "project": "project", "api_key": "API key"}


@dataclass(frozen=True)
class Anomaly:
    """One day's spike in one slice of spend; amounts in integer micro-USD."""

    day: dt.date
    dimension: str  # "provider" | "model" | "project"
    value: str
    actual_micros: int
    expected_micros: int  # the robust baseline for that day, >= 0
    impact_micros: int  # actual - expected, > 0
    score: float  # robust z-score of log(actual / expected), see the module docstring
    driver_dimension: str  # "model" | "project" | "api_key", or "" when no sub-slice grew
    driver_value: str
    driver_change_micros: int
    also: tuple[str, ...]  # "dimension: value" labels of the same spike seen in other slices
    sentence: str


def detect_anomalies(
    frame: pd.DataFrame,
    *,
    start: dt.date,
    end: dt.date,
    baseline_days: int = 28,
    z_threshold: float = 3.5,
    min_impact_micros: int = 50_000_000,
) -> list[Anomaly]:
    """Spikes on days in [start, end], one per underlying spike, largest impact first."""
    if frame.empty or start > end:
        return []
    weeks = max(MIN_WEEKS, baseline_days // 7)
    data = _prepare(frame)
    first_seen = {dim: data.groupby(dim)["day"].min() for dim in DIMENSIONS}
    since = max(pd.Timestamp(start) - pd.Timedelta(days=SCALE_WINDOWS * baseline_days + 7 * weeks), data["day"].min())
    data = data[(data["day"] >= since) & (data["day"] <= pd.Timestamp(end))]
    if data.empty:
        return []
    days = pd.date_range(since, pd.Timestamp(end), freq="D")
    spend = pd.concat([_daily_matrix(data, dim, days, first_seen[dim]) for dim in DIMENSIONS], axis=1, keys=DIMENSIONS)
    spend = spend.loc[:, [value != "" for _, value in spend.columns]]

    actual = spend.to_numpy(dtype="float64")
    expected = _seasonal_median(actual, weeks)
    ratios = _log_ratios(actual, expected)
    first = int(np.searchsorted(days.to_numpy(), np.datetime64(pd.Timestamp(start))))
    lead = max(first - 1, 0)  # the day before the window too, to see whether a rise carries on from it
    # NaN (too little history) stays NaN through np.maximum, and such a day is never flagged.
    scale = np.maximum(_robust_scale(ratios, lead, SCALE_WINDOWS * baseline_days), SCALE_FLOOR)
    rounded = np.rint(np.clip(expected[lead:], 0, None))
    with np.errstate(invalid="ignore"):
        score = ratios[lead:] / scale
        flagged = (score >= z_threshold) & (actual[lead:] - rounded >= max(min_impact_micros, 1))

    drivers: dict[tuple[int, int], tuple[str, str, int]] = {}
    by_day = dict(tuple(data.groupby("day")))

    def driver(row: int, column: int) -> tuple[str, str, int]:
        if (row, column) not in drivers:
            dim, value = spend.columns[column]
            appeared = first_seen[dim][value]
            drivers[row, column] = _driver(by_day, dim, value, days[lead + row], weeks, appeared)
        return drivers[row, column]

    found = []
    for row, column in zip(*np.nonzero(flagged), strict=True):
        if lead + row < first:
            continue
        if row > 0 and flagged[row - 1, column] and driver(row - 1, column)[:2] == driver(row, column)[:2]:
            continue  # the same rise as yesterday's: one episode, reported on its first day
        dim, value = spend.columns[column]
        amounts = int(actual[lead + row, column]), int(rounded[row, column])
        found.append(
            _anomaly(days[lead + row].date(), dim, value, *amounts, float(score[row, column]), driver(row, column))
        )
    return sorted(_collapse(found), key=lambda a: (-a.impact_micros, a.day, DIMENSIONS.index(a.dimension), a.value))


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    data = pd.DataFrame(index=frame.index)
    data["day"] = pd.to_datetime(frame["day"]).dt.normalize()
    for column in (*DIMENSIONS, "api_key"):
        data[column] = frame[column].fillna("").astype(str) if column in frame else ""
    data["amount_micros"] = frame["amount_micros"].astype("int64")
    return data


def _daily_matrix(data: pd.DataFrame, dim: str, days: pd.DatetimeIndex, first_seen: pd.Series) -> pd.DataFrame:
    """Day x value spend: zero on days without rows after the value first appeared, NaN before."""
    sums = data.groupby([dim, "day"])["amount_micros"].sum().unstack(dim).reindex(days).fillna(0)
    before = days.to_numpy()[:, None] < first_seen.reindex(sums.columns).to_numpy()[None, :]
    return sums.mask(before)


def _nanmedian(values: np.ndarray, min_count: int) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where fewer than `min_count` values (and no warnings)."""
    count = np.sum(~np.isnan(values), axis=-1)
    ordered = np.sort(values, axis=-1)  # NaN sort last
    low = np.take_along_axis(ordered, np.clip((count - 1) // 2, 0, None)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, np.clip(count // 2, 0, values.shape[-1] - 1)[..., None], axis=-1)[..., 0]
    return np.where(count >= max(min_count, 1), (low + high) / 2, np.nan)


def _seasonal_median(actual: np.ndarray, weeks: int) -> np.ndarray:
    """For each day, the median of the same weekday over the previous `weeks` weeks."""
    padded = np.vstack([np.full((7 * weeks, actual.shape[1]), np.nan), actual])
    lags = [padded[7 * (weeks - k) : 7 * (weeks - k) + len(actual)] for k in range(1, weeks + 1)]
    return _nanmedian(np.stack(lags, axis=-1), MIN_WEEKS)


def _log_ratios(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """log((actual + $1) / (expected + $1)): spend noise is multiplicative, and $1 keeps zero days finite."""
    with np.errstate(invalid="ignore"):
        return np.log((actual + LOG_OFFSET_MICROS) / (np.clip(expected, 0, None) + LOG_OFFSET_MICROS))


def _robust_scale(ratios: np.ndarray, first: int, window: int) -> np.ndarray:
    """1.4826 x MAD of the previous `window` log ratios, for each day from row `first` on; NaN if too few."""
    padded = np.vstack([np.full((window, ratios.shape[1]), np.nan), ratios])
    # Window i covers padded[i : i + window] = ratios[i - window : i], the days before day i.
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)[first : len(ratios)]
    centre = _nanmedian(windows, MIN_RESIDUALS)
    return MAD_TO_SIGMA * _nanmedian(np.abs(windows - centre[..., None]), MIN_RESIDUALS)


def _driver(
    by_day: dict[pd.Timestamp, pd.DataFrame], dim: str, value: str, day: pd.Timestamp, weeks: int, since: pd.Timestamp
) -> tuple[str, str, int]:
    """The narrowest sub-slice of (dim, value) whose rise on `day` over its own baseline is near the largest."""
    days = pd.DatetimeIndex([day - pd.Timedelta(weeks=k) for k in range(weeks, -1, -1)])
    rows = pd.concat([by_day[d] for d in days if d in by_day])
    rows = rows[rows[dim] == value]
    candidates = []  # (change, actual, dimension order, sub, value)
    for order, sub in enumerate(DRIVER_DIMENSIONS):
        if sub == dim:
            continue
        # A sub-slice spent nothing on the days its slice existed without it: that is what the slice's baseline saw.
        sums = _daily_matrix(rows, sub, days, pd.Series(since, index=rows[sub].unique()))
        sums = sums.loc[:, sums.columns != ""]
        baseline = np.nan_to_num(_nanmedian(sums.iloc[:-1].to_numpy().T, 1), nan=0.0)
        changes = sums.iloc[-1].to_numpy() - np.rint(baseline)
        for name, actual, change in zip(sums.columns, sums.iloc[-1].to_numpy(), changes, strict=True):
            if change > 0:
                candidates.append((int(change), int(actual), order, sub, str(name)))
    if not candidates:
        return ("", "", 0)
    largest = max(c[0] for c in candidates)
    change, _, _, sub, name = min((c for c in candidates if c[0] >= DRIVER_SHARE * largest), key=lambda c: c[1:])
    return (sub, name, change)


def _usd(micros: int) -> str:
    return format_usd(micros, cents=False)


def _anomaly(
    day: dt.date, dim: str, value: str, actual: int, expected: int, score: float, driver: tuple[str, str, int]
) -> Anomaly:
    impact = actual - expected
    sentence = (
        f"{_SUBJECT[dim].format(value)} spent {_usd(actual)} on {day:%b} {day.day}, "
        f"{_usd(impact)} more than the usual {_usd(expected)}"
    )
    if driver[0]:
        sentence += f" — mostly {_DRIVER_LABEL[driver[0]]} {driver[1]} (+{_usd(driver[2])})"
    return Anomaly(day, dim, value, actual, expected, impact, score, *driver, also=(), sentence=sentence + ".")


def _collapse(found: list[Anomaly]) -> list[Anomaly]:
    """One anomaly per underlying spike and day: linked when they share a driver or one drives the other."""
    by_day: dict[dt.date, list[Anomaly]] = {}
    for anomaly in found:
        by_day.setdefault(anomaly.day, []).append(anomaly)
    kept = []
    for same_day in by_day.values():
        parent = list(range(len(same_day)))

        def root(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        for i, a in enumerate(same_day):
            for j in range(i):
                if _linked(a, same_day[j]):
                    parent[root(i)] = root(j)
        groups: dict[int, list[Anomaly]] = {}
        for i, anomaly in enumerate(same_day):
            groups.setdefault(root(i), []).append(anomaly)
        for group in groups.values():
            group.sort(key=lambda a: (-a.impact_micros, -a.score, DIMENSIONS.index(a.dimension), a.value))
            kept.append(replace(group[0], also=tuple(f"{a.dimension}: {a.value}" for a in group[1:])))
    return kept


def _linked(a: Anomaly, b: Anomaly) -> bool:
    drivers = {(a.driver_dimension, a.driver_value), (b.driver_dimension, b.driver_value)} - {("", "")}
    shared = len(drivers) == 1 and bool(a.driver_dimension) and bool(b.driver_dimension)
    return shared or (a.dimension, a.value) in drivers or (b.dimension, b.value) in drivers
