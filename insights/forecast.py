"""Daily spend forecasts with 80%/95% intervals and a rolling-origin backtest: pure, integer micro-USD out.

Model choice by history length (after leading zero days are dropped):
- a constant series (all zeros included) is repeated as is, with zero-width intervals, without fitting;
- ≥ 14 days: statsmodels ``ETSModel`` with additive error, no trend and additive weekly seasonality (ANA);
- ≥ 6 days: non-seasonal ETS (ANN, simple exponential smoothing with a likelihood);
- fewer: the run-rate (daily mean) with a normal interval from the daily standard deviation.

No trend term: a linear trend extrapolated 3-6 months ahead runs away, and a damped trend fitted 3-10 times
slower here (0.4-1.8 s against ~0.1 s per series), which breaks the 3 s budget for ~30 scopes. The ANA level
is a random walk, so drift is followed as it happens and the intervals widen with the horizon instead.
If a fit fails or returns non-finite numbers the run-rate is used; warnings never reach the caller.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd

Method = Literal["ets_weekly", "ets", "run_rate", "constant", "none"]

SEASON = 7
MIN_SEASONAL_DAYS = 2 * SEASON  # ETS needs two full cycles to initialise the weekly seasonals
MIN_ETS_DAYS = 6
SIMULATIONS = 1000
SEED = 20261121  # fixed: the same history always gives the same month-end range
# Central quantiles in the order the frames use: median, 80% lower/upper, 95% lower/upper.
QUANTILES = (0.5, 0.1, 0.9, 0.025, 0.975)
_Z80 = NormalDist().inv_cdf(0.9)
_Z95 = NormalDist().inv_cdf(0.975)
_BOUNDS = ("median", "lower80", "upper80", "lower95", "upper95")
SCOPE_KINDS = ("department", "project", "provider", "customer")
SCOPE_LABELS = {
    "workspace": "Workspace", "department": "Department", "project": "Project", "provider": "Provider",
    "customer": "Customer",
}  # fmt: skip
CACHE_SIZE = 256  # forecasts kept per process: ~30 scopes × a few workspaces and days


@dataclass(frozen=True)
class ForecastDay:
    """One forecast day; ``cum_*`` are quantiles of the total from the day after ``today`` to this day."""

    day: dt.date
    median: int
    lower80: int
    upper80: int
    lower95: int
    upper95: int
    cum_median: int
    cum_lower80: int
    cum_upper80: int
    cum_lower95: int
    cum_upper95: int


@dataclass(frozen=True)
class MonthTotal:
    """The forecast total of one calendar month (from the day after ``today`` in the first one): quantiles
    of the month's sum, simulated for ETS, not sums of daily bounds."""

    month: dt.date  # first day of the month
    days: int  # forecast days in it
    median: int
    lower80: int
    upper80: int
    lower95: int
    upper95: int


@dataclass(frozen=True)
class Forecast:
    """Daily forecast after ``today``; every amount is integer micro-USD, lower bounds clipped at 0."""

    method: Method
    today: dt.date
    history_days: int
    days: tuple[ForecastDay, ...]
    months: tuple[MonthTotal, ...] = ()

    def frame(self) -> pd.DataFrame:
        """The days as a DataFrame: day, median, lower80 … upper95, cum_median … cum_upper95."""
        columns = [f.name for f in ForecastDay.__dataclass_fields__.values()]
        return pd.DataFrame([[getattr(d, c) for c in columns] for d in self.days], columns=columns)


@dataclass(frozen=True)
class MonthEndTotal:
    """Realised spend plus the forecast total to ``month_end``: the median and its 80%/95% range."""

    month_end: dt.date
    realised_micros: int
    median: int
    lower80: int
    upper80: int
    lower95: int
    upper95: int


