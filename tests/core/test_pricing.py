"""Prices from genai-prices' bundled snapshot as of the usage date: changes, tiers, batch, workspace overrides."""

import datetime as dt
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from core.money import to_micros
from core.pricing import Quote, RateOverride, find_override, price_per_request, price_usage, workspace_pricer

M = 1_000_000
USD = 1_000_000  # micro-dollars per dollar


def catalogue(model: str, provider_id: str, on: dt.date, inp: int, out: int, cached: int = 0, **context: str) -> int:
    """genai-prices' own price for one request, in micro-USD."""
    price = calc_price(
        Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cached or None),
        model_ref=model,
        provider_id=provider_id,
        genai_request_timestamp=dt.datetime.combine(on, dt.time(12), dt.UTC),
        price_context=context or None,
    )
    return to_micros(price.total_price)


def quote(
    provider: str,
    model: str,
    on: dt.date,
    inp: int,
    out: int,
    cached: int = 0,
    requests: int = 1,
    *,
    batch: bool = False,
    overrides: tuple[RateOverride, ...] = (),
) -> Quote | None:
    return price_usage(
        provider, model, input_tokens=inp, output_tokens=out, cached_tokens=cached, requests=requests, on=on,
        batch=batch, overrides=overrides,
    )  # fmt: skip


def discount(provider: str, model: str, pct: int, start: dt.date) -> RateOverride:
    return RateOverride(provider, model, pct * 100, None, None, None, start)


@pytest.mark.parametrize(
    ("provider", "provider_id", "model", "on"),
    [
        ("OpenAI", "openai", "gpt-4o-mini", dt.date(2026, 11, 1)),
        ("OpenAI", "openai", "gpt-4o-2024-08-06", dt.date(2025, 3, 1)),
        ("Anthropic", "anthropic", "claude-sonnet-4-5", dt.date(2026, 1, 15)),
        ("Google", "google", "gemini-2.5-pro", dt.date(2026, 6, 1)),
        ("OpenAI", "openai", "o3", dt.date(2025, 6, 9)),
        ("OpenAI", "openai", "o3", dt.date(2025, 6, 10)),
    ],
    ids=["gpt-4o-mini", "gpt-4o-dated", "claude-sonnet-4-5", "gemini-2.5-pro", "o3-before-cut", "o3-after-cut"],
)
def test_one_request_costs_what_genai_prices_says(provider: str, provider_id: str, model: str, on: dt.date) -> None:
    expected = catalogue(model, provider_id, on, 120_000, 8_000, 30_000)
    priced = quote(provider, model, on, 120_000, 8_000, 30_000)
    assert priced is not None
    assert priced.micros == priced.list_micros == expected > 0
    assert priced.override is None and priced.batch is False
    assert price_per_request(provider, model, 120_000, 8_000, 30_000, on) == Decimal(expected) / USD


def test_o3_is_priced_at_the_old_price_before_its_cut_on_10_june_2025() -> None:
    # The snapshot: o3 was $10 in / $40 out per million tokens, and $2 / $8 from 2025-06-10.
    before = quote("OpenAI", "o3", dt.date(2025, 6, 9), M, M)
    after = quote("OpenAI", "o3", dt.date(2025, 6, 10), M, M)
    assert before is not None and after is not None
    assert (before.micros, after.micros) == (50 * USD, 10 * USD)
    assert before.model_id == after.model_id == "o3"


def test_claude_sonnet_4_6_loses_its_long_context_tier_on_13_march_2026() -> None:
    # 300k input in one request: $6 / $22.5 per million (over 200k) until 2026-03-12, then flat $3 / $15.
    on_12, on_13 = dt.date(2026, 3, 12), dt.date(2026, 3, 13)
    tiered = quote("Anthropic", "claude-sonnet-4-6", on_12, 300_000, 10_000)
    flat = quote("Anthropic", "claude-sonnet-4-6", on_13, 300_000, 10_000)
    assert tiered is not None and flat is not None
    assert tiered.micros == catalogue("claude-sonnet-4-6", "anthropic", on_12, 300_000, 10_000) == 2_025_000
    assert flat.micros == catalogue("claude-sonnet-4-6", "anthropic", on_13, 300_000, 10_000) == 1_050_000


