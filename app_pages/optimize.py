import streamlit as st

from ui import context, optimize, widgets

ctx = context.current()
st.title("What should we change?")
widgets.render_flash()
options = widgets.require_spend(ctx.workspace_id, ctx.data_version, can_edit=ctx.can("admin"))

with st.spinner("Pricing every workload against cheaper options…"):
    view = optimize.load_advice(ctx.workspace_id, ctx.data_version, ctx.today(), ctx.workspace_timezone)
optimize.render_kpis(view)
st.caption(
    f"From your last 30 days of usage ({view.start:%b %d} – {view.end:%b %d}), priced with genai-prices' list "
    "prices as of today. Monthly figures are 30 days' worth."
)

advice_tab, tracker_tab, prices_tab = st.tabs(["Recommendations", "Savings tracker", "Price check"])
with advice_tab:
    if not view.open:
        st.success(
            "Nothing worth changing right now: every workload is on a sensible model and price.",
            icon=":material/thumb_up:",
        )
    for rec in view.open:
        optimize.render_recommendation(rec, ctx)
    if view.dismissed:
        st.caption(f"{len(view.dismissed)} dismissed recommendation(s) hidden.")
with tracker_tab:
    optimize.render_tracker(view, ctx)
with prices_tab:
    with st.spinner("Re-pricing 90 days of usage…"):
        check, rates = optimize.load_price_check(ctx.workspace_id, ctx.data_version, ctx.today())
    optimize.render_price_check(check, ctx)
    st.divider()
    optimize.render_rates(rates, options.providers, ctx)
