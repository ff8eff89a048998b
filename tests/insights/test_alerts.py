import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd

from insights.alerts import compute_anomaly_alerts, compute_budget_alerts
from insights.budgets import BudgetSpec, BudgetStatus, evaluate_budget
from insights.forecast import Forecast, ForecastDay

USD = 1_000_000  # micro-dollars per dollar
NOV_1, NOV_20, NOV_30 = dt.date(2026, 11, 1), dt.date(2026, 11, 20), dt.date(2026, 11, 30)


def line_forecast(*, median: int, lower80: int, upper80: int) -> Forecast:
    """Nov 21-30 at whole dollars a day; cum_* on day k is k × the rate, so exceed dates are exact."""
    rows = []
    for k in range(1, 11):
        daily = (median * USD, lower80 * USD, upper80 * USD, lower80 * USD, upper80 * USD)
        rows.append(ForecastDay(NOV_20 + dt.timedelta(days=k), *daily, *(k * v for v in daily)))
    return Forecast(method="run_rate", today=NOV_20, history_days=30, days=tuple(rows))


def status_for(spec: BudgetSpec, realised_dollars: int, forecast: Forecast) -> BudgetStatus:
    """The budget's status with ``realised_dollars`` spent, all of it on Nov 5."""
    month = pd.Series([realised_dollars * USD], index=[dt.date(2026, 11, 5)])
    return evaluate_budget(spec, month, forecast, month_start=NOV_1, month_end=NOV_30)


MARKETING = BudgetSpec(7, "department", "Marketing", 4_000 * USD)
# $2,000 more needed: median $250/day passes it on Nov 29, upper $400/day on Nov 26, lower $220/day on Nov 30.
OVERRUN = line_forecast(median=250, lower80=220, upper80=400)
# From $3,000: median $50/day → $3,500; upper $110/day goes above $1,000 more on Nov 30 ($990 on Nov 29).
RISKY = line_forecast(median=50, lower80=0, upper80=110)


def test_a_threshold_reached_exactly_alerts_once_with_spend_so_far() -> None:
    [alert] = compute_budget_alerts([status_for(MARKETING, 3_000, RISKY)])  # exactly 75%

    assert alert.kind == "threshold"
    assert alert.dedupe_key == "budget:7:2026-11:threshold:75"
    assert alert.budget_id == 7
    assert alert.period == "2026-11"
    assert alert.title == "Marketing budget: 75% reached ($3,000 of $4,000 spent)"
    assert alert.amount_micros == 3_000 * USD
    assert alert.body == (
        "Marketing has spent $3,000 of its $4,000 budget for November 2026 through Nov 20 (75%). "
        "That reaches the 75% alert threshold. "
        "Likely to stay within the $4,000 Marketing budget ($3,500 projected), but it could exceed it from Nov 30."
    )
    assert alert.detail["threshold"] == 75
    assert alert.detail["spent_usd"] == "3000.000000"


def test_below_every_threshold_and_on_track_gives_no_alert() -> None:
    status = status_for(MARKETING, 2_999, line_forecast(median=10, lower80=0, upper80=20))
    assert status.state == "on_track"
    assert compute_budget_alerts([status]) == []


def test_overrun_is_predicted_before_the_money_is_gone() -> None:
    status = status_for(MARKETING, 2_000, OVERRUN)
    [alert] = compute_budget_alerts([status])

    assert alert.kind == "overrun"
    assert alert.dedupe_key == "budget:7:2026-11:overrun"
    assert alert.period == "2026-11"
    assert alert.title == "Marketing is on track to exceed its $4,000 budget on Nov 29"
    assert alert.amount_micros == 4_500 * USD  # the projected month-end median
    assert alert.body == (
        "Marketing has spent $2,000 of its $4,000 budget for November 2026 through Nov 20 (50%). "
        "The forecast for the whole month is $4,500 (80% range $4,200–$6,000), "
        "so the budget would run out on Nov 29 (between Nov 26 and Nov 30)."
    )
    assert alert.detail["exceed_date"] == "2026-11-29"
    assert alert.detail["exceed_earliest"] == "2026-11-26"
    assert alert.detail["exceed_latest"] == "2026-11-30"
    assert alert.detail["projected_median_usd"] == "4500.000000"


