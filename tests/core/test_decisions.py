"""Adopting and dismissing recommendations in a real database (SQLite always, PostgreSQL when reachable)."""

import datetime as dt

import pytest
from sqlmodel import Session

from core import decisions, queries
from core.queries import NotFound
from core.security import InvalidInput

WHEN = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)


def adopt(session: Session, workspace_id: int, key: str = "cheaper_model:OpenAI:gpt-4o:bot->gpt-4o-mini") -> int:
    saved = decisions.save_decision(
        session, workspace_id=workspace_id, rec_key=key, kind="cheaper_model", status="adopted",
        title="Move bot to gpt-4o-mini", estimated_monthly_micros=1_234_000_000,
        detail={"provider": "OpenAI", "project": "bot"}, decided_at=WHEN,
    )  # fmt: skip
    assert saved.id is not None
    return saved.id


def test_adopt_once_then_undo_then_dismiss_with_a_reason(session: Session, workspace_id: int) -> None:
    decision_id = adopt(session, workspace_id)
    got = decisions.load_decisions(session, workspace_id=workspace_id)
    ((key, row),) = got.items()
    assert (row.status, row.estimated_monthly_micros, row.decided_at, row.detail["project"]) == (
        "adopted", 1_234_000_000, WHEN, "bot",
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="already has a decision"):
        adopt(session, workspace_id)
    decisions.delete_decision(session, workspace_id=workspace_id, decision_id=decision_id)
    assert decisions.load_decisions(session, workspace_id=workspace_id) == {}
    with pytest.raises(InvalidInput, match="Say why"):
        decisions.save_decision(
            session, workspace_id=workspace_id, rec_key=key, kind="cheaper_model", status="dismissed", title="t",
            estimated_monthly_micros=0, detail={}, reason="  ",
        )  # fmt: skip
    decisions.save_decision(
        session, workspace_id=workspace_id, rec_key=key, kind="cheaper_model", status="dismissed", title="t",
        estimated_monthly_micros=0, detail={}, reason="Quality would suffer",
    )  # fmt: skip
    assert decisions.load_decisions(session, workspace_id=workspace_id)[key].reason == "Quality would suffer"


def test_decisions_stay_in_their_workspace(session: Session, workspace_id: int) -> None:
    other = queries.create_workspace(session, name="Other Co")
    assert other.id is not None
    theirs = adopt(session, other.id)
    assert decisions.load_decisions(session, workspace_id=workspace_id) == {}
    adopt(session, workspace_id)  # the same key in another workspace is a separate decision
    with pytest.raises(NotFound):
        decisions.delete_decision(session, workspace_id=workspace_id, decision_id=theirs)
    assert len(decisions.load_decisions(session, workspace_id=other.id)) == 1
