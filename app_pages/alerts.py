import streamlit as st

from ui import context, notifications

ctx = context.current()
st.title("What needs my attention?")
st.caption(
    "Budget thresholds crossed, overruns predicted before the money is gone, and cost spikes — each alert fires once "
    "per budget, month and kind."
)
if ctx.can("admin") and st.button("Check now", icon=":material/radar:", key="alerts_check_now"):
    with st.spinner("Checking every budget and looking for spikes…"):
        run = notifications.check_now(ctx)
    st.toast(f"{len(run.fired)} new alert(s)." if run.fired else "Nothing new to alert about.")

inbox, sent = st.tabs(["Inbox", "Deliveries"])
with inbox:
    notifications.render_inbox(ctx)
with sent:
    st.caption("Email, Slack and webhook deliveries; failures are retried after 1, 5, 30 and 120 minutes.")
    notifications.render_deliveries(ctx)
    st.page_link("app_pages/settings.py", label="Set up where alerts go", icon=":material/settings:")
