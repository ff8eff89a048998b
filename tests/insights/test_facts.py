"""The report's facts: periods, drivers, shares and the demo's exact figures against plain SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text

from connectors.reporting import load_report_facts
from core import demo, queries
from core.db import session_scope, upgrade
from insights.facts import (
    Driver,
    PeriodError,
    ReportFacts,
    compute_drivers,
    compute_facts,
    compute_shares,
    facts_to_dict,
    parse_period,
)

TODAY = dt.date(2026, 11, 21)


def test_default_period_is_the_month_to_yesterday_against_the_same_days_before() -> None:
    period = parse_period(None, today=TODAY)
    assert (period.start, period.end, period.partial) == (dt.date(2026, 11, 1), dt.date(2026, 11, 20), True)
    assert (period.previous_start, period.previous_end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 20))
    assert period.key == "2026-11" and period.days == 20
    assert period.comparison_label == "the same 20 days of October"


def test_a_finished_month_is_compared_with_the_whole_month_before() -> None:
    period = parse_period("2026-03", today=TODAY)
    assert (period.start, period.end, period.partial) == (dt.date(2026, 3, 1), dt.date(2026, 3, 31), False)
    assert (period.previous_start, period.previous_end) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert period.comparison_label == "February 2026"
    assert parse_period(None, today=dt.date(2026, 11, 2)).comparison_label == "the same day of October"


def test_on_the_first_of_the_month_the_report_is_last_month() -> None:
    period = parse_period(None, today=dt.date(2026, 12, 1))
    assert (period.start, period.end, period.partial) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30), False)


def test_a_long_month_in_progress_compares_with_a_shorter_month_up_to_its_end() -> None:
    period = parse_period(None, today=dt.date(2026, 3, 31))  # March 1–30 against February 1–28
    assert (period.previous_start, period.previous_end) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))


@pytest.mark.parametrize(
    ("text_", "message"),
    [
        ("2026-13", "is not a month; give it as YYYY-MM"),
        ("November", "is not a month; give it as YYYY-MM"),
        ("2026-12", "December 2026 has no whole day of spend yet; choose November 2026 or an earlier month."),
    ],
)
def test_bad_periods_say_what_to_give_instead(text_: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text_, today=TODAY)


def _frame(rows: list[tuple[str, str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["provider", "model", "department", "project", "amount_micros"]).assign(
        customer=""
    )


def test_drivers_name_each_move_once() -> None:
    before = _frame(
        [
            ("OpenAI", "gpt-4o", "Support", "bot", 1_000_000_000),
            ("Anthropic", "claude", "Engineering", "review", 500_000_000),
            ("Anthropic", "claude", "Engineering", "docs", 100_000_000),
        ]
    )
    after = _frame(
        [
            ("OpenAI", "gpt-4o", "Support", "bot", 1_000_000_000),
            ("Anthropic", "claude", "Engineering", "review", 900_000_000),  # +$400 in review only
            ("Anthropic", "claude", "Engineering", "docs", 70_000_000),  # -$30
        ]
    )
    drivers = compute_drivers(after, before)
    # Engineering, claude and Anthropic all rose $370 because review rose $400 (and docs fell $30): one move,
    # named once; docs is a move of its own.
    assert drivers == (
        Driver("project", "review", 900_000_000, 500_000_000),
        Driver("project", "docs", 70_000_000, 100_000_000),
    )
    assert drivers[1].change == Decimal("-0.3000")


def test_two_different_moves_of_about_the_same_size_are_both_drivers() -> None:
    before = _frame([("OpenAI", "gpt-4o", "Support", "bot", 100_000_000), ("Google", "gemini", "Sales", "crm", 0)])
    after = _frame(
        [("OpenAI", "gpt-4o", "Support", "bot", 645_000_000), ("Google", "gemini", "Sales", "crm", 520_000_000)]
    )
    names = {(d.dimension, d.name) for d in compute_drivers(after, before, top=10)}
    assert {("department", "Support"), ("department", "Sales")} <= names
    assert ("provider", "OpenAI") not in names  # the same move as Support's


def test_shares_add_up_and_fold_the_tail_into_other() -> None:
    frame = _frame([("P", "m", f"D{i}", "", (10 - i) * 1_000_000) for i in range(5)])
    shares = compute_shares(frame, "department", top=3)
    assert [s.name for s in shares] == ["D0", "D1", "Other"]
    assert [s.micros for s in shares] == [10_000_000, 9_000_000, 8_000_000 + 7_000_000 + 6_000_000]
    assert sum(s.micros for s in shares) == 40_000_000
    assert shares[0].share == Decimal("0.2500")
    unallocated = compute_shares(_frame([("P", "m", "", "", 5)]), "department")
    assert unallocated[0].name == "Unallocated"


def test_a_workspace_with_spend_only_leaves_the_other_sections_out_with_reasons() -> None:
    period = parse_period(None, today=TODAY)
    current = _frame([("OpenAI", "gpt-4o", "Support", "bot", 2_000_000)])
    facts = compute_facts(
        workspace_name="Solo",
        period=period,
        generated_on=TODAY,
        current=current,
        previous=current.iloc[0:0],
        daily=pd.DataFrame({"day": [pd.Timestamp("2026-11-02")], "amount_micros": [2_000_000]}),
    )
    assert facts.total_micros == 2_000_000 and facts.change is None
    assert facts.budgets == () and facts.roi is None and facts.savings == () and facts.month_end is None
    assert len(facts.notes) == 2
    assert len(facts.trend) == 90 and facts.trend[-1] == (dt.date(2026, 11, 20), 0)
    assert dict(facts.trend)[dt.date(2026, 11, 2)] == 2_000_000


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, int]]:
    path: Path = tmp_path_factory.mktemp("facts") / "demo.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Acme AI")
        assert workspace.id is not None
        demo.load_demo(session, workspace_id=workspace.id, today=TODAY)
        workspace_id = workspace.id
    yield engine, workspace_id
    engine.dispose()


def _sql_sum(engine: Engine, workspace_id: int, start: dt.date, end: dt.date, department: str | None = None) -> int:
    sql = "SELECT COALESCE(SUM(amount_micros), 0) FROM charge WHERE workspace_id = :w AND day >= :s AND day <= :e"
    params = {"w": workspace_id, "s": start.isoformat(), "e": end.isoformat()}
    if department is not None:
        sql += " AND department = :d"
        params["d"] = department
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def _facts(engine: Engine, workspace_id: int, period: str | None = None) -> ReportFacts:
    with session_scope(engine) as session:
        return load_report_facts(session, workspace_id=workspace_id, today=TODAY, period=period)


def test_demo_facts_for_the_month_in_progress_match_plain_sql(demo_engine: tuple[Engine, int]) -> None:
    engine, workspace_id = demo_engine
    facts = _facts(engine, workspace_id)
    assert facts.workspace_name == "Acme AI"
    assert facts.total_micros == _sql_sum(engine, workspace_id, dt.date(2026, 11, 1), dt.date(2026, 11, 20))
    assert facts.previous_total_micros == _sql_sum(engine, workspace_id, dt.date(2026, 10, 1), dt.date(2026, 10, 20))
    marketing = _sql_sum(engine, workspace_id, dt.date(2026, 11, 1), dt.date(2026, 11, 20), "Marketing")
    assert {s.name: s.micros for s in facts.departments}["Marketing"] == marketing
    assert sum(s.micros for s in facts.departments) == facts.total_micros
    assert sum(amount for day, amount in facts.trend if day >= dt.date(2026, 11, 1)) == facts.total_micros
    # The demo's budgets: Data Science over, Marketing predicted to overrun, the workspace on track.
    states = {b.label: b.state for b in facts.budgets}
    assert states == {"Data Science": "over", "Marketing": "overrun_predicted", "Whole workspace": "on_track"}
    assert [b.label for b in facts.budgets_at_risk] == ["Data Science", "Marketing"]
    assert facts.month_end is not None and facts.month_end.lower80 <= facts.month_end.median <= facts.month_end.upper80
    assert facts.month_end.lower80 >= facts.total_micros
    assert facts.forecast[0][0] == dt.date(2026, 11, 21) and facts.forecast[-1][0] == dt.date(2026, 11, 30)
    assert facts.roi is not None and facts.roi.cost_micros == facts.total_micros
    assert facts.savings and facts.savings_total_micros >= facts.savings[0].monthly_saving_micros > 0
    assert facts.notes == ()


def test_demo_facts_for_a_finished_month(demo_engine: tuple[Engine, int]) -> None:
    engine, workspace_id = demo_engine
    facts = _facts(engine, workspace_id, "2026-10")
    assert facts.total_micros == _sql_sum(engine, workspace_id, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert facts.previous_total_micros == _sql_sum(engine, workspace_id, dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert facts.month_end is None and facts.forecast == ()
    assert {b.state for b in facts.budgets} <= {"over", "within"}
    data = facts_to_dict(facts)
    assert data["period"] == {
        "month": "2026-10",
        "start": "2026-10-01",
        "end": "2026-10-31",
        "in_progress": False,
        "compared_with": {"start": "2026-09-01", "end": "2026-09-30"},
    }
    assert data["total"]["micros"] == facts.total_micros
    assert Decimal(data["total"]["usd"]) * 1_000_000 == facts.total_micros
    assert data["change"]["micros"] == facts.total_micros - facts.previous_total_micros
