"""The executive summary, the insights feed and the grounding check, on the demo data and on hand-built facts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from connectors.reporting import load_report_facts
from core import demo, queries
from core.db import make_engine, session_scope, upgrade
from core.money import format_percent, format_usd
from insights.facts import BudgetFact, Driver, Range, ReportFacts, Share, parse_period
from insights.narrative import (
    SYSTEM_PROMPT,
    Insight,
    allowed_numbers,
    build_messages,
    check_draft,
    check_grounding,
    compute_insights,
    deterministic_summary,
    split_paragraphs,
)

TODAY = dt.date(2026, 11, 21)
NOV_1, NOV_20 = dt.date(2026, 11, 1), dt.date(2026, 11, 20)
OCT_1, OCT_20, OCT_31 = dt.date(2026, 10, 1), dt.date(2026, 10, 20), dt.date(2026, 10, 31)


@dataclass(frozen=True)
class Demo:
    engine: Engine
    workspace_id: int
    november: ReportFacts  # in progress: Nov 1–20
    october: ReportFacts  # finished


def _engine(folder: Path) -> Engine:
    engine = make_engine(f"sqlite:///{folder / 'narrative.db'}")
    upgrade(engine)
    return engine


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    engine = _engine(tmp_path_factory.mktemp("acme"))
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Acme AI")
        assert workspace.id is not None
        demo.load_demo(session, workspace_id=workspace.id, today=TODAY)
        november = load_report_facts(session, workspace_id=workspace.id, today=TODAY)
        october = load_report_facts(session, workspace_id=workspace.id, today=TODAY, period="2026-10")
        workspace_id = workspace.id
    yield Demo(engine, workspace_id, november, october)
    engine.dispose()


def _scalar(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one() or 0)


def _spend(demo_data: Demo, start: dt.date, end: dt.date, department: str | None = None) -> int:
    return _scalar(
        demo_data.engine,
        "SELECT SUM(amount_micros) FROM charge WHERE workspace_id = :w AND day BETWEEN :start AND :end"
        " AND (:department IS NULL OR department = :department)",
        w=demo_data.workspace_id,
        start=start,
        end=end,
        department=department,
    )


def _usd(micros: int) -> str:
    """Money as the app's sentences write it, worked out here rather than read back from the facts."""
    return format_usd(abs(micros), cents=abs(micros) < 100_000_000)


def _pct(part: int, whole: int) -> str:
    return format_percent(abs(Decimal(part) / Decimal(whole))).removeprefix("+")


def _one_sentence(sentence: str) -> bool:
    return sentence.endswith(".") and not re.search(r"[.!?]\s+[A-Z]", sentence[:-1])


# --- the deterministic summary on the demo -------------------------------------------------------------------


def test_summary_of_the_month_in_progress_states_the_database_figures(acme: Demo) -> None:
    summary = deterministic_summary(acme.november)
    assert summary.source == "deterministic" and summary.model is None and summary.rejected == ()
    assert 2 <= len(summary.paragraphs) <= 4
    headline, outlook, returns, savings = summary.paragraphs

    total, before = _spend(acme, NOV_1, NOV_20), _spend(acme, OCT_1, OCT_20)
    assert headline.startswith(f"Acme AI has spent {_usd(total)} on AI so far in November 2026 (Nov 1–20)")
    direction = "up" if total > before else "down"
    assert (
        f"the same 20 days of October ({direction} {_usd(total - before)}, {_pct(total - before, before)})" in headline
    )
    engineering = _spend(acme, NOV_1, NOV_20, "Engineering")
    assert f"Engineering was the biggest spender at {_usd(engineering)} ({_pct(engineering, total)} of the total)" in (
        headline
    )

    facts = acme.november
    assert facts.month_end is not None
    assert f"November should close near {_usd(facts.month_end.median)} (80% range " in outlook
    # Data Science's budget: the amount from the budget table, the day its spend crossed it from the charges.
    amount = _scalar(
        acme.engine,
        "SELECT amount_micros FROM budget WHERE workspace_id = :w AND scope_value = 'Data Science'",
        w=acme.workspace_id,
    )
    crossed = next(
        NOV_1 + dt.timedelta(days=i)
        for i in range(20)
        if _spend(acme, NOV_1, NOV_1 + dt.timedelta(days=i), "Data Science") > amount
    )
    spent = _spend(acme, NOV_1, NOV_20, "Data Science")
    used = (200 * spent + amount) // (2 * amount)
    assert (
        f"Data Science went over its {_usd(amount)} budget on Nov {crossed.day} and has spent {_usd(spent)} ({used}%)"
        in outlook
    )
    assert "Marketing is on track to exceed its $7,100 budget on Nov 26" in outlook

    value = _scalar(
        acme.engine,
        "SELECT SUM(c.count * d.value_micros) FROM outcomecount c JOIN outcomedefinition d ON d.id = c.outcome_id "
        "WHERE c.workspace_id = :w AND c.day BETWEEN :start AND :end",
        w=acme.workspace_id,
        start=NOV_1,
        end=NOV_20,
    )
    outcomes = _scalar(
        acme.engine,
        "SELECT SUM(count) FROM outcomecount WHERE workspace_id = :w AND day BETWEEN :start AND :end",
        w=acme.workspace_id,
        start=NOV_1,
        end=NOV_20,
    )
    per_dollar = (Decimal(value) / Decimal(total)).quantize(Decimal("0.01"))
    assert (
        f"The {outcomes:,} business outcomes recorded so far this month are worth {_usd(value)} against "
        f"{_usd(total)} of AI spend: {_usd(value - total)} net" in returns
    )
    assert f"{format_usd(int(per_dollar * 1_000_000))} of value for every $1 spent" in returns

    top = facts.savings[0]
    assert savings.startswith(f"Open recommendations could save {_usd(facts.savings_total_micros)} a month.")
    assert "The largest is moving code-assistant from claude-opus-4-1 to its cheaper successor claude-opus-4-5, " in (
        savings
    )
    assert f"worth about {_usd(top.monthly_saving_micros)} a month" in savings
    assert f"Changes already adopted are saving {_usd(facts.realised_savings_micros)} a month." in savings


