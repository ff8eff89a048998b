"""Allocation rules and overrides: preview in dollars, applied to existing and new charges, reversible."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from core import queries
from core.allocation import Rule, allocate
from core.db import session_scope
from core.models import Charge, SpendRollup
from core.security import InvalidInput

D1 = dt.date(2026, 3, 1)


def charge(key: str, amount: int, **fields: object) -> dict[str, object]:
    base = {"source_key": key, "day": D1, "provider": "OpenAI", "amount_micros": amount, "original_amount": "0"}
    return {**base, **fields}


def departments(engine: Engine, workspace_id: int) -> dict[str, tuple[str, str, dict[str, str]]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Charge.source_key, Charge.department, Charge.feature, Charge.tags).where(
                Charge.workspace_id == workspace_id
            )
        ).all()
    return {key: (dept, feature, tags) for key, dept, feature, tags in rows}


def rollup_by_department(session: Session, workspace_id: int) -> dict[str, int]:
    rows = session.execute(
        select(SpendRollup.department, SpendRollup.amount_micros).where(SpendRollup.workspace_id == workspace_id)
    ).all()
    out: dict[str, int] = {}
    for department, micros in rows:
        out[department] = out.get(department, 0) + micros
    return out


def test_rules_match_as_described() -> None:
    row = {"model": "gpt-4o-2024-08-06", "project": "proj_Search", "line_item": "GPT-4o input", "api_key": "key_A"}
    assert Rule("model", "prefix", "GPT-4O", "feature", "chat").matches(row)
    assert Rule("project", "equals", "proj_search", "department", "Search").matches(row)
    assert not Rule("project", "equals", "proj_sea", "department", "Search").matches(row)
    assert Rule("line_item", "contains", "input", "tag", "input", tag_key="kind").matches(row)
    assert Rule("api_key", "regex", r"^key_[A-C]$", "department", "Team A").matches(row)
    out = allocate({**row, "department": "Sales"}, [Rule("project", "equals", "proj_search", "department", "Search")])
    assert out["department"] == "Search" and out["origin"]["department"] == "Sales"


def test_rules_preview_apply_and_undo(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        queries.upsert_charges(
            session, workspace_id=workspace_id,
            rows=[charge("a", 1_500_000, project="proj_search"), charge("b", 250_000, project="proj_ads"),
                  charge("c", 3, project="proj_search", department="Finance")],
        )  # fmt: skip
    rule = Rule("project", "equals", "proj_search", "department", "Search")
    with session_scope(engine) as session:
        change = queries.preview_rules(session, workspace_id=workspace_id, rules=[rule])
        assert (change.charges, change.micros) == (2, 1_500_003)
        saved = queries.save_rule(session, workspace_id=workspace_id, rule=rule)
        assert queries.reapply_allocation(session, workspace_id=workspace_id).micros == 1_500_003
        assert rollup_by_department(session, workspace_id) == {"Search": 1_500_003, "": 250_000}
    assert departments(engine, workspace_id)["c"][0] == "Search"

    # New charges get the rule on import; removing the rule gives back the source's own values.
    from connectors.imports import import_file

    with session_scope(engine) as session:
        import_file(
            session, workspace_id=workspace_id, name="more.csv",
            data=b"date,amount,vendor,project\n2026-03-02,5.00,OpenAI,proj_search\n",
            mapping=None, format="generic",
        )  # fmt: skip
    assert sorted(d for d, _, _ in departments(engine, workspace_id).values()) == ["", "Search", "Search", "Search"]
    with session_scope(engine) as session:
        assert saved.id is not None
        queries.delete_rule(session, workspace_id=workspace_id, rule_id=saved.id)
        queries.reapply_allocation(session, workspace_id=workspace_id)
        assert rollup_by_department(session, workspace_id) == {"": 5_250_000 + 1_500_000, "Finance": 3}


def test_overrides_win_over_rules_and_survive_reimport(engine: Engine, workspace_id: int) -> None:
    rows = [charge("a", 1_000_000, model="gpt-4o"), charge("b", 2_000_000, model="gpt-4o")]
    with session_scope(engine) as session:
        queries.upsert_charges(session, workspace_id=workspace_id, rows=[dict(r) for r in rows])
        queries.save_rule(session, workspace_id=workspace_id, rule=Rule("model", "equals", "gpt-4o", "feature", "chat"))
        queries.save_rule(
            session, workspace_id=workspace_id, rule=Rule("model", "contains", "4o", "tag", "openai", tag_key="vendor")
        )
        queries.save_override(session, workspace_id=workspace_id, source_key="b", field="feature", value="search")
        queries.save_override(session, workspace_id=workspace_id, source_key="b", field="tag:owner", value="kim")
        queries.reapply_allocation(session, workspace_id=workspace_id)
    expected = {
        "a": ("", "chat", {"vendor": "openai"}),
        "b": ("", "search", {"vendor": "openai", "owner": "kim"}),
    }
    assert departments(engine, workspace_id) == expected
    with session_scope(engine) as session:  # the provider re-sends the same charges: allocation stays
        allocator = queries.allocator_for(session, workspace_id=workspace_id)
        again = [dict(r) for r in rows]
        allocator(again)
        result = queries.upsert_charges(session, workspace_id=workspace_id, rows=again)
        assert (result.written, result.revised, result.duplicates) == (0, 0, 2)
    assert departments(engine, workspace_id) == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule("colour", "equals", "x", "department", "y"), "Rules can match on"),
        (Rule("model", "regex", "([", "department", "y"), "not a valid regular expression"),
        (Rule("model", "equals", "  ", "department", "y"), "pattern"),
        (Rule("model", "equals", "x", "tag", "y", tag_key="bad key!"), "A tag needs a name"),
    ],
)
def test_bad_rules_are_explained(session: Session, workspace_id: int, rule: Rule, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        queries.save_rule(session, workspace_id=workspace_id, rule=rule)


def test_overrides_are_scoped_to_the_workspace(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        other = queries.create_workspace(session, name="Other Co")
        assert other.id is not None
        queries.upsert_charges(session, workspace_id=workspace_id, rows=[charge("a", 1)])
        with pytest.raises(queries.NotFound):
            queries.save_override(session, workspace_id=other.id, source_key="a", field="department", value="x")
