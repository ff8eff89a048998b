import datetime as dt
from fractions import Fraction
from typing import Any

import pandas as pd
import pytest

from core import demo
from insights.savings import SavingsResult, compute_savings

USD = 1_000_000
M = 1_000_000  # tokens
ADOPTED = dt.date(2026, 10, 1)
TODAY = dt.date(2026, 10, 11)  # ten whole days after adoption; today's own spend is still arriving


def day_row(day: dt.date, model: str, input_tokens: int, output_tokens: int, amount_micros: int, **kw: Any) -> dict:
    return {"day": day, "provider": "OpenAI", "model": model, "project": "bot", "input_tokens": input_tokens,
            "output_tokens": output_tokens, "amount_micros": amount_micros, **kw}  # fmt: skip


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def switch_frame() -> pd.DataFrame:
    """bot moves from gpt-4o ($5 per million tokens) to mostly gpt-4o-mini on ADOPTED, while traffic doubles."""
    rows = []
    for day in days(dt.date(2026, 9, 21), dt.date(2026, 9, 30)):  # before: 2M tokens, $10 a day
        rows.append(day_row(day, "gpt-4o", M, M, 10 * USD))
    for day in days(ADOPTED, dt.date(2026, 10, 10)):  # after: 4M tokens, $8 a day = $2 per million
        rows.append(day_row(day, "gpt-4o-mini", 2 * M, M, 3 * USD))
        rows.append(day_row(day, "gpt-4o", M // 2, M // 2, 5 * USD))
    rows += [
        day_row(dt.date(2026, 9, 20), "gpt-4o", M, M, 1_000 * USD),  # the day before the before-period
        day_row(TODAY, "gpt-4o", M, M, 1_000 * USD),  # today: partial, not counted
        day_row(ADOPTED, "gpt-4o", M, M, 500 * USD, project="other"),
        day_row(ADOPTED, "claude-haiku-4-5", M, M, 700 * USD, provider="Anthropic"),
    ]
    return pd.DataFrame(rows)


def test_realised_saving_compares_cost_per_million_tokens() -> None:
    result = compute_savings(switch_frame(), adopted_on=ADOPTED, today=TODAY, provider="OpenAI", project="bot")
    # ($5 − $2 per million) × 40M tokens after, over 10 days, scaled to 30: $360 a month.
    assert result == SavingsResult(
        adopted_on=ADOPTED,
        before_cost_micros=100 * USD,
        before_mtok=20 * M,
        after_cost_micros=80 * USD,
        after_mtok=40 * M,
        before_per_mtok_micros=5 * USD,
        after_per_mtok_micros=2 * USD,
        realised_monthly_micros=360 * USD,
        days_after=10,
        enough_data=True,
    )


def test_a_model_switch_is_measured_over_both_models() -> None:
    frame = switch_frame()
    both = compute_savings(frame, adopted_on=ADOPTED, today=TODAY, project="bot", models=("gpt-4o", "gpt-4o-mini"))
    assert both.realised_monthly_micros == 360 * USD
    # The old model alone costs the same per token after as before: its shrinking bill is not a rate saving.
    old_only = compute_savings(frame, adopted_on=ADOPTED, today=TODAY, provider="OpenAI", project="bot", model="gpt-4o")
    assert (old_only.before_per_mtok_micros, old_only.after_per_mtok_micros) == (5 * USD, 5 * USD)
    assert old_only.realised_monthly_micros == 0
    # Without a provider the Anthropic row in bot counts too ($700 for 2M tokens after adoption).
    everything = compute_savings(frame, adopted_on=ADOPTED, today=TODAY, project="bot")
    assert everything.after_cost_micros == 780 * USD


def test_uneven_figures_round_half_even_to_the_micro_dollar() -> None:
    rows = [day_row(day, "m", 333_333, 1, 7_777_777) for day in days(dt.date(2026, 9, 24), dt.date(2026, 9, 30))]
    rows += [day_row(day, "m", 500_000, 3, 2_222_221) for day in days(ADOPTED, dt.date(2026, 10, 7))]
    result = compute_savings(pd.DataFrame(rows), adopted_on=ADOPTED, today=dt.date(2026, 10, 8))

    before_rate = Fraction(7 * 7_777_777, 7 * 333_334)
    after_tokens = 7 * 500_003
    after_rate = Fraction(7 * 2_222_221, after_tokens)
    assert result.days_after == 7 and result.enough_data
    assert result.before_per_mtok_micros == round(before_rate * M)
    assert result.after_per_mtok_micros == round(after_rate * M)
    assert result.realised_monthly_micros == round((before_rate - after_rate) * after_tokens * Fraction(30, 7))


def test_periods_are_at_most_30_days_each_side() -> None:
    adopted, today = dt.date(2026, 6, 1), dt.date(2026, 11, 21)
    rows = []
    for day in days(dt.date(2026, 4, 1), dt.date(2026, 11, 20)):
        if day < dt.date(2026, 5, 2):
            cost = 99 * USD  # older than the before-period
        elif day < adopted:
            cost = 10 * USD  # before: $5 per million
        elif day < dt.date(2026, 10, 22):
            cost = 7 * USD  # the roll-out months: after adoption but before the last 30 days
        else:
            cost = 4 * USD  # the last 30 days: $2 per million
        rows.append(day_row(day, "gpt-4o", M, M, cost))
    result = compute_savings(pd.DataFrame(rows), adopted_on=adopted, today=today)
    assert (result.days_after, result.before_cost_micros, result.after_cost_micros) == (30, 300 * USD, 120 * USD)
    assert result.realised_monthly_micros == 180 * USD  # ($5 − $2) × 60M tokens


def test_spend_without_tokens_counts_the_spend_that_went() -> None:
    # A cancelled subscription: $30 a day before, nothing after.
    rows = [day_row(day, "", 0, 0, 30 * USD) for day in days(dt.date(2026, 9, 21), dt.date(2026, 9, 30))]
    result = compute_savings(pd.DataFrame(rows), adopted_on=ADOPTED, today=TODAY)
    assert (result.before_per_mtok_micros, result.after_per_mtok_micros) == (None, None)
    assert result.realised_monthly_micros == 900 * USD  # $300 in 10 days, scaled to 30


@pytest.mark.parametrize(
    ("today", "days_after", "enough"),
    [(ADOPTED, 0, False), (ADOPTED + dt.timedelta(days=6), 6, False), (ADOPTED + dt.timedelta(days=7), 7, True)],
    ids=["adopted-today", "six-days", "seven-days"],
)
def test_enough_data_needs_seven_days_after_adoption(today: dt.date, days_after: int, enough: bool) -> None:
    result = compute_savings(switch_frame(), adopted_on=ADOPTED, today=today, provider="OpenAI", project="bot")
    assert (result.days_after, result.enough_data) == (days_after, enough)
    if days_after == 0:
        assert (result.before_cost_micros, result.after_cost_micros, result.realised_monthly_micros) == (0, 0, 0)
        assert result.after_per_mtok_micros is None


def test_the_demo_migration_to_gpt_4o_mini_shows_a_realised_saving() -> None:
    today = dt.date(2026, 11, 21)
    charges = pd.DataFrame(demo.build_demo_charges(today))
    sums = ["input_tokens", "output_tokens", "amount_micros"]
    daily = charges.groupby(["day", "provider", "model", "project"], as_index=False)[sums].sum()
    adopted = demo.DemoCalendar(today).migration_day

    result = compute_savings(daily, adopted_on=adopted, today=today, provider="OpenAI", project="support-bot")
    assert result.enough_data and result.days_after == 30
    assert result.before_per_mtok_micros is not None and result.after_per_mtok_micros is not None
    # 90% of the traffic moved to a model at 6% of the price: the after rate is well under a fifth of the before.
    assert result.after_per_mtok_micros * 5 < result.before_per_mtok_micros
    assert 0 < result.realised_monthly_micros < result.after_mtok * result.before_per_mtok_micros // M
