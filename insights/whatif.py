"""ROI what-if: move the sliders, see next month's cost, value, ROI and breakeven beside today's. Pure, exact.

A `Baseline` is a month of small aggregates (cost by provider × model with tokens, outcome counts and
values), so a slider move is a few dozen Decimal multiplications. Every cost lever is a factor on a line's
cost, so the order they are applied in never changes the answer:

    cost' = Σ lines  cost × (1 + growth) × switch × caching × (1 − batch share × batch discount) × (1 + price change)

- growth: more outcomes need proportionally more AI traffic, so volume growth scales cost and value alike.
- switch: a share s of model A's cost moves to model B at the price ratio r = B's list price ÷ A's list
  price for A's own token mix (from genai-prices), so A keeps (1 − s) and B gains s × r of A's cost.
- caching: a share x of a line's uncached input tokens is served at the cache-read price. The saving is
  x × uncached input × (input − cache-read price) ÷ the line's list price, a share of the actual cost.
- batch: a share of traffic at the batch discount (50% at OpenAI, Anthropic and Google).
- price change: per provider, else for all providers; applied to whichever provider serves the line.

Value' = Σ outcomes count × (1 + growth) × unit value, where the unit value is the override if one is set,
else today's value × the multiplier. Exact Decimal throughout; half-even to micro-dollars at the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import pandas as pd

from core.pricing import price_per_request
from insights.roi import RoiSummary, compute_roi

# (provider, model, input tokens incl. cached, output tokens, cached tokens, on) → USD, None when unknown.
Pricer = Callable[[str, str, int, int, int, dt.date], Decimal | None]
Percent = Decimal | int

# Per-token prices are read from a request this small, below every long-context tier, so they are base rates.
SAMPLE_TOKENS = 1_000
_PER_MTOK = Decimal(1_000_000 // SAMPLE_TOKENS)
# When genai-prices lists no cache-read price for a model it charges cached tokens at the full input price;
# then we assume the smallest discount a major provider gives (OpenAI's 50%; Anthropic 90%, Google 75%),
# and say so in the result rather than claiming no saving or a large one.
CACHED_INPUT_FALLBACK_RATIO = Decimal("0.5")
DEFAULT_BATCH_DISCOUNT_PCT = 50
# The request a price ratio is taken on when a model's token mix is unknown: 1M input + 1M output tokens.
REPRESENTATIVE_MIX = (1_000_000, 1_000_000, 0)
_PRECISION = 60  # digits for the what-if's intermediate Decimals: micro-dollars stay exact to the last place


@dataclass(frozen=True)
class TokenPrices:
    """List prices in USD per million tokens on a date; `cached_assumed` when the fallback ratio filled in."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal
    cached_assumed: bool = False

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> Decimal:
        """USD at list price; `input_tokens` includes the cached ones, as providers count them."""
        uncached = (input_tokens - cached_tokens) * self.input_per_mtok
        cached = cached_tokens * self.cached_input_per_mtok
        return (uncached + cached + output_tokens * self.output_per_mtok) / 1_000_000


def compute_token_prices(
    provider: str, model: str, *, on: dt.date, pricer: Pricer = price_per_request
) -> TokenPrices | None:
    """A model's per-token list prices from genai-prices; None when the catalogue does not know the model."""
    fixed = pricer(provider, model, 0, 0, 0, on) or Decimal(0)  # a per-request fee, if the model has one
    one_input = pricer(provider, model, SAMPLE_TOKENS, 0, 0, on)
    one_output = pricer(provider, model, 0, SAMPLE_TOKENS, 0, on)
    if one_input is None or one_output is None:
        return None
    input_price = one_input - fixed
    cached = pricer(provider, model, SAMPLE_TOKENS, 0, SAMPLE_TOKENS, on)
    cached_price = None if cached is None else cached - fixed
    assumed = cached_price is None or (input_price > 0 and cached_price >= input_price)
    if cached_price is None or assumed:
        cached_price = input_price * CACHED_INPUT_FALLBACK_RATIO
    return TokenPrices(
        input_per_mtok=input_price * _PER_MTOK,
        output_per_mtok=(one_output - fixed) * _PER_MTOK,
        cached_input_per_mtok=cached_price * _PER_MTOK,
        cached_assumed=assumed,
    )


