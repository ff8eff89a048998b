"""Changes people make in the UI: each checks the role in the database, writes, and audits."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from core import allocation, budgets, demo, queries, security
from core.models import User
from ui.context import ROLE_RANK, Context, require_role
from ui.db import get_settings, open_session


def create_account(*, name: str, username: str, email: str, password: str, confirm: str, workspace_name: str) -> User:
    """A new user who owns a new workspace; raises InvalidInput with what to fix."""
    if password != confirm:
        raise security.InvalidInput("The two passwords differ; type the same password twice.")
    with open_session() as session:
        user = queries.create_user(
            session,
            username=username,
            email=email,
            name=name,
            password=password,
            rounds=get_settings().bcrypt_rounds,
        )
        workspace = queries.create_workspace(session, name=workspace_name)
        assert workspace.id is not None and user.id is not None
        queries.add_member(session, workspace_id=workspace.id, user_id=user.id, role="owner")
        queries.save_audit(
            session,
            workspace_id=workspace.id,
            user_id=user.id,
            action="workspace.created",
            name=workspace.name,
        )
    return user


def load_demo_data(context: Context) -> demo.DemoResult:
    require_role(context, "admin")
    with open_session() as session:
        result = demo.load_demo(session, workspace_id=context.workspace_id, today=context.today())
        queries.save_audit(session, workspace_id=context.workspace_id, user_id=context.user_id, action="demo.requested")
    return result


def add_member(context: Context, *, username: str, name: str, email: str, password: str, role: str) -> None:
    """Add an existing user by username, or create them with a first password, in the given role."""
    require_role(context, "admin")
    if ROLE_RANK.get(role, 99) > ROLE_RANK[context.role]:
        raise security.InvalidInput("You can only give a role up to your own.")
    with open_session() as session:
        user = queries.load_user(session, username=username)
        if user is None:
            user = queries.create_user(
                session,
                username=username,
                email=email,
                name=name,
                password=password,
                rounds=get_settings().bcrypt_rounds,
            )
        assert user.id is not None
        queries.add_member(session, workspace_id=context.workspace_id, user_id=user.id, role=role)
        queries.save_audit(
            session,
            workspace_id=context.workspace_id,
            user_id=context.user_id,
            action="member.added",
            username=user.username,
            role=role,
        )


def remove_member(context: Context, *, user_id: int) -> None:
    require_role(context, "admin")
    with open_session() as session:
        role = queries.load_role(session, workspace_id=context.workspace_id, user_id=user_id)
        if role == "owner" and context.role != "owner":
            raise security.InvalidInput("Only an owner can remove another owner.")
        queries.remove_member(session, workspace_id=context.workspace_id, user_id=user_id)
        queries.save_audit(
            session,
            workspace_id=context.workspace_id,
            user_id=context.user_id,
            action="member.removed",
            member_id=user_id,
        )


def change_password(context: Context, *, current: str, new: str, confirm: str) -> None:
    if new != confirm:
        raise security.InvalidInput("The new passwords differ; type the same new password twice.")
    with open_session() as session:
        user = queries.load_user(session, username=context.username)
        if user is None or not security.verify_password(current, user.password_hash):
            raise security.InvalidInput("Your current password is not right.")
        queries.save_password(session, user=user, new_password=new, rounds=get_settings().bcrypt_rounds)
        queries.save_audit(session, workspace_id=None, user_id=user.id, action="user.password_changed")


def delete_workspace_data(context: Context, *, confirmation: str) -> int:
    """Delete all of the workspace's spend data after the slug is typed; owners only."""
    require_role(context, "owner")
    if confirmation.strip() != context.workspace_slug:
        raise security.InvalidInput(f"Type the workspace id '{context.workspace_slug}' exactly to confirm.")
    with open_session() as session:
        return queries.delete_workspace_data(session, workspace_id=context.workspace_id, user_id=context.user_id)


def save_workspace_settings(context: Context, *, name: str, timezone: str) -> None:
    require_role(context, "admin")
    with open_session() as session:
        queries.save_workspace_settings(session, workspace_id=context.workspace_id, name=name, timezone=timezone)
        queries.save_audit(
            session,
            workspace_id=context.workspace_id,
            user_id=context.user_id,
            action="workspace.settings_saved",
            name=name.strip(),
            timezone=timezone,
        )


