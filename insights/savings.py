"""The savings tracker: what an adopted recommendation has saved since, measured on spend. Pure, exact.

The cost of a million tokens after adoption is compared with the same figure before it, so traffic growing or
shrinking is not mistaken for a saving: realised = (before per token − after per token) × tokens after, scaled to
30 days. Where either side has no tokens (a cancelled subscription, a revoked key), it is the spend itself that
went: realised = (before cost − after cost), scaled to 30 days.

Windows: the after-period is the most recent whole days since adoption, up to 30, ending yesterday (today's spend
is still arriving); the before-period is as many days ending the day before adoption. Tokens are input (cached ones
included) + output.

Scope: rows are filtered by provider, project and models, each only when given. A model switch moves traffic from
one model to another, so it is measured over the project (and provider) with `model` left blank, or over
`models=(old, new)`. The after-period must include the target model: the old model alone costs the same per token
as before, so it would show no saving at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pandas as pd

MAX_WINDOW_DAYS = 30
MIN_DAYS_AFTER = 7  # fewer days after adoption are too noisy (a weekend is half a week's traffic) to report on
MONTH_DAYS = 30
_PRECISION = 60


@dataclass(frozen=True)
class SavingsResult:
    """Spend and tokens before and after adoption, and the saving they show, in micro-USD."""

    adopted_on: dt.date
    before_cost_micros: int
    before_mtok: int  # tokens (input incl. cached + output) in the before-period; "mtok" as in the rates below
    after_cost_micros: int
    after_mtok: int  # tokens in the after-period
    before_per_mtok_micros: int | None  # micro-USD per million tokens; None without tokens
    after_per_mtok_micros: int | None
    realised_monthly_micros: int  # positive = saved
    days_after: int  # days in each period
    enough_data: bool  # at least 7 days after adoption


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _per_mtok(cost: int, tokens: int) -> int | None:
    if tokens <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _round(Decimal(cost) * 1_000_000 / tokens)


def compute_savings(
    daily: pd.DataFrame,
    *,
    adopted_on: dt.date,
    today: dt.date,
    provider: str = "",
    model: str = "",
    project: str = "",
    models: tuple[str, ...] = (),
) -> SavingsResult:
    """Before vs after `adopted_on` for the scope, from daily rows (day, provider, model, project, input_tokens,
    output_tokens, amount_micros); the periods are explained in the module docstring."""
    days_after = max(0, min(MAX_WINDOW_DAYS, (today - adopted_on).days))
    after_start = today - dt.timedelta(days=days_after)
    before_start = adopted_on - dt.timedelta(days=days_after)
    rows = _scoped(daily, provider=provider, model=model, project=project, models=models)
    before = rows[(rows["day"] >= before_start) & (rows["day"] < adopted_on)]
    after = rows[(rows["day"] >= after_start) & (rows["day"] < today)] if days_after else rows.iloc[0:0]
    before_cost, before_tokens = _totals(before)
    after_cost, after_tokens = _totals(after)
    realised = 0
    if days_after:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            if before_tokens and after_tokens:
                rate_change = Decimal(before_cost) / before_tokens - Decimal(after_cost) / after_tokens
                saved = rate_change * after_tokens
            else:
                saved = Decimal(before_cost - after_cost)
            realised = _round(saved * MONTH_DAYS / days_after)
    return SavingsResult(
        adopted_on=adopted_on,
        before_cost_micros=before_cost,
        before_mtok=before_tokens,
        after_cost_micros=after_cost,
        after_mtok=after_tokens,
        before_per_mtok_micros=_per_mtok(before_cost, before_tokens),
        after_per_mtok_micros=_per_mtok(after_cost, after_tokens),
        realised_monthly_micros=realised,
        days_after=days_after,
        enough_data=days_after >= MIN_DAYS_AFTER,
    )


def _scoped(daily: pd.DataFrame, *, provider: str, model: str, project: str, models: tuple[str, ...]) -> pd.DataFrame:
    missing = {"day", "provider", "model", "project", "input_tokens", "output_tokens", "amount_micros"} - set(daily)
    if missing:
        raise ValueError(f"daily lacks the columns {sorted(missing)}")
    rows = daily.assign(day=pd.to_datetime(daily["day"]).dt.date)
    keep = pd.Series(True, index=rows.index)
    if provider:
        keep &= rows["provider"] == provider
    if project:
        keep &= rows["project"] == project
    if models:
        keep &= rows["model"].isin(models)
    elif model:
        keep &= rows["model"] == model
    return rows[keep]


def _totals(rows: pd.DataFrame) -> tuple[int, int]:
    cost = int(rows["amount_micros"].sum())
    tokens = int(rows["input_tokens"].sum()) + int(rows["output_tokens"].sum())
    return cost, tokens
