import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from insights import roi

USD = 1_000_000  # micro-dollars per dollar


# ROI and payback


def test_roi_when_ai_pays_for_itself() -> None:
    summary = roi.compute_roi(1_000 * USD, 3_400 * USD, days=30)
    assert summary.net_micros == 2_400 * USD
    assert summary.roi == Decimal("2.4")  # (3,400 − 1,000) / 1,000
    # $1,000 of cost ÷ ($3,400 ÷ 30 days) = 30,000 / 3,400 = 150/17 days
    assert summary.payback_days == Decimal(150) / Decimal(17)
    assert summary.verdict == "AI returned $3.40 for every $1 spent"  # 3,400 / 1,000


def test_roi_when_ai_costs_more_than_it_returns() -> None:
    summary = roi.compute_roi(2_000 * USD, 800 * USD, days=30)
    assert summary.net_micros == -1_200 * USD
    assert summary.roi == Decimal("-0.6")  # (800 − 2,000) / 2,000
    assert summary.payback_days == Decimal(75)  # 2,000 ÷ (800 / 30) = 60,000 / 800
    assert summary.verdict == "AI cost $1,200 more than the value it created"


def test_small_shortfall_is_said_in_cents() -> None:
    summary = roi.compute_roi(10 * USD, 4_500_000, days=7)
    assert summary.verdict == "AI cost $5.50 more than the value it created"  # $10.00 − $4.50


def test_zero_cost_has_no_roi_and_pays_back_at_once() -> None:
    summary = roi.compute_roi(0, 500 * USD, days=30)
    assert (summary.roi, summary.payback_days, summary.net_micros) == (None, Decimal(0), 500 * USD)
    assert summary.verdict == "No AI cost in this period"


def test_zero_value_never_pays_back() -> None:
    summary = roi.compute_roi(50 * USD, 0, days=30)
    assert summary.roi == Decimal(-1)  # (0 − 50) / 50
    assert summary.payback_days is None
    assert summary.verdict == "AI cost $50.00 and no outcome value was recorded"
    assert roi.format_days(summary.payback_days) == "n/a"


def test_nothing_at_all_is_not_an_error() -> None:
    summary = roi.compute_roi(0, 0, days=1)
    assert (summary.roi, summary.payback_days, summary.verdict) == (None, Decimal(0), "No AI cost in this period")


def test_a_period_has_days() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        roi.compute_roi(1, 1, days=0)


@pytest.mark.parametrize(
    ("days", "shown"),
    [
        (Decimal(150) / Decimal(17), "8.8 days"),  # 8.8235… → 8.8
        (Decimal(1), "1 day"),
        (Decimal("1234.25"), "1,234.2 days"),  # half-even: .25 → .2
        (Decimal(0), "0 days"),
    ],
    ids=["fraction", "one", "thousands-half-even", "zero"],
)
def test_format_days(days: Decimal, shown: str) -> None:
    assert roi.format_days(days) == shown


# Cost per outcome


@pytest.mark.parametrize(
    ("cost", "outcomes", "expected"),
    [
        (400 * USD, 300, 1_333_333),  # 400,000,000 / 300 = 1,333,333.33…
        (2, 3, 1),  # 0.67 → 1
        (5, 2, 2),  # 2.5 → 2 (half to even)
        (7, 2, 4),  # 3.5 → 4 (half to even)
        (-5, 2, -2),  # a credit: −2.5 → −2
        (0, 10, 0),
        (100 * USD, 0, None),
        (100 * USD, -1, None),
    ],
    ids=["thirds", "up", "half-down", "half-up", "credit", "free", "no-outcomes", "negative-count"],
)
def test_cost_per_outcome(cost: int, outcomes: int, expected: int | None) -> None:
    assert roi.compute_cost_per_outcome(cost, outcomes) == expected


def test_cost_per_outcome_trend_compares_with_the_previous_period() -> None:
    frame = pd.DataFrame(
        {
            "period": [dt.date(2026, 10, 1), dt.date(2026, 9, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)],
            "cost_micros": [1_200 * USD, 1_000 * USD, 900 * USD, 600 * USD],
            "outcomes": [300, 200, 0, 200],
        }
    )
    points = roi.compute_cost_per_outcome_trend(frame)
    assert [p.period for p in points] == [dt.date(2026, m, 1) for m in (9, 10, 11, 12)]
    # Sep $1,000 / 200 = $5; Oct $1,200 / 300 = $4 (−20%); Nov has no outcomes; Dec has nothing to compare with
    assert [p.cost_per_outcome_micros for p in points] == [5 * USD, 4 * USD, None, 3 * USD]
    assert [p.change for p in points] == [None, Decimal("-0.2"), None, None]


