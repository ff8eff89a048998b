"""The price check: bills against estimates per day × model, with the cause of each difference worked out."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd

from core.pricing import RateOverride
from insights.price_check import DiscountSuggestion, UnpricedModel, compute_price_check

USD = 1_000_000
M = 1_000_000
NOV_2, NOV_3, NOV_4, NOV_5 = (dt.date(2026, 11, d) for d in (2, 3, 4, 5))
JAN_15 = dt.date(2026, 1, 15)


def row(day: dt.date, model: str, inp: int, out: int, billed: int, **extra: Any) -> dict[str, Any]:
    return {
        "day": pd.Timestamp(day), "provider": extra.pop("provider", "OpenAI"), "model": model, "input_tokens": inp,
        "output_tokens": out, "cached_tokens": extra.pop("cached", 0), "requests": extra.pop("requests", 10),
        "billed_micros": billed,
    }  # fmt: skip


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# gpt-4o lists at $2.50 input, $1.25 cached input and $10 output per million tokens.
GPT_4O_DAYS = [(NOV_2, M, M // 10, 3_500_000), (NOV_3, 2 * M, M // 2, 10_000_000), (NOV_4, M // 2, M, 11_250_000)]


def test_a_steady_10_percent_discrepancy_is_flagged_as_a_discount() -> None:
    rows = frame(*(row(day, "gpt-4o", i, o, list_price * 9 // 10) for day, i, o, list_price in GPT_4O_DAYS))
    check = compute_price_check(rows)
    assert check.compared == 3
    flagged = [(d.day, d.estimate_micros, d.billed_micros, d.difference_micros, d.cause) for d in check.differences]
    assert flagged == [
        (NOV_4, 11_250_000, 10_125_000, -1_125_000, "discount"),
        (NOV_3, 10_000_000, 9_000_000, -1_000_000, "discount"),
        (NOV_2, 3_500_000, 3_150_000, -350_000, "discount"),
    ]
    assert all(d.difference_ratio == Decimal("-0.1") for d in check.differences)
    assert "steady 10.0% below" in check.differences[0].explanation
    (model,) = check.models
    assert (model.estimate_micros, model.billed_micros, model.difference_micros) == (24_750_000, 22_275_000, -2_475_000)
    assert (model.days, model.flagged_days, model.cause, model.model_id) == (3, 3, "discount", "gpt-4o")
    assert "Add a 10.0% price override for OpenAI gpt-4o from 02 Nov 2026" in model.explanation
    (suggestion,) = check.suggestions
    assert suggestion == DiscountSuggestion("OpenAI", "gpt-4o", Decimal("10.0"), NOV_2, suggestion.explanation)

    # Recording the suggested override makes the bills match.
    override = RateOverride("OpenAI", "gpt-4o", 1000, None, None, None, NOV_2)
    again = compute_price_check(rows, overrides=(override,))
    assert again.differences == () and again.suggestions == ()
    assert again.models[0].difference_micros == 0 and again.models[0].cause is None


def test_a_1_percent_discrepancy_is_ignored() -> None:
    rows = frame(*(row(day, "gpt-4o", i, o, list_price * 101 // 100) for day, i, o, list_price in GPT_4O_DAYS))
    check = compute_price_check(rows)
    assert (check.compared, check.differences, check.suggestions) == (3, (), ())
    (model,) = check.models
    assert (model.difference_micros, model.difference_ratio, model.flagged_days, model.cause) == (
        247_500,
        Decimal("0.01"),
        0,
        None,
    )
    assert model.explanation == "Within 2.0% of our estimate on every compared day."


def test_the_tolerance_is_a_parameter() -> None:
    rows = frame(row(NOV_2, "gpt-4o", M, M // 10, 3_430_000))  # 2% under
    assert compute_price_check(rows).differences == ()
    assert len(compute_price_check(rows, tolerance=Decimal("0.01")).differences) == 1


def test_a_bill_that_counts_cache_reads_our_data_lacks_is_missing_cache_tokens() -> None:
    # The bill: 400k input at $2.50 + 600k cached at $1.25 + 100k output at $10 = $2.75; our data says 0 cached.
    check = compute_price_check(frame(row(NOV_2, "gpt-4o", M, M // 10, 2_750_000)))
    (difference,) = check.differences
    assert (difference.estimate_micros, difference.difference_micros) == (3_500_000, -750_000)
    assert difference.cause == "missing_cache_tokens"
    assert "about 60% of input tokens read from cache; our data reports 0%" in difference.explanation
    assert check.suggestions == ()


def test_requests_over_the_long_context_threshold_are_a_tier() -> None:
    # claude-sonnet-4-5 on 15 Jan 2026: $3 / $15 per million, $6 / $22.5 for requests over 200k input.
    # 2M input over 20 requests averages 100k (base: $6.30); the bill has 4 requests of 300k in the tier.
    usage = {"provider": "Anthropic", "requests": 20}
    check = compute_price_check(frame(row(JAN_15, "claude-sonnet-4-5", 2 * M, 20_000, 9_930_000, **usage)))
    (difference,) = check.differences
    assert (difference.estimate_micros, difference.difference_micros) == (6_300_000, 3_630_000)
    assert difference.cause == "long_context_tier"
    assert "between the base-rate price ($6.30) and the long-context price ($12.45)" in difference.explanation


def test_an_unknown_request_count_is_priced_at_the_base_rate() -> None:
    # Anthropic's usage report has no request count: one 2M-token "request" would be all in the tier.
    usage = {"provider": "Anthropic", "requests": 0}
    check = compute_price_check(frame(row(JAN_15, "claude-sonnet-4-5", 2 * M, 20_000, 6_300_000, **usage)))
    assert check.differences == () and check.models[0].estimate_micros == 6_300_000


def test_a_bill_at_batch_prices_is_batch() -> None:
    # genai-prices' gpt-4o batch rates (from 14 Oct 2026): $1.25 input, $5 output per million.
    check = compute_price_check(frame(row(NOV_2, "gpt-4o", M, M // 10, 1_750_000)))
    (difference,) = check.differences
    assert (difference.cause, difference.difference_micros) == ("batch", -1_750_000)
    assert "Batch API price ($1.75)" in difference.explanation


def test_one_day_over_the_estimate_is_unexplained() -> None:
    check = compute_price_check(frame(row(NOV_2, "gpt-4o", M, M // 10, 3_850_000)))
    (difference,) = check.differences
    assert (difference.cause, difference.difference_ratio) == ("unexplained", Decimal("0.1"))
    assert "$3.85 against our estimate of $3.50 (+10.0%)" in difference.explanation


def test_a_steady_surcharge_is_a_markup_without_a_suggestion() -> None:
    rows = frame(*(row(day, "gpt-4o", i, o, list_price * 105 // 100) for day, i, o, list_price in GPT_4O_DAYS))
    check = compute_price_check(rows)
    assert {d.cause for d in check.differences} == {"markup"} and check.suggestions == ()
    assert "steady 5.0% above" in check.models[0].explanation


def test_the_same_discount_on_every_model_suggests_a_provider_wide_override() -> None:
    # gpt-4o-mini lists at $0.15 / $0.60 per million: 2M input + 1M output = $0.90.
    rows = frame(
        row(NOV_2, "gpt-4o", M, M // 10, 2_975_000),
        row(NOV_3, "gpt-4o", 2 * M, M // 2, 8_500_000),
        row(NOV_2, "gpt-4o-mini", 2 * M, M, 765_000),
        row(NOV_4, "gpt-4o-mini", 4 * M, 2 * M, 1_530_000),
    )
    check = compute_price_check(rows)
    assert {d.cause for d in check.differences} == {"discount"} and len(check.differences) == 4
    (suggestion,) = check.suggestions
    assert (suggestion.provider, suggestion.model, suggestion.discount_pct, suggestion.effective_from) == (
        "OpenAI",
        "",
        Decimal("15.0"),
        NOV_2,
    )
    assert "All 2 OpenAI models" in suggestion.explanation


def test_an_override_counts_from_its_effective_date_only() -> None:
    rows = frame(*(row(day, "gpt-4o", i, o, list_price * 9 // 10) for day, i, o, list_price in GPT_4O_DAYS))
    check = compute_price_check(rows, overrides=(RateOverride("OpenAI", "", 1000, None, None, None, NOV_3),))
    assert [(d.day, d.estimate_micros) for d in check.differences] == [(NOV_2, 3_500_000)]
    assert check.models[0].estimate_micros == 3_500_000 + 9_000_000 + 10_125_000


def test_unpriced_models_are_listed_never_priced_at_zero() -> None:
    rows = frame(
        row(NOV_2, "gpt-nonexistent-9", M, M, 4_000_000),
        row(NOV_3, "gpt-nonexistent-9", M, 0, 0),  # usage without a bill is still unpriced usage
        row(NOV_2, "", 5_000, 0, 10_000),
        row(NOV_2, "gpt-4o", 0, 0, 1_000_000),  # a cost line alone: nothing to compare
        row(NOV_3, "gpt-4o", M, M // 10, 0),  # usage alone: nothing to compare
    )
    check = compute_price_check(rows)
    assert (check.compared, check.differences, check.models) == (0, (), ())
    assert check.unpriced == (
        UnpricedModel("OpenAI", "", 1, 5_000, 0, 10_000),
        UnpricedModel("OpenAI", "gpt-nonexistent-9", 2, 2 * M, M, 4_000_000),
    )


def test_a_custom_price_prices_a_model_the_catalogue_lacks() -> None:
    custom = RateOverride("OpenAI", "gpt-nonexistent-9", None, 1 * USD, 3 * USD, None, NOV_2)
    check = compute_price_check(frame(row(NOV_2, "gpt-nonexistent-9", M, M, 4_000_000)), overrides=(custom,))
    assert check.unpriced == () and check.differences == ()
    assert (check.models[0].estimate_micros, check.models[0].model_id) == (4_000_000, None)


def test_differences_under_a_cent_are_rounding() -> None:
    rows = frame(row(NOV_2, "gpt-4o", 1_000, 100, 2_000))  # estimate $0.0035, billed $0.002: 43% but 0.15 cents
    check = compute_price_check(rows)
    assert check.differences == () and check.models[0].difference_micros == -1_500
    assert len(compute_price_check(rows, min_difference_micros=1).differences) == 1


def test_an_empty_frame_has_nothing_to_check() -> None:
    columns = ["day", "provider", "model", "input_tokens", "output_tokens", "cached_tokens", "requests"]
    check = compute_price_check(pd.DataFrame(columns=[*columns, "billed_micros"]))
    assert (check.compared, check.differences, check.models, check.unpriced, check.suggestions) == (0, (), (), (), ())
