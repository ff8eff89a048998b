import streamlit as st

from core.security import InvalidInput
from ui import actions, auth, loaders, navigation

first_visit = loaders.user_count() == 0
_, middle, _ = st.columns([1, 2, 1])
with middle:
    st.markdown("### :material/savings: meterr")
    st.title("Create your workspace")
    st.caption(
        "One place for every AI bill: OpenAI, Anthropic, Google, AWS and the rest. You will be the workspace owner; "
        "invite colleagues later from Settings."
    )

    with st.form("create_workspace_form"):
        workspace_name = st.text_input("Company or team name", placeholder="Acme Inc.")
        name = st.text_input("Your name", placeholder="Ada Lovelace")
        email = st.text_input("Work email", placeholder="ada@acme.com", autocomplete="email")
        username = st.text_input(
            "Username", placeholder="ada", help="What you will sign in with: letters, digits, . _ -"
        )
        password = st.text_input(
            "Password",
            type="password",
            autocomplete="new-password",
            help="At least 8 characters, with a lower-case letter, an upper-case letter and a digit.",
        )
        confirm = st.text_input("Confirm password", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Create workspace", type="primary", icon=":material/rocket_launch:")

    if submitted:
        try:
            user = actions.create_account(
                name=name,
                username=username,
                email=email,
                password=password,
                confirm=confirm,
                workspace_name=workspace_name,
            )
        except InvalidInput as problem:
            st.error(str(problem), icon=":material/error:")
        else:
            auth.start_session_for(user)
            navigation.send_to("app_pages/get_started.py")
            st.rerun()

    if not first_visit:
        st.page_link("app_pages/sign_in.py", label="Already have an account? Sign in", icon=":material/login:")
