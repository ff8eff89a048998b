import streamlit as st

from ui import context, report_schedule, reports, share, widgets

ctx = context.current()
st.title("What do I tell the board?")
widgets.render_flash()
widgets.require_spend(ctx.workspace_id, ctx.data_version, can_edit=ctx.can("admin"))

today = ctx.today()
choices = reports.period_choices(today)
period = st.selectbox("Period", choices, format_func=lambda key: reports.period_label(key, today), key="report_period")
summary, weekly, sharing = st.tabs(["Executive summary", "Weekly email", "Share with your CFO"])
with summary:
    reports.render_summary(
        workspace_id=ctx.workspace_id,
        workspace_name=ctx.workspace_name,
        data_version=ctx.data_version,
        period=period,
        today=today,
    )
with weekly:
    report_schedule.render_schedule_editor(ctx)
with sharing:
    share.render_share_manager(ctx)
