import streamlit as st

st.title("No workspace yet")
st.write(
    "You are signed in, but you are not a member of any workspace: you may have been removed from one. "
    "Ask a workspace owner or admin to add you (Settings → Members), or sign out and create a new workspace."
)
