import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from core.pricing import price_per_request
from insights import whatif
from insights.whatif import Baseline, ModelUsage, OutcomeVolume, WhatIf

USD = 1_000_000  # micro-dollars per dollar
M = 1_000_000  # tokens
ON = dt.date(2026, 1, 15)

# Round list prices in USD per million tokens: (input, cache read, output). gpt-4o-mini is exactly 1/10 of
# gpt-4o on every token, so any traffic mix moves at a ratio of 0.1; "claude" lists no cache-read price.
LIST_PRICES = {
    ("OpenAI", "gpt-4o"): (Decimal("2.5"), Decimal("1.25"), Decimal(10)),
    ("OpenAI", "gpt-4o-mini"): (Decimal("0.25"), Decimal("0.125"), Decimal(1)),
    ("Anthropic", "claude"): (Decimal(3), None, Decimal(15)),
}


def fake_pricer(
    provider: str, model: str, input_tokens: int, output_tokens: int, cached: int, on: dt.date
) -> Decimal | None:
    """Speaks like price_per_request: cached tokens are part of input_tokens; no cache price → full input price."""
    assert on == ON
    if (provider, model) not in LIST_PRICES:
        return None
    input_price, cache_price, output_price = LIST_PRICES[(provider, model)]
    cache_price = input_price if cache_price is None else cache_price
    return ((input_tokens - cached) * input_price + cached * cache_price + output_tokens * output_price) / M


# Today: gpt-4o costs $1,000 (200M in × $2.50 + 50M out × $10 = $500 + $500: half of it input),
# claude costs $600 (50M in × $3 + 30M out × $15 = $150 + $450: a quarter of it input). Cost $1,600.
# Value: 1,000 tickets × $2 + 100 leads × $4 = $2,400. ROI (2,400 − 1,600) / 1,600 = 0.5; payback
# 1,600 ÷ (2,400 / 30) = 20 days.
BASELINE = Baseline(
    usage=(
        ModelUsage("OpenAI", "gpt-4o", 1_000 * USD, input_tokens=200 * M, output_tokens=50 * M),
        ModelUsage("Anthropic", "claude", 600 * USD, input_tokens=50 * M, output_tokens=30 * M),
    ),
    outcomes=(
        OutcomeVolume("Ticket resolved", count=1_000, value_micros=2 * USD),
        OutcomeVolume("Qualified lead", count=100, value_micros=4 * USD),
    ),
    on=ON,
    days=30,
)
TO_MINI = {"switch_from": ("OpenAI", "gpt-4o"), "switch_to": ("OpenAI", "gpt-4o-mini")}


def run(**levers: Any) -> whatif.WhatIfResult:
    return whatif.compute_whatif(BASELINE, WhatIf(**levers), pricer=fake_pricer)


def test_no_lever_is_today() -> None:
    result = run()
    assert result.today == result.scenario
    assert (result.today.cost_micros, result.today.value_micros) == (1_600 * USD, 2_400 * USD)
    assert (result.today.roi, result.today.payback_days) == (Decimal("0.5"), Decimal(20))
    assert (result.cost_delta_micros, result.value_delta_micros, result.net_delta_micros) == (0, 0, 0)
    assert (result.roi_delta, result.breakeven_delta_days) == (Decimal(0), Decimal(0))
    assert (result.switch_ratio, result.unpriced, result.cache_price_assumed) == (None, (), ())


def test_value_multiplier() -> None:
    result = run(value_multiplier=Decimal("1.5"))
    assert result.scenario.value_micros == 3_600 * USD  # 2,400 × 1.5
    assert result.scenario.roi == Decimal("1.25")  # (3,600 − 1,600) / 1,600
    assert result.scenario.payback_days == Decimal(1_600 * 30) / Decimal(3_600)  # 13.33… days
    assert result.value_delta_micros == 1_200 * USD
    assert result.roi_delta == Decimal("0.75")


def test_value_override_for_one_outcome_and_multiplier_for_the_rest() -> None:
    # leads at $10 instead of $4; tickets at $2 × 2 = $4: 100 × 10 + 1,000 × 4 = 5,000
    result = run(value_per_outcome={"Qualified lead": 10 * USD}, value_multiplier=2)
    assert result.scenario.value_micros == 5_000 * USD


