import datetime as dt

import pandas as pd
import pytest

from insights.budgets import (
    BudgetMonth,
    BudgetSpec,
    BudgetStatus,
    compute_budget_history,
    evaluate_budget,
    exceed_range,
    percent,
    usd,
)
from insights.forecast import Forecast, ForecastDay, MonthEndTotal, compute_forecast

USD = 1_000_000  # micro-dollars per dollar
NOV_1, NOV_30 = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
NOV_20 = dt.date(2026, 11, 20)
MARKETING = BudgetSpec(3, "department", "Marketing", 4_000 * USD)


def nov(day: int) -> dt.date:
    return dt.date(2026, 11, day)


def flat(dollars_per_day: int, start: dt.date, end: dt.date) -> pd.Series:
    """The same spend every day from start to end inclusive, indexed by date."""
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return pd.Series([dollars_per_day * USD] * len(days), index=days)


def hand_forecast(today: dt.date, *, median: int, lower80: int, upper80: int, days: int = 10) -> Forecast:
    """A straight-line forecast in whole dollars a day: cum_* on day k is k × the rate, so dates are exact."""
    rows = []
    for k in range(1, days + 1):
        daily = (median * USD, lower80 * USD, upper80 * USD, lower80 * USD, upper80 * USD)
        rows.append(ForecastDay(today + dt.timedelta(days=k), *daily, *(k * v for v in daily)))
    return Forecast(method="run_rate", today=today, history_days=30, days=tuple(rows))


def evaluate(spec: BudgetSpec, month_daily: pd.Series, forecast: Forecast) -> BudgetStatus:
    return evaluate_budget(spec, month_daily, forecast, month_start=NOV_1, month_end=NOV_30)


# $100 a day from Oct 1 to Nov 20: a constant series, so the forecast is exactly $100 a day with no spread.
CONSTANT_HISTORY = flat(100, dt.date(2026, 10, 1), NOV_20)
CONSTANT_MONTH = flat(100, NOV_1, NOV_20)  # $2,000 realised


def test_constant_forecast_exceeds_the_day_spend_goes_strictly_above_the_budget() -> None:
    forecast = compute_forecast(CONSTANT_HISTORY, horizon_days=40, today=NOV_20)
    assert forecast.method == "constant"
    # $2,000 + 5 × $100 = $2,500 is not above $2,500 (Nov 25); $2,600 on Nov 26 is.
    status = evaluate(BudgetSpec(1, "department", "Marketing", 2_500 * USD), CONSTANT_MONTH, forecast)

    assert status.state == "overrun_predicted"
    assert status.through == NOV_20
    assert status.realised_micros == 2_000 * USD
    assert status.projected == MonthEndTotal(NOV_30, 2_000 * USD, *([3_000 * USD] * 5))
    assert status.exceed_date == status.exceed_earliest == status.exceed_latest == nov(26)
    assert status.exceeded_on is None
    assert status.utilisation == 0.8
    assert status.projected_utilisation == 1.2
    assert status.crossed == (75,)
    assert status.sentence == "On track to exceed the $2,500 Marketing budget on Nov 26."


def test_projection_exactly_at_the_budget_is_on_track() -> None:
    forecast = compute_forecast(CONSTANT_HISTORY, horizon_days=40, today=NOV_20)
    status = evaluate(BudgetSpec(1, "department", "Marketing", 3_000 * USD), CONSTANT_MONTH, forecast)

    assert status.state == "on_track"
    assert status.projected.median == status.projected.upper80 == 3_000 * USD
    assert (status.exceed_date, status.exceed_earliest, status.exceed_latest) == (None, None, None)
    assert status.sentence == "On track: $3,000 projected of the $3,000 Marketing budget (100%)."


def test_overrun_predicted_with_an_80_percent_range_of_dates() -> None:
    # Need more than $2,000 in the 10 days left: median $250/day → $2,000 on Nov 28 (not above), $2,250 Nov 29;
    # upper $400/day → $2,400 on Nov 26; lower $220/day → $2,200 on Nov 30.
    forecast = hand_forecast(NOV_20, median=250, lower80=220, upper80=400)
    status = evaluate(MARKETING, CONSTANT_MONTH, forecast)

    assert status.state == "overrun_predicted"
    assert status.projected == MonthEndTotal(
        NOV_30, 2_000 * USD, 4_500 * USD, 4_200 * USD, 6_000 * USD, 4_200 * USD, 6_000 * USD
    )
    assert (status.exceed_earliest, status.exceed_date, status.exceed_latest) == (nov(26), nov(29), nov(30))
    assert exceed_range(status) == "Nov 26–30"
    assert status.sentence == "On track to exceed the $4,000 Marketing budget on Nov 29 (range Nov 26–30)."


def test_overrun_predicted_that_may_not_happen_this_month() -> None:
    # The lower path reaches exactly $2,000 more on Nov 30: not above the budget, so no latest date.
    forecast = hand_forecast(NOV_20, median=250, lower80=200, upper80=400)
    status = evaluate(MARKETING, CONSTANT_MONTH, forecast)

    assert status.state == "overrun_predicted"
    assert (status.exceed_earliest, status.exceed_date, status.exceed_latest) == (nov(26), nov(29), None)
    assert status.sentence == (
        "On track to exceed the $4,000 Marketing budget on Nov 29 (range Nov 26 – not this month)."
    )


