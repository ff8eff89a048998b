import csv
import io

import pandas as pd
import pytest

from insights.export import compute_csv, neutralise_cell


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("gpt-4o", "gpt-4o"),
    ],
)
def test_formula_cells_are_neutralised(cell: str, safe: str) -> None:
    assert neutralise_cell(cell) == safe


def test_csv_keeps_money_exact_and_credits_negative() -> None:
    table = pd.DataFrame(
        {
            "provider": ["=cmd|' /C calc'!A0", "OpenAI"],
            "micros": [123_456_789, -3_100_000],
            "requests": [5, 0],
        }
    )
    rows = list(csv.DictReader(io.StringIO(compute_csv(table).decode())))
    assert rows == [
        {"provider": "'=cmd|' /C calc'!A0", "amount_usd": "123.456789", "requests": "5"},
        {"provider": "OpenAI", "amount_usd": "-3.100000", "requests": "0"},
    ]
