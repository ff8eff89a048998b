"""Monthly budgets for the workspace or one department, project, provider or customer: validated, audited."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from core.models import Budget
from core.money import MICROS_PER_USD, format_usd
from core.queries import NotFound, save_audit
from core.security import InvalidInput

SCOPES = ("workspace", "department", "project", "provider", "customer")
DEFAULT_THRESHOLDS = (75, 100)
MAX_AMOUNT_MICROS = 100_000_000 * MICROS_PER_USD
MAX_THRESHOLD = 300


def validate_budget(
    scope: str, scope_value: str, amount_micros: int, thresholds: Iterable[int]
) -> tuple[str, tuple[int, ...]]:
    """The cleaned scope value and sorted, de-duplicated thresholds; InvalidInput says what to fix."""
    if scope not in SCOPES:
        raise InvalidInput(f"'{scope[:40]}' is not something a budget can cover; choose {', '.join(SCOPES)}.")
    value = "" if scope == "workspace" else scope_value.strip()
    if scope != "workspace" and not value:
        raise InvalidInput(f"Choose which {scope} this budget is for.")
    if len(value) > 120:
        raise InvalidInput(f"The {scope} name is too long (120 characters at most).")
    if amount_micros <= 0:
        raise InvalidInput("A budget needs a monthly amount above $0.")
    if amount_micros > MAX_AMOUNT_MICROS:
        raise InvalidInput(f"A monthly budget can be at most {format_usd(MAX_AMOUNT_MICROS, cents=False)}.")
    given = list(thresholds)
    if not given:
        raise InvalidInput("Give at least one alert threshold, e.g. 75% and 100%.")
    if any(isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= MAX_THRESHOLD for t in given):
        raise InvalidInput(f"Alert thresholds are whole percents of the budget between 1 and {MAX_THRESHOLD}.")
    return value, tuple(sorted(set(given)))


def load_budgets(session: Session, *, workspace_id: int) -> list[Budget]:
    """The workspace's budgets: the workspace-wide one first, then by scope and name."""
    budgets = session.execute(select(Budget).where(col(Budget.workspace_id) == workspace_id)).scalars()
    return sorted(budgets, key=lambda b: (SCOPES.index(b.scope), b.scope_value.lower()))


def load_budget(session: Session, *, workspace_id: int, budget_id: int) -> Budget:
    budget = session.get(Budget, budget_id)
    if budget is None or budget.workspace_id != workspace_id:
        raise NotFound("There is no such budget in this workspace.")
    return budget


def save_budget(
    session: Session,
    *,
    workspace_id: int,
    scope: str,
    scope_value: str,
    amount_micros: int,
    thresholds: Iterable[int] = DEFAULT_THRESHOLDS,
    budget_id: int | None = None,
    user_id: int | None = None,
) -> Budget:
    """Create a budget, or change one (``budget_id``); one budget per scope and value."""
    value, cleaned = validate_budget(scope, scope_value, amount_micros, thresholds)
    if budget_id is None:
        budget = Budget(workspace_id=workspace_id, scope=scope, scope_value=value, amount_micros=amount_micros)
    else:
        budget = load_budget(session, workspace_id=workspace_id, budget_id=budget_id)
        budget.scope, budget.scope_value = scope, value
    budget.amount_micros = amount_micros
    budget.thresholds = list(cleaned)
    try:
        with session.begin_nested():
            session.add(budget)
            session.flush()
    except IntegrityError as exc:
        what = "the whole workspace" if scope == "workspace" else f"{scope} {value}"
        raise InvalidInput(f"There is already a budget for {what}; change that one instead.") from exc
    save_audit(
        session, workspace_id=workspace_id, user_id=user_id, action="budget.saved", budget_id=budget.id,
        scope=scope, scope_value=value, amount_usd=format_usd(amount_micros), thresholds=list(cleaned),
    )  # fmt: skip
    return budget


def delete_budget(session: Session, *, workspace_id: int, budget_id: int, user_id: int | None = None) -> None:
    """Remove a budget; its past alerts stay in the inbox."""
    budget = load_budget(session, workspace_id=workspace_id, budget_id=budget_id)
    detail = {"scope": budget.scope, "scope_value": budget.scope_value}
    session.execute(delete(Budget).where(col(Budget.id) == budget_id))
    save_audit(session, workspace_id=workspace_id, user_id=user_id, action="budget.deleted", **detail)
