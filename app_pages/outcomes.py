import streamlit as st

from connectors.files.base import BadFile
from core.outcomes import OUTCOME_TEMPLATES
from core.security import InvalidInput
from ui import api_tokens, context, outcomes

ctx = context.current()
st.title("What does AI produce for the business?")
st.caption(
    "Outcomes are what AI work is for — tickets resolved, leads qualified, reviews done — each worth a number of "
    "dollars. Their counts turn AI spend into value, ROI and a P&L per department."
)
admin = ctx.can("admin")
definitions, counts, api = st.tabs(["Outcomes", "Daily counts", "API tokens"])

with definitions:
    known = outcomes.load_definitions(ctx)
    if known:
        st.dataframe(
            [{"Outcome": d.name, "Unit": d.unit, "Value per unit ($)": d.value_usd, "Department": d.department,
              "Project": d.project} for d in known],
            hide_index=True,
        )  # fmt: skip
    else:
        st.info("No outcomes yet. Start from a template below, or define your own.", icon=":material/flag:")
    if admin:
        unused = [t for t in OUTCOME_TEMPLATES if t.name.lower() not in {d.name.lower() for d in known}]
        with st.form("outcome_form", clear_on_submit=True):
            st.markdown("**Add an outcome**")
            template = st.selectbox(
                "Start from", [None, *unused], format_func=lambda t: "Your own" if t is None else f"{t.name}"
            )
            name = st.text_input("Name (your own only)", placeholder="Invoice processed")
            left, middle, right = st.columns(3)
            unit = left.text_input("Unit (your own only)", placeholder="invoice")
            value = middle.text_input("Value per unit in $", placeholder="8.00 (templates suggest one)")
            department = right.text_input("Department", placeholder="Finance")
            if st.form_submit_button("Add outcome", type="primary", icon=":material/add:"):
                try:
                    outcomes.save_definition(
                        ctx,
                        name=template.name if template else name,
                        unit=template.unit if template else unit,
                        value_usd=value or (template.value_usd if template else ""),
                        department=department or (template.department if template else ""),
                    )
                except InvalidInput as problem:
                    st.error(str(problem))
                else:
                    st.rerun()
        if known:
            doomed = st.selectbox("Remove an outcome (and its counts)", [None, *known], key="outcome_remove",
                                  format_func=lambda d: "—" if d is None else d.name)  # fmt: skip
            if doomed is not None and st.button(f"Remove {doomed.name}", key="outcome_remove_go"):
                outcomes.delete_definition(ctx, doomed.id)
                st.rerun()

with counts:
    if admin:
        st.markdown("**Upload counts**: a CSV with `date, outcome, count` and optionally `department`.")
        upload = st.file_uploader("Outcome counts (CSV)", type=["csv", "txt"], key="outcomes_upload")
        skip = st.checkbox("Skip bad rows (they are listed)", key="outcomes_skip")
        if upload is not None:
            try:
                parsed = outcomes.preview_counts(ctx, upload.getvalue(), name=upload.name, skip_bad_rows=skip)
            except (BadFile, InvalidInput) as problem:
                st.error(str(problem), icon=":material/error:")
            else:
                st.success(f"{parsed.rows_read:,} rows → {len(parsed.rows):,} daily counts, "
                           f"{sum(r.count for r in parsed.rows):,} outcomes in all.")  # fmt: skip
                if parsed.skipped:
                    st.warning("Left out: " + "; ".join(f"row {s.row} ({s.reason})" for s in parsed.skipped[:20]))
                if st.button("Import counts", type="primary", key="outcomes_import"):
                    result = outcomes.import_counts(ctx, upload.getvalue(), name=upload.name, skip_bad_rows=skip)
                    st.success(f"Saved: {result.written:,} new, {result.replaced:,} corrected, "
                               f"{result.unchanged:,} unchanged.")  # fmt: skip
    recent = outcomes.load_recent_counts(ctx)
    st.markdown("**The last two weeks** — edit a count or add a row, then save.")
    edited = st.data_editor(recent, hide_index=True, num_rows="dynamic" if admin else "fixed",
                            disabled=not admin, key="outcomes_grid")  # fmt: skip
    if admin and st.button("Save counts", icon=":material/save:", key="outcomes_grid_save"):
        try:
            saved = outcomes.save_count_edits(ctx, recent, edited)
        except InvalidInput as problem:
            st.error(str(problem))
        else:
            st.success("Nothing changed." if saved is None else f"Saved {saved.written + saved.replaced:,} counts.")

with api:
    st.markdown(
        "Send counts from your systems: `POST /api/v1/outcomes` with a token that may write outcomes and "
        '`{"outcomes": [{"date": "2026-11-20", "outcome": "Support ticket resolved", "count": 42}]}`.'
    )
    api_tokens.render_token_manager(ctx, default_scopes=("outcomes:write",))