def test_overrun_that_may_last_the_month_says_so() -> None:
    status = status_for(MARKETING, 2_000, line_forecast(median=250, lower80=200, upper80=400))
    [alert] = compute_budget_alerts([status])

    assert alert.body.endswith(
        "so the budget would run out on Nov 29 (as early as Nov 26, though it may also last the month)."
    )


def test_thresholds_and_overrun_together_in_order() -> None:
    spec = BudgetSpec(7, "department", "Marketing", 2_500 * USD, thresholds=(50, 75, 100))
    alerts = compute_budget_alerts([status_for(spec, 2_000, OVERRUN)])  # 80%

    assert [a.dedupe_key for a in alerts] == [
        "budget:7:2026-11:threshold:50",
        "budget:7:2026-11:threshold:75",
        "budget:7:2026-11:overrun",
    ]
    assert alerts[1].title == "Marketing budget: 75% reached ($2,000 of $2,500 spent)"
    assert [a.amount_micros for a in alerts] == [2_000 * USD, 2_000 * USD, 4_500 * USD]


def test_a_budget_already_over_alerts_on_thresholds_not_on_a_prediction() -> None:
    spec = BudgetSpec(7, "department", "Marketing", 1_500 * USD)
    status = status_for(spec, 2_000, OVERRUN)
    alerts = compute_budget_alerts([status])

    assert status.state == "over"
    assert [a.kind for a in alerts] == ["threshold", "threshold"]
    assert alerts[1].title == "Marketing budget: 100% reached ($2,000 of $1,500 spent)"
    assert alerts[1].body.endswith("Over the $1,500 Marketing budget since Nov 5: $2,000 spent, 133%.")
    assert alerts[1].detail["exceeded_on"] == "2026-11-05"


def test_unsaved_budgets_are_skipped() -> None:
    unsaved = BudgetSpec(None, "department", "Marketing", 4_000 * USD)
    saved = BudgetSpec(9, "provider", "OpenAI", 4_000 * USD)
    alerts = compute_budget_alerts([status_for(unsaved, 3_500, OVERRUN), status_for(saved, 3_500, OVERRUN)])

    assert {a.budget_id for a in alerts} == {9}
    assert [a.dedupe_key for a in alerts] == ["budget:9:2026-11:threshold:75", "budget:9:2026-11:overrun"]
    assert (
        alerts[1].title == "OpenAI is on track to exceed its $4,000 budget on Nov 23"
    )  # names keep their case; $500 more is not above


def test_workspace_budget_wording() -> None:
    spec = BudgetSpec(1, "workspace", "", 4_000 * USD)
    threshold, overrun = compute_budget_alerts([status_for(spec, 3_000, OVERRUN)])

    assert threshold.title == "Workspace budget: 75% reached ($3,000 of $4,000 spent)"
    assert threshold.body.startswith("The workspace has spent $3,000 of its $4,000 budget for November 2026")
    assert overrun.title == "The workspace is on track to exceed its $4,000 budget on Nov 25"
    assert overrun.detail["label"] == "Whole workspace"


def test_budget_detail_is_json_with_exact_decimal_strings() -> None:
    [alert] = compute_budget_alerts([status_for(MARKETING, 2_000, OVERRUN)])

    assert json.loads(json.dumps(alert.detail)) == alert.detail
    assert alert.detail == {
        "budget_id": 7,
        "label": "Marketing",
        "scope": "department",
        "scope_value": "Marketing",
        "month": "2026-11",
        "through": "2026-11-20",
        "state": "overrun_predicted",
        "amount_usd": "4000.000000",
        "spent_usd": "2000.000000",
        "utilisation": 0.5,
        "projected_median_usd": "4500.000000",
        "projected_lower80_usd": "4200.000000",
        "projected_upper80_usd": "6000.000000",
        "projected_lower95_usd": "4200.000000",
        "projected_upper95_usd": "6000.000000",
        "exceeded_on": None,
        "exceed_date": "2026-11-29",
        "exceed_earliest": "2026-11-26",
        "exceed_latest": "2026-11-30",
        "thresholds": [75, 100],
    }


