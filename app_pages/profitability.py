import streamlit as st

from insights import charts, roi
from ui import context
from ui import profitability as profit

ctx = context.current()
st.title("Does AI pay for itself?")

period = profit.render_period_picker(ctx.today())
with st.spinner("Weighing value against cost…"):
    now = profit.period_figures(ctx.workspace_id, ctx.data_version, period.start, period.end)
    before = profit.period_figures(ctx.workspace_id, ctx.data_version, period.previous_start, period.previous_end)

if not now.has_outcomes:
    st.info(
        "**No business outcomes defined yet.** AI pays for itself when the work it does is worth more than it "
        "costs: say what a resolved ticket or a qualified lead is worth to you, send in daily counts, and this "
        "page weighs that value against your AI spend.",
        icon=":material/flag:",
    )
    st.page_link("app_pages/outcomes.py", label="Define your business outcomes", icon=":material/flag:")
else:
    summary = roi.compute_roi(now.cost_micros, now.value_micros, days=period.days)
    profit.render_roi_tiles(summary)
    st.markdown(f"**{summary.verdict}.**")

    points = roi.compute_cost_per_outcome_trend(
        profit.cost_per_outcome_frame(ctx.workspace_id, ctx.data_version, period.start, period.end), by="outcome"
    )
    if points:
        st.plotly_chart(charts.cost_per_outcome_chart(points), key="cost_per_outcome")
    else:
        st.caption("No outcomes were counted in this period, so there is no cost per outcome to plot.")

    st.subheader("Department P&L")
    profit.render_pnl(
        roi.compute_department_pnl(
            now.cost_by_department,
            now.value_by_department,
            now.outcomes_by_department,
            before.cost_by_department,
            before.value_by_department,
        )
    )
    st.caption(
        "A department's AI cost is weighed against the value of the outcomes it produced. The trend is the "
        f"change in net value {period.label}."
    )

    efficiency = roi.compute_efficiency_insights(now.efficiency, before.efficiency, period_label=period.label)
    if efficiency:
        st.subheader("Efficiency")
        st.markdown("\n".join(f"- {item.sentence}." for item in efficiency))

st.subheader("Margin per customer")
if not now.has_revenue:
    st.info(
        "**No revenue in this period.** Connect Stripe and each customer's revenue appears here beside the AI "
        "cost allocated to them, worst margins first.",
        icon=":material/payments:",
    )
    st.page_link("app_pages/connect.py", label="Connect Stripe", icon=":material/cable:")
else:
    margins = roi.compute_customer_margins(now.revenue_by_customer, now.cost_by_customer)
    if margins:
        profit.render_margins(margins)
        st.caption("Revenue net of Stripe fees and refunds, less the AI cost allocated to the customer.")
    else:
        st.caption("Revenue in this period names no customers, so there is no margin per customer to show.")