def test_the_long_context_tier_applies_per_request_not_to_the_day() -> None:
    on = dt.date(2026, 1, 15)
    # 900k input over 3 requests is 300k each: every request is over 200k, so $6 / $22.5 per million.
    three = quote("Anthropic", "claude-sonnet-4-5", on, 900_000, 6_000, requests=3)
    # Over 5 requests it is 180k each: all at the base $3 / $15.
    five = quote("Anthropic", "claude-sonnet-4-5", on, 900_000, 6_000, requests=5)
    assert three is not None and five is not None
    assert three.micros == 3 * catalogue("claude-sonnet-4-5", "anthropic", on, 300_000, 2_000) == 5_535_000
    assert five.micros == 5 * catalogue("claude-sonnet-4-5", "anthropic", on, 180_000, 1_200) == 2_790_000
    # As one request the whole day's tokens would be in the tier.
    one = quote("Anthropic", "claude-sonnet-4-5", on, 900_000, 6_000)
    assert one is not None and one.micros == catalogue("claude-sonnet-4-5", "anthropic", on, 900_000, 6_000)


def test_an_average_request_of_fractional_tokens_is_priced_exactly() -> None:
    on = dt.date(2026, 6, 1)
    # 1,000,003 input over 4 requests averages 250,000.75: like three of 250,001 and one of 250,000, all over
    # Gemini 2.5 Pro's 200k threshold.
    priced = quote("Google", "gemini-2.5-pro", on, 1_000_003, 10_001, 5, requests=4)
    sizes = [(250_001, 2_501, 2), (250_001, 2_500, 1), (250_001, 2_500, 1), (250_000, 2_500, 1)]
    expected_usd = sum(
        calc_price(
            Usage(input_tokens=i, output_tokens=o, cache_read_tokens=c),
            model_ref="gemini-2.5-pro",
            provider_id="google",
            genai_request_timestamp=dt.datetime.combine(on, dt.time(12), dt.UTC),
        ).total_price
        for i, o, c in sizes
    )
    assert priced is not None and priced.micros == to_micros(expected_usd)


def test_micro_dollars_round_half_even() -> None:
    on = dt.date(2026, 11, 1)
    # gpt-4o-mini input is $0.15 per million: 10 tokens are 1.5 micro-dollars, 30 tokens 4.5.
    ten, thirty = quote("OpenAI", "gpt-4o-mini", on, 10, 0), quote("OpenAI", "gpt-4o-mini", on, 30, 0)
    assert ten is not None and thirty is not None
    assert (ten.micros, thirty.micros) == (2, 4)
    # Over 3 requests the average request is 3.33… tokens, and the total is still exactly 1.5 → 2.
    thirds = quote("OpenAI", "gpt-4o-mini", on, 10, 0, requests=3)
    assert thirds is not None and thirds.micros == 2