def compute_cached_input_ratio(
    provider: str, model: str, *, on: dt.date, pricer: Pricer = price_per_request
) -> Decimal | None:
    """Cache-read price ÷ input price (0.5 for gpt-4o); the documented fallback when no cache price is listed."""
    prices = compute_token_prices(provider, model, on=on, pricer=pricer)
    if prices is None or prices.input_per_mtok == 0:
        return None
    return prices.cached_input_per_mtok / prices.input_per_mtok


def _mix_ratio(source: TokenPrices, target: TokenPrices, mix: tuple[int, int, int]) -> Decimal | None:
    if not any(mix):
        mix = REPRESENTATIVE_MIX
    source_cost = source.cost(*mix)
    return None if source_cost == 0 else target.cost(*mix) / source_cost


def compute_price_ratio(
    provider_from: str,
    model_from: str,
    provider_to: str,
    model_to: str,
    *,
    on: dt.date,
    input_tokens: int = REPRESENTATIVE_MIX[0],
    output_tokens: int = REPRESENTATIVE_MIX[1],
    cached_tokens: int = 0,
    pricer: Pricer = price_per_request,
) -> Decimal | None:
    """What the same traffic costs on the target model as a share of the source model's cost, at list prices.

    The token mix defaults to 1M input + 1M output; pass a baseline's own counts for its real mix.
    None when either model is unknown to genai-prices or the source is free.
    """
    source = compute_token_prices(provider_from, model_from, on=on, pricer=pricer)
    target = compute_token_prices(provider_to, model_to, on=on, pricer=pricer)
    if source is None or target is None:
        return None
    return _mix_ratio(source, target, (input_tokens, output_tokens, cached_tokens))


@dataclass(frozen=True)
class ModelUsage:
    """A month's cost and tokens on one provider's model."""

    provider: str
    model: str
    cost_micros: int
    input_tokens: int = 0  # includes cached tokens
    output_tokens: int = 0
    cached_tokens: int = 0

    @property
    def label(self) -> str:
        return f"{self.provider} {self.model}"


@dataclass(frozen=True)
class OutcomeVolume:
    """A month's count of one outcome and what one unit is worth."""

    outcome: str
    count: int
    value_micros: int  # per unit


@dataclass(frozen=True)
class Baseline:
    """Today's month as small aggregates; `on` dates the list prices, `days` turns value into a daily rate."""

    usage: tuple[ModelUsage, ...]
    outcomes: tuple[OutcomeVolume, ...]
    on: dt.date
    days: int = 30

    @property
    def cost_micros(self) -> int:
        return sum(line.cost_micros for line in self.usage)

    @property
    def value_micros(self) -> int:
        return sum(item.count * item.value_micros for item in self.outcomes)


def compute_baseline(spend: pd.DataFrame, outcomes: pd.DataFrame, *, on: dt.date, days: int) -> Baseline:
    """A baseline from spend rows (provider, model, amount_micros, input/output[/cached]_tokens) and outcome
    rows (outcome, count, value_micros), summed per model and per outcome."""
    usage: list[ModelUsage] = []
    if not spend.empty:
        columns = [c for c in ("amount_micros", "input_tokens", "output_tokens", "cached_tokens") if c in spend]
        for (provider, model), row in spend.groupby(["provider", "model"], sort=True)[columns].sum().iterrows():
            usage.append(
                ModelUsage(
                    provider=str(provider),
                    model=str(model),
                    cost_micros=int(row["amount_micros"]),
                    input_tokens=int(row.get("input_tokens", 0)),
                    output_tokens=int(row.get("output_tokens", 0)),
                    cached_tokens=int(row.get("cached_tokens", 0)),
                )
            )
    volumes: list[OutcomeVolume] = []
    if not outcomes.empty:
        grouped = outcomes.groupby(["outcome", "value_micros"], sort=True)["count"].sum()
        for (outcome, value), count in grouped.items():
            volumes.append(OutcomeVolume(outcome=str(outcome), count=int(count), value_micros=int(value)))
    return Baseline(usage=tuple(usage), outcomes=tuple(volumes), on=on, days=days)