def test_volume_growth_scales_cost_and_value_alike() -> None:
    result = run(volume_growth_pct=25)
    assert (result.scenario.cost_micros, result.scenario.value_micros) == (2_000 * USD, 3_000 * USD)  # × 1.25
    assert result.scenario.roi == Decimal("0.5")  # (3,000 − 2,000) / 2,000: same return, bigger business
    assert result.scenario.payback_days == Decimal(20)  # 2,000 ÷ (3,000 / 30)
    assert result.net_delta_micros == 200 * USD  # 1,000 − 800


def test_moving_half_of_gpt_4o_to_mini() -> None:
    result = run(**TO_MINI, switch_share_pct=50)
    # gpt-4o keeps $1,000 × 50% = $500; the moved $500 costs $500 × 0.1 = $50 on mini; claude $600 as is.
    assert result.switch_ratio == Decimal("0.1")
    assert result.scenario.cost_micros == 1_150 * USD  # 500 + 50 + 600
    assert result.cost_delta_micros == -450 * USD
    assert result.scenario.roi == Decimal(2_400 - 1_150) / Decimal(1_150)
    assert result.scenario.payback_days == Decimal("14.375")  # 1,150 × 30 / 2,400
    assert result.breakeven_delta_days == Decimal("-5.625")  # 14.375 − 20


def test_switching_a_model_nobody_uses_or_to_itself_changes_nothing() -> None:
    unused = run(switch_from=("OpenAI", "gpt-4o-mini"), switch_to=("OpenAI", "gpt-4o"), switch_share_pct=100)
    same = run(switch_from=("OpenAI", "gpt-4o"), switch_to=("OpenAI", "gpt-4o"), switch_share_pct=100)
    no_target = run(switch_from=("OpenAI", "gpt-4o"), switch_share_pct=100)
    assert unused.scenario.cost_micros == same.scenario.cost_micros == no_target.scenario.cost_micros == 1_600 * USD


def test_switching_to_an_unknown_model_is_reported_not_guessed() -> None:
    result = run(switch_from=("OpenAI", "gpt-4o"), switch_to=("Acme", "mystery"), switch_share_pct=50)
    assert result.scenario.cost_micros == 1_600 * USD
    assert (result.switch_ratio, result.unpriced) == (None, ("Acme mystery",))


def test_provider_price_change_for_one_provider_and_for_all() -> None:
    openai_cut = run(price_change_by_provider={"OpenAI": -10})
    assert openai_cut.scenario.cost_micros == 1_500 * USD  # 1,000 × 0.9 + 600
    everyone_up = run(price_change_pct=20)
    assert everyone_up.scenario.cost_micros == 1_920 * USD  # 1,600 × 1.2
    mixed = run(price_change_pct=20, price_change_by_provider={"OpenAI": -10})
    assert mixed.scenario.cost_micros == 1_620 * USD  # 900 + 600 × 1.2


def test_price_change_follows_moved_traffic_to_its_new_provider() -> None:
    # All of claude's traffic to gpt-4o: claude's mix 50M in + 30M out costs 50 × 2.5 + 30 × 10 = $425 on
    # gpt-4o against $600 on claude, a ratio of 425/600; then OpenAI's prices rise 20%.
    result = run(
        switch_from=("Anthropic", "claude"),
        switch_to=("OpenAI", "gpt-4o"),
        switch_share_pct=100,
        price_change_by_provider={"OpenAI": 20},
    )
    assert result.switch_ratio == Decimal(425) / Decimal(600)
    assert result.scenario.cost_micros == 1_710 * USD  # (1,000 + 600 × 425/600) × 1.2 = 1,425 × 1.2


def test_caching_adoption_with_listed_and_fallback_cache_prices() -> None:
    result = run(caching_pct=40)
    # gpt-4o: 40% × 200M input × ($2.50 − $1.25) / M = $100 saved of its $1,000 list: × 0.9 → $900
    # claude lists no cache price, so the fallback (half the input price, $1.50) applies:
    #   40% × 50M × ($3 − $1.50) / M = $30 saved of $600 → $570
    assert result.scenario.cost_micros == 1_470 * USD
    assert result.cache_price_assumed == ("Anthropic claude",)


