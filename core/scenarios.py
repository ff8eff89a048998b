"""Saved ROI what-if scenarios (named slider positions per workspace), and the what-if baseline's token read."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from core import outcomes, queries
from core.models import Charge, RoiScenario
from core.queries import NotFound
from core.security import InvalidInput

MAX_SCENARIOS = 50  # per workspace: a comparison table, not an archive
MAX_SETTINGS_CHARS = 10_000  # slider positions are a few hundred characters; more is not slider positions
_SCENARIO = RoiScenario.metadata.tables["roiscenario"]
_CHARGE = Charge.metadata.tables["charge"]


def _name(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput("The scenario name must be text.")
    name = " ".join(value.split())
    if not name:
        raise InvalidInput("Give the scenario a name, for example 'Move support to gpt-4o-mini'.")
    if len(name) > 80:
        raise InvalidInput(f"The scenario name is {len(name)} characters long; keep it to 80.")
    return name


def _settings(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput("A scenario's settings are a set of slider positions.")
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("A scenario's settings must be plain numbers and names.") from None
    if len(text) > MAX_SETTINGS_CHARS:
        raise InvalidInput("These scenario settings are too large to save.")
    return dict(json.loads(text))


def _find(session: Session, workspace_id: int, name: str) -> RoiScenario | None:
    """The scenario of that name, ignoring case: 'Q1 plan' and 'q1 plan' would read as one in the table."""
    return session.execute(
        select(RoiScenario).where(
            _SCENARIO.c.workspace_id == workspace_id, func.lower(_SCENARIO.c.name) == name.lower()
        )
    ).scalar_one_or_none()


def save_scenario(
    session: Session, *, workspace_id: int, name: str, settings: dict[str, Any]
) -> tuple[RoiScenario, bool]:
    """Save slider positions under a name; a scenario of the same name (any case) is replaced.

    Returns the scenario and whether it is new. Raises InvalidInput with a plain-English reason.
    """
    name, settings = _name(name), _settings(settings)
    existing = _find(session, workspace_id, name)
    if existing is not None:
        session.execute(
            update(_SCENARIO)
            .where(_SCENARIO.c.workspace_id == workspace_id, _SCENARIO.c.id == existing.id)
            .values(name=name, settings=settings)
        )
        session.refresh(existing)
        return existing, False
    count = session.execute(
        select(func.count()).select_from(_SCENARIO).where(_SCENARIO.c.workspace_id == workspace_id)
    ).scalar_one()
    if count >= MAX_SCENARIOS:
        raise InvalidInput(f"A workspace keeps at most {MAX_SCENARIOS} scenarios; delete one you no longer need.")
    scenario = RoiScenario(workspace_id=workspace_id, name=name, settings=settings)
    session.add(scenario)
    session.flush()
    return scenario, True


def load_scenarios(session: Session, *, workspace_id: int) -> list[RoiScenario]:
    """Every saved scenario of a workspace, oldest first (the order they were thought of)."""
    return list(
        session.execute(
            select(RoiScenario)
            .where(_SCENARIO.c.workspace_id == workspace_id)
            .order_by(_SCENARIO.c.created_at, _SCENARIO.c.id)
        ).scalars()
    )


def delete_scenario(session: Session, *, workspace_id: int, name: str) -> None:
    """Forget a scenario by name (any case); one of another workspace is not found."""
    found = _find(session, workspace_id, _name(name))
    if found is None:
        raise NotFound(f"There is no scenario called '{name}' in this workspace.")
    session.execute(delete(_SCENARIO).where(_SCENARIO.c.workspace_id == workspace_id, _SCENARIO.c.id == found.id))


def load_cached_tokens(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Cached input tokens in [start, end] per provider × model: columns provider, model, cached_tokens.

    The rollups do not keep cached tokens, and the caching slider must not offer savings on tokens already
    served from cache, so this one sum reads the charges (a month of them, through the workspace-day index).
    """
    rows = session.execute(
        select(_CHARGE.c.provider, _CHARGE.c.model, func.sum(_CHARGE.c.cached_tokens))
        .where(
            _CHARGE.c.workspace_id == workspace_id,
            _CHARGE.c.day >= start,
            _CHARGE.c.day <= end,
            _CHARGE.c.cached_tokens != 0,
        )
        .group_by(_CHARGE.c.provider, _CHARGE.c.model)
        .order_by(_CHARGE.c.provider, _CHARGE.c.model)
    ).all()
    return pd.DataFrame(
        {
            "provider": pd.Series([str(r[0]) for r in rows], dtype="str"),
            "model": pd.Series([str(r[1]) for r in rows], dtype="str"),
            # PostgreSQL sums BIGINT as NUMERIC (Decimal); every value is a whole number.
            "cached_tokens": pd.Series([int(r[2]) for r in rows], dtype="int64"),
        }
    )


def load_whatif_aggregates(
    session: Session, *, workspace_id: int, start: dt.date, end: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What `insights.whatif.compute_baseline` reads for [start, end], a few dozen rows however many charges.

    Usage per provider × model (amount_micros, input_tokens, output_tokens from the rollups, cached_tokens
    from the charges) and outcome volumes (outcome, count, value_micros per unit).
    """
    spend = queries.load_spend_breakdown(session, workspace_id=workspace_id, start=start, end=end)
    measures = ["amount_micros", "input_tokens", "output_tokens"]
    usage = spend.groupby(["provider", "model"], as_index=False, sort=True)[measures].sum()
    cached = load_cached_tokens(session, workspace_id=workspace_id, start=start, end=end)
    usage = usage.merge(cached, on=["provider", "model"], how="left").fillna({"cached_tokens": 0})
    totals = outcomes.load_outcome_totals(session, workspace_id=workspace_id, start=start, end=end)
    volumes = pd.DataFrame(
        {"outcome": totals["name"], "count": totals["count"], "value_micros": totals["unit_value_micros"]}
    )
    return usage.astype({"cached_tokens": "int64"}), volumes
