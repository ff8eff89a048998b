"""Negotiated rates (a discount per provider or a custom price per model, from a date) and the price check's read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import pandas as pd
from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from core.models import Charge, PriceOverride
from core.money import MICROS_PER_USD, MoneyError, format_usd, to_micros
from core.pricing import PROVIDER_IDS, RateOverride
from core.queries import NotFound, save_audit
from core.security import InvalidInput

MAX_DISCOUNT_PCT = Decimal(90)
MAX_PRICE_PER_MTOK_MICROS = 10_000 * MICROS_PER_USD
PRICE_CHECK_COLUMNS = (
    "day", "provider", "model", "input_tokens", "output_tokens", "cached_tokens", "requests", "billed_micros",
)  # fmt: skip


def _clean_provider(provider: str) -> str:
    """Our display name for a provider typed in any case ('openai' → 'OpenAI'); other names kept as typed."""
    text = " ".join(provider.split())
    if not text:
        raise InvalidInput("Choose the provider this rate is for, e.g. OpenAI.")
    if len(text) > 40:
        raise InvalidInput("The provider name is too long (40 characters at most).")
    for name, pid in PROVIDER_IDS.items():
        if text.lower() in (name.lower(), pid):
            return name
    return text


def _discount_bp(discount_pct: Decimal) -> int:
    try:
        value = Decimal(discount_pct)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise InvalidInput("The discount is a percentage, e.g. 12.5.") from exc
    if not value.is_finite() or not 0 < value <= MAX_DISCOUNT_PCT:
        raise InvalidInput(f"A discount is a percentage above 0 and at most {MAX_DISCOUNT_PCT}, e.g. 12.5.")
    basis_points = value * 100
    if basis_points != basis_points.to_integral_value():
        raise InvalidInput("Give the discount with at most two decimal places, e.g. 12.25.")
    return int(basis_points)


def _price_micros(value: Decimal | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        micros = to_micros(value)
    except MoneyError as exc:
        raise InvalidInput(f"The {what} price is not an amount of dollars, e.g. 2.50.") from exc
    if micros < 0:
        raise InvalidInput(f"The {what} price cannot be negative.")
    if micros > MAX_PRICE_PER_MTOK_MICROS:
        raise InvalidInput(
            f"The {what} price can be at most {format_usd(MAX_PRICE_PER_MTOK_MICROS)} per million tokens."
        )
    return micros


def load_price_override(session: Session, *, workspace_id: int, override_id: int) -> PriceOverride:
    override = session.get(PriceOverride, override_id)
    if override is None or override.workspace_id != workspace_id:
        raise NotFound("There is no such price override in this workspace.")
    return override


def as_rate(override: PriceOverride) -> RateOverride:
    """The pure pricing view of a stored override."""
    return RateOverride(
        provider=override.provider,
        model=override.model,
        discount_bp=override.discount_bp,
        input_per_mtok_micros=override.input_per_mtok_micros,
        output_per_mtok_micros=override.output_per_mtok_micros,
        cached_per_mtok_micros=override.cached_per_mtok_micros,
        effective_from=override.effective_from,
        id=override.id,
        note=override.note,
    )


def load_price_overrides(session: Session, *, workspace_id: int) -> list[RateOverride]:
    """The workspace's negotiated rates (with ids and notes), by provider, model and start date."""
    rows = session.execute(select(PriceOverride).where(col(PriceOverride.workspace_id) == workspace_id)).scalars()
    return sorted(
        (as_rate(row) for row in rows),
        key=lambda o: (o.provider.lower(), o.model.lower(), o.effective_from, o.id or 0),
    )


