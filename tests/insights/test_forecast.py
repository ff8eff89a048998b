import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from insights import forecast
from insights.forecast import compute_backtest, compute_forecast, month_end_total

TODAY = dt.date(2026, 11, 21)  # a Saturday; month end is 9 days later
MONTH_END = dt.date(2026, 11, 30)
USD = 1_000_000
# Weekday-heavy spend, Monday first: the shape of a team's API usage.
WEEK = np.array([120, 130, 125, 120, 110, 20, 15]) * USD


def days_to(today: dt.date, n: int) -> pd.DatetimeIndex:
    return pd.date_range(end=pd.Timestamp(today), periods=n, freq="D")


def weekly(n: int, *, seed: int = 0, noise: float = 0.0, today: dt.date = TODAY) -> pd.Series:
    """Known weekly pattern plus seeded Gaussian noise (sd in micros), as integer micro-USD per day."""
    index = days_to(today, n)
    rng = np.random.default_rng(seed)
    values = WEEK[index.day_of_week] + rng.normal(0, noise, n)
    return pd.Series(np.rint(np.clip(values, 0, None)).astype("int64"), index=index)


def assert_ordered(fc: forecast.Forecast) -> None:
    for d in fc.days:
        assert 0 <= d.lower95 <= d.lower80 <= d.median <= d.upper80 <= d.upper95
        assert 0 <= d.cum_lower95 <= d.cum_lower80 <= d.cum_median <= d.cum_upper80 <= d.cum_upper95


@pytest.mark.parametrize(
    ("days", "method"),
    [(5, "run_rate"), (6, "ets"), (10, "ets"), (13, "ets"), (14, "ets_weekly"), (30, "ets_weekly")],
    ids=["5d-run-rate", "6d-ets", "10d-ets", "13d-ets", "14d-weekly", "30d-weekly"],
)
def test_method_follows_history_length(days: int, method: str) -> None:
    fc = compute_forecast(weekly(days, noise=5 * USD), horizon_days=30, today=TODAY)
    assert fc.method == method
    assert fc.history_days == days
    assert [d.day for d in fc.days] == [TODAY + dt.timedelta(days=i) for i in range(1, 31)]
    assert_ordered(fc)


def test_constant_series_is_repeated_without_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forecast, "_fit_ets", lambda *a, **k: pytest.fail("a constant series must not be fitted"))
    history = pd.Series(3_250_001, index=days_to(TODAY, 40))
    fc = compute_forecast(history, horizon_days=9, today=TODAY)
    assert fc.method == "constant"
    assert {(d.median, d.lower80, d.upper80, d.lower95, d.upper95) for d in fc.days} == {(3_250_001,) * 5}
    total = month_end_total(fc, 70_000_000, MONTH_END)
    expected = 70_000_000 + 9 * 3_250_001
    assert (total.median, total.lower80, total.upper80, total.lower95, total.upper95) == (expected,) * 5


def test_all_zeros_forecast_zero() -> None:
    fc = compute_forecast(pd.Series(0, index=days_to(TODAY, 60)), horizon_days=30, today=TODAY)
    assert fc.method == "constant"
    assert all(d.upper95 == d.cum_upper95 == 0 for d in fc.days)


def test_no_history_is_method_none() -> None:
    fc = compute_forecast(pd.Series([], dtype="int64"), horizon_days=3, today=TODAY)
    assert fc.method == "none"
    assert [d.cum_upper95 for d in fc.days] == [0, 0, 0]
    assert month_end_total(fc, 0, dt.date(2026, 11, 23)).upper95 == 0


def test_leading_zeros_gaps_dates_and_future_rows() -> None:
    """Days before the first charge are dropped, gaps are zero spend, rows after today are ignored."""
    index = [dt.date(2026, 11, 1), dt.date(2026, 11, 15), dt.date(2026, 11, 18), dt.date(2026, 11, 30)]
    fc = compute_forecast(pd.Series([0, 5 * USD, 5 * USD, 99 * USD], index=index), horizon_days=2, today=TODAY)
    # 15th..21st: 5, 0, 0, 5, 0, 0, 0 → seven days, not constant → ETS from 6 days
    assert fc.history_days == 7
    assert fc.method == "ets"


def test_sparse_spiky_series_keeps_lower_bounds_at_zero_and_is_quiet() -> None:
    rng = np.random.default_rng(7)
    values = rng.choice([0, 0, 0, 40 * USD], size=45) * rng.random(45)
    history = pd.Series(values.astype("int64"), index=days_to(TODAY, 45))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # statsmodels' warnings must be handled inside
        fc = compute_forecast(history, horizon_days=120, today=TODAY)
    assert fc.method == "ets_weekly"
    assert min(d.lower80 for d in fc.days) == 0  # the unclipped bound would be negative
    assert_ordered(fc)


