"""Who is looking at which workspace, with what role: resolved from the database on every run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import streamlit as st

from core import queries, security
from ui.db import open_session

ROLE_RANK = {"viewer": 0, "admin": 1, "owner": 2}


@dataclass(frozen=True)
class Context:
    user_id: int
    username: str
    name: str
    workspace_id: int
    workspace_slug: str
    workspace_name: str
    workspace_timezone: str
    role: str
    data_version: int
    workspaces: tuple[tuple[int, str], ...]  # (id, name) of every workspace the user belongs to
    shared: bool = False  # a share link's read-only view: no account, no links to pages outside the link

    def can(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]

    def today(self) -> dt.date:
        return dt.datetime.now(ZoneInfo(self.workspace_timezone)).date()


def resolve() -> Context | None:
    """The signed-in user's context for this run, or None when they belong to no workspace."""
    username = st.session_state.get("username")
    if not username:
        return None
    with open_session() as session:
        user = queries.load_user(session, username=username)
        if user is None or user.id is None:
            return None
        memberships = queries.load_memberships(session, user_id=user.id)
    if not memberships:
        return None
    chosen = st.session_state.get("workspace_id")
    workspace, role = next(((w, r) for w, r in memberships if w.id == chosen), memberships[0])
    assert workspace.id is not None
    st.session_state["workspace_id"] = workspace.id
    return Context(
        user_id=user.id,
        username=user.username,
        name=user.name,
        workspace_id=workspace.id,
        workspace_slug=workspace.slug,
        workspace_name=workspace.name,
        workspace_timezone=workspace.timezone,
        role=role,
        data_version=workspace.data_version,
        workspaces=tuple((w.id, w.name) for w, _ in memberships if w.id is not None),
    )


def current() -> Context:
    """The context Home.py resolved for this run; pages call this."""
    context = st.session_state.get("_context")
    if not isinstance(context, Context):
        st.error("Your session ended. Sign in again to continue.")
        st.stop()
    return context


def is_shared() -> bool:
    """Whether this run shows a share link's read-only view (widgets then leave out links to other pages)."""
    context = st.session_state.get("_context")
    return isinstance(context, Context) and context.shared


def require_role(context: Context, needed: str) -> None:
    """Re-check the role in the database right before a change: the cached one may be stale."""
    if context.shared:
        raise security.InvalidInput("This is a read-only shared link; sign in to meterr to make changes.")
    with open_session() as session:
        role = queries.load_role(session, workspace_id=context.workspace_id, user_id=context.user_id)
    if role is None or ROLE_RANK[role] < ROLE_RANK[needed]:
        raise security.InvalidInput(f"Only a workspace {needed} or above can do this; your role is {role or 'none'}.")