def _number(value: Any, name: str) -> Decimal | int:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    # A slider may hand back a float; its shortest repr is what the person saw, so read that exactly.
    number = Decimal(str(value)) if isinstance(value, float | str) else value
    if isinstance(number, Decimal) and not number.is_finite():
        raise ValueError(f"{name} must be a finite number")
    return number


def _check(value: Decimal | int, name: str, low: int, high: int | None = None) -> None:
    if high is None and value < low:
        raise ValueError(f"{name} must be at least {low}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")


def _model_ref(value: Any, name: str) -> tuple[str, str] | None:
    if value is None:
        return None
    provider, model = value  # a list from saved JSON is fine too
    if not (isinstance(provider, str) and isinstance(model, str)):
        raise TypeError(f"{name} is a (provider, model) pair of names")
    return provider, model


@dataclass(frozen=True)
class WhatIf:
    """Slider positions. Percentages are in percent (25 = 25%); all defaults mean "as today"."""

    value_multiplier: Decimal | int = 1  # every outcome's unit value × this, unless overridden below
    value_per_outcome: Mapping[str, int] = field(default_factory=dict)  # outcome → micro-USD per unit
    volume_growth_pct: Percent = 0  # more (or, negative, fewer) outcomes, and the AI traffic behind them
    switch_from: tuple[str, str] | None = None  # (provider, model)
    switch_to: tuple[str, str] | None = None
    switch_share_pct: Percent = 0  # share of switch_from's traffic moved to switch_to
    price_change_pct: Percent = 0  # every provider's prices, unless overridden below
    price_change_by_provider: Mapping[str, Percent] = field(default_factory=dict)
    caching_pct: Percent = 0  # share of today's uncached input tokens served from cache
    batch_pct: Percent = 0  # share of traffic sent through batch APIs
    batch_discount_pct: Percent = DEFAULT_BATCH_DISCOUNT_PCT

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name in (
            "value_multiplier",
            "volume_growth_pct",
            "switch_share_pct",
            "price_change_pct",
            "caching_pct",
            "batch_pct",
            "batch_discount_pct",
        ):
            put(name, _number(getattr(self, name), name))
        put("switch_from", _model_ref(self.switch_from, "switch_from"))
        put("switch_to", _model_ref(self.switch_to, "switch_to"))
        put("value_per_outcome", {str(k): int(v) for k, v in self.value_per_outcome.items()})
        put(
            "price_change_by_provider",
            {str(k): _number(v, f"price change for {k}") for k, v in self.price_change_by_provider.items()},
        )
        _check(self.value_multiplier, "value_multiplier", 0)
        if any(v < 0 for v in self.value_per_outcome.values()):
            raise ValueError("a value per outcome cannot be negative")
        _check(self.volume_growth_pct, "volume_growth_pct", -100)
        for name in ("switch_share_pct", "caching_pct", "batch_pct", "batch_discount_pct"):
            _check(getattr(self, name), name, 0, 100)
        for provider, change in {"all providers": self.price_change_pct, **self.price_change_by_provider}.items():
            _check(change, f"the price change for {provider}", -100)

    def to_settings(self) -> dict[str, Any]:
        """JSON-safe slider positions for a saved scenario; `from_settings` reads them back exactly."""

        def plain(value: Decimal | int) -> str | int:
            return value if isinstance(value, int) else str(value)

        return {
            "value_multiplier": plain(self.value_multiplier),
            "value_per_outcome": dict(self.value_per_outcome),
            "volume_growth_pct": plain(self.volume_growth_pct),
            "switch_from": list(self.switch_from) if self.switch_from else None,
            "switch_to": list(self.switch_to) if self.switch_to else None,
            "switch_share_pct": plain(self.switch_share_pct),
            "price_change_pct": plain(self.price_change_pct),
            "price_change_by_provider": {k: plain(v) for k, v in self.price_change_by_provider.items()},
            "caching_pct": plain(self.caching_pct),
            "batch_pct": plain(self.batch_pct),
            "batch_discount_pct": plain(self.batch_discount_pct),
        }

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WhatIf:
        """Slider positions saved by `to_settings`; unknown keys (from a newer version) are ignored."""
        known = cls.__dataclass_fields__.keys()
        return cls(**{key: value for key, value in settings.items() if key in known})