def test_cost_per_outcome_trend_by_department_sums_rows_in_a_period() -> None:
    frame = pd.DataFrame(
        {
            "period": ["2026-10", "2026-10", "2026-11", "2026-10", "2026-11"],
            "department": ["Sales", "Sales", "Sales", "Support", "Support"],
            "cost_micros": [100 * USD, 200 * USD, 330 * USD, 50 * USD, 0],
            "outcomes": [10, 20, 30, 0, 5],
        }
    )
    points = roi.compute_cost_per_outcome_trend(frame, by="department")
    assert [(p.group, p.period, p.cost_micros, p.outcomes) for p in points] == [
        ("Sales", "2026-10", 300 * USD, 30),
        ("Sales", "2026-11", 330 * USD, 30),
        ("Support", "2026-10", 50 * USD, 0),
        ("Support", "2026-11", 0, 5),
    ]
    # Sales: $300 / 30 = $10, then $330 / 30 = $11: +10%. Support had no outcomes in October: no change.
    assert [p.cost_per_outcome_micros for p in points] == [10 * USD, 11 * USD, None, 0]
    assert [p.change for p in points] == [None, Decimal("0.1"), None, None]


def test_cost_per_outcome_trend_of_nothing() -> None:
    assert roi.compute_cost_per_outcome_trend(pd.DataFrame(columns=["period", "cost_micros", "outcomes"])) == []


# Department P&L

COST = {"Support": 400 * USD, "Marketing": 900 * USD, "": 100 * USD}
VALUE = {"Support": 1_200 * USD, "Marketing": 600 * USD}
OUTCOMES = {"Support": 300, "Marketing": 60}


def test_department_pnl_best_net_first_with_exact_totals() -> None:
    rows = roi.compute_department_pnl(COST, VALUE, OUTCOMES)
    # nets: Support 1,200 − 400 = +800; Unallocated 0 − 100 = −100; Marketing 600 − 900 = −300
    assert [(r.department, r.net_micros) for r in rows] == [
        ("Support", 800 * USD),
        ("Unallocated", -100 * USD),
        ("Marketing", -300 * USD),
        ("Total", 400 * USD),
    ]
    support, unallocated, marketing, total = rows
    assert support.roi == Decimal(2)  # 800 / 400
    assert support.cost_per_outcome_micros == 1_333_333  # $400 / 300 = $1.333333…
    assert marketing.roi == Decimal(-300) / Decimal(900)
    assert marketing.cost_per_outcome_micros == 15 * USD  # $900 / 60
    assert (unallocated.roi, unallocated.outcomes, unallocated.cost_per_outcome_micros) == (Decimal(-1), 0, None)
    assert all(r.trend is None and r.net_change_micros is None for r in rows)

    # Money and counts on the total row are the exact sums of the rows above it.
    assert total.is_total and not any(r.is_total for r in rows[:-1])
    assert total.cost_micros == sum(r.cost_micros for r in rows[:-1]) == 1_400 * USD
    assert total.value_micros == sum(r.value_micros for r in rows[:-1]) == 1_800 * USD
    assert total.net_micros == sum(r.net_micros for r in rows[:-1])
    assert total.outcomes == 360
    assert total.roi == Decimal(400) / Decimal(1_400)  # 2/7, from the sums
    assert total.cost_per_outcome_micros == 3_888_889  # $1,400 / 360 = $3.8888…


def test_department_pnl_trend_against_the_previous_period() -> None:
    rows = roi.compute_department_pnl(
        COST,
        VALUE,
        OUTCOMES,
        previous_cost_by_department={"Support": 500 * USD, "Marketing": 600 * USD, "Legal": 50 * USD},
        previous_value_by_department={"Support": 1_000 * USD, "Marketing": 900 * USD},
    )
    by_name = {r.department: r for r in rows}
    # Legal stopped using AI: net 0 now against −50 then, so it still shows, between Support and Unallocated.
    assert [r.department for r in rows] == ["Support", "Legal", "Unallocated", "Marketing", "Total"]
    # (name, net then, change, trend): Support 1,000 − 500 = 500 → 800; Marketing 900 − 600 = 300 → −300
    assert [(r.department, r.previous_net_micros, r.net_change_micros, r.trend) for r in rows] == [
        ("Support", 500 * USD, 300 * USD, "up"),
        ("Legal", -50 * USD, 50 * USD, "up"),
        ("Unallocated", 0, -100 * USD, "down"),
        ("Marketing", 300 * USD, -600 * USD, "down"),
        ("Total", 750 * USD, -350 * USD, "down"),  # 1,900 − 1,150 = 750 then; 400 now
    ]
    assert sum(r.net_change_micros or 0 for r in rows[:-1]) == rows[-1].net_change_micros
    assert by_name["Support"].roi_change == Decimal(1)  # ROI 2 now, (1,000 − 500) / 500 = 1 then
    assert by_name["Marketing"].roi_change == Decimal(-300) / Decimal(900) - Decimal("0.5")
    assert by_name["Legal"].roi_change is None  # no cost now: no ROI to compare
    assert by_name["Unallocated"].roi_change is None  # no cost then


