import streamlit as st

from ui import auth

_, middle, _ = st.columns([1, 2, 1])
with middle:
    st.markdown("### :material/savings: meterr")
    st.title("Sign in to meterr")
    st.caption("Where your AI money goes, whether it pays for itself, and what next month will cost.")

    with st.form("sign_in_form"):
        username = st.text_input("Username", key=auth.SIGNIN_USERNAME_KEY, autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")

    if submitted:
        outcome = auth.sign_in(username, password)
        if outcome.ok:
            st.rerun()
        st.error(outcome.message, icon=":material/lock:")

    st.page_link(
        "app_pages/create_workspace.py",
        label="New to meterr? Create your workspace",
        icon=":material/add_business:",
    )
