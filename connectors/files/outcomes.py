"""Outcome counts coming in: a CSV upload (date, outcome, count[, department]) or the API's JSON body.

Both end as rows for `core.outcomes.upsert_outcome_counts`. Lines repeating a (date, outcome, department)
are summed, so a file listing each agent's tickets per day counts them all. Nothing here writes: a bad
file or body raises, and the caller's transaction stores nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from connectors.files.base import (
    BadFile,
    RawFile,
    RowErrors,
    SkippedRow,
    count_cells,
    day_cells,
    find_column,
    read_table,
    text_of,
)
from connectors.webhooks import read_json_object
from core.outcomes import MAX_COUNT, OutcomeCountRow
from core.security import InvalidInput

COLUMNS = "date, outcome, count and optionally department"
EXAMPLE = "2026-11-20,Support ticket resolved,42,Support"
MAX_BODY_BYTES = 1_048_576
MAX_API_ROWS = 10_000
_SLASH_DATE = re.compile(r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})\s*$")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_API_FIELDS = ("date", "outcome", "outcome_id", "count", "department")
_LISTED = 20


@dataclass
class ParsedOutcomes:
    """A file's counts, ready for upsert_outcome_counts, and what was left out."""

    rows: list[OutcomeCountRow]
    rows_read: int
    skipped: list[SkippedRow] = field(default_factory=list)
    merged: int = 0  # lines added into an earlier line with the same date, outcome and department


def known_names(definitions: Iterable[str]) -> str:
    names = sorted(definitions, key=str.lower)
    listed = ", ".join(f"'{name}'" for name in names[:_LISTED])
    return listed + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _lookup(definitions: Mapping[str, int]) -> dict[str, int]:
    return {" ".join(name.split()).casefold(): outcome_id for name, outcome_id in definitions.items()}


def _summed(rows: Iterable[OutcomeCountRow]) -> tuple[list[OutcomeCountRow], int]:
    totals: dict[tuple[int, dt.date, str], int] = {}
    lines = 0
    for row in rows:
        lines += 1
        key = (row.outcome_id, row.day, row.department)
        totals[key] = totals.get(key, 0) + row.count
    out = [OutcomeCountRow(o, d, dept, c) for (o, d, dept), c in totals.items()]
    out.sort(key=lambda r: (r.day, r.outcome_id, r.department))
    return out, lines - len(out)


# CSV ---------------------------------------------------------------------------------------------


def _iso_dates(values: pd.Series) -> pd.Series:
    """US dates (11/20/2026) as ISO, unless a first number over 12 shows the file is day-first (20/11/2026)."""
    text = values.astype(str).str.strip()
    parts = text.str.extract(_SLASH_DATE)
    if parts[0].isna().all():
        return text
    day_first = bool((pd.to_numeric(parts[0], errors="coerce") > 12).any())
    month, day = (2, 1) if day_first else (1, 2)

    def iso(m: re.Match[str]) -> str:
        year = m.group(3) if len(m.group(3)) == 4 else f"20{m.group(3)}"
        return f"{year}-{m.group(month):0>2}-{m.group(day):0>2}"

    return text.str.replace(_SLASH_DATE, iso, regex=True)


def _days(frame: pd.DataFrame, column: str, errors: RowErrors, today: dt.date | None) -> list[dt.date]:
    """The date column as days; a bad date is reported as the person wrote it, not as we rewrote it."""
    probe = RowErrors(skip_bad_rows=True)
    parsed = day_cells(frame.assign(**{column: _iso_dates(frame[column])}), column, probe)
    written = dict(zip(frame["row"].tolist(), frame[column].tolist(), strict=True))
    for bad in probe.skipped:
        cell = str(written[bad.row]).strip()
        reason = "the date is blank" if not cell else f"'{cell[:40]}' is not a date"
        errors.report(bad.row, column, reason, "Dates look like 2026-11-20 or 11/20/2026.")
    days = [stamp.date() for stamp in parsed]
    if today is not None:
        for row, day in zip(frame["row"].tolist(), days, strict=True):
            if day > today + dt.timedelta(days=1):
                errors.report(int(row), column, f"{day} is in the future", "Count outcomes once they have happened.")
    return days