def test_caching_leaves_already_cached_tokens_and_unknown_mixes_alone() -> None:
    baseline = Baseline(
        usage=(
            # list: 100M uncached × $2.50 + 100M cached × $1.25 + 50M out × $10 = 250 + 125 + 500 = $875;
            # 40% of the 100M still uncached → 40M × ($2.50 − $1.25) / M = $50 saved
            ModelUsage(
                "OpenAI", "gpt-4o", 875 * USD, input_tokens=200 * M, output_tokens=50 * M, cached_tokens=100 * M
            ),
            ModelUsage("OpenAI", "gpt-4o-mini", 10 * USD),  # no token counts: the input share is unknown
        ),
        outcomes=(),
        on=ON,
    )
    result = whatif.compute_whatif(baseline, WhatIf(caching_pct=40), pricer=fake_pricer)
    assert result.scenario.cost_micros == 835 * USD  # 875 − 50 + 10
    assert result.scenario.value_micros == 0
    assert result.scenario.payback_days is None


def test_batch_adoption_at_the_default_and_a_custom_discount() -> None:
    assert run(batch_pct=50).scenario.cost_micros == 1_200 * USD  # 1,600 × (1 − 50% × 50%)
    assert run(batch_pct=25, batch_discount_pct=40).scenario.cost_micros == 1_440 * USD  # 1,600 × (1 − 0.1)


def test_all_levers_together_are_the_product_of_each() -> None:
    result = run(
        **TO_MINI,
        switch_share_pct=50,
        volume_growth_pct=25,
        price_change_by_provider={"OpenAI": -10},
        caching_pct=40,
        batch_pct=50,
    )
    # gpt-4o kept:  1,000 × 1.25 × 0.5        = 625     × 0.9 caching × 0.75 batch × 0.9 OpenAI = 379.6875
    # moved to mini: 1,000 × 1.25 × 0.5 × 0.1 = 62.5    × 0.9 caching × 0.75 batch × 0.9 OpenAI =  37.96875
    #   (mini's caching on gpt-4o's mix: 40% × 200 × 0.125 / (200 × 0.25 + 50 × 1) = 10 / 100 = 0.1 saved)
    # claude:       600 × 1.25                = 750     × 0.95 caching × 0.75 batch             = 534.375
    # total $952.03125; value 2,400 × 1.25 = 3,000
    assert result.scenario.cost_micros == 952_031_250
    assert result.scenario.value_micros == 3_000 * USD
    assert result.scenario.roi == Decimal(3_000 * USD - 952_031_250) / Decimal(952_031_250)
    assert result.scenario.payback_days == Decimal("9.5203125")  # 952.03125 × 30 / 3,000
    assert result.breakeven_delta_days == Decimal("-10.4796875")  # 9.5203125 − 20
    assert result.cost_delta_micros == 952_031_250 - 1_600 * USD
    assert result.net_delta_micros == (3_000 * USD - 952_031_250) - 800 * USD


def test_breakeven_and_verdict_when_the_scenario_loses_money() -> None:
    # Value per outcome halved (2,400 → 1,200) and prices up 50% (1,600 → 2,400): breakeven 2,400 × 30 / 1,200
    result = run(value_multiplier=Decimal("0.5"), price_change_pct=50)
    assert result.scenario.payback_days == Decimal(60)
    assert result.scenario.roi == Decimal("-0.5")
    assert result.scenario.verdict == "AI cost $1,200 more than the value it created"
    assert result.roi_delta == Decimal(-1)  # −0.5 − 0.5


def test_value_of_nothing_has_no_breakeven() -> None:
    result = run(value_multiplier=0)
    assert (result.scenario.value_micros, result.scenario.payback_days, result.breakeven_delta_days) == (0, None, None)


