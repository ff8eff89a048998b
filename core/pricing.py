"""Token usage → USD with genai-prices' bundled catalogue, as of the usage date; never fetched at run time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from functools import lru_cache

from genai_prices import Usage, calc_price
from genai_prices.types import PriceCalculation

# Our provider names (as stored on charges) → genai-prices provider ids.
PROVIDER_IDS = {
    "OpenAI": "openai", "Anthropic": "anthropic", "Google": "google", "AWS Bedrock": "aws", "Azure OpenAI": "azure",
}  # fmt: skip

# Batch APIs' discount off the standard price, used where genai-prices has no batch price for the day: its
# batch variants (price_context {"processing": "batch"}) only start on 2026-10-14, "batch history before then
# is not modelled". The figure is the catalogue's own: those variants halve input and output for every OpenAI
# and Anthropic model and almost every Google one, and its Anthropic note reads "Message Batches API usage is
# charged at 50% of the standard rates" (platform.claude.com/docs/en/build-with-claude/batch-processing#pricing;
# OpenAI's and Google's are cited as developers.openai.com/api/docs/pricing and ai.google.dev/gemini-api/docs/pricing).
# Amazon Bedrock batch inference is 50% of on-demand for its supported models
# (docs.aws.amazon.com/bedrock/latest/userguide/batch-inference.html), as is Azure OpenAI Global Batch.
BATCH_DISCOUNTS = {
    "openai": Decimal("0.5"), "anthropic": Decimal("0.5"), "google": Decimal("0.5"), "aws": Decimal("0.5"),
    "azure": Decimal("0.5"),
}  # fmt: skip

_BATCH_CONTEXT = (("processing", "batch"),)
_BP = Decimal(10_000)
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_FEMTO_USD = Decimal("1e-15")
Tokens = int | Decimal  # a request's share of a day's tokens need not be whole
_MICROS = Decimal(1_000_000)


@dataclass(frozen=True)
class RateOverride:
    """A workspace's negotiated rate from a date: a discount off list (basis points) or a custom price per model.

    `model` "" covers every model of the provider. Custom prices are micro-USD per million tokens; a missing
    cached price charges cached tokens at the input price. `id` and `note` are for the screen that edits them.
    """

    provider: str
    model: str
    discount_bp: int | None
    input_per_mtok_micros: int | None
    output_per_mtok_micros: int | None
    cached_per_mtok_micros: int | None
    effective_from: dt.date
    id: int | None = None
    note: str = ""

    @property
    def is_custom_price(self) -> bool:
        return self.discount_bp is None


@dataclass(frozen=True)
class Quote:
    """What some usage costs: the catalogue's list price and ours after batch and workspace overrides."""

    list_micros: int | None  # genai-prices' standard price; None when only a custom price knows the model
    micros: int
    override: RateOverride | None
    batch: bool  # batch prices were applied
    model_id: str | None  # genai-prices' id for the model it matched


def provider_id(provider: str) -> str:
    """genai-prices' id for one of our provider names ('AWS Bedrock' → 'aws'); ids pass through lower-cased."""
    return PROVIDER_IDS.get(provider, provider.strip().lower())


def _timestamp(on: dt.date) -> dt.datetime:
    return dt.datetime.combine(on, dt.time(12), dt.UTC)


def _usage(input_tokens: Tokens, output_tokens: Tokens, cached_tokens: Tokens) -> Usage:
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached_tokens or None)


@lru_cache(maxsize=16_384)
def price_per_request(
    provider: str, model: str, input_tokens: int, output_tokens: int, cached_tokens: int, on: dt.date
) -> Decimal | None:
    """USD for one request of this size on `on` (tiers apply per request); None when the model is unknown.

    `input_tokens` includes the cached ones, as OpenAI and genai-prices count them.
    """
    try:
        calculation = calc_price(
            _usage(input_tokens, output_tokens, cached_tokens),
            model_ref=model,
            provider_id=provider_id(provider),
            genai_request_timestamp=_timestamp(on),
        )
    except LookupError:
        return None
    return Decimal(calculation.total_price)


def _batch_variant_applies(calculation: PriceCalculation, on: dt.date) -> bool:
    """Whether genai-prices priced this with its own batch rates (it ignores the context for borrowed models)."""
    model = calculation.model
    if not any(model is own for own in calculation.provider.models):
        return False
    return any(
        variant.when == dict(_BATCH_CONTEXT)
        and (variant.constraint is None or variant.constraint.active(_timestamp(on)))
        for variant in model.price_variants or ()
    )


@lru_cache(maxsize=16_384)
def _catalogue_request(
    provider: str, model: str, size: tuple[Tokens, Tokens, Tokens], on: dt.date, batch: bool
) -> tuple[Decimal, str, bool] | None:
    """One request's price, the matched model id, and whether a batch price was the catalogue's own."""
    try:
        calculation = calc_price(
            _usage(*size),
            model_ref=model,
            provider_id=provider_id(provider),
            genai_request_timestamp=_timestamp(on),
            price_context=dict(_BATCH_CONTEXT) if batch else None,
        )
    except LookupError:
        return None
    return Decimal(calculation.total_price), calculation.model.id, batch and _batch_variant_applies(calculation, on)