def test_batch_uses_the_catalogue_batch_price_where_it_has_one() -> None:
    on = dt.date(2026, 10, 20)  # genai-prices models OpenAI batch rates from 2026-10-14
    priced = quote("OpenAI", "gpt-4o", on, M, M, M // 2, batch=True)
    assert priced is not None and priced.batch
    # Batch halves input and output, but cached input keeps its standard $1.25: 0.625 + 0.625 + 5.
    assert priced.micros == catalogue("gpt-4o", "openai", on, M, M, M // 2, processing="batch") == 6_250_000
    assert priced.list_micros == catalogue("gpt-4o", "openai", on, M, M, M // 2) == 11_875_000


def test_batch_before_the_catalogue_has_batch_prices_is_half_of_list() -> None:
    on = dt.date(2026, 1, 20)
    priced = quote("OpenAI", "gpt-4o", on, M, M, M // 2, batch=True)
    assert priced is not None and priced.batch
    assert (priced.list_micros, priced.micros) == (11_875_000, 5_937_500)


def test_batch_for_a_provider_without_a_batch_api_stays_at_list() -> None:
    priced = quote("Mistral", "mistral-large-latest", dt.date(2026, 1, 20), M, M, batch=True)
    assert priced is not None
    assert not priced.batch and priced.micros == priced.list_micros == 8_000_000


def test_bedrock_batch_inference_is_half_of_on_demand() -> None:
    priced = quote("AWS Bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", dt.date(2026, 1, 20), M, M, batch=True)
    assert priced is not None
    assert priced.batch and (priced.list_micros, priced.micros) == (18_000_000, 9_000_000)


def test_a_workspace_discount_applies_from_its_effective_date_only() -> None:
    rates = (discount("OpenAI", "", 10, dt.date(2026, 3, 1)),)
    day_before = quote("OpenAI", "gpt-4o", dt.date(2026, 2, 28), M, M, overrides=rates)
    first_day = quote("OpenAI", "gpt-4o", dt.date(2026, 3, 1), M, M, overrides=rates)
    assert day_before is not None and first_day is not None
    assert (day_before.micros, day_before.override) == (12_500_000, None)
    assert (first_day.list_micros, first_day.micros, first_day.override) == (12_500_000, 11_250_000, rates[0])


def test_a_discount_applies_to_the_batch_price() -> None:
    rates = (discount("openai", "", 10, dt.date(2026, 1, 1)),)  # genai-prices' id works as well as ours
    priced = quote("OpenAI", "gpt-4o", dt.date(2026, 1, 20), M, M, M // 2, batch=True, overrides=rates)
    assert priced is not None and priced.micros == 5_343_750  # 90% of half of $11.875


def test_a_model_override_beats_the_provider_wide_one_and_the_latest_start_wins() -> None:
    rates = (
        discount("OpenAI", "", 10, dt.date(2026, 1, 1)),
        discount("OpenAI", "", 15, dt.date(2026, 3, 1)),
        discount("OpenAI", "gpt-4o", 20, dt.date(2025, 12, 1)),
        discount("OpenAI", "gpt-4o", 30, dt.date(2026, 5, 1)),
        discount("Anthropic", "", 50, dt.date(2025, 1, 1)),
    )
    feb, apr, jun = dt.date(2026, 2, 1), dt.date(2026, 4, 1), dt.date(2026, 6, 1)
    assert find_override(rates, "OpenAI", "gpt-4o-mini", feb) == rates[0]
    assert find_override(rates, "OpenAI", "gpt-4o-mini", apr) == rates[1]
    assert find_override(rates, "OpenAI", "gpt-4o", apr) == rates[2]
    assert find_override(rates, "OpenAI", "gpt-4o", jun) == rates[3]
    assert find_override(rates, "OpenAI", "gpt-4o", dt.date(2025, 11, 30)) is None
    # A dated model name is covered by the override on genai-prices' model id.
    priced = quote("OpenAI", "gpt-4o-2024-11-20", apr, M, M, overrides=rates)
    assert priced is not None and (priced.micros, priced.override) == (10_000_000, rates[2])


def test_a_custom_price_replaces_the_list_price() -> None:
    custom = RateOverride("OpenAI", "gpt-4o", None, 2 * USD, 8 * USD, 1 * USD, dt.date(2026, 1, 1))
    priced = quote("OpenAI", "gpt-4o", dt.date(2026, 2, 1), M, M // 2, 200_000, requests=7, overrides=(custom,))
    assert priced is not None
    # 800k uncached × $2 + 200k cached × $1 + 500k out × $8 per million.
    assert (priced.micros, priced.list_micros, priced.override) == (5_800_000, 7_250_000, custom)


def test_a_custom_price_without_a_cached_price_charges_cached_tokens_as_input() -> None:
    custom = RateOverride("Acme AI", "acme-large", None, 1_500_000, 4 * USD, None, dt.date(2026, 1, 1))
    priced = quote("Acme AI", "acme-large", dt.date(2026, 2, 1), M, M, 400_000, overrides=(custom,))
    # The catalogue does not know the model, so only the custom price can price it.
    assert priced is not None
    assert (priced.micros, priced.list_micros, priced.model_id) == (5_500_000, None, None)


@pytest.mark.parametrize(
    ("provider", "model"),
    [("OpenAI", "gpt-nonexistent-9"), ("Acme AI", "acme-large"), ("OpenAI", "")],
    ids=["unknown-model", "unknown-provider", "no-model"],
)
def test_an_unknown_model_is_unpriced_not_free(provider: str, model: str) -> None:
    assert quote(provider, model, dt.date(2026, 2, 1), M, M) is None
    assert price_per_request(provider, model, M, M, 0, dt.date(2026, 2, 1)) is None
    # A discount does not price what has no list price.
    assert (
        quote(provider, model, dt.date(2026, 2, 1), M, M, overrides=(discount(provider, "", 10, dt.date(2026, 1, 1)),))
        is None
    )


def test_the_workspace_pricer_applies_rates_exactly_from_their_date() -> None:
    on, before = dt.date(2026, 3, 1), dt.date(2026, 2, 28)
    rates = (
        discount("OpenAI", "", 10, on),
        RateOverride("Anthropic", "claude-haiku-4-5", None, 500_000, 2_000_000, None, on),  # custom: $0.50 / $2.00
    )
    pricer = workspace_pricer(rates)
    listed = price_per_request("OpenAI", "gpt-4o", 1_000, 200, 0, on)
    assert listed is not None
    assert pricer("OpenAI", "gpt-4o", 1_000, 200, 0, on) == listed * Decimal("0.9")
    listed_before = price_per_request("OpenAI", "gpt-4o", 1_000, 200, 0, before)
    assert pricer("OpenAI", "gpt-4o", 1_000, 200, 0, before) == listed_before
    # 1,000 input (100 cached, charged as input: no cached price given) and 200 output at the custom price.
    assert pricer("Anthropic", "claude-haiku-4-5", 1_000, 200, 100, on) == Decimal("0.0009")
    assert pricer("Anthropic", "no-such-model", 1, 1, 0, on) is None
    assert workspace_pricer(()) is price_per_request
