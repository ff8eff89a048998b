"""Budgets in a real database (SQLite always, PostgreSQL when reachable): validation, one per scope, isolation."""

import pytest
from sqlalchemy import select
from sqlmodel import Session

from core import budgets, queries
from core.models import AuditLog
from core.queries import NotFound
from core.security import InvalidInput

USD = 1_000_000


def test_a_budget_is_saved_changed_and_deleted_with_an_audit_trail(session: Session, workspace_id: int) -> None:
    saved = budgets.save_budget(
        session, workspace_id=workspace_id, scope="department", scope_value=" Marketing ",
        amount_micros=5_000 * USD, thresholds=[100, 75, 75, 50],
    )  # fmt: skip
    assert (saved.scope_value, saved.amount_micros, saved.thresholds) == ("Marketing", 5_000 * USD, [50, 75, 100])
    assert saved.id is not None
    budgets.save_budget(
        session, workspace_id=workspace_id, scope="department", scope_value="Marketing",
        amount_micros=6_500_500_000, budget_id=saved.id,
    )  # fmt: skip
    loaded = budgets.load_budgets(session, workspace_id=workspace_id)
    assert [(b.id, b.amount_micros, b.thresholds) for b in loaded] == [(saved.id, 6_500_500_000, [75, 100])]
    budgets.delete_budget(session, workspace_id=workspace_id, budget_id=saved.id)
    assert budgets.load_budgets(session, workspace_id=workspace_id) == []
    actions = session.execute(select(AuditLog.action).where(AuditLog.workspace_id == workspace_id)).scalars().all()
    assert actions.count("budget.saved") == 2 and actions.count("budget.deleted") == 1


def test_budgets_list_workspace_first_then_by_scope(session: Session, workspace_id: int) -> None:
    for scope, value in [("provider", "OpenAI"), ("department", "Sales"), ("workspace", "ignored"),
                         ("department", "Marketing")]:  # fmt: skip
        budgets.save_budget(session, workspace_id=workspace_id, scope=scope, scope_value=value, amount_micros=USD)
    listed = [(b.scope, b.scope_value) for b in budgets.load_budgets(session, workspace_id=workspace_id)]
    assert listed == [("workspace", ""), ("department", "Marketing"), ("department", "Sales"), ("provider", "OpenAI")]


def test_one_budget_per_scope_and_value(session: Session, workspace_id: int) -> None:
    budgets.save_budget(session, workspace_id=workspace_id, scope="project", scope_value="crm", amount_micros=USD)
    with pytest.raises(InvalidInput, match="already a budget for project crm"):
        budgets.save_budget(session, workspace_id=workspace_id, scope="project", scope_value="crm", amount_micros=USD)
    assert len(budgets.load_budgets(session, workspace_id=workspace_id)) == 1


@pytest.mark.parametrize(
    ("scope", "value", "amount", "thresholds", "message"),
    [
        ("team", "x", USD, [75], "not something a budget can cover"),
        ("department", "  ", USD, [75], "Choose which department"),
        ("project", "p" * 121, USD, [75], "too long"),
        ("workspace", "", 0, [75], "above \\$0"),
        ("workspace", "", 100_000_001 * USD, [75], "at most \\$100,000,000"),
        ("workspace", "", USD, [], "at least one alert threshold"),
        ("workspace", "", USD, [0, 75], "between 1 and 300"),
        ("workspace", "", USD, [301], "between 1 and 300"),
        ("workspace", "", USD, [75.5], "whole percents"),
        ("workspace", "", USD, [True], "whole percents"),
    ],
    ids=[
        "scope",
        "empty-value",
        "long-value",
        "zero",
        "huge",
        "no-thresholds",
        "threshold-0",
        "threshold-301",
        "threshold-fraction",
        "threshold-bool",
    ],  # fmt: skip
)
def test_bad_budgets_say_what_to_fix(
    session: Session, workspace_id: int, scope: str, value: str, amount: int, thresholds: list[int], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        budgets.save_budget(
            session, workspace_id=workspace_id, scope=scope, scope_value=value, amount_micros=amount,
            thresholds=thresholds,
        )  # fmt: skip
    assert budgets.load_budgets(session, workspace_id=workspace_id) == []


def test_another_workspaces_budget_cannot_be_read_changed_or_deleted(session: Session, workspace_id: int) -> None:
    other = queries.create_workspace(session, name="Other Co")
    assert other.id is not None
    theirs = budgets.save_budget(session, workspace_id=other.id, scope="workspace", scope_value="", amount_micros=USD)
    assert theirs.id is not None
    with pytest.raises(NotFound):
        budgets.load_budget(session, workspace_id=workspace_id, budget_id=theirs.id)
    with pytest.raises(NotFound):
        budgets.save_budget(
            session, workspace_id=workspace_id, scope="workspace", scope_value="", amount_micros=2 * USD,
            budget_id=theirs.id,
        )  # fmt: skip
    with pytest.raises(NotFound):
        budgets.delete_budget(session, workspace_id=workspace_id, budget_id=theirs.id)
    assert budgets.load_budgets(session, workspace_id=other.id)[0].amount_micros == USD
    assert budgets.load_budgets(session, workspace_id=workspace_id) == []