def _catalogue_price(
    provider: str, model: str, tokens: tuple[int, int, int], requests: int, on: dt.date, batch: bool
) -> tuple[Decimal, str, bool] | None:
    """The average request's catalogue price × requests, so tiers see the average request's size.

    Within a tier a price is linear in tokens, so this is the exact price of the day's tokens at the average
    request's tier. Fractional averages are carried at 60 digits and the total brought back to 1e-15 USD: the
    snapshot's prices have at most 5 decimals per million tokens, so whole tokens cost at most 11 decimals.
    """
    with localcontext(_EXACT):
        size = tuple(t // requests if t % requests == 0 else Decimal(t) / requests for t in tokens)
        priced = _catalogue_request(provider, model, (size[0], size[1], size[2]), on, batch)
        if priced is None:
            return None
        price, model_id, own_batch = priced
        return (price * requests).quantize(_FEMTO_USD), model_id, own_batch


def find_override(
    overrides: Iterable[RateOverride], provider: str, model: str, on: dt.date, model_id: str | None = None
) -> RateOverride | None:
    """The override in force on `on`: a model's own beats the provider-wide one; the latest start wins."""
    pid = provider_id(provider)
    names = {model.strip().lower(), (model_id or "").lower()} - {""}
    best: tuple[bool, dt.date] | None = None
    chosen: RateOverride | None = None
    for override in overrides:
        if provider_id(override.provider) != pid or override.effective_from > on:
            continue
        wanted = override.model.strip().lower()
        if wanted and wanted not in names:
            continue
        rank = (bool(wanted), override.effective_from)
        if best is None or rank >= best:
            best, chosen = rank, override
    return chosen


def _custom_micros_numerator(override: RateOverride, tokens: tuple[int, int, int]) -> int:
    """micro-USD × 1,000,000 for these tokens at the override's own prices (flat: no tiers)."""
    input_tokens, output_tokens, cached_tokens = tokens
    input_rate = override.input_per_mtok_micros or 0
    cached_rate = input_rate if override.cached_per_mtok_micros is None else override.cached_per_mtok_micros
    return (
        (input_tokens - cached_tokens) * input_rate
        + cached_tokens * cached_rate
        + output_tokens * (override.output_per_mtok_micros or 0)
    )


def _to_micros(usd: Decimal) -> int:
    return int((usd * _MICROS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def price_usage(
    provider: str,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int,
    requests: int,
    on: dt.date,
    batch: bool = False,
    overrides: Iterable[RateOverride] = (),
) -> Quote | None:
    """What this usage costs on `on`, each request priced at its even share of the tokens; None when unpriced.

    `input_tokens` includes the cached ones. Per-request tiers (long context) apply as they would have to the
    average request. `batch` prices it at the Batch API's rates: the catalogue's own where it has them for the
    day, else BATCH_DISCOUNTS. The workspace override in force on `on` then applies: a custom price replaces
    the list price, a discount multiplies it. Micro-USD, rounded half-even once at the end.
    """
    cached_tokens = max(0, min(cached_tokens, input_tokens))
    tokens = (max(0, input_tokens), max(0, output_tokens), cached_tokens)
    with localcontext(_EXACT):
        return _quote(provider, model, tokens, max(1, requests), on, batch, overrides)


def _quote(
    provider: str,
    model: str,
    tokens: tuple[int, int, int],
    requests: int,
    on: dt.date,
    batch: bool,
    overrides: Iterable[RateOverride],
) -> Quote | None:
    standard = _catalogue_price(provider, model, tokens, requests, on, False)
    list_usd, model_id = (standard[0], standard[1]) if standard else (None, None)
    override = find_override(overrides, provider, model, on, model_id)
    batch_share = BATCH_DISCOUNTS.get(provider_id(provider)) if batch else None

    if override is not None and override.is_custom_price:
        usd = Decimal(_custom_micros_numerator(override, tokens)) / _MICROS / _MICROS
        if batch_share is not None:
            usd *= 1 - batch_share
        return Quote(
            list_micros=None if list_usd is None else _to_micros(list_usd),
            micros=_to_micros(usd),
            override=override,
            batch=batch_share is not None,
            model_id=model_id,
        )
    if list_usd is None:
        return None

    usd, batched = list_usd, False
    if batch:
        own = _catalogue_price(provider, model, tokens, requests, on, True)
        if own is not None and own[2]:
            usd, batched = own[0], True
        elif batch_share is not None:
            usd, batched = list_usd * (1 - batch_share), True
    if override is not None and override.discount_bp is not None:
        usd = usd * (_BP - override.discount_bp) / _BP
    return Quote(
        list_micros=_to_micros(list_usd),
        micros=_to_micros(usd),
        override=override,
        batch=batched,
        model_id=model_id,
    )


Pricer = Callable[[str, str, int, int, int, dt.date], Decimal | None]


def workspace_pricer(overrides: Sequence[RateOverride]) -> Pricer:
    """A ``price_per_request`` that honours a workspace's negotiated rates, exactly (no rounding per request).

    Importers price token-only rows with it, so a discount or custom price applies from its effective date on.
    """
    if not overrides:
        return price_per_request
    rates = tuple(overrides)

    def price(
        provider: str, model: str, input_tokens: int, output_tokens: int, cached_tokens: int, on: dt.date
    ) -> Decimal | None:
        override = find_override(rates, provider, model, on)
        if override is not None and override.is_custom_price:
            numerator = _custom_micros_numerator(override, (input_tokens, output_tokens, cached_tokens))
            return Decimal(numerator) / _MICROS / _MICROS
        listed = price_per_request(provider, model, input_tokens, output_tokens, cached_tokens, on)
        if listed is None or override is None or override.discount_bp is None:
            return listed
        return listed * (_BP - override.discount_bp) / _BP

    return price
