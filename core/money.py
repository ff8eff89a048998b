"""Exact money: integer micro-USD in storage and sums; Decimal at the edges; floats only for charts."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000
_MICRO = Decimal("0.000001")


class MoneyError(ValueError):
    """A value that cannot be read as an amount of money."""


def to_micros(amount: Decimal | str | int) -> int:
    """Dollars (Decimal, decimal string or int) to integer micro-dollars, rounding half-even."""
    if isinstance(amount, float):
        raise MoneyError("floats are not accepted for money; pass a Decimal or a decimal string")
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{amount!r} is not an amount of money") from exc
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not a finite amount of money")
    return int((value * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_micros(micros: int) -> Decimal:
    """Integer micro-dollars to an exact Decimal of dollars."""
    return (Decimal(int(micros)) / MICROS_PER_USD).quantize(_MICRO)


def decimal_string(micros: int) -> str:
    """Micro-dollars as a plain decimal string with six places, e.g. '1234.500000'."""
    return f"{from_micros(micros):f}"


def format_usd(micros: int, *, cents: bool = True) -> str:
    """Exact display for tables: '$1,234.57' (rounded half-even to cents), '-$3.10' for credits."""
    value = from_micros(micros)
    quantum = Decimal("0.01") if cents else Decimal(1)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{2 if cents else 0}f}"


def format_usd_short(micros: int) -> str:
    """Human display for tiles and axes: '$950', '$12.3k', '$4.56M'."""
    value = from_micros(micros)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1_000_000_000:
        return f"{sign}${value / 1_000_000_000:.2f}B"
    if value >= 1_000_000:
        return f"{sign}${value / 1_000_000:.2f}M"
    if value >= 10_000:
        return f"{sign}${value / 1_000:.1f}k"
    if value >= 1_000:
        return f"{sign}${value / 1_000:.2f}k"
    if value >= 1:
        return f"{sign}${value:,.0f}" if value >= 100 else f"{sign}${value:.2f}"
    if value == 0:
        return "$0"
    return f"{sign}${value:.2f}" if value >= Decimal("0.01") else f"{sign}<$0.01"


def format_percent(change: Decimal | None) -> str:
    """A ratio as '+12.3%' / '-4.0%', or 'n/a' where there is nothing to compare with."""
    if change is None:
        return "n/a"
    pct = (change * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return f"{'+' if pct > 0 else ''}{pct}%"
