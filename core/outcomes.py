"""Business outcomes: what AI work is worth ("a resolved ticket is worth $8") and how many happened each day."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from core.models import OutcomeCount, OutcomeDefinition, Workspace
from core.money import to_micros
from core.queries import NotFound
from core.security import InvalidInput

MAX_VALUE_USD = Decimal(1_000_000)  # per unit; more is a typo, not an outcome
MAX_COUNT = 10**15  # per day, outcome and department; far beyond anything real, well inside int64
_DEFINITION = OutcomeDefinition.metadata.tables["outcomedefinition"]
_COUNT = OutcomeCount.metadata.tables["outcomecount"]
_WORKSPACE = Workspace.metadata.tables["workspace"]
_COUNT_KEY = ("workspace_id", "outcome_id", "day", "department")
_CHUNK = 500
_MONEY_JUNK = re.compile(r"[\s$,]")


@dataclass(frozen=True)
class OutcomeTemplate:
    name: str
    unit: str
    value_usd: Decimal
    department: str


OUTCOME_TEMPLATES = (
    OutcomeTemplate("Support ticket resolved", "ticket", Decimal(8), "Support"),
    OutcomeTemplate("Qualified lead", "lead", Decimal(120), "Marketing"),
    OutcomeTemplate("Article published", "article", Decimal(150), "Content"),
    OutcomeTemplate("Code review completed", "review", Decimal(45), "Engineering"),
    OutcomeTemplate("Customer onboarded", "customer", Decimal(400), "Customer Success"),
)


@dataclass(frozen=True, slots=True)
class OutcomeCountRow:
    """How many of one outcome happened on a day, in a department ('' when the source does not say)."""

    outcome_id: int
    day: dt.date
    department: str
    count: int


@dataclass(frozen=True)
class OutcomeUpsert:
    written: int = 0  # new (outcome, day, department) counts
    replaced: int = 0  # counts that were there with another number
    unchanged: int = 0  # counts sent again with the same number


# Definitions -------------------------------------------------------------------------------------


def _text(value: str, *, what: str, size: int, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.")
    text = " ".join(value.split())
    if required and not text:
        raise InvalidInput(f"Give the outcome a {what}, for example 'Support ticket resolved'.")
    if len(text) > size:
        raise InvalidInput(f"The {what} is {len(text)} characters long; keep it to {size}.")
    return text


def _value_micros(value_usd: Decimal | str) -> int:
    """Dollars per unit as micro-dollars: '8', '$1,200.50' or Decimal('0.25'); no floats, no negatives."""
    if isinstance(value_usd, bool) or not isinstance(value_usd, Decimal | str):
        raise InvalidInput("Give the value per unit in dollars as text or a Decimal, e.g. '8.00'.")
    try:
        value = Decimal(_MONEY_JUNK.sub("", value_usd)) if isinstance(value_usd, str) else value_usd
    except InvalidOperation:
        raise InvalidInput(f"'{str(value_usd)[:40]}' is not an amount of dollars; write it like 8 or 120.50.") from None
    if not value.is_finite():
        raise InvalidInput("The value per unit must be an amount of dollars, like 8 or 120.50.")
    if value < 0:
        raise InvalidInput("The value per unit cannot be negative; an outcome is worth $0 or more.")
    if value > MAX_VALUE_USD:
        raise InvalidInput(f"The value per unit is at most ${MAX_VALUE_USD:,}; check for a typo.")
    if value != value.quantize(Decimal("0.000001")):
        raise InvalidInput("The value per unit has more than 6 decimal places; round it to cents.")
    return to_micros(value)


def load_outcome_definition(session: Session, *, workspace_id: int, outcome_id: int) -> OutcomeDefinition:
    """One outcome of this workspace (one of another workspace is not found)."""
    definition = session.get(OutcomeDefinition, outcome_id)
    if definition is None or definition.workspace_id != workspace_id:
        raise NotFound("There is no such outcome in this workspace.")
    return definition


def save_outcome_definition(
    session: Session,
    *,
    workspace_id: int,
    name: str,
    unit: str,
    value_usd: Decimal | str,
    department: str = "",
    project: str = "",
    feature: str = "",
    outcome_id: int | None = None,
) -> OutcomeDefinition:
    """Create an outcome, or change the one with `outcome_id`; raises InvalidInput with a plain-English reason.

    Names are unique per workspace regardless of case, because files and the API match them that way.
    """
    name = _text(name, what="name", size=80, required=True)
    values: dict[str, Any] = {
        "name": name,
        "unit": _text(unit, what="unit", size=40),
        "value_micros": _value_micros(value_usd),
        "department": _text(department, what="department", size=80),
        "project": _text(project, what="project", size=80),
        "feature": _text(feature, what="feature", size=80),
    }
    clash = session.execute(
        select(_DEFINITION.c.id).where(
            _DEFINITION.c.workspace_id == workspace_id,
            func.lower(_DEFINITION.c.name) == name.lower(),
            _DEFINITION.c.id != (outcome_id if outcome_id is not None else -1),
        )
    ).first()
    if clash is not None:
        raise InvalidInput(f"There is already an outcome called '{name}'; choose another name or edit that one.")
    if outcome_id is None:
        definition = OutcomeDefinition(workspace_id=workspace_id, **values)
    else:
        definition = load_outcome_definition(session, workspace_id=workspace_id, outcome_id=outcome_id)
        for field_name, value in values.items():
            setattr(definition, field_name, value)
    session.add(definition)
    session.flush()
    _touch(session, workspace_id)
    return definition


def load_outcome_definitions(session: Session, *, workspace_id: int) -> list[OutcomeDefinition]:
    """Every outcome of a workspace, by name."""
    return list(
        session.execute(
            select(OutcomeDefinition)
            .where(_DEFINITION.c.workspace_id == workspace_id)
            .order_by(_DEFINITION.c.name, _DEFINITION.c.id)
        ).scalars()
    )


def load_outcome_names(session: Session, *, workspace_id: int) -> dict[str, int]:
    """Outcome name → id, what the CSV and API parsers match names against."""
    rows = session.execute(
        select(_DEFINITION.c.name, _DEFINITION.c.id).where(_DEFINITION.c.workspace_id == workspace_id)
    ).all()
    return {str(name): int(outcome_id) for name, outcome_id in rows}


def delete_outcome_definition(session: Session, *, workspace_id: int, outcome_id: int) -> None:
    """Forget an outcome and every count of it."""
    definition = load_outcome_definition(session, workspace_id=workspace_id, outcome_id=outcome_id)
    # The foreign key cascades too, but only where the database enforces it; say it outright.
    session.execute(delete(_COUNT).where(_COUNT.c.workspace_id == workspace_id, _COUNT.c.outcome_id == outcome_id))
    session.delete(definition)
    session.flush()
    _touch(session, workspace_id)


def _touch(session: Session, workspace_id: int) -> None:
    """Cached profitability views key on data_version, so they must see any change to outcomes."""
    session.execute(
        update(_WORKSPACE).where(_WORKSPACE.c.id == workspace_id).values(data_version=_WORKSPACE.c.data_version + 1)
    )


# Counts ------------------------------------------------------------------------------------------


def _checked(row: OutcomeCountRow | tuple[int, dt.date, str, int], known_ids: set[int]) -> OutcomeCountRow:
    """One count row, checked: a bad row here is a caller's bug or a foreign outcome, so it raises."""
    if isinstance(row, OutcomeCountRow):
        outcome_id, day, department, count = row.outcome_id, row.day, row.department, row.count
    else:
        outcome_id, day, department, count = row
    if isinstance(outcome_id, bool) or not isinstance(outcome_id, int) or outcome_id not in known_ids:
        raise InvalidInput(f"Outcome {outcome_id!r} is not defined in this workspace.")
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidInput(f"Outcome counts are per day; {day!r} is not a date.")
    if not isinstance(department, str) or len(department.strip()) > 80:
        raise InvalidInput("A department is text of at most 80 characters.")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise InvalidInput(f"A count must be a whole number of at least 0, not {count!r}.")
    return OutcomeCountRow(outcome_id, day, department.strip(), count)


