import datetime as dt

import streamlit as st

from core.allocation import ALLOCATED, FIELD_LABELS, MATCH_FIELDS, MATCH_KINDS, SET_FIELDS, Rule
from core.money import format_usd
from core.security import InvalidInput
from ui import actions, context

ctx = context.current()
st.title("Who does the spend belong to?")
st.caption(
    "Rules allocate charges to departments, projects, customers, features and tags — for past charges and every "
    "new one. Your own edits to a charge win over rules and survive re-imports."
)

rules = actions.load_rules(ctx)
st.subheader("Rules")
if not rules:
    st.info("No rules yet. Example: when **project is proj_search**, set **department** to **Search**.")
for rule in rules:
    text, button = st.columns([6, 1], vertical_alignment="center")
    text.markdown(f"{rule.describe()}")
    if ctx.can("admin") and rule.id is not None and button.button("Remove", key=f"rule_remove_{rule.id}"):
        change = actions.remove_rule(ctx, rule.id)
        st.toast(f"Rule removed: {format_usd(change.micros)} re-allocated.")
        st.rerun()

if ctx.can("admin"):
    with st.form("rule_form"):
        st.markdown("**Add a rule**")
        when, kind, pattern = st.columns(3)
        match_field = when.selectbox(
            "When", MATCH_FIELDS, format_func=FIELD_LABELS.get, index=MATCH_FIELDS.index("project")
        )
        match_kind = kind.selectbox("Match", MATCH_KINDS, format_func=str.capitalize)
        text_pattern = pattern.text_input("this text", placeholder="proj_search")
        target, tag_key, value = st.columns(3)
        set_field = target.selectbox("Set", SET_FIELDS, format_func=FIELD_LABELS.get)
        tag_name = tag_key.text_input("Tag name (tags only)", placeholder="team")
        new_value = value.text_input("to", placeholder="Search")
        preview, save = st.columns(2)
        previewed = preview.form_submit_button("Preview", icon=":material/preview:")
        saved = save.form_submit_button("Save and apply", type="primary", icon=":material/save:")
    if previewed or saved:
        rule = Rule(match_field, match_kind, text_pattern, set_field, new_value, tag_name)
        try:
            if saved:
                with st.spinner("Applying to every charge…"):
                    change = actions.add_rule(ctx, rule)
                st.success(f"Saved: {format_usd(change.micros)} across {change.charges:,} charges re-allocated.")
                st.rerun()
            change = actions.preview_rule(ctx, rule)
            st.info(f"This rule would move **{format_usd(change.micros)}** across {change.charges:,} charges.")
        except InvalidInput as problem:
            st.error(str(problem))

st.subheader("Check and correct charges")
today = ctx.today()
picked = st.date_input("Charges between", value=(today.replace(day=1), today), key="rules_range")
days = [d for d in (picked if isinstance(picked, tuple) else (picked,)) if isinstance(d, dt.date)]
table = actions.load_largest_charges(ctx, start=days[0], end=days[-1]) if days else None
if table is None or table.empty:
    st.caption("No charges in this period.")
else:
    table["amount"] = table.pop("amount_micros").map(format_usd)
    edited = st.data_editor(
        table,
        hide_index=True,
        disabled=[c for c in table.columns if c not in (*ALLOCATED, "tags")] if ctx.can("admin") else True,
        column_config={
            "source_key": None,
            "day": st.column_config.DateColumn("Day"),
            "tags": st.column_config.TextColumn("Tags", help="name=value, separated by commas"),
        },
        key="charges_editor",
    )
    if ctx.can("admin") and st.button("Save my changes", icon=":material/save:", key="save_overrides"):
        try:
            change = actions.save_charge_edits(ctx, table, edited)
        except InvalidInput as problem:
            st.error(str(problem))
        else:
            if change is None:
                st.info("Nothing changed.")
            else:
                st.success(f"Saved: {format_usd(change.micros)} across {change.charges:,} charges re-allocated.")