def test_summary_of_a_finished_month_has_no_forecast(acme: Demo) -> None:
    summary = deterministic_summary(acme.october)
    text_ = summary.text
    total, before = _spend(acme, OCT_1, OCT_31), _spend(acme, dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert summary.paragraphs[0].startswith(
        f"Acme AI spent {_usd(total)} on AI in October 2026, up {_usd(total - before)} "
        f"({_pct(total - before, before)}) compared with September 2026."
    )
    assert "forecast" not in text_ and "should close" not in text_ and "80% range" not in text_
    assert "Marketing went over its $7,100 budget" in text_
    assert "One unusual day stood out: project code-assistant spent" in text_ and "on Oct 14" in text_
    assert "outcomes recorded in October were worth" in text_


@pytest.mark.parametrize("month", ["november", "october"])
def test_the_written_summary_passes_its_own_grounding_check(acme: Demo, month: str) -> None:
    facts: ReportFacts = getattr(acme, month)
    summary = deterministic_summary(facts)
    assert check_grounding(summary.text, facts) == []
    assert check_draft(summary.text, facts) == []
    for word in ("N/A", "n/a", "None", "nan", "{", "TODO"):
        assert word not in summary.text


# --- the insights feed -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("month", ["november", "october"])
def test_insights_are_three_to_six_grounded_sentences_ranked_by_impact(acme: Demo, month: str) -> None:
    facts: ReportFacts = getattr(acme, month)
    insights = compute_insights(facts)
    assert 3 <= len(insights) <= 6
    impacts = [abs(i.impact_micros) for i in insights]
    assert impacts == sorted(impacts, reverse=True)
    for insight in insights:
        assert _one_sentence(insight.sentence), insight.sentence
        assert check_grounding(insight.sentence, facts) == [], insight.sentence
    assert len({i.sentence for i in insights}) == len(insights)


def test_demo_insights_name_the_biggest_dollars(acme: Demo) -> None:
    facts = acme.november
    insights = compute_insights(facts)
    by_kind = {i.kind: i for i in insights}
    saving = facts.savings[0]
    assert by_kind["saving"] == Insight(
        "Moving code-assistant from claude-opus-4-1 to its cheaper successor claude-opus-4-5 would save about "
        f"{_usd(saving.monthly_saving_micros)} a month.",
        saving.monthly_saving_micros,
        "saving",
    )
    budget = by_kind["budget"]
    data_science = next(b for b in facts.budgets if b.label == "Data Science")
    assert data_science.projected is not None
    overrun = data_science.projected.median - data_science.amount_micros
    assert budget.impact_micros == overrun
    assert budget.sentence.startswith("Data Science has been over its $2,400 budget since Nov 17")
    assert budget.sentence.endswith(f"{_usd(overrun)} over.")
    assert facts.roi is not None and by_kind["roi"].impact_micros == facts.roi.net_micros
    # No more than two of a kind while other kinds wait.
    assert all(sum(1 for i in insights if i.kind == kind) <= 2 for kind in by_kind)
    assert len(compute_insights(facts, limit=4)) == 4


# --- the prompt ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("month", ["november", "october"])
def test_messages_hold_only_grounded_formatted_figures(acme: Demo, month: str) -> None:
    facts: ReportFacts = getattr(acme, month)
    insights = compute_insights(facts)
    system, user = build_messages(facts, insights)
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "ONLY the figures" in system["content"] and "Never compute" in system["content"]
    assert "headings" in system["content"]
    assert user["role"] == "user"
    assert f"AI spend in the period: {_usd(facts.total_micros)}" in user["content"]
    assert all(f"- {i.sentence}" in user["content"] for i in insights)
    assert check_grounding(user["content"], facts) == []


# --- a workspace with spend only -----------------------------------------------------------------------------


def _charges() -> list[dict[str, Any]]:
    rows = []
    day = dt.date(2026, 9, 1)
    while day <= NOV_20:
        growth = (day - dt.date(2026, 9, 1)).days
        for department, model, micros in (
            ("Sales", "gpt-4o", 40_000_000 + growth * 500_000),
            ("Support", "claude-haiku-4-5", 25_000_000),
        ):
            rows.append(
                {"source_key": f"{day}-{department}", "day": day, "provider": "OpenAI", "model": model,
                 "amount_micros": micros, "original_amount": str(Decimal(micros) / 1_000_000),
                 "department": department, "project": department.lower()}
            )  # fmt: skip
        day += dt.timedelta(days=1)
    return rows


@pytest.fixture(scope="module")
def spend_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ReportFacts, ReportFacts]]:
    engine = _engine(tmp_path_factory.mktemp("plain"))
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Plain Co")
        assert workspace.id is not None
        queries.upsert_charges(session, workspace_id=workspace.id, rows=_charges())
        november = load_report_facts(session, workspace_id=workspace.id, today=TODAY)
        october = load_report_facts(session, workspace_id=workspace.id, today=TODAY, period="2026-10")
    yield november, october
    engine.dispose()