def _counts(frame: pd.DataFrame, column: str, errors: RowErrors) -> list[int]:
    text = frame[column].astype(str).str.strip()
    for row in frame.loc[text == "", "row"]:
        errors.report(int(row), column, "the count is blank", "Write 0 if there were none that day.")
    # '1,200' is a whole number written the spreadsheet way.
    cleaned = frame.assign(**{column: text.str.replace(r"(?<=\d),(?=\d{3}\b)", "", regex=True)})
    return [int(c) for c in count_cells(cleaned, column, errors)]


def parse_outcome_csv(
    data: bytes,
    *,
    definitions: Mapping[str, int],
    skip_bad_rows: bool = False,
    name: str = "outcomes.csv",
    today: dt.date | None = None,
) -> ParsedOutcomes:
    """A CSV of daily outcome counts (columns date, outcome, count[, department], any case) as count rows.

    `definitions` maps the workspace's outcome names to ids; names in the file match regardless of case.
    Raises BadFile naming the row and column, unless `skip_bad_rows`, when such rows are listed in `skipped`.
    Given `today`, dates after tomorrow are refused.
    """
    if not data.strip():
        raise BadFile(f"The file is empty. It needs a header row ({COLUMNS}) and one line per day, e.g. {EXAMPLE}.")
    raw = RawFile(name, data)
    if raw.looks_like_json():
        raise BadFile(f"This is JSON; outcome counts are uploaded as CSV with the columns {COLUMNS}.")
    frame = read_table(raw)
    found = {wanted: find_column(frame.columns, wanted) for wanted in ("date", "outcome", "count", "department")}
    missing = [wanted for wanted in ("date", "outcome", "count") if found[wanted] is None]
    if missing:
        seen = ", ".join(f"'{c}'" for c in list(frame.columns)[:12] if c != "row")
        raise BadFile(
            f"The file has no column '{missing[0]}'. Outcome files have the columns {COLUMNS}, e.g. {EXAMPLE}; "
            f"the columns found were {seen}."
        )
    if frame.empty:
        raise BadFile(f"The file has a header but no rows. Add one line per day and outcome, e.g. {EXAMPLE}.")
    if not definitions:
        raise BadFile(
            "This workspace has no outcomes defined yet. Define them first (the templates are a quick start)."
        )
    date_col, outcome_col, count_col = str(found["date"]), str(found["outcome"]), str(found["count"])
    errors = RowErrors(skip_bad_rows=skip_bad_rows)
    days = _days(frame, date_col, errors, today)
    ids = _lookup(definitions)
    outcome_ids: list[int] = []
    for row, cell in zip(frame["row"].tolist(), text_of(frame, outcome_col).tolist(), strict=True):
        outcome_id = ids.get(" ".join(cell.split()).casefold())
        if outcome_id is None:
            reason = (
                "the outcome is blank" if not cell else f"'{cell[:40]}' is not an outcome defined in this workspace"
            )
            errors.report(int(row), outcome_col, reason, f"The outcomes are {known_names(definitions)}.")
            outcome_id = 0
        outcome_ids.append(outcome_id)
    counts = _counts(frame, count_col, errors)
    departments = text_of(frame, found["department"] or "").str.slice(0, 80).tolist()
    bad = {skipped.row for skipped in errors.skipped}
    rows, merged = _summed(
        OutcomeCountRow(outcome_id, day, department, count)
        for row, outcome_id, day, department, count in zip(
            frame["row"].tolist(), outcome_ids, days, departments, counts, strict=True
        )
        if row not in bad
    )
    if any(row.count > MAX_COUNT for row in rows):
        raise BadFile("The counts add up to more than a quadrillion for one day; check the count column.")
    return ParsedOutcomes(rows=rows, rows_read=len(frame), skipped=errors.skipped, merged=merged)


# The API's JSON body -----------------------------------------------------------------------------


class OutcomesRejected(InvalidInput):
    """A request the outcomes API refuses: `status` is the HTTP answer, the message says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json_body(body: bytes) -> dict[str, Any]:
    return read_json_object(body, example='{"outcomes": [...]}', reject=OutcomesRejected)


@dataclass(frozen=True)
class _Known:
    """A workspace's outcomes, looked up by name (any case) or by id."""

    by_name: dict[str, int]
    ids: frozenset[int]
    listed: str

    @classmethod
    def of(cls, definitions: Mapping[str, int]) -> _Known:
        return cls(_lookup(definitions), frozenset(definitions.values()), known_names(definitions) or "none yet")