@dataclass(frozen=True)
class MethodScore:
    """Accuracy of one method over all backtest points; MAPE is a percentage over non-zero actuals only."""

    name: str
    mase: float | None
    mape: float | None
    points: int
    mape_points: int


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin accuracy of the forecast model against seasonal-naive and the run-rate formula."""

    origins: int
    window_days: int
    horizon_days: int
    step_days: int
    model_method: Method
    model: MethodScore
    seasonal_naive: MethodScore
    run_rate: MethodScore
    zero_actuals_skipped: int

    @property
    def model_beats_run_rate(self) -> bool | None:
        if self.model.mase is None or self.run_rate.mase is None:
            return None
        return self.model.mase < self.run_rate.mase


def _daily(history: pd.Series, today: dt.date) -> np.ndarray:
    """Micros per day from the first non-zero day through ``today``; missing days are zero spend."""
    if history.empty:
        return np.zeros(0, dtype=np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(pd.Index(history.index)))
    if index.tz is not None:
        index = index.tz_localize(None)
    values = pd.Series(pd.to_numeric(history.to_numpy(), errors="coerce"), index=index.normalize())
    values = values.fillna(0).groupby(level=0).sum()
    values = values[values.index <= pd.Timestamp(today)]
    if values.empty:
        return np.zeros(0, dtype=np.int64)
    days = pd.date_range(values.index.min(), pd.Timestamp(today), freq="D")
    y = values.reindex(days, fill_value=0).to_numpy(dtype=np.int64)
    nonzero = np.flatnonzero(y)
    # A scope that started spending mid-history has no past before its first charge; all-zero stays as is.
    return y[nonzero[0] :] if len(nonzero) else y


def _select(n: int, y: np.ndarray) -> Method:
    if n == 0:
        return "none"
    if np.all(y == y[0]):
        return "constant"
    if n >= MIN_SEASONAL_DAYS:
        return "ets_weekly"
    if n >= MIN_ETS_DAYS:
        return "ets"
    return "run_rate"


def _fit_ets(y: np.ndarray, *, seasonal: bool, start_params: Any = None) -> Any:
    endog = pd.Series(y, index=pd.date_range("2000-01-01", periods=len(y), freq="D"))
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(
        endog,
        error="add",
        trend=None,
        seasonal="add" if seasonal else None,
        seasonal_periods=SEASON if seasonal else None,
    )
    return model.fit(disp=False, start_params=start_params)


def _quiet(call: Callable[[], Any]) -> Any:
    """Run statsmodels with every warning (convergence, numpy divide, frequency) swallowed."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call()


Segments = Sequence[tuple[int, int]]  # [first, last] forecast-day indexes of each calendar month


def _month_segments(today: dt.date, horizon: int) -> tuple[list[dt.date], Segments]:
    months: list[dt.date] = []
    segments: list[tuple[int, int]] = []
    for i in range(horizon):
        month = (today + dt.timedelta(days=i + 1)).replace(day=1)
        if not months or months[-1] != month:
            months.append(month)
            segments.append((i, i))
        else:
            segments[-1] = (segments[-1][0], i)
    return months, segments