@dataclass(frozen=True)
class FakeAnomaly:
    day: dt.date
    dimension: str
    value: str
    actual_micros: int
    expected_micros: int
    impact_micros: int
    driver_dimension: str
    driver_value: str
    sentence: str


SPIKE = FakeAnomaly(
    day=dt.date(2026, 11, 18),
    dimension="provider",
    value="OpenAI",
    actual_micros=1_240 * USD,
    expected_micros=300 * USD,
    impact_micros=940 * USD,
    driver_dimension="model",
    driver_value="gpt-4o",
    sentence="OpenAI spend on Nov 18 was $1,240, about $940 above the usual $300, mostly gpt-4o.",
)


def test_anomaly_alert_keys_amount_and_words() -> None:
    [alert] = compute_anomaly_alerts([SPIKE], since=dt.date(2026, 11, 18))

    assert alert.kind == "anomaly"
    assert alert.dedupe_key == "anomaly:provider:OpenAI:2026-11-18"
    assert alert.budget_id is None
    assert alert.period == "2026-11-18"
    assert alert.amount_micros == 940 * USD
    assert alert.title == "Unusual spend on provider OpenAI on Nov 18: $1,240 against about $300 expected"
    assert alert.body == SPIKE.sentence  # the driver is already named
    assert alert.detail == {
        "dimension": "provider",
        "value": "OpenAI",
        "day": "2026-11-18",
        "actual_usd": "1240.000000",
        "expected_usd": "300.000000",
        "impact_usd": "940.000000",
        "driver_dimension": "model",
        "driver_value": "gpt-4o",
    }
    assert json.loads(json.dumps(alert.detail)) == alert.detail


def test_anomalies_before_since_are_left_out() -> None:
    older = FakeAnomaly(**{**SPIKE.__dict__, "day": dt.date(2026, 11, 17)})
    newer = FakeAnomaly(**{**SPIKE.__dict__, "day": dt.date(2026, 11, 19)})
    alerts = compute_anomaly_alerts([older, SPIKE, newer], since=dt.date(2026, 11, 18))

    assert [a.period for a in alerts] == ["2026-11-18", "2026-11-19"]


def test_anomaly_driver_is_added_when_the_sentence_does_not_name_it() -> None:
    quiet = FakeAnomaly(
        **{
            **SPIKE.__dict__,
            "dimension": "project",
            "value": "chatbot",
            "sentence": "",
            "driver_dimension": "api_key",
            "driver_value": "prod-key",
        }
    )
    [alert] = compute_anomaly_alerts([quiet], since=dt.date(2026, 11, 1))

    assert alert.dedupe_key == "anomaly:project:chatbot:2026-11-18"
    assert alert.body == (
        "Project chatbot spent $1,240 on Nov 18, against about $300 expected. "
        "Most of the change came from API key prod-key."
    )


def test_an_overlong_anomaly_value_still_gets_a_stable_key_that_fits() -> None:
    long = FakeAnomaly(**{**SPIKE.__dict__, "dimension": "api_key", "value": "k" * 300})
    [first] = compute_anomaly_alerts([long], since=dt.date(2026, 11, 1))
    [again] = compute_anomaly_alerts([long], since=dt.date(2026, 11, 1))
    other = FakeAnomaly(**{**long.__dict__, "value": "k" * 299 + "j"})
    [different] = compute_anomaly_alerts([other], since=dt.date(2026, 11, 1))

    assert len(first.dedupe_key) <= 255
    assert first.dedupe_key == again.dedupe_key
    assert first.dedupe_key.startswith("anomaly:api_key:sha256-") and first.dedupe_key.endswith(":2026-11-18")
    assert different.dedupe_key != first.dedupe_key
    assert len(first.title) == 255 and first.title.endswith("…")