def test_rounding_to_micro_dollars_is_half_even_and_only_at_the_end() -> None:
    def tiny(cost: int) -> int:
        baseline = Baseline(usage=(ModelUsage("OpenAI", "gpt-4o", cost),), outcomes=(), on=ON)
        return whatif.compute_whatif(baseline, WhatIf(batch_pct=100), pricer=fake_pricer).scenario.cost_micros

    assert (tiny(5), tiny(7), tiny(3)) == (2, 4, 2)  # 2.5 → 2, 3.5 → 4, 1.5 → 2 (each × 50%)
    # 1 micro-dollar × 1.5 growth × 1.5 price = 2.25 → 2; rounding after growth (1.5 → 2) would give 3.
    baseline = Baseline(usage=(ModelUsage("OpenAI", "gpt-4o", 1),), outcomes=(), on=ON)
    grown = whatif.compute_whatif(baseline, WhatIf(volume_growth_pct=50, price_change_pct=50), pricer=fake_pricer)
    assert grown.scenario.cost_micros == 2


def test_zero_cost_baseline() -> None:
    baseline = Baseline(usage=(), outcomes=(OutcomeVolume("Lead", 10, 1 * USD),), on=ON)
    result = whatif.compute_whatif(baseline, WhatIf(price_change_pct=50, batch_pct=100), pricer=fake_pricer)
    assert (result.scenario.cost_micros, result.scenario.roi, result.roi_delta) == (0, None, None)
    assert result.scenario.verdict == "No AI cost in this period"