# Allocation ------------------------------------------------------------------------------------------


def load_rules(context: Context) -> list[allocation.Rule]:
    with open_session() as session:
        return queries.load_rules(session, workspace_id=context.workspace_id)


def preview_rule(context: Context, rule: allocation.Rule) -> queries.AllocationChange:
    """How much money the rule would move, on top of the rules already saved."""
    rule = allocation.validate_rule(rule)
    with open_session() as session:
        rules = queries.load_rules(session, workspace_id=context.workspace_id)
        return queries.preview_rules(session, workspace_id=context.workspace_id, rules=[*rules, rule])


def add_rule(context: Context, rule: allocation.Rule) -> queries.AllocationChange:
    require_role(context, "admin")
    with open_session() as session:
        saved = queries.save_rule(session, workspace_id=context.workspace_id, rule=rule)
        change = queries.reapply_allocation(session, workspace_id=context.workspace_id)
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="rule.added",
            rule_id=saved.id, moved_micros=change.micros,
        )  # fmt: skip
    return change


def remove_rule(context: Context, rule_id: int) -> queries.AllocationChange:
    require_role(context, "admin")
    with open_session() as session:
        queries.delete_rule(session, workspace_id=context.workspace_id, rule_id=rule_id)
        change = queries.reapply_allocation(session, workspace_id=context.workspace_id)
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="rule.removed", rule_id=rule_id
        )
    return change


def load_largest_charges(context: Context, *, start: dt.date, end: dt.date, limit: int = 200) -> pd.DataFrame:
    with open_session() as session:
        return queries.load_largest_charges(
            session, workspace_id=context.workspace_id, start=start, end=end, limit=limit
        )


def save_overrides(context: Context, changes: list[tuple[str, str, str]]) -> queries.AllocationChange:
    """(source_key, field, value) edits from the charges table; an empty value removes an override."""
    require_role(context, "admin")
    with open_session() as session:
        for source_key, field, value in changes:
            queries.save_override(
                session, workspace_id=context.workspace_id, source_key=source_key, field=field, value=value
            )
        change = queries.reapply_allocation(session, workspace_id=context.workspace_id)
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="charges.overridden",
            edits=len(changes),
        )  # fmt: skip
    return change


def save_charge_edits(context: Context, before: pd.DataFrame, after: pd.DataFrame) -> queries.AllocationChange | None:
    """Overrides for every allocation cell (and tag) a person changed in the charges table; None if nothing did."""
    changes: list[tuple[str, str, str]] = []
    for i in before.index:
        key = str(before.at[i, "source_key"])
        for field in allocation.ALLOCATED:
            if str(after.at[i, field]) != str(before.at[i, field]):
                changes.append((key, field, str(after.at[i, field] or "")))
        old_tags = allocation.parse_tags(str(before.at[i, "tags"] or ""))
        new_tags = allocation.parse_tags(str(after.at[i, "tags"] or ""))
        for name in sorted(set(old_tags) | set(new_tags)):
            if old_tags.get(name) != new_tags.get(name):
                changes.append((key, f"tag:{name}", new_tags.get(name, "")))
    return save_overrides(context, changes) if changes else None


def save_budget(
    context: Context,
    *,
    scope: str,
    scope_value: str,
    amount_micros: int,
    thresholds: list[int],
    budget_id: int | None = None,
) -> None:
    """Create or change a budget; InvalidInput says what to fix."""
    require_role(context, "admin")
    with open_session() as session:
        budgets.save_budget(
            session, workspace_id=context.workspace_id, scope=scope, scope_value=scope_value,
            amount_micros=amount_micros, thresholds=thresholds, budget_id=budget_id, user_id=context.user_id,
        )  # fmt: skip


def delete_budget(context: Context, *, budget_id: int) -> None:
    require_role(context, "admin")
    with open_session() as session:
        budgets.delete_budget(session, workspace_id=context.workspace_id, budget_id=budget_id, user_id=context.user_id)