@dataclass(frozen=True)
class WhatIfResult:
    """Today and the scenario side by side, with the scenario's change against today."""

    today: RoiSummary
    scenario: RoiSummary
    cost_delta_micros: int
    value_delta_micros: int
    net_delta_micros: int
    roi_delta: Decimal | None  # ratio points: 0.25 means ROI went up by 25 percentage points
    breakeven_delta_days: Decimal | None
    switch_ratio: Decimal | None  # target ÷ source list price for the moved traffic, when a switch applied
    unpriced: tuple[str, ...]  # models genai-prices does not know: price-based levers left them as they are
    cache_price_assumed: tuple[str, ...]  # models whose cache-read price is the documented fallback


@dataclass(frozen=True)
class _Line:
    provider: str
    model: str
    cost: Decimal  # micro-USD, unrounded
    mix: tuple[int, int, int]  # input (incl. cached), output, cached tokens of the traffic it carries


def _fraction(pct: Decimal | int) -> Decimal:
    return Decimal(pct) / 100


def _round_micros(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


class _PriceBook:
    """Token prices looked up once per model per what-if, remembering which models could not be priced."""

    def __init__(self, on: dt.date, pricer: Pricer) -> None:
        self.on, self.pricer = on, pricer
        self.prices: dict[tuple[str, str], TokenPrices | None] = {}
        self.unpriced: list[str] = []
        self.assumed: list[str] = []

    def get(self, provider: str, model: str) -> TokenPrices | None:
        key = (provider, model)
        if key not in self.prices:
            prices = compute_token_prices(provider, model, on=self.on, pricer=self.pricer)
            self.prices[key] = prices
            if prices is None:
                self.unpriced.append(f"{provider} {model}")
        return self.prices[key]

    def note_assumed(self, provider: str, model: str) -> None:
        label = f"{provider} {model}"
        if label not in self.assumed:
            self.assumed.append(label)


def _switched_lines(baseline: Baseline, whatif: WhatIf, book: _PriceBook) -> tuple[list[_Line], Decimal | None]:
    growth = 1 + _fraction(whatif.volume_growth_pct)
    share = _fraction(whatif.switch_share_pct)
    source_ref, target_ref = whatif.switch_from, whatif.switch_to
    if share == 0 or source_ref == target_ref:
        source_ref = target_ref = None
    lines: list[_Line] = []
    used_ratio: Decimal | None = None
    for usage in baseline.usage:
        cost = Decimal(usage.cost_micros) * growth
        mix = (usage.input_tokens, usage.output_tokens, usage.cached_tokens)
        if source_ref and target_ref and (usage.provider, usage.model) == source_ref:
            source, target = book.get(*source_ref), book.get(*target_ref)
            ratio = _mix_ratio(source, target, mix) if source and target else None
            if ratio is not None:
                used_ratio = ratio if used_ratio is None else used_ratio
                lines.append(_Line(usage.provider, usage.model, cost * (1 - share), mix))
                lines.append(_Line(*target_ref, cost * share * ratio, mix))
                continue
        lines.append(_Line(usage.provider, usage.model, cost, mix))
    return lines, used_ratio


def _caching_factor(line: _Line, share: Decimal, book: _PriceBook) -> Decimal:
    input_tokens, output_tokens, cached_tokens = line.mix
    if share == 0 or input_tokens <= cached_tokens:
        return Decimal(1)  # nothing left to cache, or no token counts to tell what input costs
    prices = book.get(line.provider, line.model)
    if prices is None:
        return Decimal(1)
    list_cost = prices.cost(*line.mix)
    if list_cost <= 0:
        return Decimal(1)
    if prices.cached_assumed:
        book.note_assumed(line.provider, line.model)
    saving_per_token = (prices.input_per_mtok - prices.cached_input_per_mtok) / 1_000_000
    return 1 - share * (input_tokens - cached_tokens) * saving_per_token / list_cost


def _scenario_cost(lines: Iterable[_Line], whatif: WhatIf, book: _PriceBook) -> Decimal:
    caching = _fraction(whatif.caching_pct)
    batch = 1 - _fraction(whatif.batch_pct) * _fraction(whatif.batch_discount_pct)
    total = Decimal(0)
    for line in lines:
        change = whatif.price_change_by_provider.get(line.provider, whatif.price_change_pct)
        total += line.cost * _caching_factor(line, caching, book) * batch * (1 + _fraction(change))
    return total


def _scenario_value(baseline: Baseline, whatif: WhatIf) -> Decimal:
    growth = 1 + _fraction(whatif.volume_growth_pct)
    total = Decimal(0)
    for item in baseline.outcomes:
        override = whatif.value_per_outcome.get(item.outcome)
        unit = Decimal(override) if override is not None else item.value_micros * Decimal(whatif.value_multiplier)
        total += item.count * growth * unit
    return total


def compute_whatif(baseline: Baseline, whatif: WhatIf, *, pricer: Pricer = price_per_request) -> WhatIfResult:
    """The month under the scenario beside today's month; see the module docstring for the formulas."""
    book = _PriceBook(baseline.on, pricer)
    with localcontext() as context:
        context.prec = _PRECISION
        lines, ratio = _switched_lines(baseline, whatif, book)
        cost = _round_micros(_scenario_cost(lines, whatif, book))
        value = _round_micros(_scenario_value(baseline, whatif))
    today = compute_roi(baseline.cost_micros, baseline.value_micros, days=baseline.days)
    scenario = compute_roi(cost, value, days=baseline.days)
    return WhatIfResult(
        today=today,
        scenario=scenario,
        cost_delta_micros=scenario.cost_micros - today.cost_micros,
        value_delta_micros=scenario.value_micros - today.value_micros,
        net_delta_micros=scenario.net_micros - today.net_micros,
        roi_delta=_difference(scenario.roi, today.roi),
        breakeven_delta_days=_difference(scenario.payback_days, today.payback_days),
        switch_ratio=None if ratio is None else +ratio,  # unary plus: back to the ordinary 28 digits
        unpriced=tuple(book.unpriced),
        cache_price_assumed=tuple(book.assumed),
    )


def _difference(after: Decimal | None, before: Decimal | None) -> Decimal | None:
    return None if after is None or before is None else after - before


@dataclass(frozen=True)
class ScenarioRow:
    """One line of the saved-scenarios table."""

    name: str
    cost_micros: int
    value_micros: int
    net_micros: int
    roi: Decimal | None
    breakeven_days: Decimal | None
    cost_delta_micros: int
    value_delta_micros: int
    net_delta_micros: int
    roi_delta: Decimal | None


def compare_scenarios(
    baseline: Baseline,
    scenarios: Mapping[str, WhatIf],
    *,
    pricer: Pricer = price_per_request,
    today_label: str | None = "Today",
) -> list[ScenarioRow]:
    """Today's row (unless `today_label` is None), then each named scenario in the order given."""
    rows = []
    if today_label is not None:
        today = compute_roi(baseline.cost_micros, baseline.value_micros, days=baseline.days)
        rows.append(
            ScenarioRow(
                name=today_label,
                cost_micros=today.cost_micros,
                value_micros=today.value_micros,
                net_micros=today.net_micros,
                roi=today.roi,
                breakeven_days=today.payback_days,
                cost_delta_micros=0,
                value_delta_micros=0,
                net_delta_micros=0,
                roi_delta=None if today.roi is None else Decimal(0),
            )
        )
    for name, whatif in scenarios.items():
        result = compute_whatif(baseline, whatif, pricer=pricer)
        rows.append(
            ScenarioRow(
                name=name,
                cost_micros=result.scenario.cost_micros,
                value_micros=result.scenario.value_micros,
                net_micros=result.scenario.net_micros,
                roi=result.scenario.roi,
                breakeven_days=result.scenario.payback_days,
                cost_delta_micros=result.cost_delta_micros,
                value_delta_micros=result.value_delta_micros,
                net_delta_micros=result.net_delta_micros,
                roi_delta=result.roi_delta,
            )
        )
    return rows