def _upsert_statement(session: Session) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE: two deliveries of the same new day at once both succeed."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_COUNT)
    return statement.on_conflict_do_update(index_elements=list(_COUNT_KEY), set_={"count": statement.excluded.count})


def upsert_outcome_counts(
    session: Session, *, workspace_id: int, rows: Iterable[OutcomeCountRow | tuple[int, dt.date, str, int]]
) -> OutcomeUpsert:
    """Store daily counts; a count for a day, outcome and department already stored is replaced, not added to.

    So a corrected file or a repeated API call fixes the numbers instead of doubling them. A key twice in one
    call, or an outcome of another workspace, raises InvalidInput and the caller's transaction writes nothing.
    """
    ids = set(load_outcome_names(session, workspace_id=workspace_id).values())
    checked: dict[tuple[int, dt.date, str], int] = {}
    for raw in rows:
        row = _checked(raw, ids)
        key = (row.outcome_id, row.day, row.department)
        if key in checked:
            raise InvalidInput(
                f"The count for outcome {row.outcome_id} on {row.day} ('{row.department}') appears twice in one import."
            )
        checked[key] = row.count
    if not checked:
        return OutcomeUpsert()
    days = [key[1] for key in checked]
    existing: dict[tuple[int, dt.date, str], int] = {}
    for outcome_id, day, department, count in session.execute(
        select(_COUNT.c.outcome_id, _COUNT.c.day, _COUNT.c.department, _COUNT.c.count).where(
            _COUNT.c.workspace_id == workspace_id,
            _COUNT.c.outcome_id.in_({key[0] for key in checked}),
            _COUNT.c.day >= min(days),
            _COUNT.c.day <= max(days),
        )
    ):
        existing[(int(outcome_id), _as_date(day), str(department))] = int(count)
    written = replaced = unchanged = 0
    changes: list[dict[str, Any]] = []
    for (outcome_id, day, department), count in checked.items():
        old = existing.get((outcome_id, day, department))
        if old == count:
            unchanged += 1
            continue
        if old is None:
            written += 1
        else:
            replaced += 1
        key_values = {"workspace_id": workspace_id, "outcome_id": outcome_id, "day": day, "department": department}
        changes.append({**key_values, "count": count})
    if changes:
        statement = _upsert_statement(session)
        for start in range(0, len(changes), _CHUNK):
            session.execute(statement, changes[start : start + _CHUNK])
        _touch(session, workspace_id)
    return OutcomeUpsert(written=written, replaced=replaced, unchanged=unchanged)


