"""Browser entry: page config, sign-in gate, share-link gate, navigation. No business logic."""

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ui import auth, context, loaders, navigation, notifications, share, widgets

st.set_page_config(page_title="meterr · AI spend, explained", page_icon=":material/savings:", layout="wide")
auth.authenticator()


def screen(name: str, title: str, icon: str, *, default: bool = False) -> StreamlitPage:
    return st.Page(f"app_pages/{name}.py", title=title, icon=f":material/{icon}:", default=default)


if (share_token := share.requested_token()) is not None:  # a share link's read-only view wins for the session
    current = share.navigation(share_token, signed_in=auth.is_signed_in())
elif auth.is_signed_in() and (ctx := context.resolve()) is not None:
    st.session_state["_context"] = ctx
    unread = notifications.unread_count(ctx.workspace_id)
    screens = {
        "overview": screen("overview", "Overview", "dashboard", default=True),
        "forecast": screen("forecast", "Forecast & budgets", "query_stats"),
        "get_started": screen("get_started", "Get started", "rocket_launch"),
        "connect": screen("connect", "Connect data", "cable"),
        "rules": screen("rules", "Allocation rules", "rule"),
        "outcomes": screen("outcomes", "Business outcomes", "flag"),
        "profitability": screen("profitability", "Profitability", "trending_up"),
        "roi": screen("roi", "ROI calculator", "calculate"),
        "optimize": screen("optimize", "Optimize", "savings"),
        "reports": screen("reports", "Reports", "summarize"),
        "alerts": screen("alerts", f"Alerts ({unread})" if unread else "Alerts", "notifications"),
        "settings": screen("settings", "Settings", "settings"),
    }
    current = st.navigation(
        {
            "Spend": [screens["overview"], screens["forecast"], screens["reports"]],
            "Profit": [screens["profitability"], screens["roi"], screens["optimize"]],
            "Data": [screens["get_started"], screens["connect"], screens["rules"], screens["outcomes"]],
            "Workspace": [screens["alerts"], screens["settings"]],
        }
    )
    with st.sidebar:
        if len(ctx.workspaces) > 1:
            names = dict(ctx.workspaces)
            st.selectbox("Workspace", list(names), format_func=names.get, key="workspace_id")
        st.caption(f"Signed in as **{widgets.plain(ctx.name)}** · {widgets.plain(ctx.workspace_name)} ({ctx.role})")
    auth.render_sign_out()
    navigation.follow_pending(current, {f"app_pages/{name}.py": page for name, page in screens.items()})
elif auth.is_signed_in():
    current = st.navigation([screen("no_workspace", "No workspace", "domain_disabled")], position="hidden")
    st.sidebar.warning("You are not a member of any workspace yet.")
    auth.render_sign_out()
else:
    first_visit = loaders.user_count() == 0
    current = st.navigation(
        [
            screen("create_workspace", "Create your workspace", "add_business", default=first_visit),
            screen("sign_in", "Sign in", "login", default=not first_visit),
        ],
        position="hidden",
    )

with st.sidebar:
    auth.apply_cookie_action()  # after any page switch, so the cookie component gets to mount
current.run()