def _ets_quantiles(
    y: np.ndarray, horizon: int, *, seasonal: bool, segments: Segments = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(daily, cumulative, per-month) quantile arrays with 5 columns from a fitted ETS, in the scale of ``y``."""
    res = _fit_ets(y, seasonal=seasonal)
    n = len(y)
    prediction = res.get_prediction(start=n, end=n + horizon - 1)
    mean = np.asarray(prediction.predicted_mean, dtype=float)
    f80 = prediction.summary_frame(alpha=0.2)
    f95 = prediction.summary_frame(alpha=0.05)
    # The ML error variance divides by n and ignores the k estimated parameters, so short histories gave
    # intervals that were too narrow (month-end 80% coverage ~71% in simulation); widen by sqrt(n / (n - k)).
    widen = float(np.sqrt(n / max(n - int(res.df_model), 1)))
    bounds = np.column_stack([f80["pi_lower"], f80["pi_upper"], f95["pi_lower"], f95["pi_upper"]]).astype(float)
    daily = np.column_stack([mean, mean[:, None] + (bounds - mean[:, None]) * widen])
    # The range of a sum is not the sum of daily ranges: simulate whole paths and take quantiles of the totals.
    paths = np.asarray(
        res.simulate(horizon, anchor="end", repetitions=SIMULATIONS, rng=np.random.default_rng(SEED)), dtype=float
    ).reshape(horizon, SIMULATIONS)
    paths = mean[:, None] + (paths - mean[:, None]) * widen
    totals = np.cumsum(np.clip(paths, 0, None), axis=0)
    cumulative = np.quantile(totals, QUANTILES, axis=1).T
    before = np.vstack([np.zeros((1, SIMULATIONS)), totals])
    month_sums = np.array([before[last + 1] - before[first] for first, last in segments]).reshape(-1, SIMULATIONS)
    months = np.quantile(month_sums, QUANTILES, axis=1).T if len(segments) else np.zeros((0, len(QUANTILES)))
    if not (np.all(np.isfinite(daily)) and np.all(np.isfinite(cumulative)) and np.all(np.isfinite(months))):
        raise ValueError("ETS returned non-finite forecasts")
    return daily, cumulative, months


def _run_rate_quantiles(
    y: np.ndarray, horizon: int, segments: Segments = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal approximation: days independent around the mean, plus the uncertainty of the mean itself."""
    n = len(y)
    mean = float(np.mean(y))
    sd = float(np.std(y, ddof=1)) if n > 1 else 0.0
    k = np.arange(1, horizon + 1, dtype=float)
    day_sd = np.full(horizon, sd * np.sqrt(1 + 1 / n))
    total_sd = sd * np.sqrt(k + k**2 / n)  # Var(sum of k days) = kσ² + k²σ²/n
    daily = np.column_stack([np.full(horizon, mean)] + [mean + z * day_sd for z in (-_Z80, _Z80, -_Z95, _Z95)])
    cumulative = np.column_stack([k * mean] + [k * mean + z * total_sd for z in (-_Z80, _Z80, -_Z95, _Z95)])
    block = np.array([last - first + 1 for first, last in segments], dtype=float)
    block_sd = sd * np.sqrt(block + block**2 / n)
    months = np.column_stack([block * mean] + [block * mean + z * block_sd for z in (-_Z80, _Z80, -_Z95, _Z95)])
    return daily, cumulative, months.reshape(-1, len(QUANTILES))


def _micros(values: np.ndarray, scale: float) -> np.ndarray:
    return np.rint(np.clip(values, 0, None) * scale).astype(np.int64)


class _ForecastCache:
    """A bounded, thread-safe memo of forecasts keyed by the exact history: the same numbers are never refitted.

    Pages, the CLI, the alert scheduler and the benchmark all forecast the same ~30 scopes; a fit costs ~0.07 s,
    a hit microseconds. Keyed by content (not by workspace or data version), so new data is never served stale.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, dt.date, int], Forecast] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, dt.date, int]) -> Forecast | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, dt.date, int], value: Forecast) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _ForecastCache(CACHE_SIZE)


def clear_cache() -> None:
    """Forget every memoised forecast (the benchmark's cold runs, tests)."""
    _CACHE.clear()


def compute_forecast(history: pd.Series, *, horizon_days: int, today: dt.date) -> Forecast:
    """Forecast each day from ``today`` + 1 for ``horizon_days`` days; history runs through ``today`` inclusive."""
    y = _daily(history, today)
    horizon = max(int(horizon_days), 0)
    key = (hashlib.blake2b(y.tobytes(), digest_size=16).hexdigest(), today, horizon)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _compute_forecast(y, horizon, today)
        _CACHE.put(key, cached)
    return cached


def _compute_forecast(y: np.ndarray, horizon: int, today: dt.date) -> Forecast:
    method = _select(len(y), y)
    month_starts, segments = _month_segments(today, horizon)
    if method in ("none", "constant") or horizon == 0:
        level = float(y[0]) if len(y) else 0.0
        daily = np.full((horizon, len(QUANTILES)), level)
        cumulative = np.arange(1, horizon + 1, dtype=float)[:, None] * daily
        block = np.array([last - first + 1 for first, last in segments], dtype=float)
        months = (block[:, None] * np.full((1, len(QUANTILES)), level)).reshape(-1, len(QUANTILES))
        scale = 1.0
    else:
        # Fit in units of the mean day so the optimiser sees numbers near 1 whatever the spend.
        scale = float(np.mean(np.abs(y))) or 1.0
        scaled = y.astype(float) / scale
        try:
            if method == "run_rate":
                daily, cumulative, months = _run_rate_quantiles(scaled, horizon, segments)
            else:
                seasonal = method == "ets_weekly"
                daily, cumulative, months = _quiet(
                    lambda: _ets_quantiles(scaled, horizon, seasonal=seasonal, segments=segments)
                )
        except Exception:  # any statsmodels failure degrades to the run-rate rather than reaching a page
            method = "run_rate"
            daily, cumulative, months = _run_rate_quantiles(scaled, horizon, segments)
    daily_micros, cumulative_micros = _micros(daily, scale), _micros(cumulative, scale)
    days = tuple(
        ForecastDay(today + dt.timedelta(days=i + 1), *map(int, daily_micros[i]), *map(int, cumulative_micros[i]))
        for i in range(horizon)
    )
    month_micros = _micros(months, scale)
    totals = tuple(
        MonthTotal(month, last - first + 1, *map(int, month_micros[i]))
        for i, (month, (first, last)) in enumerate(zip(month_starts, segments, strict=True))
    )
    return Forecast(method=method, today=today, history_days=len(y), days=days, months=totals)


def month_end_total(forecast: Forecast, realised_micros: int, month_end: dt.date) -> MonthEndTotal:
    """Realised so far plus the forecast total through ``month_end`` (simulated sums for ETS, not summed bounds)."""
    if month_end <= forecast.today:
        return MonthEndTotal(month_end, realised_micros, *([realised_micros] * len(_BOUNDS)))
    offset = (month_end - forecast.today).days
    if offset > len(forecast.days):
        raise ValueError(f"the forecast ends {len(forecast.days)} days after {forecast.today}, before {month_end}")
    last = forecast.days[offset - 1]
    return MonthEndTotal(
        month_end,
        realised_micros,
        *(realised_micros + getattr(last, f"cum_{bound}") for bound in _BOUNDS),
    )


def _point_forecasts(y: np.ndarray, horizon: int, start_params: Any) -> tuple[np.ndarray, Method, Any]:
    """Model point forecasts for the backtest: the same rules as compute_forecast, without intervals."""
    method = _select(len(y), y)
    if method in ("none", "constant"):
        return np.full(horizon, float(y[0]) if len(y) else 0.0), method, start_params
    if method in ("ets_weekly", "ets"):
        scale = float(np.mean(np.abs(y))) or 1.0
        seasonal = method == "ets_weekly"
        # As in compute_forecast, a failed fit is scored as the run-rate it falls back to.
        with contextlib.suppress(Exception):
            res = _quiet(lambda: _fit_ets(y / scale, seasonal=seasonal, start_params=start_params))
            points = np.asarray(_quiet(lambda: res.forecast(horizon)), dtype=float) * scale
            if np.all(np.isfinite(points)):
                return np.clip(points, 0, None), method, res.params if seasonal else None
    return np.full(horizon, float(np.mean(y))), "run_rate", None


def _score(name: str, errors: list[float], actuals: list[float], scale: float) -> MethodScore:
    abs_errors = np.abs(np.asarray(errors, dtype=float))
    actual = np.asarray(actuals, dtype=float)
    nonzero = actual != 0
    mase = float(abs_errors.mean() / scale) if len(abs_errors) and scale > 0 else None
    mape = float(np.mean(abs_errors[nonzero] / np.abs(actual[nonzero])) * 100) if nonzero.any() else None
    return MethodScore(name, mase, mape, len(abs_errors), int(nonzero.sum()))


def compute_backtest(
    history: pd.Series,
    *,
    today: dt.date | None = None,
    window_days: int = 90,
    horizon_days: int = 28,
    step_days: int = 7,
) -> Backtest:
    """Rolling-origin backtest over the last ``window_days``: MASE (vs in-sample seasonal-naive MAE) and MAPE.

    Origins sit every ``step_days`` from the window's start; each forecasts up to ``horizon_days`` days that
    have actuals. Baselines: seasonal-naive (same weekday last week) and the run-rate formula, which predicts
    every remaining day at the month-to-date daily mean (realised + daily average × days remaining). The model
    is refitted at every origin, warm-started from the previous origin's parameters to stay fast.
    Days with zero actual spend are skipped in MAPE (it divides by the actual) and counted in
    ``zero_actuals_skipped``; MASE keeps them.
    """
    if today is None:
        today = pd.Timestamp(pd.DatetimeIndex(pd.to_datetime(pd.Index(history.index))).max()).date()
    y = _daily(history, today).astype(float)
    n = len(y)
    dates = [today - dt.timedelta(days=n - 1 - i) for i in range(n)]
    first = max(n - window_days, MIN_ETS_DAYS)
    origins = list(range(first, n, max(step_days, 1)))
    errors: dict[str, list[float]] = {"model": [], "seasonal_naive": [], "run_rate": []}
    actuals: list[float] = []
    methods: Counter[str] = Counter()
    params: Any = None
    for origin in origins:
        train, actual = y[:origin], y[origin : origin + horizon_days]
        h = len(actual)
        model, method, params = _point_forecasts(train, h, params)
        methods[method] += 1
        lags = np.arange(h) % SEASON
        naive = train[origin - SEASON + lags] if origin >= SEASON else np.full(h, train[-1])
        month_to_date = [v for d, v in zip(dates[:origin], train, strict=True) if d >= dates[origin - 1].replace(day=1)]
        run_rate = np.full(h, float(np.mean(month_to_date)))
        for name, predicted in (("model", model), ("seasonal_naive", naive), ("run_rate", run_rate)):
            errors[name].extend((predicted - actual).tolist())
        actuals.extend(actual.tolist())
    # MASE scale: the in-sample MAE of seasonal-naive (lag 1 when too short for a week) on pre-window data.
    lag = SEASON if first >= 2 * SEASON else 1
    in_sample = y[:first]
    scale = float(np.mean(np.abs(in_sample[lag:] - in_sample[:-lag]))) if len(in_sample) > lag else 0.0
    scores = {name: _score(name, errs, actuals, scale) for name, errs in errors.items()}
    model_method: Method = methods.most_common(1)[0][0] if methods else "none"  # type: ignore[assignment]
    return Backtest(
        origins=len(origins),
        window_days=window_days,
        horizon_days=horizon_days,
        step_days=step_days,
        model_method=model_method,
        model=scores["model"],
        seasonal_naive=scores["seasonal_naive"],
        run_rate=scores["run_rate"],
        zero_actuals_skipped=sum(1 for a in actuals if a == 0),
    )


@dataclass(frozen=True, order=True)
class Scope:
    """What a forecast or budget covers: the workspace, or one department, project, provider or customer."""

    kind: str
    value: str = ""

    @property
    def label(self) -> str:
        return "Whole workspace" if self.kind == "workspace" else self.value


WORKSPACE = Scope("workspace")


def compute_scope_histories(
    frame: pd.DataFrame,
    *,
    kinds: Iterable[str] = SCOPE_KINDS,
    top: int = 12,
    include: Iterable[Scope] = (),
) -> dict[Scope, pd.Series]:
    """Daily spend series for the workspace and the ``top`` biggest values of each kind (plus ``include``).

    ``frame`` has day, the scope dimensions and amount_micros (core.queries.load_scope_daily). Unallocated
    spend ("") counts in the workspace total but is not a scope of its own. Series are indexed by day.
    """
    wanted = set(include)
    if frame.empty:
        return {WORKSPACE: pd.Series(dtype="int64")} | {s: pd.Series(dtype="int64") for s in sorted(wanted)}
    days = pd.to_datetime(frame["day"])
    amounts = frame["amount_micros"].astype("int64")
    histories = {WORKSPACE: amounts.groupby(days).sum()}
    for kind in kinds:
        totals = amounts.groupby(frame[kind]).sum().drop("", errors="ignore")
        chosen = set(totals.sort_values(ascending=False, kind="stable").index[:top])
        chosen |= {s.value for s in wanted if s.kind == kind}
        grouped = amounts.groupby([frame[kind], days]).sum()
        present = set(grouped.index.get_level_values(0))
        for value in sorted(chosen):
            series = grouped.loc[value] if value in present else pd.Series(dtype="int64")
            histories[Scope(kind, value)] = series
    return histories


def compute_scope_forecasts(
    histories: Mapping[Scope, pd.Series], *, today: dt.date, horizon_days: int
) -> dict[Scope, Forecast]:
    """One forecast per scope (memoised by content, so a second call with the same data costs ~nothing)."""
    return {
        scope: compute_forecast(history, horizon_days=horizon_days, today=today) for scope, history in histories.items()
    }
