import streamlit as st

from core.security import InvalidInput
from ui import actions, context, loaders, navigation

ctx = context.current()
st.title(f"Welcome to meterr, {ctx.name.split()[0]}")
st.write("Two ways to begin. Both take about a minute, and you can do the other one later.")
has_data = loaders.filter_options(ctx.workspace_id, ctx.data_version).first_day is not None

demo, connect = st.columns(2)
with demo.container(border=True):
    st.subheader(":material/auto_awesome: Start with demo data")
    st.write(
        "A year of AI spend for a fictional company, Acme AI: OpenAI, Anthropic, Google and AWS Bedrock; "
        "thirteen models at their real list prices; five departments, eight projects and ten customers. "
        "Every screen fills in, so you can see what meterr will tell you."
    )
    if has_data:
        st.caption("This workspace already has spend; demo charges are added beside it and can be deleted in Settings.")
    if st.button(
        "Load demo data",
        type="primary",
        icon=":material/play_arrow:",
        disabled=not ctx.can("admin"),
        key="load_demo",
    ):
        try:
            with st.spinner("Building a year of demo spend…"):
                result = actions.load_demo_data(ctx)
        except InvalidInput as problem:
            st.error(str(problem))
        else:
            st.session_state["flash"] = f"Demo data loaded: {result.charges_written:,} daily charges across 12 months."
            # Recorded first: if another rerun interrupts this one, Home.py still takes the person there.
            navigation.send_to("app_pages/overview.py")
            st.rerun()
    if not ctx.can("admin"):
        st.caption("Viewers can look but not change anything; ask an owner or admin.")

with connect.container(border=True):
    st.subheader(":material/cable: Connect my data")
    st.write(
        "Read-only admin keys for OpenAI and Anthropic, billing exports from Google Cloud, AWS and Azure, gateway "
        "logs from Helicone, Langfuse and LiteLLM, or any CSV. No proxy and no SDK in your request path."
    )
    st.page_link("app_pages/connect.py", label="How connecting works", icon=":material/arrow_forward:")