def save_price_override(
    session: Session,
    *,
    workspace_id: int,
    provider: str,
    model: str,
    discount_pct: Decimal | None,
    input_usd_per_mtok: Decimal | None,
    output_usd_per_mtok: Decimal | None,
    cached_usd_per_mtok: Decimal | None,
    effective_from: dt.date,
    note: str = "",
    override_id: int | None = None,
    user_id: int | None = None,
) -> PriceOverride:
    """Create or change (``override_id``) a negotiated rate: either a discount off list or a custom price.

    A discount covers one model or, with model "", every model of the provider; a custom price is per model
    in USD per million tokens (cached optional: without it cached tokens cost the input price).
    """
    provider = _clean_provider(provider)
    model = model.strip()
    if len(model) > 120:
        raise InvalidInput("The model name is too long (120 characters at most).")
    prices = (input_usd_per_mtok, output_usd_per_mtok, cached_usd_per_mtok)
    custom = any(price is not None for price in prices)
    if discount_pct is not None and custom:
        raise InvalidInput("Give either a discount or a custom price, not both.")
    if discount_pct is None and not custom:
        raise InvalidInput("Give a discount off list prices (e.g. 10%) or a custom price per million tokens.")
    if not isinstance(effective_from, dt.date) or isinstance(effective_from, dt.datetime):
        raise InvalidInput("Choose the date this rate starts from.")
    note = note.strip()
    if len(note) > 200:
        raise InvalidInput("The note is too long (200 characters at most).")

    discount_bp = None if discount_pct is None else _discount_bp(discount_pct)
    input_micros = _price_micros(input_usd_per_mtok, "input")
    output_micros = _price_micros(output_usd_per_mtok, "output")
    cached_micros = _price_micros(cached_usd_per_mtok, "cached input")
    if custom:
        if not model:
            raise InvalidInput("A custom price is for one model; choose the model it applies to.")
        if input_micros is None or output_micros is None:
            raise InvalidInput("A custom price needs both the input and the output price per million tokens.")

    same = select(col(PriceOverride.id)).where(
        col(PriceOverride.workspace_id) == workspace_id,
        func.lower(col(PriceOverride.provider)) == provider.lower(),
        func.lower(col(PriceOverride.model)) == model.lower(),
        col(PriceOverride.effective_from) == effective_from,
    )
    if override_id is not None:
        same = same.where(col(PriceOverride.id) != override_id)
    if session.execute(same).first() is not None:
        what = f"{provider} {model}" if model else f"every {provider} model"
        raise InvalidInput(
            f"There is already a rate for {what} from {effective_from:%d %b %Y}; change that one instead."
        )

    if override_id is None:
        override = PriceOverride(workspace_id=workspace_id, provider=provider, effective_from=effective_from)
    else:
        override = load_price_override(session, workspace_id=workspace_id, override_id=override_id)
    override.provider, override.model, override.effective_from, override.note = provider, model, effective_from, note
    override.discount_bp = discount_bp
    override.input_per_mtok_micros, override.output_per_mtok_micros = input_micros, output_micros
    override.cached_per_mtok_micros = cached_micros
    session.add(override)
    session.flush()
    save_audit(
        session, workspace_id=workspace_id, user_id=user_id, action="price_override.saved",
        override_id=override.id, provider=provider, model=model, effective_from=effective_from.isoformat(),
        discount_bp=discount_bp, input_per_mtok_micros=input_micros, output_per_mtok_micros=output_micros,
        cached_per_mtok_micros=cached_micros,
    )  # fmt: skip
    return override


def delete_price_override(session: Session, *, workspace_id: int, override_id: int, user_id: int | None = None) -> None:
    """Remove a negotiated rate: usage is priced at list (or an earlier override) again."""
    override = load_price_override(session, workspace_id=workspace_id, override_id=override_id)
    detail = {
        "provider": override.provider,
        "model": override.model,
        "effective_from": override.effective_from.isoformat(),
    }
    session.execute(delete(PriceOverride).where(col(PriceOverride.id) == override_id))
    save_audit(session, workspace_id=workspace_id, user_id=user_id, action="price_override.deleted", **detail)


def load_price_check_rows(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Tokens and billed money summed per day × provider × model in [start, end], over every charge.

    API syncs keep tokens ($0 usage lines) and money (cost lines) on separate rows of the same model and day,
    so the sums bring them together. Columns PRICE_CHECK_COLUMNS; day as datetime64, the rest int64 or str.
    """
    query = (
        select(
            col(Charge.day),
            col(Charge.provider),
            col(Charge.model),
            func.sum(col(Charge.input_tokens)),
            func.sum(col(Charge.output_tokens)),
            func.sum(col(Charge.cached_tokens)),
            func.sum(col(Charge.requests)),
            func.sum(col(Charge.amount_micros)),
        )
        .where(col(Charge.workspace_id) == workspace_id, col(Charge.day) >= start, col(Charge.day) <= end)
        .group_by(col(Charge.day), col(Charge.provider), col(Charge.model))
        .order_by(col(Charge.day), col(Charge.provider), col(Charge.model))
    )
    rows = session.execute(query).all()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in PRICE_CHECK_COLUMNS]
    data = dict(zip(PRICE_CHECK_COLUMNS, columns, strict=True))
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(pd.Series(data["day"], dtype="object")).astype("datetime64[ns]"),
            "provider": pd.Series(data["provider"], dtype="str"),
            "model": pd.Series(data["model"], dtype="str"),
            **{name: pd.Series([int(v) for v in data[name]], dtype="int64") for name in PRICE_CHECK_COLUMNS[3:]},
        }
    )
    return frame[list(PRICE_CHECK_COLUMNS)]
