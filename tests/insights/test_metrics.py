import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from insights import metrics


def frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """(day, provider, department, micros) → rollup-shaped rows."""
    return pd.DataFrame(
        {
            "day": pd.to_datetime([r[0] for r in rows]),
            "provider": [r[1] for r in rows],
            "model": ["m"] * len(rows),
            "department": [r[2] for r in rows],
            "project": ["p"] * len(rows),
            "customer": [""] * len(rows),
            "amount_micros": pd.array([r[3] for r in rows], dtype="int64"),
            "input_tokens": 0,
            "output_tokens": 0,
            "requests": 1,
        }
    )


ROWS = frame(
    [
        ("2026-10-01", "OpenAI", "Sales", 1_000_000),
        ("2026-10-10", "OpenAI", "Sales", 2_000_000),
        ("2026-10-25", "Anthropic", "", 7_000_000),
        ("2026-11-01", "OpenAI", "Sales", 3_000_000),
        ("2026-11-09", "Anthropic", "Marketing", 1_500_001),
        ("2026-11-10", "OpenAI", "Sales", 900_000),  # after "today": not counted
    ]
)


def test_summary_is_exact() -> None:
    summary = metrics.compute_summary(ROWS, today=dt.date(2026, 11, 9))
    assert summary.this_month_micros == 4_500_001
    assert summary.last_month_micros == 10_000_000
    assert summary.last_month_same_days_micros == 1_000_000  # Oct 1–9 only: the Oct 10 charge is outside
    # 4,500,001 realised + (4,500,001 × 21 remaining days) // 9 elapsed = 4,500,001 + 10,500,002
    assert summary.projection_micros == 15_000_003
    assert (summary.days_elapsed, summary.days_in_month) == (9, 30)
    assert summary.change == Decimal(3_500_001) / Decimal(1_000_000)
    assert summary.projection_change == Decimal(5_000_003) / Decimal(10_000_000)


def test_summary_without_history_says_nothing_to_compare() -> None:
    empty = metrics.compute_summary(ROWS.iloc[0:0], today=dt.date(2026, 11, 9))
    assert (empty.this_month_micros, empty.projection_micros, empty.change, empty.projection_change) == (
        0,
        0,
        None,
        None,
    )


def test_same_days_last_month_clips_to_short_months() -> None:
    rows = frame([("2026-02-28", "OpenAI", "x", 5), ("2026-03-31", "OpenAI", "x", 7)])
    summary = metrics.compute_summary(rows, today=dt.date(2026, 3, 31))
    assert summary.last_month_same_days_micros == 5 and summary.this_month_micros == 7
    assert summary.projection_micros == 7


def test_cumulative_runs_through_both_months() -> None:
    cumulative = metrics.compute_cumulative(ROWS, today=dt.date(2026, 11, 9))
    last = cumulative[cumulative["month"] == "Last month"]
    this = cumulative[cumulative["month"] == "This month"]
    assert len(last) == 31 and len(this) == 9
    assert last["micros"].iloc[-1] == 10_000_000 and last["micros"].iloc[9] == 3_000_000
    assert this["micros"].tolist()[-1] == 4_500_001 and this["micros"].tolist()[0] == 3_000_000


def test_breakdown_orders_names_unallocated_and_groups_the_tail() -> None:
    breakdown = metrics.compute_breakdown(ROWS, "department")
    assert breakdown["name"].tolist() == ["Unallocated", "Sales", "Marketing"]
    assert breakdown["micros"].tolist() == [7_000_000, 6_900_000, 1_500_001]
    assert breakdown["share"].sum() == pytest.approx(1.0)
    top = metrics.compute_breakdown(ROWS, "department", top=1)
    assert top["name"].tolist() == ["Unallocated", "Other"]
    assert top["micros"].tolist() == [7_000_000, 8_400_001]


def test_hierarchy_and_heatmap() -> None:
    tree = metrics.compute_hierarchy(ROWS, ("department", "provider"))
    assert set(tree["department"]) == {"Sales", "Marketing", "Unallocated"}
    assert int(tree["micros"].sum()) == 15_400_001
    grid = metrics.compute_heatmap(ROWS)
    assert list(grid.index) == list(metrics.WEEKDAYS)
    assert grid.loc["Thu", dt.date(2026, 9, 28)] == 1_000_000  # Oct 1, 2026 is a Thursday
    assert grid.loc["Tue", dt.date(2026, 11, 9)] == 900_000
    assert int(grid.fillna(0).to_numpy().sum()) == 15_400_001


def test_drilldown_sums_and_sorts() -> None:
    table = metrics.compute_drilldown(ROWS, ("provider",))
    assert table["provider"].tolist() == ["Anthropic", "OpenAI"]
    assert table["micros"].tolist() == [8_500_001, 6_900_000]
    assert table["requests"].tolist() == [2, 4]


def test_total_micros() -> None:
    assert metrics.total_micros(ROWS) == 15_400_001
    assert metrics.total_micros(ROWS.iloc[0:0]) == 0
