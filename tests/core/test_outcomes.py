"""Outcome definitions and daily counts: validation, idempotent counts, workspace isolation, exact totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from core import queries
from core.db import session_scope
from core.models import OutcomeCount, OutcomeDefinition, Workspace
from core.outcomes import (
    OUTCOME_TEMPLATES,
    OutcomeCountRow,
    OutcomeUpsert,
    delete_outcome_count,
    delete_outcome_definition,
    load_outcome_daily,
    load_outcome_definitions,
    load_outcome_names,
    load_outcome_totals,
    save_outcome_definition,
    upsert_outcome_counts,
)
from core.security import InvalidInput

NOV_19, NOV_20, NOV_21 = dt.date(2026, 11, 19), dt.date(2026, 11, 20), dt.date(2026, 11, 21)


def define(session: Session, workspace_id: int, name: str, value: str, **fields: Any) -> int:
    definition = save_outcome_definition(
        session, workspace_id=workspace_id, name=name, unit=fields.pop("unit", "unit"), value_usd=value, **fields
    )
    assert definition.id is not None
    return definition.id


def other_workspace(engine: Engine) -> int:
    with session_scope(engine) as session:
        workspace_id = queries.create_workspace(session, name="Other Co").id
        assert workspace_id is not None
        return workspace_id


def stored_counts(engine: Engine, workspace_id: int) -> list[tuple[int, dt.date, str, int]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                col(OutcomeCount.outcome_id),
                col(OutcomeCount.day),
                col(OutcomeCount.department),
                col(OutcomeCount.count),
            )
            .where(col(OutcomeCount.workspace_id) == workspace_id)
            .order_by(col(OutcomeCount.day), col(OutcomeCount.outcome_id), col(OutcomeCount.department))
        ).all()
    return [(int(o), d, dept, int(c)) for o, d, dept, c in rows]


def data_version(engine: Engine, workspace_id: int) -> int:
    with session_scope(engine) as session:
        version = session.execute(select(col(Workspace.data_version)).where(col(Workspace.id) == workspace_id))
        return int(version.scalar_one())


def test_the_templates_are_the_five_the_issue_names() -> None:
    assert [(t.name, t.unit, t.value_usd, t.department) for t in OUTCOME_TEMPLATES] == [
        ("Support ticket resolved", "ticket", Decimal(8), "Support"),
        ("Qualified lead", "lead", Decimal(120), "Marketing"),
        ("Article published", "article", Decimal(150), "Content"),
        ("Code review completed", "review", Decimal(45), "Engineering"),
        ("Customer onboarded", "customer", Decimal(400), "Customer Success"),
    ]


def test_a_template_saves_as_a_definition_with_exact_money(session: Session, workspace_id: int) -> None:
    template = OUTCOME_TEMPLATES[1]
    saved = save_outcome_definition(
        session, workspace_id=workspace_id, name=template.name, unit=template.unit, value_usd=template.value_usd,
        department=template.department, project="  lead   scoring ", feature="enrich",
    )  # fmt: skip
    assert (saved.name, saved.unit, saved.value_micros, saved.department, saved.project, saved.feature) == (
        "Qualified lead", "lead", 120_000_000, "Marketing", "lead scoring", "enrich",
    )  # fmt: skip
    assert [d.name for d in load_outcome_definitions(session, workspace_id=workspace_id)] == ["Qualified lead"]


@pytest.mark.parametrize(
    ("value", "micros"),
    [("8", 8_000_000), ("$1,200.50", 1_200_500_000), (Decimal("0.25"), 250_000), ("0", 0), ("0.000001", 1)],
    ids=["whole", "dollar-sign-and-comma", "decimal", "zero", "one-micro"],
)
def test_values_per_unit_are_exact(session: Session, workspace_id: int, value: Any, micros: int) -> None:
    assert (
        save_outcome_definition(session, workspace_id=workspace_id, name="X", unit="x", value_usd=value).value_micros
        == micros
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "Give the outcome a name"),
        ({"name": "n" * 81}, "The name is 81 characters long; keep it to 80."),
        ({"unit": "u" * 41}, "The unit is 41 characters long; keep it to 40."),
        ({"department": "d" * 81}, "The department is 81 characters long; keep it to 80."),
        ({"value_usd": "-1"}, "The value per unit cannot be negative"),
        ({"value_usd": 8.0}, "Give the value per unit in dollars as text or a Decimal"),
        ({"value_usd": 8}, "Give the value per unit in dollars as text or a Decimal"),
        ({"value_usd": "eight"}, "'eight' is not an amount of dollars"),
        ({"value_usd": "Infinity"}, "The value per unit must be an amount of dollars"),
        ({"value_usd": "1000000.01"}, "The value per unit is at most $1,000,000"),
        ({"value_usd": "0.0000001"}, "The value per unit has more than 6 decimal places"),
    ],
    ids=["blank-name", "long-name", "long-unit", "long-department", "negative", "float", "int", "words", "infinite",
         "absurd", "too-precise"],
)  # fmt: skip
def test_a_bad_definition_is_refused_in_plain_english(
    engine: Engine, workspace_id: int, fields: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"name": "Support ticket resolved", "unit": "ticket", "value_usd": "8", **fields}
    with pytest.raises(InvalidInput) as caught, session_scope(engine) as session:
        save_outcome_definition(session, workspace_id=workspace_id, **arguments)
    assert str(caught.value).startswith(message)
    with session_scope(engine) as session:
        assert load_outcome_definitions(session, workspace_id=workspace_id) == []


def test_names_are_unique_per_workspace_whatever_the_case(engine: Engine, workspace_id: int) -> None:
    other = other_workspace(engine)
    with session_scope(engine) as session:
        first = define(session, workspace_id, "Qualified lead", "120")
        second = define(session, workspace_id, "Article published", "150")
        define(session, other, "qualified LEAD", "99")  # another workspace may use the name
    with (
        pytest.raises(InvalidInput, match="There is already an outcome called 'QUALIFIED LEAD'"),
        session_scope(engine) as session,
    ):
        define(session, workspace_id, "QUALIFIED LEAD", "1")
    with (
        pytest.raises(InvalidInput, match="already an outcome called 'Qualified Lead'"),
        session_scope(engine) as session,
    ):
        define(session, workspace_id, "Qualified Lead", "1", outcome_id=second)  # renaming onto another
    with session_scope(engine) as session:
        # Renaming an outcome to a new spelling of its own name is fine.
        renamed = save_outcome_definition(
            session, workspace_id=workspace_id, name="Qualified Lead", unit="lead", value_usd="125", outcome_id=first
        )
        assert (renamed.id, renamed.value_micros) == (first, 125_000_000)
    with session_scope(engine) as session:
        assert load_outcome_names(session, workspace_id=workspace_id) == {
            "Article published": second,
            "Qualified Lead": first,
        }


def test_another_workspaces_outcome_cannot_be_edited_or_deleted(engine: Engine, workspace_id: int) -> None:
    other = other_workspace(engine)
    with session_scope(engine) as session:
        theirs = define(session, other, "Qualified lead", "120")
    with pytest.raises(queries.NotFound), session_scope(engine) as session:
        define(session, workspace_id, "Stolen", "1", outcome_id=theirs)
    with pytest.raises(queries.NotFound), session_scope(engine) as session:
        delete_outcome_definition(session, workspace_id=workspace_id, outcome_id=theirs)
    with session_scope(engine) as session:
        [kept] = load_outcome_definitions(session, workspace_id=other)
        assert (kept.name, kept.value_micros) == ("Qualified lead", 120_000_000)


def test_counts_are_written_then_replaced_never_added(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        tickets = define(session, workspace_id, "Support ticket resolved", "8")
        leads = define(session, workspace_id, "Qualified lead", "120")
    first: list[OutcomeCountRow | tuple[int, dt.date, str, int]] = [
        OutcomeCountRow(tickets, NOV_19, "Support", 40),
        OutcomeCountRow(tickets, NOV_20, "Support", 42),
        (leads, NOV_20, "", 3),  # plain tuples are accepted too
    ]
    with session_scope(engine) as session:
        assert upsert_outcome_counts(session, workspace_id=workspace_id, rows=first) == OutcomeUpsert(3, 0, 0)
    version = data_version(engine, workspace_id)
    with session_scope(engine) as session:  # the same numbers again: nothing changes
        assert upsert_outcome_counts(session, workspace_id=workspace_id, rows=first) == OutcomeUpsert(0, 0, 3)
    assert data_version(engine, workspace_id) == version
    corrected: list[OutcomeCountRow | tuple[int, dt.date, str, int]] = [
        OutcomeCountRow(tickets, NOV_20, "Support", 45),
        OutcomeCountRow(tickets, NOV_20, "Billing", 0),
        OutcomeCountRow(leads, NOV_20, "  ", 3),
    ]
    with session_scope(engine) as session:
        assert upsert_outcome_counts(session, workspace_id=workspace_id, rows=corrected) == OutcomeUpsert(1, 1, 1)
    assert data_version(engine, workspace_id) == version + 1
    assert stored_counts(engine, workspace_id) == [
        (tickets, NOV_19, "Support", 40),
        (tickets, NOV_20, "Billing", 0),
        (tickets, NOV_20, "Support", 45),
        (leads, NOV_20, "", 3),
    ]


def test_an_upsert_with_nothing_in_it_writes_nothing(session: Session, workspace_id: int) -> None:
    assert upsert_outcome_counts(session, workspace_id=workspace_id, rows=[]) == OutcomeUpsert(0, 0, 0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("foreign", "Outcome {foreign} is not defined in this workspace."),
        ("missing", "Outcome 999999 is not defined in this workspace."),
        ("negative", "A count must be a whole number of at least 0, not -1."),
        ("fraction", "A count must be a whole number of at least 0, not 1.5."),
        ("boolean", "A count must be a whole number of at least 0, not True."),
        ("timestamp", "Outcome counts are per day; datetime.datetime(2026, 11, 20, 0, 0) is not a date."),
        ("twice", "The count for outcome {mine} on 2026-11-19 ('Support') appears twice in one import."),
    ],
)
def test_a_bad_count_row_writes_nothing(engine: Engine, workspace_id: int, bad: str, message: str) -> None:
    other = other_workspace(engine)
    with session_scope(engine) as session:
        mine = define(session, workspace_id, "Support ticket resolved", "8")
        foreign = define(session, other, "Support ticket resolved", "8")
    rows: dict[str, tuple[Any, ...]] = {
        "foreign": (foreign, NOV_20, "", 1),
        "missing": (999_999, NOV_20, "", 1),
        "negative": (mine, NOV_20, "", -1),
        "fraction": (mine, NOV_20, "", 1.5),
        "boolean": (mine, NOV_20, "", True),
        "timestamp": (mine, dt.datetime(2026, 11, 20), "", 1),  # a datetime, not a date
        "twice": (mine, NOV_19, "Support", 2),
    }
    with pytest.raises(InvalidInput) as caught, session_scope(engine) as session:
        upsert_outcome_counts(
            session,
            workspace_id=workspace_id,
            rows=[(mine, NOV_19, "Support", 5), rows[bad]],  # type: ignore[list-item]
        )
    assert str(caught.value) == message.format(foreign=foreign, mine=mine)
    assert stored_counts(engine, workspace_id) == [] and stored_counts(engine, other) == []


def test_totals_value_every_outcome_exactly_by_department(engine: Engine, workspace_id: int) -> None:
    other = other_workspace(engine)
    with session_scope(engine) as session:
        tickets = define(session, workspace_id, "Support ticket resolved", "8", unit="ticket", department="Support")
        leads = define(session, workspace_id, "Qualified lead", "120.50", unit="lead", department="Marketing")
        articles = define(session, workspace_id, "Article published", "150", unit="article", department="Content")
        theirs = define(session, other, "Support ticket resolved", "8")
        upsert_outcome_counts(
            session,
            workspace_id=workspace_id,
            rows=[
                (tickets, NOV_19, "", 10),  # no department of its own: the outcome's (Support)
                (tickets, NOV_20, "Support", 5),  # the same department, said outright
                (tickets, NOV_20, "Billing", 7),
                (leads, NOV_21, "", 3),
                (leads, dt.date(2026, 11, 22), "", 100),  # after the period
            ],
        )
        upsert_outcome_counts(session, workspace_id=other, rows=[(theirs, NOV_20, "", 1_000)])
    with session_scope(engine) as session:
        totals = load_outcome_totals(session, workspace_id=workspace_id, start=NOV_19, end=NOV_21)
    expected = pd.DataFrame(
        {
            "outcome_id": [articles, leads, tickets, tickets],
            "name": ["Article published", "Qualified lead", "Support ticket resolved", "Support ticket resolved"],
            "unit": ["article", "lead", "ticket", "ticket"],
            "department": ["Content", "Marketing", "Billing", "Support"],
            "unit_value_micros": [150_000_000, 120_500_000, 8_000_000, 8_000_000],
            "count": [0, 3, 7, 15],
            "value_micros": [0, 361_500_000, 56_000_000, 120_000_000],
        }
    ).astype({"outcome_id": "int64", "unit_value_micros": "int64", "count": "int64", "value_micros": "int64"})
    pd.testing.assert_frame_equal(totals, expected)


def test_daily_outcomes_carry_their_value(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        tickets = define(session, workspace_id, "Support ticket resolved", "8", department="Support")
        leads = define(session, workspace_id, "Qualified lead", "120", department="Marketing")
        upsert_outcome_counts(
            session,
            workspace_id=workspace_id,
            rows=[(tickets, NOV_19, "", 10), (tickets, NOV_20, "", 4), (tickets, NOV_20, "Support", 1),
                  (leads, NOV_20, "Sales", 2), (leads, NOV_21, "", 9)],
        )  # fmt: skip
    with session_scope(engine) as session:
        daily = load_outcome_daily(session, workspace_id=workspace_id, start=NOV_19, end=NOV_20)
    assert daily.dtypes.to_dict() == {
        "day": "datetime64[ns]",
        "outcome_id": "int64",
        "outcome": "str",
        "department": "str",
        "count": "int64",
        "value_micros": "int64",
    }
    assert [tuple(r) for r in daily.itertuples(index=False)] == [
        (pd.Timestamp("2026-11-19"), tickets, "Support ticket resolved", "Support", 10, 80_000_000),
        (pd.Timestamp("2026-11-20"), leads, "Qualified lead", "Sales", 2, 240_000_000),
        # The count without a department and the one saying 'Support' are the same department's.
        (pd.Timestamp("2026-11-20"), tickets, "Support ticket resolved", "Support", 5, 40_000_000),
    ]
    with session_scope(engine) as session:
        empty = load_outcome_daily(session, workspace_id=workspace_id, start=NOV_21 + dt.timedelta(1), end=NOV_21)
    assert empty.empty and str(empty["day"].dtype) == "datetime64[ns]"
    assert list(empty.columns) == ["day", "outcome_id", "outcome", "department", "count", "value_micros"]


def test_an_empty_workspace_has_empty_totals(session: Session, workspace_id: int) -> None:
    totals = load_outcome_totals(session, workspace_id=workspace_id, start=NOV_19, end=NOV_21)
    assert totals.empty
    assert list(totals.columns) == [
        "outcome_id", "name", "unit", "department", "unit_value_micros", "count", "value_micros",
    ]  # fmt: skip


def test_deleting_an_outcome_deletes_its_counts_only(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        tickets = define(session, workspace_id, "Support ticket resolved", "8")
        leads = define(session, workspace_id, "Qualified lead", "120")
        upsert_outcome_counts(
            session, workspace_id=workspace_id, rows=[(tickets, NOV_20, "", 4), (leads, NOV_20, "", 2)]
        )
    version = data_version(engine, workspace_id)
    with session_scope(engine) as session:
        delete_outcome_definition(session, workspace_id=workspace_id, outcome_id=tickets)
    assert stored_counts(engine, workspace_id) == [(leads, NOV_20, "", 2)]
    assert data_version(engine, workspace_id) == version + 1
    with session_scope(engine) as session:
        assert [d.name for d in load_outcome_definitions(session, workspace_id=workspace_id)] == ["Qualified lead"]
        assert session.execute(select(func.count()).select_from(OutcomeDefinition)).scalar_one() == 1


def test_one_days_count_can_be_removed(engine: Engine, workspace_id: int) -> None:
    other = other_workspace(engine)
    with session_scope(engine) as session:
        tickets = define(session, workspace_id, "Support ticket resolved", "8")
        upsert_outcome_counts(
            session, workspace_id=workspace_id, rows=[(tickets, NOV_19, "", 4), (tickets, NOV_20, "", 2)]
        )
    with session_scope(engine) as session:
        # Another workspace naming this outcome removes nothing.
        assert not delete_outcome_count(session, workspace_id=other, outcome_id=tickets, day=NOV_20, department="")
        assert delete_outcome_count(session, workspace_id=workspace_id, outcome_id=tickets, day=NOV_20, department="")
        assert not delete_outcome_count(
            session, workspace_id=workspace_id, outcome_id=tickets, day=NOV_20, department=""
        )
    assert stored_counts(engine, workspace_id) == [(tickets, NOV_19, "", 4)]
