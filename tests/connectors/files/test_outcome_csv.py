"""Outcome count CSVs: columns in any case, US and ISO dates, names matched, bad rows named, duplicates summed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from connectors.files.base import BadFile, SkippedRow
from connectors.files.outcomes import ParsedOutcomes, parse_outcome_csv
from core.db import session_scope
from core.outcomes import OutcomeCountRow, load_outcome_daily, save_outcome_definition, upsert_outcome_counts

TICKETS, LEADS = 11, 12
DEFINITIONS = {"Support ticket resolved": TICKETS, "Qualified lead": LEADS}
NOV_19, NOV_20 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
KNOWN = "The outcomes are 'Qualified lead', 'Support ticket resolved'."
SKIP = "Or import again with 'skip bad rows' to leave such rows out."

GOOD = """Date,OUTCOME,Count,department
2026-11-19,Support ticket resolved,40,Support
2026-11-20,Support ticket resolved,42,Support
2026-11-20,qualified LEAD,3,
2026-11-20,Qualified lead,2,Sales
"""


def parse(text: str, **options: object) -> ParsedOutcomes:
    return parse_outcome_csv(text.encode(), definitions=DEFINITIONS, **options)  # type: ignore[arg-type]


def refused(text: str, **options: object) -> BadFile:
    with pytest.raises(BadFile) as caught:
        parse(text, **options)
    return caught.value


def test_a_good_file_gives_one_row_per_day_outcome_and_department() -> None:
    parsed = parse(GOOD)
    assert parsed.rows == [
        OutcomeCountRow(TICKETS, NOV_19, "Support", 40),
        OutcomeCountRow(TICKETS, NOV_20, "Support", 42),
        OutcomeCountRow(LEADS, NOV_20, "", 3),
        OutcomeCountRow(LEADS, NOV_20, "Sales", 2),
    ]
    assert (parsed.rows_read, parsed.skipped, parsed.merged) == (4, [], 0)


def test_the_department_column_is_optional_and_counts_may_have_thousands_commas() -> None:
    parsed = parse('date,outcome,count\n2026-11-20,Support ticket resolved,"1,200"\n2026-11-19,Qualified lead,7.0\n')
    assert parsed.rows == [OutcomeCountRow(LEADS, NOV_19, "", 7), OutcomeCountRow(TICKETS, NOV_20, "", 1200)]


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (("11/19/2026", "11/20/2026"), [NOV_19, NOV_20]),
        (("11/19/26", "1/2/2026"), [dt.date(2026, 1, 2), NOV_19]),
        (("19/11/2026", "20/11/2026"), [NOV_19, NOV_20]),  # a first number over 12: day-first
        (("2026-11-19T23:30:00Z", "2026-11-20"), [NOV_19, NOV_20]),
    ],
    ids=["us", "us-short-year", "day-first", "iso-timestamp"],
)
def test_us_and_iso_dates_are_read(dates: tuple[str, str], expected: list[dt.date]) -> None:
    text = "date,outcome,count\n" + "".join(f"{d},Qualified lead,1\n" for d in dates)
    assert [row.day for row in parse(text).rows] == expected


def test_an_unknown_outcome_names_the_row_and_the_known_ones() -> None:
    problem = refused(GOOD + "2026-11-20,Suport ticket resolved,5,Support\n")
    assert str(problem) == (
        f"Row 6, column 'OUTCOME': 'Suport ticket resolved' is not an outcome defined in this workspace. {KNOWN} {SKIP}"
    )
    assert (problem.row, problem.column) == (6, "OUTCOME")


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        ("4.5", "'4.5' is not a whole number"),
        ("-3", "'-3' is not a whole number"),
        ("many", "'many' is not a whole number"),
        ("1e999", "'1e999' is not a whole number"),
        ("", "the count is blank"),
    ],
    ids=["fraction", "negative", "words", "infinite", "blank"],
)
def test_a_bad_count_is_named_by_row_and_column(count: str, reason: str) -> None:
    problem = refused(f"date,outcome,count\n2026-11-20,Qualified lead,2\n2026-11-20,Support ticket resolved,{count}\n")
    assert str(problem).startswith(f"Row 3, column 'count': {reason}. ")
    assert (problem.row, problem.column) == (3, "count")


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("2026-02-30", "'2026-02-30' is not a date"),
        ("02/30/2026", "'02/30/2026' is not a date"),  # shown as written, not as rewritten to ISO
        ("13/13/2026", "'13/13/2026' is not a date"),
        ("yesterday", "'yesterday' is not a date"),
        ("", "the date is blank"),
    ],
    ids=["feb-30-iso", "feb-30-us", "month-13", "words", "blank"],
)
def test_an_impossible_date_is_named_as_written(cell: str, reason: str) -> None:
    problem = refused(f"date,outcome,count\n2026-11-20,Qualified lead,2\n{cell},Qualified lead,1\n")
    assert str(problem) == (f"Row 3, column 'date': {reason}. Dates look like 2026-11-20 or 11/20/2026. {SKIP}")


def test_a_future_date_is_refused_when_today_is_known() -> None:
    text = "date,outcome,count\n2026-11-21,Qualified lead,2\n2026-11-22,Qualified lead,1\n"
    problem = refused(text, today=NOV_20)
    assert str(problem).startswith("Row 3, column 'date': 2026-11-22 is in the future. ")
    assert [row.day for row in parse(text, today=dt.date(2026, 11, 21)).rows] == [
        dt.date(2026, 11, 21), dt.date(2026, 11, 22),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty. It needs a header row (date, outcome, count and optionally department)"),
        (b"  \n\n", "The file is empty."),
        (b"date,outcome,count\n", "The file has a header but no rows. Add one line per day and outcome"),
        (b"Date,Outcome,Count,Department\r\n", "The file has a header but no rows."),
        (
            b"day,outcome,number\n2026-11-20,Qualified lead,1\n",
            "The file has no column 'date'. Outcome files have the columns date, outcome, count and optionally "
            "department, e.g. 2026-11-20,Support ticket resolved,42,Support; the columns found were 'day', "
            "'outcome', 'number'.",
        ),
        (b'[{"date": "2026-11-20"}]', "This is JSON; outcome counts are uploaded as CSV"),
        (b"PK\x03\x04rest-of-a-spreadsheet", "This is a spreadsheet or zip file, not CSV or JSON."),
    ],
    ids=["empty", "blank-lines", "header-only", "header-only-crlf", "missing-column", "json", "xlsx"],
)
def test_a_file_without_counts_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(BadFile) as caught:
        parse_outcome_csv(data, definitions=DEFINITIONS)
    assert str(caught.value).startswith(message)


def test_a_workspace_without_outcomes_is_told_to_define_them() -> None:
    with pytest.raises(BadFile, match="This workspace has no outcomes defined yet"):
        parse_outcome_csv(GOOD.encode(), definitions={})


def test_duplicate_lines_are_summed() -> None:
    parsed = parse(
        "date,outcome,count,department\n"
        "2026-11-20,Support ticket resolved,10,Support\n"
        "11/20/2026,support ticket resolved,15,Support\n"  # the same day, written another way
        "2026-11-20,Support ticket resolved,1,Billing\n"
        "2026-11-20,Support Ticket Resolved,5,Support\n"
    )
    assert parsed.rows == [
        OutcomeCountRow(TICKETS, NOV_20, "Billing", 1),
        OutcomeCountRow(TICKETS, NOV_20, "Support", 30),
    ]
    assert (parsed.rows_read, parsed.merged) == (4, 2)


def test_skip_bad_rows_keeps_the_good_ones_and_lists_the_rest() -> None:
    parsed = parse(
        "date,outcome,count\n"
        "2026-11-20,Qualified lead,2\n"
        "2026-02-30,Qualified lead,1\n"
        "2026-11-20,Nonsense,3\n"
        "2026-11-19,Qualified lead,x\n"
        "2026-11-20,Qualified lead,4\n"
        "2026-13-01,Nonsense,y\n",
        skip_bad_rows=True,
    )
    assert parsed.rows == [OutcomeCountRow(LEADS, NOV_20, "", 6)]
    assert parsed.skipped == [
        SkippedRow(row=3, column="date", reason="'2026-02-30' is not a date"),
        SkippedRow(row=7, column="date", reason="'2026-13-01' is not a date"),
        SkippedRow(row=4, column="outcome", reason="'Nonsense' is not an outcome defined in this workspace"),
        SkippedRow(row=5, column="count", reason="'x' is not a whole number"),
    ]
    assert (parsed.rows_read, parsed.merged) == (6, 1)


def test_a_bad_file_leaves_the_stored_counts_as_they_were(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        lead = save_outcome_definition(session, workspace_id=workspace_id, name="Qualified lead", unit="lead",
                                       value_usd="120")  # fmt: skip
        assert lead.id is not None
        definitions = {"Qualified lead": lead.id}
        upsert_outcome_counts(session, workspace_id=workspace_id, rows=[(lead.id, NOV_20, "", 2)])
    corrected = b"date,outcome,count\n2026-11-20,Qualified lead,5\n2026-11-21,Qualified lead,oops\n"
    with pytest.raises(BadFile, match="Row 3, column 'count'"), session_scope(engine) as session:
        parsed = parse_outcome_csv(corrected, definitions=definitions)
        upsert_outcome_counts(session, workspace_id=workspace_id, rows=parsed.rows)
    with session_scope(engine) as session:
        daily = load_outcome_daily(session, workspace_id=workspace_id, start=NOV_19, end=dt.date(2026, 11, 21))
    assert daily[["outcome", "count", "value_micros"]].values.tolist() == [["Qualified lead", 2, 240_000_000]]
    # Fixed, the same file replaces the day's count instead of adding to it.
    with session_scope(engine) as session:
        parsed = parse_outcome_csv(corrected.replace(b"oops", b"1"), definitions=definitions)
        result = upsert_outcome_counts(session, workspace_id=workspace_id, rows=parsed.rows)
    assert (result.written, result.replaced, result.unchanged) == (1, 1, 0)
    with session_scope(engine) as session:
        daily = load_outcome_daily(session, workspace_id=workspace_id, start=NOV_19, end=dt.date(2026, 11, 21))
    assert daily["count"].tolist() == [5, 1]
