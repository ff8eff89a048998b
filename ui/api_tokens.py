"""API tokens: list, create (with what the token may do) and revoke; admins change, all audited, shown once."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core import api_tokens, queries
from core.api_tokens import ApiTokenInfo
from core.security import InvalidInput
from ui import widgets
from ui.context import Context, require_role
from ui.db import open_session

# What a person may give a token, in the order offered; outcomes:read is reserved and grants nothing yet.
SCOPE_LABELS = {
    "spend:read": "Read spend, budgets and forecasts (spend:read)",
    "outcomes:write": "Write outcomes (outcomes:write)",
}
_USAGE = """\
Send the token as `Authorization: Bearer mtr_...`.
**spend:read** reads `GET /api/v1/spend`, `/api/v1/budgets`, `/api/v1/forecast` and `/api/v1/summary`;
**outcomes:write** sends counts to `POST /api/v1/outcomes`. Every endpoint is described at `/api/v1/openapi.json`.
"""


def load_tokens(ctx: Context) -> list[ApiTokenInfo]:
    with open_session() as session:
        return api_tokens.load_api_tokens(session, workspace_id=ctx.workspace_id)


def create_token(ctx: Context, name: str, scopes: Sequence[str]) -> str:
    """A new token, returned once; only its hash is kept."""
    require_role(ctx, "admin")
    if not scopes:
        raise InvalidInput("Choose at least one thing the token may do.")
    with open_session() as session:
        token, plaintext = api_tokens.create_api_token(
            session, workspace_id=ctx.workspace_id, name=name, scopes=" ".join(scopes)
        )
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="token.created", token_id=token.id,
            scopes=token.scopes,
        )  # fmt: skip
    return plaintext


def revoke_token(ctx: Context, token_id: int) -> None:
    require_role(ctx, "admin")
    with open_session() as session:
        api_tokens.revoke_api_token(session, workspace_id=ctx.workspace_id, token_id=token_id)
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="token.revoked", token_id=token_id
        )


def _describe(token: ApiTokenInfo) -> str:
    used = f"{token.last_used_at:%d %b %Y}" if token.last_used_at else "never"
    scopes = ", ".join(f"`{scope}`" for scope in token.scopes) or "no scope"
    state = "active" if token.active else f"revoked {token.revoked_at:%d %b %Y}"
    created = f"{token.created_at:%d %b %Y}"
    name = widgets.plain(token.name)
    return f"**{name}** · …{token.hint} · {scopes} · created {created} · last used {used} · {state}"


def render_token_manager(ctx: Context, *, default_scopes: Sequence[str] = ("spend:read",)) -> None:
    """The workspace's tokens with their scopes; owners and admins also create and revoke them."""
    st.markdown(_USAGE)
    admin = ctx.can("admin")
    tokens = load_tokens(ctx)
    if not tokens:
        st.caption("No API tokens yet.")
    for token in tokens:
        line, button = st.columns([5, 1], vertical_alignment="center")
        line.markdown(_describe(token))
        if admin and token.active and button.button("Revoke", key=f"token_revoke_{token.id}"):
            revoke_token(ctx, token.id)
            st.rerun()
    if not admin:
        st.caption("Only owners and admins can create or revoke API tokens.")
        return
    with st.form("token_form", clear_on_submit=True):
        label = st.text_input("Token name", placeholder="Finance dashboard")
        chosen = []
        for scope, text in SCOPE_LABELS.items():
            if st.checkbox(text, value=scope in default_scopes, key=f"token_scope_{scope}"):
                chosen.append(scope)
        if st.form_submit_button("Create token", icon=":material/key:"):
            try:
                st.session_state["new_token"] = create_token(ctx, label, chosen)
            except InvalidInput as problem:
                st.error(str(problem))
            else:
                st.rerun()
    if token_text := st.session_state.pop("new_token", None):
        st.warning("Copy this token now: it is shown only once.", icon=":material/key:")
        st.code(token_text, language=None)
