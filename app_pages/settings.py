import streamlit as st

from core.models import ROLES
from core.security import InvalidInput
from ui import actions, api_tokens, context, loaders, notifications, widgets

ctx = context.current()
st.title("Settings")
st.caption(f"Workspace **{widgets.plain(ctx.workspace_name)}** (`{ctx.workspace_slug}`) · you are **{ctx.role}**")

members, workspace, alerting, tokens, account, danger, audit = st.tabs(
    ["Members", "Workspace", "Notifications", "API tokens", "Your account", "Delete data", "Audit log"]
)

with alerting:
    notifications.render_channels(ctx)
    st.divider()
    notifications.render_smtp_settings(ctx)

with tokens:
    api_tokens.render_token_manager(ctx)

with workspace:
    if ctx.can("admin"):
        with st.form("workspace_form"):
            name = st.text_input("Workspace name", value=ctx.workspace_name)
            zones = widgets.timezone_choices()
            timezone = st.selectbox(
                "Timezone", zones, index=zones.index(ctx.workspace_timezone), help="Days, months and 'today' follow it."
            )
            if st.form_submit_button("Save", icon=":material/save:"):
                try:
                    actions.save_workspace_settings(ctx, name=name, timezone=timezone)
                except InvalidInput as problem:
                    st.error(str(problem))
                else:
                    st.rerun()
    else:
        st.write(f"**{widgets.plain(ctx.workspace_name)}**, days counted in {ctx.workspace_timezone}.")
        st.caption("Only owners and admins can change these.")

with members:
    people = loaders.members(ctx.workspace_id)
    st.dataframe(
        [{"Username": m.username, "Name": m.name, "Email": m.email, "Role": m.role} for m in people],
        hide_index=True,
        key="members_table",
    )
    if ctx.can("admin"):
        with st.form("add_member_form", clear_on_submit=True):
            st.markdown("**Add a member**: an existing username, or a new person with a first password.")
            username = st.text_input("Username")
            name, email = st.columns(2)
            new_name = name.text_input("Name (new people only)")
            new_email = email.text_input("Email (new people only)")
            password = st.text_input("First password (new people only)", type="password")
            allowed = [r for r in ROLES if ctx.can(r)]
            role = st.selectbox(
                "Role", allowed, index=len(allowed) - 1, help="Viewers can look but not change anything."
            )
            if st.form_submit_button("Add member", icon=":material/person_add:"):
                try:
                    actions.add_member(
                        ctx, username=username, name=new_name, email=new_email, password=password, role=role
                    )
                except InvalidInput as problem:
                    st.error(str(problem))
                else:
                    st.success(f"{username} can now open {ctx.workspace_name} as {role}.")
                    st.rerun()
        removable = {m.user_id: f"{m.username} ({m.role})" for m in people if m.user_id != ctx.user_id}
        if removable:
            with st.form("remove_member_form"):
                who = st.selectbox("Remove a member", list(removable), format_func=removable.get)
                if st.form_submit_button("Remove", icon=":material/person_remove:"):
                    try:
                        actions.remove_member(ctx, user_id=who)
                    except InvalidInput as problem:
                        st.error(str(problem))
                    else:
                        st.rerun()
    else:
        st.caption("Only owners and admins can add or remove members.")

with account, st.form("change_password_form", clear_on_submit=True):
    st.markdown("**Change your password**")
    current = st.text_input("Current password", type="password", autocomplete="current-password")
    new = st.text_input("New password", type="password", autocomplete="new-password")
    confirm = st.text_input("New password again", type="password", autocomplete="new-password")
    if st.form_submit_button("Change password", icon=":material/key:"):
        try:
            actions.change_password(ctx, current=current, new=new, confirm=confirm)
        except InvalidInput as problem:
            st.error(str(problem))
        else:
            st.success("Password changed. Use the new one next time you sign in.")

with danger:
    st.markdown(
        "Deleting removes **every charge, import, connection and alert** of this workspace. Members, budgets, "
        "notification channels and the audit log stay. "
        "This cannot be undone."
    )
    if ctx.can("owner"):
        with st.form("delete_data_form", clear_on_submit=True):
            typed = st.text_input(f"Type `{ctx.workspace_slug}` to confirm")
            if st.form_submit_button("Delete all workspace data", type="primary", icon=":material/delete_forever:"):
                try:
                    deleted = actions.delete_workspace_data(ctx, confirmation=typed)
                except InvalidInput as problem:
                    st.error(str(problem))
                else:
                    st.success(f"Deleted {deleted:,} charges. The workspace is empty now.")
    else:
        st.caption("Only a workspace owner can delete its data.")

with audit:
    entries = loaders.audit_entries(ctx.workspace_id)
    if entries:
        st.dataframe(entries, hide_index=True, key="audit_table")
    else:
        st.caption("Nothing recorded yet.")
