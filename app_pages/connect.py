import streamlit as st

from connectors import catalog
from connectors.http import ConnectorError
from ui import connections, context, widgets, wizard

ctx = context.current()
st.title("Connect your data")
st.caption("Admin keys, export files or signed webhooks: every source ends up as daily charges you can trust.")

rows = connections.load_connection_rows(ctx)
if rows:
    st.subheader("Your connections")
    for row in rows:
        with st.container(border=True):
            name, status, numbers, buttons = st.columns([3, 2, 2, 2], vertical_alignment="center")
            name.markdown(f"**{widgets.plain(row.name)}**  \n{catalog.METHOD_LABELS.get(row.method, row.method)}")
            if row.status == "error":
                status.markdown(":red-badge[:material/error: needs attention]")
            else:
                status.markdown(":green-badge[:material/check: active]")
            synced = f"{row.last_synced:%d %b %Y %H:%M} UTC" if row.last_synced else "never"
            status.caption(f"Last sync: {synced}" + (f" · key {row.key_hint}" if row.key_hint else ""))
            numbers.markdown(f"**{row.total}**  \n{row.charges:,} charges")
            if ctx.can("admin"):
                if (
                    row.method == catalog.API_KEY
                    and row.key_hint
                    and buttons.button("Sync now", icon=":material/sync:", key=f"sync_{row.id}")
                ):
                    with st.spinner(f"Syncing {row.name}…"):
                        result = connections.run_sync(ctx, connection_id=row.id)
                    (st.success if result.ok else st.error)(result.message)
                with buttons.popover("Edit", icon=":material/edit:"):
                    new_name = st.text_input("Name", value=row.name, key=f"edit_name_{row.id}")
                    new_key = ""
                    if row.method == catalog.API_KEY:
                        new_key = st.text_input("Replace the key (optional)", type="password", key=f"edit_key_{row.id}")
                    if st.button("Save", key=f"edit_save_{row.id}", type="primary"):
                        try:
                            connections.edit_connection(ctx, connection_id=row.id, name=new_name, new_key=new_key)
                        except ConnectorError as problem:
                            st.error(str(problem))
                        else:
                            st.session_state.pop(f"edit_key_{row.id}", None)
                            st.rerun()
                if buttons.button("Remove", icon=":material/delete:", key=f"remove_{row.id}"):
                    st.session_state["confirm_remove"] = row.id
                if st.session_state.get("confirm_remove") == row.id:
                    st.warning(
                        f"Remove **{widgets.plain(row.name)}**? Its stored key is deleted; the charges it imported "
                        "stay (delete them in Settings → Delete data)."
                    )
                    yes, no = st.columns(2)
                    if yes.button("Yes, remove", type="primary", key=f"remove_yes_{row.id}"):
                        connections.remove_connection(ctx, connection_id=row.id)
                        st.session_state.pop("confirm_remove", None)
                        st.rerun()
                    if no.button("Keep it", key=f"remove_no_{row.id}"):
                        st.session_state.pop("confirm_remove", None)
                        st.rerun()
            if row.last_error:
                st.error(row.last_error, icon=":material/error:")
    st.divider()

st.subheader("Add a source" if rows else "Connect your first source")
if ctx.can("admin"):
    wizard.render(ctx)
else:
    st.info("Only owners and admins can connect data. Ask one of them to add a source.", icon=":material/lock:")
    st.page_link("app_pages/overview.py", label="Back to the Overview", icon=":material/dashboard:")
