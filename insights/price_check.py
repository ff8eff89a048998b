"""Price check: where a day has both tokens and a bill for a model, compare the bill with our estimate. Pure.

A day × provider × model is flagged when the bill differs from the estimate (list prices with the workspace's
overrides, as of that day) by more than the tolerance. Each flagged day gets the likely cause, worked out by
pricing the usage the other ways it could have been billed, in this order:

1. long_context_tier: the bill lies between the price with every request at the base rate and the price with
   every request over the long-context threshold (only models with tiers differ).
2. batch: the bill matches the Batch API price.
3. discount / markup: the bill is the same share of the estimate on every compared day of the model
   (at least two days, within the tolerance of each other): a negotiated rate.
4. missing_cache_tokens: the bill lies between the estimate and the price with all input read from cache,
   so some share of the input was billed as cache reads our data does not show.
5. unexplained.

Days whose request count is unknown (0) are priced as many small requests, i.e. at the base rate.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import pandas as pd

from core.money import format_percent, format_usd
from core.pricing import Quote, RateOverride, price_usage

Cause = Literal["long_context_tier", "batch", "discount", "markup", "missing_cache_tokens", "unexplained"]
DEFAULT_TOLERANCE = Decimal("0.02")
DEFAULT_MIN_DIFFERENCE_MICROS = 10_000  # one cent: smaller gaps are rounding, whatever their percentage
_PCT_STEP = Decimal("0.1")


@dataclass(frozen=True)
class PriceDifference:
    """One day of one model where the bill and our estimate differ by more than the tolerance."""

    day: dt.date
    provider: str
    model: str
    model_id: str | None  # genai-prices' id for the model
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    requests: int
    billed_micros: int
    estimate_micros: int
    difference_micros: int  # billed − estimate
    difference_ratio: Decimal | None  # difference / estimate (−0.1 = billed 10% below); None when estimate is 0
    cause: Cause
    explanation: str


@dataclass(frozen=True)
class ModelCheck:
    """A provider × model over the period: the compared days' estimate, bill and difference."""

    provider: str
    model: str
    model_id: str | None
    days: int  # days with both tokens and a bill
    flagged_days: int
    estimate_micros: int
    billed_micros: int
    difference_micros: int
    difference_ratio: Decimal | None
    cause: Cause | None  # the steady discount/markup, else the flagged days' commonest cause; None if none
    explanation: str


@dataclass(frozen=True)
class DiscountSuggestion:
    """A steady discount worth recording as a price override; model "" means every model of the provider."""

    provider: str
    model: str
    discount_pct: Decimal  # off list, one decimal place
    effective_from: dt.date  # the first compared day showing it
    explanation: str


@dataclass(frozen=True)
class UnpricedModel:
    """A model with tokens that neither the catalogue nor an override can price: listed, never counted as $0."""

    provider: str
    model: str
    days: int
    input_tokens: int
    output_tokens: int
    billed_micros: int


@dataclass(frozen=True)
class PriceCheck:
    tolerance: Decimal
    compared: int  # day × provider × model cells with both tokens and a bill
    differences: tuple[PriceDifference, ...]  # largest difference first
    models: tuple[ModelCheck, ...]  # largest difference first
    unpriced: tuple[UnpricedModel, ...]
    suggestions: tuple[DiscountSuggestion, ...]


@dataclass(frozen=True)
class _Cell:
    day: dt.date
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    requests: int
    billed_micros: int
    quote: Quote

    @property
    def priced_requests(self) -> int:
        return _priced_requests(self.requests, self.input_tokens)

    @property
    def ratio(self) -> Decimal | None:
        return Decimal(self.billed_micros) / self.quote.micros if self.quote.micros else None


@dataclass(frozen=True)
class _Steady:
    ratio: Decimal  # billed / estimate, the median over the model's days
    list_ratio: Decimal | None  # billed / list price, where every day's estimate was list or a discount off it
    days: int
    first_day: dt.date