def test_fit_failure_falls_back_to_run_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(forecast, "_fit_ets", broken)
    fc = compute_forecast(weekly(30, noise=5 * USD), horizon_days=9, today=TODAY)
    assert fc.method == "run_rate"
    assert_ordered(fc)


def test_forecast_is_deterministic() -> None:
    history = weekly(60, seed=3, noise=10 * USD)
    assert compute_forecast(history, horizon_days=40, today=TODAY) == compute_forecast(
        history, horizon_days=40, today=TODAY
    )


def test_month_end_of_noiseless_weekly_pattern_is_exact_to_a_cent_per_day() -> None:
    history = weekly(56)
    realised = int(history[history.index >= "2026-11-01"].sum())
    fc = compute_forecast(history, horizon_days=30, today=TODAY)
    remaining = pd.date_range("2026-11-22", "2026-11-30", freq="D")
    truth = realised + int(WEEK[remaining.day_of_week].sum())
    total = month_end_total(fc, realised, MONTH_END)
    assert fc.method == "ets_weekly"
    # The model recovers the pattern exactly; what is left is the optimiser's tolerance on the smoothing
    # parameters, far below a cent a day (9 days × $0.01 on a ~$900 remainder).
    assert abs(total.median - truth) <= 9 * 10_000
    assert total.upper95 - total.lower95 <= 9 * 10_000
    assert total.realised_micros == realised


def test_month_end_total_edges() -> None:
    fc = compute_forecast(weekly(30, noise=USD), horizon_days=5, today=TODAY)
    assert month_end_total(fc, 42, TODAY).median == 42
    assert month_end_total(fc, 42, TODAY + dt.timedelta(days=5)).median == 42 + fc.days[4].cum_median
    with pytest.raises(ValueError, match="ends 5 days after"):
        month_end_total(fc, 42, MONTH_END)


def test_frame_has_one_row_per_day() -> None:
    frame = compute_forecast(weekly(30, noise=USD), horizon_days=4, today=TODAY).frame()
    assert list(frame.columns[:6]) == ["day", "median", "lower80", "upper80", "lower95", "upper95"]
    assert len(frame) == 4


def test_80_percent_intervals_cover_the_truth_about_80_percent_of_the_time() -> None:
    """40 seeds: the next day and the month-end total each fall in their 80% interval ~80% of the time."""
    day_hits = month_hits = 0
    seeds = range(40)
    for seed in seeds:
        # 56 days of history followed by 9 unseen days from the same process: level + week + N(0, $10).
        full = weekly(65, seed=seed, noise=10 * USD, today=MONTH_END)
        history, future = full[: TODAY.isoformat()], full[(TODAY + dt.timedelta(days=1)).isoformat() :]
        fc = compute_forecast(history, horizon_days=9, today=TODAY)
        day_hits += fc.days[0].lower80 <= future.iloc[0] <= fc.days[0].upper80
        total = month_end_total(fc, 0, MONTH_END)
        month_hits += total.lower80 <= future.sum() <= total.upper80
    assert 0.65 <= day_hits / len(seeds) <= 0.95
    assert 0.65 <= month_hits / len(seeds) <= 0.95


def test_backtest_scores_ets_above_the_run_rate_on_a_seasonal_series() -> None:
    bt = compute_backtest(weekly(180, noise=8 * USD), window_days=90, horizon_days=28, step_days=7)
    assert bt.origins == 13
    assert bt.model_method == "ets_weekly"
    for score in (bt.model, bt.seasonal_naive, bt.run_rate):
        assert score.mase is not None and score.mape is not None
        assert score.points == bt.model.points > 0
    assert bt.model_beats_run_rate
    assert bt.model.mase < bt.seasonal_naive.mase


def test_backtest_skips_zero_days_in_mape_only() -> None:
    history = weekly(60, noise=USD)
    history[history.index.day_of_week >= 5] = 0  # no weekend spend
    bt = compute_backtest(history, window_days=30, horizon_days=14)
    assert bt.zero_actuals_skipped > 0
    assert bt.model.mape_points == bt.model.points - bt.zero_actuals_skipped
    assert bt.model.mape is not None and bt.model.mase is not None


def test_backtest_on_too_little_history_has_no_scores() -> None:
    bt = compute_backtest(weekly(4, noise=USD))
    assert bt.origins == 0
    assert bt.model.mase is None and bt.model.mape is None
    assert bt.model_beats_run_rate is None


