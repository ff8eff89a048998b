"""What people decided about savings advice: adopted (the savings tracker starts) or dismissed with a reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from core.models import RecommendationDecision, utcnow
from core.queries import NotFound, save_audit
from core.security import InvalidInput

STATUSES = ("adopted", "dismissed")
DISMISS_REASONS = (
    "Already done", "Quality would suffer", "Not worth the effort", "Contract or compliance reasons", "Other",
)  # fmt: skip


def load_decisions(session: Session, *, workspace_id: int) -> dict[str, RecommendationDecision]:
    """Every decision of the workspace by recommendation key."""
    rows = session.execute(
        select(RecommendationDecision).where(col(RecommendationDecision.workspace_id) == workspace_id)
    ).scalars()
    return {row.rec_key: row for row in rows}


def save_decision(
    session: Session,
    *,
    workspace_id: int,
    rec_key: str,
    kind: str,
    status: str,
    title: str,
    estimated_monthly_micros: int,
    detail: dict[str, Any],
    reason: str = "",
    user_id: int | None = None,
    decided_at: dt.datetime | None = None,
) -> RecommendationDecision:
    """Adopt or dismiss a recommendation (once: undo first to change your mind)."""
    if status not in STATUSES:
        raise InvalidInput(f"'{status[:20]}' is not a decision; choose adopted or dismissed.")
    if status == "dismissed" and not reason.strip():
        raise InvalidInput("Say why you are dismissing it, so others know (e.g. 'Quality would suffer').")
    decision = RecommendationDecision(
        workspace_id=workspace_id, rec_key=rec_key[:255], kind=kind, status=status, reason=reason.strip()[:500],
        title=title[:255], estimated_monthly_micros=estimated_monthly_micros, detail=detail, user_id=user_id,
        decided_at=decided_at or utcnow(),
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(decision)
            session.flush()
    except IntegrityError as exc:
        raise InvalidInput("This recommendation already has a decision; undo it first to change it.") from exc
    save_audit(
        session, workspace_id=workspace_id, user_id=user_id, action=f"recommendation.{status}", key=rec_key[:255],
        reason=decision.reason,
    )  # fmt: skip
    return decision


def delete_decision(session: Session, *, workspace_id: int, decision_id: int, user_id: int | None = None) -> None:
    """Undo an adoption or a dismissal: the recommendation is open again."""
    decision = session.get(RecommendationDecision, decision_id)
    if decision is None or decision.workspace_id != workspace_id:
        raise NotFound("There is no such decision in this workspace.")
    key = decision.rec_key
    session.execute(delete(RecommendationDecision).where(col(RecommendationDecision.id) == decision_id))
    save_audit(session, workspace_id=workspace_id, user_id=user_id, action="recommendation.reopened", key=key)