def test_sections_without_data_are_left_out_cleanly(spend_only: tuple[ReportFacts, ReportFacts]) -> None:
    november, october = spend_only
    assert november.budgets == () and november.roi is None and november.savings == ()
    for facts in (november, october):
        summary = deterministic_summary(facts)
        words = summary.text.lower()
        for absent in ("budget", "outcome", "roi", "return", "recommendation", "save", "unusual", "n/a", "none"):
            assert absent not in words, (absent, summary.text)
        assert check_grounding(summary.text, facts) == []
        assert summary.paragraphs[0].startswith("Plain Co ")
        assert 2 <= len(summary.paragraphs) <= 4
    assert "should close near" in deterministic_summary(november).text
    assert "should close near" not in deterministic_summary(october).text
    assert deterministic_summary(october).paragraphs[1].startswith("Sales was the biggest spender at ")


def test_insights_with_spend_only_still_say_three_things(spend_only: tuple[ReportFacts, ReportFacts]) -> None:
    for facts in spend_only:
        insights = compute_insights(facts)
        assert 3 <= len(insights) <= 6
        assert {i.kind for i in insights} <= {"change", "context"}
        assert all(_one_sentence(i.sentence) and check_grounding(i.sentence, facts) == [] for i in insights)
        impacts = [abs(i.impact_micros) for i in insights]
        assert impacts == sorted(impacts, reverse=True)


# --- grounding on hand-built facts ---------------------------------------------------------------------------

PERIOD = parse_period("2026-11", today=TODAY)  # Nov 1–20, compared with Oct 1–20


