"""Saved ROI scenarios: upsert by name, workspace isolation, validation; the cached-token read of the baseline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import Session

from core import queries
from core.outcomes import save_outcome_definition, upsert_outcome_counts
from core.scenarios import (
    MAX_SCENARIOS,
    delete_scenario,
    load_cached_tokens,
    load_scenarios,
    load_whatif_aggregates,
    save_scenario,
)
from core.security import InvalidInput

SETTINGS = {"value_multiplier": "1.5", "volume_growth_pct": 10, "switch_from": ["OpenAI", "gpt-4o"]}


def names(session: Session, workspace_id: int) -> list[str]:
    return [s.name for s in load_scenarios(session, workspace_id=workspace_id)]


def test_save_then_load_keeps_settings_exactly(session: Session, workspace_id: int) -> None:
    scenario, created = save_scenario(
        session, workspace_id=workspace_id, name="  Cheaper   support ", settings=SETTINGS
    )
    assert created and scenario.id is not None
    [loaded] = load_scenarios(session, workspace_id=workspace_id)
    assert (loaded.name, loaded.settings) == ("Cheaper support", SETTINGS)


def test_saving_the_same_name_replaces_it_whatever_the_case(session: Session, workspace_id: int) -> None:
    first, _ = save_scenario(session, workspace_id=workspace_id, name="Q1 plan", settings=SETTINGS)
    second, created = save_scenario(session, workspace_id=workspace_id, name="q1 PLAN", settings={"batch_pct": 50})
    assert not created and second.id == first.id
    [loaded] = load_scenarios(session, workspace_id=workspace_id)
    assert (loaded.name, loaded.settings) == ("q1 PLAN", {"batch_pct": 50})


def test_scenarios_load_oldest_first(session: Session, workspace_id: int) -> None:
    for name in ("Zeta", "Alpha", "Mid"):
        save_scenario(session, workspace_id=workspace_id, name=name, settings={})
    assert names(session, workspace_id) == ["Zeta", "Alpha", "Mid"]


def test_delete_by_name(session: Session, workspace_id: int) -> None:
    save_scenario(session, workspace_id=workspace_id, name="Keep", settings={})
    save_scenario(session, workspace_id=workspace_id, name="Drop me", settings={})
    delete_scenario(session, workspace_id=workspace_id, name="drop ME")
    assert names(session, workspace_id) == ["Keep"]
    with pytest.raises(queries.NotFound, match="no scenario called 'Drop me'"):
        delete_scenario(session, workspace_id=workspace_id, name="Drop me")


def test_workspaces_never_see_each_others_scenarios(session: Session, workspace_id: int) -> None:
    other = queries.create_workspace(session, name="Other Co")
    assert other.id is not None
    save_scenario(session, workspace_id=workspace_id, name="Plan", settings={"batch_pct": 10})
    save_scenario(session, workspace_id=other.id, name="Plan", settings={"batch_pct": 90})
    assert [s.settings for s in load_scenarios(session, workspace_id=other.id)] == [{"batch_pct": 90}]
    delete_scenario(session, workspace_id=other.id, name="Plan")
    assert [s.settings for s in load_scenarios(session, workspace_id=workspace_id)] == [{"batch_pct": 10}]
    with pytest.raises(queries.NotFound):
        delete_scenario(session, workspace_id=other.id, name="Plan")


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("   ", {}, "Give the scenario a name"),
        ("x" * 81, {}, "81 characters long"),
        (42, {}, "must be text"),
        ("Plan", ["not", "a", "dict"], "slider positions"),
        ("Plan", {"when": dt.date(2026, 1, 1)}, "plain numbers and names"),
        ("Plan", {"x": float("nan")}, "plain numbers and names"),
        ("Plan", {"x": "y" * 10_001}, "too large"),
    ],
    ids=["blank", "too-long", "not-text", "not-a-dict", "not-json", "nan", "huge"],
)
def test_bad_input_is_refused_and_nothing_is_written(
    session: Session, workspace_id: int, name: Any, settings: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        save_scenario(session, workspace_id=workspace_id, name=name, settings=settings)
    assert names(session, workspace_id) == []


def test_a_workspace_keeps_a_bounded_number_of_scenarios(session: Session, workspace_id: int) -> None:
    for i in range(MAX_SCENARIOS):
        save_scenario(session, workspace_id=workspace_id, name=f"Plan {i}", settings={})
    with pytest.raises(InvalidInput, match=f"at most {MAX_SCENARIOS}"):
        save_scenario(session, workspace_id=workspace_id, name="One more", settings={})
    save_scenario(session, workspace_id=workspace_id, name="Plan 0", settings={"batch_pct": 5})  # replacing is fine
    assert len(names(session, workspace_id)) == MAX_SCENARIOS


def charge(key: str, day: dt.date, model: str, cached: int, **extra: Any) -> dict[str, Any]:
    return {
        "source_key": key, "day": day, "provider": extra.pop("provider", "OpenAI"), "model": model,
        "amount_micros": 1_000_000, "original_amount": "1", "input_tokens": cached * 2, "output_tokens": 10,
        "cached_tokens": cached, **extra,
    }  # fmt: skip


def test_cached_tokens_per_model_in_the_range_of_this_workspace(session: Session, workspace_id: int) -> None:
    other = queries.create_workspace(session, name="Other Co")
    assert other.id is not None
    day = dt.date(2026, 11, 20)
    queries.upsert_charges(
        session,
        workspace_id=workspace_id,
        rows=[
            charge("a", day, "gpt-4o", 4_000_000_000_000, department="Support"),
            charge("b", day, "gpt-4o", 1_000, department="Sales"),  # same model, another department: summed
            charge("c", day - dt.timedelta(days=1), "gpt-4o-mini", 7),
            charge("d", day, "gpt-4.1", 0),  # no cached tokens: no row
            charge("e", day - dt.timedelta(days=30), "gpt-4o", 999),  # before the range
            charge("f", day, "claude-haiku-4-5", 5, provider="Anthropic"),
        ],
    )
    queries.upsert_charges(session, workspace_id=other.id, rows=[charge("a", day, "gpt-4o", 123)])
    frame = load_cached_tokens(session, workspace_id=workspace_id, start=day - dt.timedelta(days=29), end=day)
    assert frame.to_dict("records") == [
        {"provider": "Anthropic", "model": "claude-haiku-4-5", "cached_tokens": 5},
        {"provider": "OpenAI", "model": "gpt-4o", "cached_tokens": 4_000_000_001_000},
        {"provider": "OpenAI", "model": "gpt-4o-mini", "cached_tokens": 7},
    ]
    assert str(frame["cached_tokens"].dtype) == "int64"
    empty = load_cached_tokens(session, workspace_id=workspace_id, start=day + dt.timedelta(days=1), end=day)
    assert empty.empty and list(empty.columns) == ["provider", "model", "cached_tokens"]


def test_whatif_aggregates_are_per_model_with_cached_tokens_and_outcome_volumes(
    session: Session, workspace_id: int
) -> None:
    day = dt.date(2026, 11, 20)
    queries.upsert_charges(
        session,
        workspace_id=workspace_id,
        rows=[
            charge("a", day, "gpt-4o", 100, department="Support", customer="Acme"),
            charge("b", day, "gpt-4o", 50, department="Sales"),
            charge("c", day, "gpt-4.1", 0),
            charge("d", day - dt.timedelta(days=40), "gpt-4.1", 9),  # outside
        ],
    )
    lead = save_outcome_definition(session, workspace_id=workspace_id, name="Lead", unit="lead", value_usd="120")
    save_outcome_definition(session, workspace_id=workspace_id, name="Ticket", unit="ticket", value_usd="8")
    assert lead.id is not None
    upsert_outcome_counts(session, workspace_id=workspace_id, rows=[(lead.id, day, "", 3), (lead.id, day, "Sales", 2)])
    usage, volumes = load_whatif_aggregates(
        session, workspace_id=workspace_id, start=day - dt.timedelta(days=29), end=day
    )
    assert usage.to_dict("records") == [
        {"provider": "OpenAI", "model": "gpt-4.1", "amount_micros": 1_000_000, "input_tokens": 0,
         "output_tokens": 10, "cached_tokens": 0},
        {"provider": "OpenAI", "model": "gpt-4o", "amount_micros": 2_000_000, "input_tokens": 300,
         "output_tokens": 20, "cached_tokens": 150},
    ]  # fmt: skip
    assert sorted(volumes.to_dict("records"), key=lambda r: (r["outcome"], r["count"])) == [
        {"outcome": "Lead", "count": 2, "value_micros": 120_000_000},
        {"outcome": "Lead", "count": 3, "value_micros": 120_000_000},
        {"outcome": "Ticket", "count": 0, "value_micros": 8_000_000},
    ]