def test_department_pnl_flat_trend_and_value_without_cost() -> None:
    rows = roi.compute_department_pnl({}, {"Sales": 10 * USD}, {"Sales": 0}, {}, {"Sales": 10 * USD})
    sales, total = rows
    assert (sales.roi, sales.cost_per_outcome_micros, sales.trend, sales.net_change_micros) == (None, None, "flat", 0)
    assert (total.cost_micros, total.value_micros, total.roi) == (0, 10 * USD, None)


def test_department_pnl_of_nothing_is_a_zero_total() -> None:
    [total] = roi.compute_department_pnl({}, {}, {})
    assert (total.department, total.net_micros, total.roi, total.cost_per_outcome_micros) == ("Total", 0, None, None)


# Customer margins


def test_customer_margins_worst_first_including_cost_without_revenue() -> None:
    rows = roi.compute_customer_margins(
        revenue_by_customer={"Acme": 1_000 * USD, "Beta": 500 * USD, "Delta": 200 * USD, "Echo": 100 * USD, "": 7},
        cost_by_customer={"Acme": 100 * USD, "Beta": 450 * USD, "Cargo": 30 * USD, "Echo": 150 * USD, "": 99},
    )
    assert [(r.customer, r.margin_micros, r.margin) for r in rows] == [
        ("Cargo", -30 * USD, None),  # AI cost, no revenue: a loss with no % to show
        ("Echo", -50 * USD, Decimal("-0.5")),  # (100 − 150) / 100
        ("Beta", 50 * USD, Decimal("0.1")),  # (500 − 450) / 500
        ("Acme", 900 * USD, Decimal("0.9")),  # (1,000 − 100) / 1,000
        ("Delta", 200 * USD, Decimal(1)),  # no AI cost
    ]
    cargo = rows[0]
    assert (cargo.revenue_micros, cargo.cost_micros) == (0, 30 * USD)


def test_customer_margins_with_zero_revenue_and_zero_cost() -> None:
    rows = roi.compute_customer_margins({"Idle": 0, "Refunded": -20 * USD}, {"Idle": 0, "Busy": 5 * USD})
    # Busy −5 and Refunded −20 lose money with no positive revenue (worst loss first); Idle breaks even last.
    assert [(r.customer, r.margin_micros, r.margin) for r in rows] == [
        ("Refunded", -20 * USD, None),
        ("Busy", -5 * USD, None),
        ("Idle", 0, None),
    ]


# Efficiency in words


def _outcome_costs(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["department", "outcome", "cost_micros", "outcomes"])


PREVIOUS = _outcome_costs(
    [
        ("Marketing", "Qualified lead", 1_000 * USD, 250),  # $4.00 a lead
        ("Support", "Ticket resolved", 500 * USD, 1_000),  # $0.50 a ticket
        ("Engineering", "Code review completed", 300 * USD, 100),  # $3.00 a review
        ("", "NPS survey", 100 * USD, 100),  # $1.00 a survey
        ("Legal", "Contract reviewed", 100 * USD, 0),
    ]
)
CURRENT = _outcome_costs(
    [
        ("Marketing", "Qualified lead", 924 * USD, 300),  # $3.08 a lead: 3.08 / 4 − 1 = −23%
        ("Support", "Ticket resolved", 520 * USD, 1_000),  # $0.52: +4%, under the 5% bar
        ("Engineering", "Code review completed", 450 * USD, 100),  # $4.50: +50%
        ("", "NPS survey", 94 * USD, 100),  # $0.94: −6%
        ("Legal", "Contract reviewed", 100 * USD, 10),  # nothing to compare with
        ("Sales", "Demo booked", 100 * USD, 10),  # new this period
    ]
)


def test_efficiency_insights_largest_change_first() -> None:
    insights = roi.compute_efficiency_insights(CURRENT, PREVIOUS)
    assert [i.sentence for i in insights] == [
        "Engineering's cost per code review completed rose 50% this month ($3.00 → $4.50)",
        "Marketing's cost per qualified lead fell 23% this month ($4.00 → $3.08)",
        "Unallocated cost per NPS survey fell 6% this month ($1.00 → $0.94)",
    ]
    marketing = insights[1]
    assert marketing.change == Decimal("-0.23")  # (924 × 250 − 1,000 × 300) / (1,000 × 300) = −69,000 / 300,000
    assert (marketing.previous_cost_per_outcome_micros, marketing.cost_per_outcome_micros) == (4 * USD, 3_080_000)


def test_efficiency_insights_limit_threshold_and_label() -> None:
    [only] = roi.compute_efficiency_insights(CURRENT, PREVIOUS, limit=1, period_label="this quarter")
    assert only.sentence == "Engineering's cost per code review completed rose 50% this quarter ($3.00 → $4.50)"
    # A 3% bar lets Support's +4% through: 520 / 500 − 1 = 0.04
    loose = roi.compute_efficiency_insights(CURRENT, PREVIOUS, min_change=Decimal("0.03"), limit=10)
    assert [(i.department, i.change) for i in loose][-1] == ("Support", Decimal("0.04"))


def test_efficiency_insights_without_history_say_nothing() -> None:
    assert roi.compute_efficiency_insights(CURRENT, PREVIOUS.iloc[0:0]) == []
