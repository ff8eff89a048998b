"""Business outcomes from the UI: definitions and counts (CSV and grid); admins change, all audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from connectors.files.outcomes import ParsedOutcomes, parse_outcome_csv
from core import outcomes, queries
from core.money import decimal_string
from core.security import InvalidInput
from ui.context import Context, require_role
from ui.db import open_session


@dataclass(frozen=True)
class Definition:
    id: int
    name: str
    unit: str
    value_usd: str
    department: str
    project: str


def load_definitions(ctx: Context) -> list[Definition]:
    with open_session() as session:
        return [
            Definition(d.id or 0, d.name, d.unit, decimal_string(d.value_micros), d.department, d.project)
            for d in outcomes.load_outcome_definitions(session, workspace_id=ctx.workspace_id)
        ]


def save_definition(
    ctx: Context, *, name: str, unit: str, value_usd: str | Decimal, department: str = "", project: str = "",
    outcome_id: int | None = None,
) -> None:  # fmt: skip
    require_role(ctx, "admin")
    with open_session() as session:
        saved = outcomes.save_outcome_definition(
            session, workspace_id=ctx.workspace_id, name=name, unit=unit, value_usd=value_usd,
            department=department, project=project, outcome_id=outcome_id,
        )  # fmt: skip
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="outcome.saved",
            outcome_id=saved.id, name=saved.name,
        )  # fmt: skip


def delete_definition(ctx: Context, outcome_id: int) -> None:
    require_role(ctx, "admin")
    with open_session() as session:
        outcomes.delete_outcome_definition(session, workspace_id=ctx.workspace_id, outcome_id=outcome_id)
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="outcome.deleted", outcome_id=outcome_id
        )


def preview_counts(ctx: Context, data: bytes, *, name: str, skip_bad_rows: bool) -> ParsedOutcomes:
    """Parse an outcome CSV against this workspace's outcomes without writing; BadFile says what is wrong."""
    with open_session() as session:
        names = outcomes.load_outcome_names(session, workspace_id=ctx.workspace_id)
    return parse_outcome_csv(data, definitions=names, skip_bad_rows=skip_bad_rows, name=name, today=ctx.today())


def import_counts(ctx: Context, data: bytes, *, name: str, skip_bad_rows: bool) -> outcomes.OutcomeUpsert:
    """Parse and store an outcome CSV in one transaction: all of it, or nothing."""
    require_role(ctx, "admin")
    with open_session() as session:
        names = outcomes.load_outcome_names(session, workspace_id=ctx.workspace_id)
        parsed = parse_outcome_csv(data, definitions=names, skip_bad_rows=skip_bad_rows, name=name, today=ctx.today())
        result = outcomes.upsert_outcome_counts(session, workspace_id=ctx.workspace_id, rows=parsed.rows)
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="outcomes.imported",
            filename=name[:120], rows=parsed.rows_read,
        )  # fmt: skip
    return result


def load_recent_counts(ctx: Context, *, days: int = 14) -> pd.DataFrame:
    """The last `days` days of stored counts, newest first, for the editable grid."""
    end = ctx.today()
    with open_session() as session:
        counts = outcomes.load_outcome_counts(
            session, workspace_id=ctx.workspace_id, start=end - dt.timedelta(days=days - 1), end=end
        )
    grid = counts[["day", "outcome", "department", "count"]].reset_index(drop=True)
    grid["day"] = [d.date() if hasattr(d, "date") else d for d in grid["day"]]  # plain dates for the editor
    return grid


def save_count_edits(ctx: Context, before: pd.DataFrame, after: pd.DataFrame) -> outcomes.OutcomeUpsert | None:
    """Store the grid's changed or added rows; None when nothing changed."""
    require_role(ctx, "admin")
    keys = ["day", "outcome", "department"]
    old = {tuple(str(r[k]) for k in keys): int(r["count"]) for _, r in before.iterrows()}
    with open_session() as session:
        names = {n.lower(): i for n, i in outcomes.load_outcome_names(session, workspace_id=ctx.workspace_id).items()}
        rows = []
        for _, row in after.dropna(subset=["day", "outcome"]).iterrows():
            key = tuple(str(row[k] if row[k] is not None else "") for k in keys)
            count = int(row["count"] or 0)
            if old.get(key) == count:
                continue
            outcome_id = names.get(str(row["outcome"]).strip().lower())
            if outcome_id is None:
                raise InvalidInput(f"'{row['outcome']}' is not one of your outcomes; define it first.")
            day = row["day"] if isinstance(row["day"], dt.date) else dt.date.fromisoformat(str(row["day"]))
            rows.append((outcome_id, day, str(row["department"] or ""), count))
        if not rows:
            return None
        result = outcomes.upsert_outcome_counts(session, workspace_id=ctx.workspace_id, rows=rows)
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="outcomes.edited", rows=len(rows)
        )
    return result