def _priced_requests(requests: int, input_tokens: int) -> int:
    """Unknown request counts (Anthropic's usage report has none) are priced as many small requests."""
    return requests if requests > 0 else max(1, input_tokens)


def _day(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(str(value)).date()


def _price(
    cell: _Cell,
    overrides: tuple[RateOverride, ...],
    *,
    requests: int | None = None,
    cached_tokens: int | None = None,
    batch: bool = False,
) -> int | None:
    """The cell's usage priced another way (other request sizes, all input cached, batch)."""
    quote = price_usage(
        cell.provider,
        cell.model,
        input_tokens=cell.input_tokens,
        output_tokens=cell.output_tokens,
        cached_tokens=cell.cached_tokens if cached_tokens is None else cached_tokens,
        requests=cell.priced_requests if requests is None else requests,
        on=cell.day,
        batch=batch,
        overrides=overrides,
    )
    return None if quote is None else quote.micros


def _within(value: int, target: int, tolerance: Decimal) -> bool:
    return abs(Decimal(value - target)) <= tolerance * target


def _pct(ratio: Decimal) -> Decimal:
    """A ratio below one as the percentage off, to one decimal place (0.9 → 10.0)."""
    return ((1 - ratio) * 100).quantize(_PCT_STEP)


def _steady(cells: list[_Cell], tolerance: Decimal) -> _Steady | None:
    """The model's bill as a steady share of the estimate, when every compared day agrees and it is off by more
    than the tolerance; None otherwise."""
    ratios = [cell.ratio for cell in cells]
    known = [r for r in ratios if r is not None]
    if len(known) < 2 or len(known) != len(ratios) or max(known) - min(known) > tolerance:
        return None
    ratio = statistics.median(known)
    if abs(ratio - 1) <= tolerance:
        return None
    list_ratio = None
    if all(c.quote.list_micros and (c.quote.override is None or not c.quote.override.is_custom_price) for c in cells):
        list_ratio = statistics.median(Decimal(c.billed_micros) / (c.quote.list_micros or 1) for c in cells)
    return _Steady(ratio=ratio, list_ratio=list_ratio, days=len(cells), first_day=min(c.day for c in cells))


def _steady_text(steady: _Steady, provider: str, model: str) -> tuple[Cause, str]:
    if steady.ratio < 1:
        text = (
            f"On all {steady.days} compared days the bill is a steady {_pct(steady.ratio)}% below our estimate: "
            "likely a negotiated discount."
        )
        if steady.list_ratio is not None and steady.list_ratio < 1:
            text += (
                f" Add a {_pct(steady.list_ratio)}% price override for {provider} {model} "
                f"from {steady.first_day:%d %b %Y}."
            )
        return "discount", text
    return "markup", (
        f"On all {steady.days} compared days the bill is a steady {-_pct(steady.ratio)}% above our estimate: "
        "check for priority processing, a surcharge or a price change the catalogue does not have."
    )


def _cause(
    cell: _Cell, steady: _Steady | None, overrides: tuple[RateOverride, ...], tolerance: Decimal
) -> tuple[Cause, str]:
    billed, estimate = cell.billed_micros, cell.quote.micros

    base = _price(cell, overrides, requests=max(1, cell.input_tokens))
    high = _price(cell, overrides, requests=1)
    if base is not None and high is not None and base != high:
        low, top = min(base, high), max(base, high)
        if low * (1 - tolerance) <= billed <= top * (1 + tolerance):
            if billed > estimate:
                text = (
                    f"The bill ({format_usd(billed)}) sits between the base-rate price ({format_usd(low)}) and the "
                    f"long-context price ({format_usd(top)}): some requests were over the long-context threshold, "
                    "which costs more per token than the day's average request suggests."
                )
            else:
                text = (
                    f"The bill ({format_usd(billed)}) sits between the base-rate price ({format_usd(low)}) and the "
                    f"long-context price ({format_usd(top)}): fewer requests crossed the long-context threshold "
                    "than the day's average request suggests."
                )
            return "long_context_tier", text

    batch = _price(cell, overrides, batch=True)
    if batch is not None and batch < estimate and _within(billed, batch, tolerance):
        return "batch", (
            f"The bill matches the Batch API price ({format_usd(batch)}): this usage likely ran as batch jobs, "
            "which cost about half."
        )

    if steady is not None:
        return _steady_text(steady, cell.provider, cell.model)

    all_cached = _price(cell, overrides, cached_tokens=cell.input_tokens)
    if (
        all_cached is not None
        and all_cached < estimate
        and billed < estimate
        and billed >= all_cached * (1 - tolerance)
        and cell.cached_tokens < cell.input_tokens
    ):
        extra = min(Decimal(1), Decimal(estimate - billed) / (estimate - all_cached))
        reported = Decimal(cell.cached_tokens) / cell.input_tokens
        implied = reported + (1 - reported) * extra
        return "missing_cache_tokens", (
            f"The bill matches about {(implied * 100).quantize(Decimal(1))}% of input tokens read from cache; "
            f"our data reports {(reported * 100).quantize(Decimal(1))}%. The usage source may not report cache "
            "reads (or reports fewer)."
        )

    ratio = Decimal(billed - estimate) / estimate if estimate else None
    return "unexplained", (
        f"The bill is {format_usd(billed)} against our estimate of {format_usd(estimate)} "
        f"({format_percent(ratio)}); no cache share, long-context tier, batch price or steady discount explains it."
    )


def compute_price_check(
    rows: pd.DataFrame,
    *,
    overrides: Iterable[RateOverride] = (),
    tolerance: Decimal = DEFAULT_TOLERANCE,
    min_difference_micros: int = DEFAULT_MIN_DIFFERENCE_MICROS,
) -> PriceCheck:
    """Compare bills with estimates per day × provider × model (rows as `load_price_check_rows` gives them)."""
    rules = tuple(overrides)
    cells: dict[tuple[str, str], list[_Cell]] = defaultdict(list)
    unpriced: dict[tuple[str, str], list[int]] = {}
    for row in rows.itertuples(index=False):
        input_tokens, output_tokens = int(row.input_tokens), int(row.output_tokens)
        billed = int(row.billed_micros)
        if input_tokens + output_tokens <= 0:
            continue
        provider, model, day = str(row.provider), str(row.model), _day(row.day)
        requests = int(row.requests)
        quote = price_usage(
            provider,
            model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=int(row.cached_tokens),
            requests=_priced_requests(requests, input_tokens),
            on=day,
            overrides=rules,
        )
        if quote is None:
            totals = unpriced.setdefault((provider, model), [0, 0, 0, 0])
            for i, value in enumerate((1, input_tokens, output_tokens, max(billed, 0))):
                totals[i] += value
            continue
        if billed <= 0:
            continue
        cells[(provider, model)].append(
            _Cell(day, provider, model, input_tokens, output_tokens, int(row.cached_tokens), requests, billed, quote)
        )

    differences: list[PriceDifference] = []
    models: list[ModelCheck] = []
    steadies: dict[tuple[str, str], _Steady] = {}
    for key, group in cells.items():
        provider, model = key
        steady = _steady(group, tolerance)
        if steady is not None:
            steadies[key] = steady
        flagged: list[PriceDifference] = []
        for cell in sorted(group, key=lambda c: c.day):
            estimate = cell.quote.micros
            difference = cell.billed_micros - estimate
            ratio = Decimal(difference) / estimate if estimate else None
            if abs(difference) < min_difference_micros or (ratio is not None and abs(ratio) <= tolerance):
                continue
            cause, text = _cause(cell, steady, rules, tolerance)
            flagged.append(
                PriceDifference(
                    day=cell.day,
                    provider=provider,
                    model=model,
                    model_id=cell.quote.model_id,
                    input_tokens=cell.input_tokens,
                    output_tokens=cell.output_tokens,
                    cached_tokens=cell.cached_tokens,
                    requests=cell.requests,
                    billed_micros=cell.billed_micros,
                    estimate_micros=estimate,
                    difference_micros=difference,
                    difference_ratio=ratio,
                    cause=cause,
                    explanation=text,
                )  # fmt: skip
            )
        differences.extend(flagged)
        estimate_total = sum(c.quote.micros for c in group)
        billed_total = sum(c.billed_micros for c in group)
        model_cause: Cause | None = None
        model_text = f"Within {format_percent(tolerance)[1:]} of our estimate on every compared day."
        if steady is not None:
            model_cause, model_text = _steady_text(steady, provider, model)
        elif flagged:
            counts = Counter(d.cause for d in flagged)
            commonest = max(counts, key=lambda c: counts[c])
            model_cause, model_text = commonest, next(d.explanation for d in flagged if d.cause == commonest)
        models.append(
            ModelCheck(
                provider=provider,
                model=model,
                model_id=group[0].quote.model_id,
                days=len(group),
                flagged_days=len(flagged),
                estimate_micros=estimate_total,
                billed_micros=billed_total,
                difference_micros=billed_total - estimate_total,
                difference_ratio=Decimal(billed_total - estimate_total) / estimate_total if estimate_total else None,
                cause=model_cause,
                explanation=model_text,
            )  # fmt: skip
        )

    suggestions = _suggestions(cells, steadies, tolerance)
    return PriceCheck(
        tolerance=tolerance,
        compared=sum(len(group) for group in cells.values()),
        differences=tuple(sorted(differences, key=lambda d: (-abs(d.difference_micros), d.day, d.provider, d.model))),
        models=tuple(sorted(models, key=lambda m: (-abs(m.difference_micros), m.provider, m.model))),
        unpriced=tuple(
            UnpricedModel(provider, model, days, input_tokens, output_tokens, billed)
            for (provider, model), (days, input_tokens, output_tokens, billed) in sorted(unpriced.items())
        ),
        suggestions=tuple(suggestions),
    )


def _suggestions(
    cells: dict[tuple[str, str], list[_Cell]], steadies: dict[tuple[str, str], _Steady], tolerance: Decimal
) -> list[DiscountSuggestion]:
    """Overrides worth adding: one per provider when all its models show the same discount, else per model."""
    out: list[DiscountSuggestion] = []
    for provider in sorted({p for p, _ in cells}):
        keys = sorted(k for k in cells if k[0] == provider)
        discounted = [k for k in keys if (s := steadies.get(k)) and s.list_ratio is not None and s.list_ratio < 1]
        if len(keys) >= 2 and discounted == keys:
            pooled = _steady([c for k in keys for c in cells[k]], tolerance)
            if pooled is not None and pooled.list_ratio is not None:
                pct = _pct(pooled.list_ratio)
                out.append(
                    DiscountSuggestion(
                        provider=provider,
                        model="",
                        discount_pct=pct,
                        effective_from=pooled.first_day,
                        explanation=(
                            f"All {len(keys)} {provider} models are billed a steady {pct}% below list: "
                            f"add a {pct}% discount for every {provider} model from {pooled.first_day:%d %b %Y}."
                        ),
                    )  # fmt: skip
                )
                continue
        for key in discounted:
            steady = steadies[key]
            assert steady.list_ratio is not None
            pct = _pct(steady.list_ratio)
            out.append(
                DiscountSuggestion(
                    provider=provider,
                    model=key[1],
                    discount_pct=pct,
                    effective_from=steady.first_day,
                    explanation=(
                        f"{provider} {key[1]} is billed a steady {pct}% below list on all {steady.days} compared "
                        f"days: add a {pct}% discount for it from {steady.first_day:%d %b %Y}."
                    ),
                )  # fmt: skip
            )
    return out
