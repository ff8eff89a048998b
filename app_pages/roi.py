import streamlit as st

from core.security import InvalidInput
from insights import whatif
from ui import context
from ui import profitability as profit

ctx = context.current()
st.title("ROI calculator: what if…")
if flash := st.session_state.pop("roi_flash", None):
    st.success(flash, icon=":material/check_circle:")

baseline = profit.whatif_baseline(ctx.workspace_id, ctx.data_version, ctx.today())
if not baseline.usage:
    st.info(
        "**No AI spend in the last 30 days.** The calculator starts from a month of your real spend and "
        "outcomes; connect a provider or load the demo data first.",
        icon=":material/calculate:",
    )
    st.page_link("app_pages/get_started.py", label="Get started", icon=":material/rocket_launch:")
    st.stop()
if not baseline.outcomes:
    st.caption("No business outcomes are defined, so value stays at $0: only the cost levers move anything.")

levers = profit.render_whatif_sliders(baseline)
result = whatif.compute_whatif(baseline, levers)
profit.render_whatif_result(result)

st.subheader("Scenarios")
with st.form("save_scenario", clear_on_submit=False, border=False):
    name = st.text_input("Scenario name", placeholder="e.g. Support on gpt-4o-mini", key="scenario_name")
    saved = st.form_submit_button(
        "Save as scenario", icon=":material/bookmark_add:", disabled=not ctx.can("admin"), key="save_scenario_button"
    )
if not ctx.can("admin"):
    st.caption("Only a workspace admin or owner can save scenarios.")
elif saved:
    try:
        saved_as, created = profit.save_scenario(ctx, name, levers)
        st.success(f"Saved '{saved_as}'." if created else f"Replaced '{saved_as}'.")
    except InvalidInput as error:
        st.error(str(error))

scenarios = profit.load_scenarios(ctx)
st.dataframe(
    profit.scenario_table(whatif.compare_scenarios(baseline, scenarios)), hide_index=True, key="scenario_table"
)
if scenarios and ctx.can("admin"):
    doomed, button = st.columns([3, 1], vertical_alignment="bottom")
    chosen = doomed.selectbox("Saved scenario", list(scenarios), key="scenario_to_delete")
    if button.button("Delete scenario", icon=":material/delete:", key="delete_scenario_button") and chosen:
        try:
            profit.delete_scenario(ctx, chosen)
        except InvalidInput as error:
            st.error(str(error))
        else:
            st.session_state["roi_flash"] = f"Deleted '{chosen}'."
            st.rerun()
elif not scenarios:
    st.caption("No saved scenarios yet: move the sliders, name the result and save it to compare here.")