def _facts(**changes: Any) -> ReportFacts:
    """A small month in progress: $22,548 against $20,000 (+12.74%), a month end of $37,017.92."""
    base = ReportFacts(
        workspace_name="Test Co",
        period=PERIOD,
        generated_on=TODAY,
        total_micros=22_548_000_000,
        previous_total_micros=20_000_000_000,
        drivers=(Driver("department", "Engineering", 13_929_466_430, 14_896_079_186),),
        departments=(Share("Engineering", 13_929_466_430, Decimal("0.6178")),),
        providers=(),
        models=(Share("claude-opus-4-1", 22_548_000_000, Decimal("1")),),
        trend=(),
        forecast=(),
        month_end=Range(37_017_918_940, 35_966_602_529, 38_106_990_690),
        next_month=None,
        budgets=(
            BudgetFact(
                label="Marketing",
                scope="department",
                amount_micros=7_100_000_000,
                spent_micros=5_555_738_560,
                projected=Range(8_057_606_437, 7_956_385_958, 8_160_148_436),
                state="overrun_predicted",
                exceed_date=dt.date(2026, 11, 26),
                sentence="",
            ),
        ),
        spikes=(),
        roi=None,
        efficiency=(),
        savings=(),
        savings_total_micros=0,
        realised_savings_micros=0,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("written", "offending"),
    [
        ("The month should close near $37k.", []),
        ("The month should close near $37.0k.", []),
        ("The month should close near $37,018.", []),
        ("The month should close near $37,017.92.", []),
        ("The month should close near $37,000.", []),
        ("The month should close near $37,100.", ["$37,100"]),
        ("The month should close near $37.1k.", ["$37.1k"]),
        ("The month should close near $37,017.50.", ["$37,017.50"]),
        ("Spend rose 12.7%.", []),
        ("Spend rose 13%.", []),
        ("Spend rose 12.74 percent.", []),
        ("Spend rose 12%.", ["12%"]),
        ("Spend rose 12.8%.", ["12.8%"]),
        ("The range is $35,967–$38,107.", []),
        ("The range is $35,967–38,107.", []),
        ("The range is $35,967–$38,500.", ["$38,500"]),
        ("Engineering fell $967 (6.5%).", []),
        ("Engineering moved -$967 (−6.5%), about 6%.", []),
        ("Engineering fell $968.", ["$968"]),
        ("Marketing will exceed its budget on Nov 26.", []),
        ("Marketing will exceed its budget on November 26th, 2026.", []),
        ("Marketing will exceed its budget on 2026-11-26.", []),
        ("Spend from November 1–20, 2026 and Nov 1 to 20.", []),
        ("Marketing will exceed its budget on Nov 12.", ["Nov 12"]),
        ("As in November 2025.", ["November 2025"]),
        ("Unlike 2025.", ["2025"]),
        ("claude-opus-4-1, gpt-4o and o3-mini on amazon.nova-pro-v1:0 in Q4.", []),
        ("Two budgets, 3 departments and the top 5 models.", []),
        ("Fourteen departments, or 14 of them.", ["14"]),
        ("Engineering took 61.8% of the spend.", []),
        ("For the same 20 days, with an 80% range.", []),
    ],
)
def test_grounding_reads_numbers_at_their_written_precision(written: str, offending: list[str]) -> None:
    assert check_grounding(written, _facts()) == offending


def test_allowed_numbers_hold_derived_figures() -> None:
    facts = _facts()
    values = {(f.kind, f.value) for f in allowed_numbers(facts)}
    assert ("usd", Decimal("2548")) in values  # the change
    assert ("percent", Decimal("12.74")) in values  # the change as a percentage
    assert ("usd", Decimal("957.606437")) in values  # Marketing's projected overrun
    assert ("date", dt.date(2026, 11, 26)) in values
    assert ("year", Decimal(2026)) in values


def test_grounding_knows_the_names_in_the_facts() -> None:
    facts = _facts(drivers=(Driver("project", "launch-2027", 1_000_000_000, 500_000_000),))
    assert check_grounding("AI spend on the launch-2027 project rose $500 (100.0%).", facts) == []
    assert check_grounding("AI spend on the launch-2028 project rose $500.", facts) == []  # a name, not a number
    assert check_grounding("AI spend rose $2,028.", facts) == ["$2,028"]


def test_drafts_are_refused_for_headings_emptiness_and_length() -> None:
    facts = _facts()
    assert check_draft("", facts) == ["the reply was empty"]
    assert check_draft("# Summary\n\nSpend rose 12.7%.", facts) == ["it used markdown headings"]
    long = " ".join(["Spend rose 12.7%."] * 200)
    assert check_draft(long, facts)[0] == "too long (600 words; at most 450)"
    assert check_draft("Spend rose 19%.", facts) == ["invented numbers: 19%"]
    assert check_draft("Spend rose 12.7%.\n\nThe month should close near $37k.", facts) == []


def test_paragraphs_split_on_blank_lines() -> None:
    assert split_paragraphs("  One\nline.\n\n\n Two. \n \nThree.") == ("One line.", "Two.", "Three.")


def test_a_month_without_spend_says_so_in_one_paragraph() -> None:
    facts = _facts(total_micros=0, previous_total_micros=0, drivers=(), departments=(), models=(), budgets=())
    summary = deterministic_summary(facts)
    assert summary.paragraphs == (
        "Test Co recorded no AI spend so far in November 2026, nor in the same 20 days of October.",
    )
    assert compute_insights(facts)[0].kind == "context"  # only the forecast is left to say


def test_insights_from_hand_built_facts() -> None:
    insights = compute_insights(_facts())
    sentences = [i.sentence for i in insights]
    assert sentences == [
        "Engineering's AI spend fell $967 (6.5%) compared with the same 20 days of October.",
        "Marketing is on track to exceed its $7,100 budget on Nov 26 and to end the month near $8,058, $958 over.",
        "AI spend was $22,548 so far this month, up $2,548 (12.7%) compared with the same 20 days of October.",
    ]  # two findings, then one line of context to make three
    assert [i.impact_micros for i in insights] == [-966_612_756, 957_606_437, 0]
