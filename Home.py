"""Browser entry: page config, sign-in gate, navigation. No business logic."""

import streamlit as st

from ui import auth, context, loaders

st.set_page_config(page_title="meterr · AI spend, explained", page_icon=":material/savings:", layout="wide")
auth.authenticator()

if auth.is_signed_in() and (ctx := context.resolve()) is not None:
    st.session_state["_context"] = ctx
    navigation = st.navigation(
        {
            "Spend": [st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True)],
            "Data": [
                st.Page("app_pages/get_started.py", title="Get started", icon=":material/rocket_launch:"),
                st.Page("app_pages/connect.py", title="Connect data", icon=":material/cable:"),
            ],
            "Workspace": [st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:")],
        }
    )
    with st.sidebar:
        if len(ctx.workspaces) > 1:
            names = dict(ctx.workspaces)
            st.selectbox("Workspace", list(names), format_func=names.get, key="workspace_id")
        st.caption(f"Signed in as **{ctx.name}** · {ctx.workspace_name} ({ctx.role})")
    auth.render_sign_out()
    if go_to := st.session_state.pop("go_to", None):
        st.switch_page(go_to)
elif auth.is_signed_in():
    navigation = st.navigation([st.Page("app_pages/no_workspace.py", title="No workspace")], position="hidden")
    st.sidebar.warning("You are not a member of any workspace yet.")
    auth.render_sign_out()
else:
    first_visit = loaders.user_count() == 0
    navigation = st.navigation(
        [
            st.Page(
                "app_pages/create_workspace.py",
                title="Create your workspace",
                icon=":material/add_business:",
                default=first_visit,
            ),
            st.Page("app_pages/sign_in.py", title="Sign in", icon=":material/login:", default=not first_visit),
        ],
        position="hidden",
    )

with st.sidebar:
    auth.apply_cookie_action()  # after any page switch, so the cookie component gets to mount
navigation.run()
