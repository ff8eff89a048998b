"""Taking a person to the page an action chose, even when the browser has queued a rerun of the old page."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

GO_TO_KEY = "go_to"


def send_to(page_path: str) -> None:
    """Ask Home.py to show this page (e.g. "app_pages/overview.py") from the next run on."""
    st.session_state[GO_TO_KEY] = page_path


def follow_pending(current: StreamlitPage, pages: dict[str, StreamlitPage]) -> None:
    """Switch to the requested page until the person is on it, then forget the request.

    A one-shot switch is not enough: a rerun the browser queued while the action ran still names the page
    it was on, and would carry the person back there.
    """
    target = st.session_state.get(GO_TO_KEY)
    if target is None:
        return
    page = pages.get(target)
    if page is None or page.title == current.title:
        st.session_state.pop(GO_TO_KEY, None)
        return
    st.switch_page(page)