def scope_frame() -> pd.DataFrame:
    rows = [
        (dt.date(2026, 11, 1), "OpenAI", "Marketing", "site", "Globex", 5 * USD),
        (dt.date(2026, 11, 1), "OpenAI", "Sales", "crm", "", 3 * USD),
        (dt.date(2026, 11, 2), "Anthropic", "Marketing", "site", "Globex", 7 * USD),
        (dt.date(2026, 11, 3), "Anthropic", "", "", "Hooli", 11 * USD),
    ]
    return pd.DataFrame(rows, columns=["day", "provider", "department", "project", "customer", "amount_micros"])


def test_scope_histories_cover_workspace_and_each_value_but_not_unallocated() -> None:
    histories = forecast.compute_scope_histories(scope_frame())
    ws = histories[forecast.WORKSPACE]
    assert ws.to_dict() == {pd.Timestamp("2026-11-01"): 8 * USD, pd.Timestamp("2026-11-02"): 7 * USD,
                            pd.Timestamp("2026-11-03"): 11 * USD}  # fmt: skip
    assert histories[forecast.Scope("department", "Marketing")].sum() == 12 * USD
    assert histories[forecast.Scope("provider", "Anthropic")].sum() == 18 * USD
    assert histories[forecast.Scope("customer", "Hooli")].sum() == 11 * USD
    assert forecast.Scope("department", "") not in histories
    assert forecast.Scope("customer", "") not in histories
    assert len(histories) == 1 + 2 + 2 + 2 + 2


def test_scope_histories_keep_the_top_values_and_anything_asked_for() -> None:
    wanted = forecast.Scope("department", "Legal")  # a budget on a department that has not spent yet
    histories = forecast.compute_scope_histories(scope_frame(), top=1, include=[wanted])
    departments = sorted(s.value for s in histories if s.kind == "department")
    assert departments == ["Legal", "Marketing"]
    assert histories[wanted].empty
    assert forecast.compute_forecast(histories[wanted], horizon_days=3, today=TODAY).method == "none"


def test_forecasts_are_memoised_by_content_and_refitted_when_the_data_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    forecast.clear_cache()
    fits: list[int] = []
    real = forecast._compute_forecast
    monkeypatch.setattr(forecast, "_compute_forecast", lambda y, h, t: fits.append(len(y)) or real(y, h, t))
    history = weekly(40, seed=3, noise=5 * USD)
    first = compute_forecast(history, horizon_days=9, today=TODAY)
    again = compute_forecast(history.copy(), horizon_days=9, today=TODAY)
    assert again is first and fits == [40]
    changed = history.copy()
    changed.iloc[-1] += 1
    assert compute_forecast(changed, horizon_days=9, today=TODAY) is not first
    assert compute_forecast(history, horizon_days=10, today=TODAY) is not first
    assert fits == [40, 40, 40]


def test_month_totals_split_the_horizon_by_calendar_month_and_match_the_cumulative_path() -> None:
    fc = compute_forecast(weekly(120, seed=5, noise=8 * USD), horizon_days=40, today=TODAY)
    assert [(m.month, m.days) for m in fc.months] == [(dt.date(2026, 11, 1), 9), (dt.date(2026, 12, 1), 31)]
    # The first (partial) month's total is the same simulated sum as the cumulative path to its last day.
    first, last_day = fc.months[0], fc.days[8]
    assert last_day.day == MONTH_END
    assert (first.median, first.lower80, first.upper95) == (last_day.cum_median, last_day.cum_lower80,
                                                            last_day.cum_upper95)  # fmt: skip
    december = fc.months[1]
    assert 0 <= december.lower95 <= december.lower80 <= december.median <= december.upper80 <= december.upper95
    # A month's median is near the sum of its days' medians; its range is far narrower than summed daily ranges.
    dec_days = [d for d in fc.days if d.day.month == 12]
    assert abs(december.median - sum(d.median for d in dec_days)) < 0.03 * december.median
    assert december.upper80 - december.lower80 < 0.6 * sum(d.upper80 - d.lower80 for d in dec_days)


def test_month_totals_of_a_constant_series_are_exact() -> None:
    fc = compute_forecast(pd.Series(3 * USD, index=days_to(TODAY, 20)), horizon_days=40, today=TODAY)
    assert [(m.days, m.median, m.lower95, m.upper95) for m in fc.months] == [
        (9, 27 * USD, 27 * USD, 27 * USD),
        (31, 93 * USD, 93 * USD, 93 * USD),
    ]


def test_month_totals_of_the_run_rate_widen_with_the_block() -> None:
    fc = compute_forecast(weekly(5, seed=1, noise=3 * USD), horizon_days=40, today=TODAY)
    assert fc.method == "run_rate"
    nov, dec = fc.months
    assert dec.median == pytest.approx(nov.median * 31 / 9, rel=1e-6)
    assert (dec.upper80 - dec.lower80) > (nov.upper80 - nov.lower80)