@pytest.mark.parametrize(
    ("levers", "message"),
    [
        ({"switch_share_pct": 101}, "between 0 and 100"),
        ({"caching_pct": -1}, "between 0 and 100"),
        ({"volume_growth_pct": -101}, "at least -100"),
        ({"price_change_by_provider": {"OpenAI": -150}}, "OpenAI must be at least -100"),
        ({"value_multiplier": Decimal("-0.1")}, "at least 0"),
        ({"value_per_outcome": {"Lead": -1}}, "cannot be negative"),
        ({"batch_pct": Decimal("NaN")}, "finite"),
    ],
    ids=["share", "caching", "growth", "provider-price", "multiplier", "override", "nan"],
)
def test_impossible_sliders_are_refused(levers: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WhatIf(**levers)


def test_settings_round_trip_exactly_and_read_slider_floats_as_shown() -> None:
    scenario = WhatIf(
        **TO_MINI,
        switch_share_pct=Decimal("33.3"),
        value_per_outcome={"Qualified lead": 12_500_000},
        price_change_by_provider={"OpenAI": -10},
        caching_pct=0.1,
    )
    assert scenario.caching_pct == Decimal("0.1")
    assert WhatIf.from_settings(scenario.to_settings()) == scenario
    assert WhatIf.from_settings({"batch_pct": 20, "from_a_newer_version": True}) == WhatIf(batch_pct=20)


def test_compare_scenarios_today_first_then_in_order() -> None:
    rows = whatif.compare_scenarios(
        BASELINE,
        {"Cheaper model": WhatIf(**TO_MINI, switch_share_pct=50), "Batch": WhatIf(batch_pct=50)},
        pricer=fake_pricer,
    )
    assert [(r.name, r.cost_micros, r.net_micros, r.cost_delta_micros) for r in rows] == [
        ("Today", 1_600 * USD, 800 * USD, 0),
        ("Cheaper model", 1_150 * USD, 1_250 * USD, -450 * USD),  # see test_moving_half_of_gpt_4o_to_mini
        ("Batch", 1_200 * USD, 1_200 * USD, -400 * USD),  # 1,600 × 0.75
    ]
    assert rows[0].roi_delta == Decimal(0)
    assert rows[2].roi == Decimal(1)  # (2,400 − 1,200) / 1,200
    assert rows[2].breakeven_days == Decimal(15)  # 1,200 × 30 / 2,400
    assert whatif.compare_scenarios(BASELINE, {}, today_label=None) == []


def test_baseline_from_frames() -> None:
    spend = pd.DataFrame(
        {
            "provider": ["OpenAI", "OpenAI", "Anthropic"],
            "model": ["gpt-4o", "gpt-4o", "claude"],
            "amount_micros": [400 * USD, 600 * USD, 600 * USD],
            "input_tokens": [80 * M, 120 * M, 50 * M],
            "output_tokens": [20 * M, 30 * M, 30 * M],
        }
    )
    outcomes = pd.DataFrame(
        {
            "outcome": ["Ticket resolved", "Ticket resolved", "Qualified lead"],
            "count": [600, 400, 100],
            "value_micros": [2 * USD, 2 * USD, 4 * USD],
        }
    )
    baseline = whatif.compute_baseline(spend, outcomes, on=ON, days=30)
    assert baseline.usage == tuple(sorted(BASELINE.usage, key=lambda u: (u.provider, u.model)))
    assert baseline.outcomes == tuple(sorted(BASELINE.outcomes, key=lambda o: o.outcome))
    assert (baseline.cost_micros, baseline.value_micros) == (1_600 * USD, 2_400 * USD)
    empty = whatif.compute_baseline(spend.iloc[0:0], outcomes.iloc[0:0], on=ON, days=31)
    assert (empty.usage, empty.outcomes, empty.days) == ((), (), 31)


# Prices from genai-prices


def test_price_ratio_and_cache_ratio_from_a_pricer() -> None:
    ratio = whatif.compute_price_ratio("OpenAI", "gpt-4o", "OpenAI", "gpt-4o-mini", on=ON, pricer=fake_pricer)
    assert ratio == Decimal("0.1")
    # claude → gpt-4o on 1M in + 1M out: (2.5 + 10) / (3 + 15) = 12.5 / 18
    back = whatif.compute_price_ratio("Anthropic", "claude", "OpenAI", "gpt-4o", on=ON, pricer=fake_pricer)
    assert back == Decimal("12.5") / Decimal(18)
    assert whatif.compute_price_ratio("Acme", "x", "OpenAI", "gpt-4o", on=ON, pricer=fake_pricer) is None
    assert whatif.compute_cached_input_ratio("OpenAI", "gpt-4o", on=ON, pricer=fake_pricer) == Decimal("0.5")
    assert whatif.compute_cached_input_ratio("Anthropic", "claude", on=ON, pricer=fake_pricer) == (
        whatif.CACHED_INPUT_FALLBACK_RATIO
    )


def test_real_genai_prices_gpt_4o_to_mini() -> None:
    # Published list prices per million tokens: gpt-4o $2.50 in / $10 out / $1.25 cached;
    # gpt-4o-mini $0.15 in / $0.60 out. On 1M in + 1M out: (0.15 + 0.60) / (2.50 + 10) = 0.75 / 12.5 = 0.06
    ratio = whatif.compute_price_ratio("OpenAI", "gpt-4o", "OpenAI", "gpt-4o-mini", on=ON)
    assert ratio == (Decimal("0.15") + Decimal("0.60")) / (Decimal("2.50") + Decimal(10)) == Decimal("0.06")
    mini = price_per_request("OpenAI", "gpt-4o-mini", M, M, 0, ON)
    big = price_per_request("OpenAI", "gpt-4o", M, M, 0, ON)
    assert (mini, big) == (Decimal("0.75"), Decimal("12.5"))
    assert ratio == mini / big
    # A 3:1 input-heavy mix: (3 × 0.15 + 0.60) / (3 × 2.50 + 10) = 1.05 / 17.5 = 0.06 as well
    assert whatif.compute_price_ratio(
        "OpenAI", "gpt-4o", "OpenAI", "gpt-4o-mini", on=ON, input_tokens=3 * M, output_tokens=M
    ) == Decimal("0.06")
    prices = whatif.compute_token_prices("OpenAI", "gpt-4o", on=ON)
    assert prices is not None
    assert (prices.input_per_mtok, prices.output_per_mtok, prices.cached_input_per_mtok) == (
        Decimal("2.5"),
        Decimal(10),
        Decimal("1.25"),
    )
    assert whatif.compute_cached_input_ratio("OpenAI", "gpt-4o", on=ON) == Decimal("0.5")  # 1.25 / 2.50
    assert whatif.compute_price_ratio("OpenAI", "no-such-model-xyz", "OpenAI", "gpt-4o", on=ON) is None