def test_at_risk_when_only_the_upper_range_goes_over() -> None:
    # Median $150/day → $3,500 at month end; upper $250/day → $4,500, above $4,000 from Nov 29 ($2,250 > $2,000).
    forecast = hand_forecast(NOV_20, median=150, lower80=100, upper80=250)
    status = evaluate(MARKETING, CONSTANT_MONTH, forecast)

    assert status.state == "at_risk"
    assert status.projected.median == 3_500 * USD
    assert status.projected.upper80 == 4_500 * USD
    assert (status.exceed_earliest, status.exceed_date, status.exceed_latest) == (nov(29), None, None)
    assert status.sentence == (
        "Likely to stay within the $4,000 Marketing budget ($3,500 projected), but it could exceed it from Nov 29."
    )


def test_on_track_and_a_threshold_reached_exactly() -> None:
    spec = BudgetSpec(3, "department", "Marketing", 4_000 * USD, thresholds=(50, 75, 100))
    forecast = hand_forecast(NOV_20, median=100, lower80=50, upper80=200)  # upper: $4,000 exactly, not above
    status = evaluate(spec, CONSTANT_MONTH, forecast)

    assert status.state == "on_track"
    assert status.utilisation == 0.5
    assert status.projected_utilisation == 0.75
    assert status.crossed == (50,)  # $2,000 is exactly 50% of $4,000
    assert status.sentence == "On track: $3,000 projected of the $4,000 Marketing budget (75%)."


def test_a_micro_dollar_below_a_threshold_does_not_reach_it() -> None:
    month = pd.Series([3_000 * USD - 1], index=[nov(1)])
    status = evaluate(MARKETING, month, hand_forecast(nov(1), median=0, lower80=0, upper80=0, days=29))
    assert status.crossed == ()
    status = evaluate(MARKETING, month + 1, hand_forecast(nov(1), median=0, lower80=0, upper80=0, days=29))
    assert status.crossed == (75,)


def test_over_since_the_first_day_cumulative_spend_went_above() -> None:
    spec = BudgetSpec(3, "department", "Marketing", 1_000 * USD)
    month = flat(100, NOV_1, nov(12))  # $1,000 on Nov 10 is not above; $1,100 on Nov 11 is
    status = evaluate(spec, month, hand_forecast(nov(12), median=100, lower80=50, upper80=150, days=18))

    assert status.state == "over"
    assert status.realised_micros == 1_200 * USD
    assert status.exceeded_on == nov(11)
    assert (status.exceed_date, status.exceed_earliest, status.exceed_latest) == (None, None, None)
    assert status.crossed == (75, 100)
    assert status.projected.median == 3_000 * USD
    assert status.sentence == "Over the $1,000 Marketing budget since Nov 11: $1,200 spent, 120%."


def test_spend_exactly_at_the_budget_is_not_over_but_reaches_100_percent() -> None:
    spec = BudgetSpec(3, "department", "Marketing", 1_000 * USD)
    status = evaluate(spec, flat(100, NOV_1, nov(10)), hand_forecast(nov(10), median=1, lower80=0, upper80=2, days=20))

    assert status.state == "overrun_predicted"
    assert status.exceeded_on is None
    assert status.crossed == (75, 100)
    assert (status.exceed_earliest, status.exceed_date, status.exceed_latest) == (nov(11), nov(11), None)


def test_over_by_cents_shows_cents_rather_than_two_equal_amounts() -> None:
    spec = BudgetSpec(None, "department", "Marketing", 5_000 * USD)
    month = pd.Series([4_000 * USD, 1_000 * USD + 400_000], index=[nov(3), nov(4)])
    status = evaluate(spec, month, hand_forecast(nov(4), median=0, lower80=0, upper80=0, days=26))

    assert status.state == "over"
    assert status.sentence == "Over the $5,000.00 Marketing budget since Nov 4: $5,000.40 spent, 100%."


def test_workspace_budget_is_named_as_the_workspace() -> None:
    spec = BudgetSpec(1, "workspace", "", 10_000 * USD)
    status = evaluate(spec, CONSTANT_MONTH, hand_forecast(NOV_20, median=100, lower80=100, upper80=100))

    assert spec.label == "Whole workspace"
    assert status.sentence == "On track: $3,000 projected of the $10,000 workspace budget (30%)."


def test_month_daily_outside_the_month_or_after_today_is_ignored_and_timestamps_work() -> None:
    month = pd.Series(
        [500 * USD, 100 * USD, 200 * USD, 50 * USD, 900 * USD],
        index=pd.to_datetime(["2026-10-31", "2026-11-02", "2026-11-02", "2026-11-09", "2026-11-21"]),
    )
    status = evaluate(MARKETING, month, hand_forecast(NOV_20, median=0, lower80=0, upper80=0))

    assert status.realised_micros == 350 * USD  # two rows on Nov 2 add up; Oct 31 and Nov 21 do not count
    assert status.state == "on_track"