def _api_row(item: Any, where: str, known: _Known, today: dt.date) -> OutcomeCountRow:
    if not isinstance(item, dict):
        raise OutcomesRejected(422, f"{where}: expected an object with date, outcome and count.")
    unknown = sorted(str(name) for name in item if name not in _API_FIELDS)
    if unknown:
        raise OutcomesRejected(
            422, f"{where}.{unknown[0][:40]}: not a field meterr knows (known: {', '.join(_API_FIELDS)})."
        )
    day_text = item.get("date")
    try:
        if not isinstance(day_text, str) or not _ISO_DAY.fullmatch(day_text):
            raise ValueError
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        shown = repr(day_text) if isinstance(day_text, str) else json.dumps(day_text, default=str)
        raise OutcomesRejected(422, f"{where}.date: {shown[:40]} is not a date (use YYYY-MM-DD).") from None
    if day > today + dt.timedelta(days=1):
        raise OutcomesRejected(422, f"{where}.date: {day} is in the future; send outcomes once they have happened.")
    outcome_id = _outcome_of(item, where, known)
    count = item.get("count")
    if isinstance(count, Decimal) and count.is_finite() and count == count.to_integral_value():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise OutcomesRejected(422, f"{where}.count: must be a whole number of at least 0, e.g. 42.")
    department = item.get("department", "")
    if department is None:
        department = ""
    if not isinstance(department, str) or len(department.strip()) > 80:
        raise OutcomesRejected(422, f"{where}.department: must be text of at most 80 characters.")
    return OutcomeCountRow(outcome_id, day, department.strip(), count)


def _outcome_of(item: Mapping[str, Any], where: str, known: _Known) -> int:
    if "outcome" in item and "outcome_id" in item:
        raise OutcomesRejected(422, f"{where}: give outcome or outcome_id, not both.")
    if "outcome_id" in item:
        outcome_id = item["outcome_id"]
        if isinstance(outcome_id, bool) or not isinstance(outcome_id, int) or outcome_id not in known.ids:
            shown = json.dumps(outcome_id, default=str)[:40]
            raise OutcomesRejected(422, f"{where}.outcome_id: {shown} is not an outcome of this workspace.")
        return outcome_id
    name = item.get("outcome")
    if not isinstance(name, str) or not name.strip():
        raise OutcomesRejected(422, f'{where}.outcome: required, the outcome\'s name, e.g. "Support ticket resolved".')
    found = known.by_name.get(" ".join(name.split()).casefold())
    if found is None:
        raise OutcomesRejected(
            422, f"{where}.outcome: '{name[:40]}' is not an outcome defined in this workspace (known: {known.listed})."
        )
    return found


def parse_outcome_json(body: bytes, *, definitions: Mapping[str, int], today: dt.date) -> list[OutcomeCountRow]:
    """`{"outcomes": [{"date": "2026-11-20", "outcome": "Support ticket resolved", "count": 42,
    "department": "Support"}]}` (or `outcome_id` instead of `outcome`) as count rows, repeated keys summed.

    Raises OutcomesRejected: 413 over 1 MB, 422 naming the field and its index (`outcomes[2].count: ...`).
    """
    if len(body) > MAX_BODY_BYTES:
        raise OutcomesRejected(413, "The body is larger than 1 MB; send fewer outcomes per request.")
    value = _json_body(body)
    unknown = sorted(str(name) for name in value if name != "outcomes")
    if unknown:
        raise OutcomesRejected(422, f"{unknown[0][:40]}: not a field meterr knows (known: outcomes).")
    items = value.get("outcomes")
    if not isinstance(items, list) or not items:
        raise OutcomesRejected(
            422, 'outcomes: expected a non-empty list, e.g. [{"date": "2026-11-20", "outcome": "...", "count": 42}].'
        )
    if len(items) > MAX_API_ROWS:
        raise OutcomesRejected(422, f"outcomes: at most {MAX_API_ROWS:,} per request; split them over several.")
    known = _Known.of(definitions)
    rows, _ = _summed(_api_row(item, f"outcomes[{index}]", known, today) for index, item in enumerate(items))
    for row in rows:
        if row.count > MAX_COUNT:
            raise OutcomesRejected(422, "outcomes: the counts for one day add up to more than a quadrillion.")
    return rows
