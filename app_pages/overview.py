import datetime as dt

import streamlit as st

from core.money import format_usd, format_usd_short
from core.queries import SpendFilter
from insights import charts, export, metrics
from ui import budgets, context, loaders, reports, share, widgets

ctx = context.current()
st.title("Where does the money go?")
widgets.render_flash()
options = widgets.require_spend(ctx.workspace_id, ctx.data_version, can_edit=ctx.can("admin"))

today = ctx.today()
start, end, spend_filter = widgets.render_filters(options, today=today, default_range=share.fixed_range())

with st.spinner("Adding up your spend…"):
    recent = loaders.daily_totals(
        ctx.workspace_id, ctx.data_version, metrics.previous_month_start(today), today, spend_filter
    )
    daily = loaders.daily_totals(ctx.workspace_id, ctx.data_version, start, end, spend_filter)
    rows = loaders.spend_breakdown(ctx.workspace_id, ctx.data_version, start, end, spend_filter)

summary = metrics.compute_summary(recent, today=today)
widgets.render_kpi_row(summary)
st.caption(
    f"Tiles cover this month and last, up to today ({today:%b %d, %Y}); "
    "the provider, department and project filters apply."
)
widgets.render_budget_used(loaders.budget_specs(ctx.workspace_id), summary, filtered=spend_filter != SpendFilter())
st.plotly_chart(charts.cumulative_line(metrics.compute_cumulative(recent, today=today)), key="cumulative")

if rows.empty:
    st.info(
        "Nothing matches these filters in the chosen dates. Widen the date range or clear a filter.",
        icon=":material/filter_alt_off:",
    )
    st.stop()

total = metrics.total_micros(rows)
st.header(f"{format_usd_short(total)} from {start:%b %d, %Y} to {end:%b %d, %Y}")
st.caption(f"Exactly {format_usd(total)}.")

dimensions = {
    "provider": "Provider",
    "model": "Model",
    "department": "Department",
    "project": "Project",
    "customer": "Customer",
}
for tab, (dimension, label) in zip(
    st.tabs([f"By {v.lower()}" for v in dimensions.values()]), dimensions.items(), strict=True
):
    with tab:
        breakdown = metrics.compute_breakdown(rows, dimension, top=12)
        st.plotly_chart(charts.spend_bars(breakdown, title=f"Spend by {label.lower()}"), key=f"bars_{dimension}")

with st.spinner("Looking for what changed this month…"):
    reports.render_insights(
        reports.insights_feed(ctx.workspace_id, ctx.data_version, today),
        title="What changed",
        caption="This month so far across the whole workspace, biggest dollar impact first; the filters do not apply.",
    )

spikes = loaders.anomalies(ctx.workspace_id, ctx.data_version, max(start, end - dt.timedelta(days=89)), end)
if spikes:
    st.subheader("Cost spikes, explained")
    budgets.render_anomalies(spikes, limit=3, key="overview_spikes")
    if not ctx.shared:  # a share link's view has no Forecast page
        st.page_link("app_pages/forecast.py", label="All spikes, forecasts and budgets", icon=":material/query_stats:")

path = ("department", "project", "model")
st.plotly_chart(charts.spend_treemap(metrics.compute_hierarchy(rows, path), path), key="treemap")
st.plotly_chart(charts.spend_heatmap(metrics.compute_heatmap(daily)), key="heatmap")

st.subheader("Drill down")
by = st.multiselect(
    "Group by", list(dimensions), default=["provider", "model"], format_func=dimensions.get, key="drill_by"
) or ["provider"]
table = metrics.compute_drilldown(rows, tuple(by))
widgets.render_spend_table(table, labels={d: dimensions[d] for d in by}, key="drill_table")
st.download_button(
    "Download CSV",
    data=export.compute_csv(table),
    file_name=f"meterr-{ctx.workspace_slug}-{start}-{end}.csv",
    mime="text/csv",
    icon=":material/download:",
    key="drill_csv",
)