def test_forecast_days_after_month_end_do_not_count() -> None:
    # $4,600 budget, upper $250/day: $2,000 + $2,500 = $4,500 on Nov 30 stays within; Dec 1 ($4,750) would not.
    spec = BudgetSpec(3, "department", "Marketing", 4_600 * USD)
    status = evaluate(spec, CONSTANT_MONTH, hand_forecast(NOV_20, median=100, lower80=50, upper80=250, days=40))

    assert status.state == "on_track"
    assert status.projected.upper80 == 4_500 * USD
    assert status.exceed_earliest is None


def test_a_finished_month_projects_nothing_and_ignores_the_next_month() -> None:
    dec_2 = dt.date(2026, 12, 2)
    month = flat(100, NOV_1, dec_2)  # $3,000 in November; Dec 1-2 belong to the next month
    forecast = compute_forecast(flat(100, dt.date(2026, 10, 1), dec_2), horizon_days=5, today=dec_2)
    status = evaluate(MARKETING, month, forecast)

    assert status.through == dec_2
    assert status.realised_micros == 3_000 * USD
    assert status.projected == MonthEndTotal(NOV_30, 3_000 * USD, *([3_000 * USD] * 5))
    assert status.state == "on_track"
    assert status.exceed_earliest is None
    assert status.sentence == "Within budget: $3,000 spent of the $4,000 Marketing budget (75%)."


def test_first_day_of_the_month_has_nothing_realised_yet() -> None:
    oct_31 = dt.date(2026, 10, 31)
    status = evaluate(
        MARKETING, pd.Series(dtype="int64"), hand_forecast(oct_31, median=150, lower80=100, upper80=200, days=30)
    )

    assert status.realised_micros == 0
    assert status.through == oct_31
    assert status.projected.median == 4_500 * USD
    assert status.state == "overrun_predicted"
    assert (status.exceed_earliest, status.exceed_date, status.exceed_latest) == (nov(21), nov(27), None)


def test_a_forecast_that_starts_before_the_month_is_refused() -> None:
    with pytest.raises(ValueError, match="more than a day before the month"):
        evaluate(
            MARKETING, pd.Series(dtype="int64"), hand_forecast(dt.date(2026, 10, 30), median=1, lower80=1, upper80=1)
        )


def test_a_forecast_too_short_for_the_month_is_refused() -> None:
    with pytest.raises(ValueError, match="before 2026-11-30"):
        evaluate(MARKETING, CONSTANT_MONTH, hand_forecast(NOV_20, median=1, lower80=1, upper80=1, days=5))


def test_money_and_percent_formats() -> None:
    assert usd(5_000 * USD) == "$5,000"
    assert usd(100 * USD) == "$100"
    assert usd(99_990_000) == "$99.99"
    assert usd(-250 * USD) == "-$250"
    assert percent(3, 8) == 38  # 37.5 rounds up
    assert percent(1, 3) == 33


def test_history_lists_whole_months_before_oldest_first_with_missing_months_as_zero() -> None:
    spec = BudgetSpec(3, "department", "Marketing", 1_000 * USD)
    monthly = {
        dt.date(2026, 4, 1): 9_999 * USD,  # too old
        dt.date(2026, 6, 1): 1_000 * USD,  # exactly the budget: not over
        dt.date(2026, 8, 1): 1_000 * USD + 1,
        dt.date(2026, 10, 1): 250 * USD,
        dt.date(2026, 11, 1): 7_777 * USD,  # the current month is not history
    }
    history = compute_budget_history(spec, monthly, months=6, before=dt.date(2026, 11, 21))

    assert history == [
        BudgetMonth(dt.date(2026, 5, 1), 0, 1_000 * USD, 0.0, False),
        BudgetMonth(dt.date(2026, 6, 1), 1_000 * USD, 1_000 * USD, 1.0, False),
        BudgetMonth(dt.date(2026, 7, 1), 0, 1_000 * USD, 0.0, False),
        BudgetMonth(dt.date(2026, 8, 1), 1_000 * USD + 1, 1_000 * USD, (1_000 * USD + 1) / (1_000 * USD), True),
        BudgetMonth(dt.date(2026, 9, 1), 0, 1_000 * USD, 0.0, False),
        BudgetMonth(dt.date(2026, 10, 1), 250 * USD, 1_000 * USD, 0.25, False),
    ]


def test_history_from_a_series_across_a_year_end() -> None:
    spec = BudgetSpec(3, "department", "Marketing", 1_000 * USD)
    monthly = pd.Series([400 * USD, 1_500 * USD], index=pd.to_datetime(["2026-12-01", "2027-01-01"]))
    history = compute_budget_history(spec, monthly, months=3, before=dt.date(2027, 2, 1))

    assert [(m.month, m.spent_micros, m.over) for m in history] == [
        (dt.date(2026, 11, 1), 0, False),
        (dt.date(2026, 12, 1), 400 * USD, False),
        (dt.date(2027, 1, 1), 1_500 * USD, True),
    ]