def delete_outcome_count(
    session: Session, *, workspace_id: int, outcome_id: int, day: dt.date, department: str
) -> bool:
    """Remove one day's count (a row deleted in the grid); returns whether there was one."""
    deleted = session.execute(
        delete(_COUNT).where(
            _COUNT.c.workspace_id == workspace_id,
            _COUNT.c.outcome_id == outcome_id,
            _COUNT.c.day == day,
            _COUNT.c.department == department,
        )
    ).rowcount  # type: ignore[attr-defined]
    if deleted:
        _touch(session, workspace_id)
    return bool(deleted)


# Reads -------------------------------------------------------------------------------------------


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _department() -> Any:
    """The count's own department, else the outcome's: a count says where it happened when it knows."""
    return func.coalesce(func.nullif(_COUNT.c.department, ""), _DEFINITION.c.department)


def load_outcome_totals(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Outcomes in [start, end] per outcome and department, every defined outcome included (count 0 if none).

    Columns: outcome_id, name, unit, department, unit_value_micros (per unit), count, value_micros (total).
    The department is the count's own, or the outcome's where the count has none.
    """
    department = _department().label("department")
    counted = session.execute(
        select(_COUNT.c.outcome_id, department, func.sum(_COUNT.c.count))
        .join(_DEFINITION, _DEFINITION.c.id == _COUNT.c.outcome_id)
        .where(
            _COUNT.c.workspace_id == workspace_id,
            _DEFINITION.c.workspace_id == workspace_id,
            _COUNT.c.day >= start,
            _COUNT.c.day <= end,
        )
        .group_by(_COUNT.c.outcome_id, department)
    ).all()
    sums: dict[int, dict[str, int]] = {}
    for outcome_id, dept, total in counted:
        # PostgreSQL sums BIGINT as NUMERIC (Decimal); every value is a whole number.
        sums.setdefault(int(outcome_id), {})[str(dept)] = int(total)
    records: list[tuple[Any, ...]] = []
    for definition in load_outcome_definitions(session, workspace_id=workspace_id):
        assert definition.id is not None
        per_department = sums.get(definition.id) or {definition.department: 0}
        for dept, count in sorted(per_department.items()):
            records.append(
                (definition.id, definition.name, definition.unit, dept, definition.value_micros, count,
                 count * definition.value_micros)
            )  # fmt: skip
    columns = ("outcome_id", "name", "unit", "department", "unit_value_micros", "count", "value_micros")
    return _frame(records, columns)


def load_outcome_daily(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Outcomes per day in [start, end] (days without counts are absent).

    Columns: day, outcome_id, outcome (its name), department, count, value_micros (count × value per unit).
    """
    department = _department().label("department")
    rows = session.execute(
        select(
            _COUNT.c.day, _COUNT.c.outcome_id, _DEFINITION.c.name, department, func.sum(_COUNT.c.count),
            _DEFINITION.c.value_micros,
        )
        .join(_DEFINITION, _DEFINITION.c.id == _COUNT.c.outcome_id)
        .where(
            _COUNT.c.workspace_id == workspace_id,
            _DEFINITION.c.workspace_id == workspace_id,
            _COUNT.c.day >= start,
            _COUNT.c.day <= end,
        )
        .group_by(_COUNT.c.day, _COUNT.c.outcome_id, _DEFINITION.c.name, department, _DEFINITION.c.value_micros)
        .order_by(_COUNT.c.day, _DEFINITION.c.name, department)
    ).all()  # fmt: skip
    records = [
        (_as_date(day), int(outcome_id), str(name), str(dept), int(count), int(count) * int(value))
        for day, outcome_id, name, dept, count, value in rows
    ]
    return _frame(records, ("day", "outcome_id", "outcome", "department", "count", "value_micros"))


def load_outcome_counts(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The stored counts as they are (department '' where the source gave none), for editing by hand.

    Columns: day, outcome_id, outcome, department, count.
    """
    rows = session.execute(
        select(_COUNT.c.day, _COUNT.c.outcome_id, _DEFINITION.c.name, _COUNT.c.department, _COUNT.c.count)
        .join(_DEFINITION, _DEFINITION.c.id == _COUNT.c.outcome_id)
        .where(
            _COUNT.c.workspace_id == workspace_id,
            _DEFINITION.c.workspace_id == workspace_id,
            _COUNT.c.day >= start,
            _COUNT.c.day <= end,
        )
        .order_by(_COUNT.c.day.desc(), _DEFINITION.c.name, _COUNT.c.department)
    ).all()
    records = [(_as_date(d), int(o), str(n), str(dept), int(c)) for d, o, n, dept, c in rows]
    return _frame(records, ("day", "outcome_id", "outcome", "department", "count"))


_INTEGER_COLUMNS = frozenset({"outcome_id", "unit_value_micros", "count", "value_micros"})


def _frame(records: list[tuple[Any, ...]], names: tuple[str, ...]) -> pd.DataFrame:
    columns = list(zip(*records, strict=True)) if records else [() for _ in names]
    data: dict[str, pd.Series] = {}
    for name, values in zip(names, columns, strict=True):
        if name == "day":
            # pandas infers seconds from dates; nanoseconds match an empty frame's dtype, so frames combine cleanly.
            data[name] = pd.Series(pd.to_datetime(list(values)), dtype="datetime64[ns]")
        elif name in _INTEGER_COLUMNS:
            data[name] = pd.Series(list(values), dtype="int64")
        else:
            data[name] = pd.Series(list(values), dtype="str")
    return pd.DataFrame(data, columns=list(names))
