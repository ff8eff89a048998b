from decimal import Decimal

import pytest

from core.money import (
    MoneyError,
    decimal_string,
    format_percent,
    format_usd,
    format_usd_short,
    from_micros,
    to_micros,
)


@pytest.mark.parametrize(
    ("amount", "micros"),
    [
        ("0", 0),
        ("1", 1_000_000),
        ("0.000001", 1),
        ("0.0000005", 0),  # half-even: rounds to the even neighbour 0
        ("0.0000015", 2),
        ("-3.10", -3_100_000),
        (Decimal("123456789.123456"), 123_456_789_123_456),
        (7, 7_000_000),
    ],
    ids=["zero", "one", "one-micro", "half-even-down", "half-even-up", "credit", "large", "int"],
)
def test_to_micros_is_exact(amount: str | Decimal | int, micros: int) -> None:
    assert to_micros(amount) == micros


@pytest.mark.parametrize("bad", [1.5, "abc", "NaN", "Infinity", ""])
def test_to_micros_rejects_what_is_not_money(bad: object) -> None:
    with pytest.raises(MoneyError):
        to_micros(bad)  # type: ignore[arg-type]


def test_round_trip_and_decimal_string() -> None:
    assert from_micros(123_456_789) == Decimal("123.456789")
    assert decimal_string(-1) == "-0.000001"
    assert decimal_string(to_micros("430824.598949")) == "430824.598949"


@pytest.mark.parametrize(
    ("micros", "exact", "short"),
    [
        (0, "$0.00", "$0"),
        (4_999, "$0.00", "<$0.01"),
        (5_000, "$0.00", "<$0.01"),  # half-even to cents: 0.005 → 0.00 in tables
        (10_000, "$0.01", "$0.01"),
        (15_000, "$0.02", "$0.02"),
        (950_000_000, "$950.00", "$950"),
        (1_234_567_891, "$1,234.57", "$1.23k"),
        (12_345_678_901, "$12,345.68", "$12.3k"),
        (4_560_000_000_000, "$4,560,000.00", "$4.56M"),
        (-3_100_000, "-$3.10", "-$3.10"),
    ],
)
def test_formats(micros: int, exact: str, short: str) -> None:
    assert format_usd(micros) == exact
    assert format_usd_short(micros) == short


def test_format_percent() -> None:
    assert format_percent(None) == "n/a"
    assert format_percent(Decimal("0.123")) == "+12.3%"
    assert format_percent(Decimal("-0.04")) == "-4.0%"
    assert format_percent(Decimal(0)) == "0.0%"
