import datetime as dt

import streamlit as st

from ui import budgets, context, loaders, widgets

ctx = context.current()
st.title("What will it cost, and will we stay within budget?")
widgets.render_flash()
options = widgets.require_spend(ctx.workspace_id, ctx.data_version, can_edit=ctx.can("admin"))

today = ctx.today()
with st.spinner("Forecasting every department, project, provider and customer…"):
    view = loaders.month_outlook(ctx.workspace_id, ctx.data_version, today)
budgets.render_outlook_kpis(view, view.budgets)
st.caption(
    f"Forecasts learn from spend up to {view.through:%b %d} (today's is still arriving) and run to "
    f"{view.month_end:%b %d} and the months after, with 80% and 95% ranges."
)

on_budgets, on_forecast, on_spikes = st.tabs(["Budgets", "Forecast", "Cost spikes"])
with on_budgets:
    if not view.budgets:
        st.info(
            "No budgets yet. Set a monthly budget for the workspace or a department, project, provider or customer, "
            "and meterr tells you — before the money is gone — when it is on track to be exceeded.",
            icon=":material/savings:",
        )
    for status in sorted(view.budgets, key=lambda s: -s.projected_utilisation):
        budgets.render_budget_card(status, view, ctx=ctx)
    if ctx.can("admin"):
        budgets.render_budget_form(ctx, view, options)

with on_forecast:
    budgets.render_forecast(view)
    st.subheader("Forecast accuracy")
    with st.spinner("Replaying the last 90 days of forecasts…"):
        budgets.render_accuracy(loaders.backtest(ctx.workspace_id, ctx.data_version, today))

with on_spikes:
    start = view.through - dt.timedelta(days=89)
    st.caption(f"Days from {start:%b %d} to {view.through:%b %d} well above the usual for their weekday.")
    with st.spinner("Looking for spikes…"):
        budgets.render_anomalies(loaders.anomalies(ctx.workspace_id, ctx.data_version, start, view.through))
