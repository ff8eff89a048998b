"""load_spend_series on SQLite and PostgreSQL: every granularity and grouping adds up to the charges exactly."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import Engine

from core import queries
from core.db import session_scope

WORK = (
    ("OpenAI", "gpt-4o", "Support", "helpdesk", "Northwind"),
    ("Anthropic", "claude-haiku-4-5", "", "", ""),
    ("Google", "gemini-2.5-pro", "Research", "lab", "Globex"),
)
FIRST = dt.date(2026, 8, 20)


def charges() -> list[dict[str, Any]]:
    rows = []
    for i in range(80):
        day = FIRST + dt.timedelta(days=i)
        for j, (provider, model, department, project, customer) in enumerate(WORK):
            if (i + j) % 4 == 0:
                continue  # some days without some work
            micros = 1_000_003 * (i % 9 + 1) + 77_777 * j - (3_000_000 if i == 40 and j == 1 else 0)
            rows.append({
                "source_key": f"{day}-{j}", "day": day, "provider": provider, "model": model, "department": department,
                "project": project, "customer": customer, "amount_micros": micros, "original_amount": "0",
            })  # fmt: skip
    return rows


@pytest.mark.postgres
def test_every_grouping_adds_up_to_the_charges(engine: Engine, workspace_id: int) -> None:
    rows = charges()
    with session_scope(engine) as session:
        other = queries.create_workspace(session, name="Other").id
        assert other is not None
        queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
        queries.upsert_charges(session, workspace_id=other, rows=[{**r, "amount_micros": 1} for r in rows])
    start, end = dt.date(2026, 8, 25), dt.date(2026, 10, 31)  # August cut, September and October whole
    for granularity in queries.GRANULARITIES:
        for group_by in (None, *queries.DIMENSIONS):
            expected: dict[tuple[Any, ...], int] = defaultdict(int)
            for row in rows:
                if start <= row["day"] <= end:
                    period = row["day"] if granularity == "day" else row["day"].replace(day=1)
                    expected[(period, *([row[group_by]] if group_by else []))] += row["amount_micros"]
            with session_scope(engine) as session:
                frame = queries.load_spend_series(
                    session, workspace_id=workspace_id, start=start, end=end, granularity=granularity,
                    group_by=group_by,
                )  # fmt: skip
            found = [tuple(r) for r in frame.itertuples(index=False)]
            assert {r[:-1]: r[-1] for r in found} == dict(expected), (granularity, group_by)
            assert found == sorted(found, key=lambda r: (r[0], -r[-1], *r[1:-1]))


def test_unknown_names_never_reach_the_sql(session: Any, workspace_id: int) -> None:
    day = dt.date(2026, 11, 1)
    with pytest.raises(ValueError, match="granularity"):
        queries.load_spend_series(session, workspace_id=workspace_id, start=day, end=day, granularity="week")
    with pytest.raises(ValueError, match="group_by"):
        queries.load_spend_series(session, workspace_id=workspace_id, start=day, end=day, group_by="1; DROP TABLE x")
