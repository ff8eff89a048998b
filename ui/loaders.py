"""Cached reads for pages: the only st.cache_data users. Keys carry the database, workspace and data version."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core import queries
from ui.db import get_settings, open_session


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def _daily_totals(
    url: str, workspace_id: int, data_version: int, start: dt.date, end: dt.date, spend_filter: queries.SpendFilter
) -> pd.DataFrame:
    with open_session() as session:
        return queries.load_daily_totals(
            session, workspace_id=workspace_id, start=start, end=end, spend_filter=spend_filter
        )


def daily_totals(
    workspace_id: int, data_version: int, start: dt.date, end: dt.date, spend_filter: queries.SpendFilter
) -> pd.DataFrame:
    """Spend per day; cached per database, workspace, data version, range and filter."""
    return _daily_totals(get_settings().database_url, workspace_id, data_version, start, end, spend_filter)


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def _spend_breakdown(
    url: str, workspace_id: int, data_version: int, start: dt.date, end: dt.date, spend_filter: queries.SpendFilter
) -> pd.DataFrame:
    with open_session() as session:
        return queries.load_spend_breakdown(
            session, workspace_id=workspace_id, start=start, end=end, spend_filter=spend_filter
        )


def spend_breakdown(
    workspace_id: int, data_version: int, start: dt.date, end: dt.date, spend_filter: queries.SpendFilter
) -> pd.DataFrame:
    """Spend by every Overview dimension over a range; cached like daily_totals."""
    return _spend_breakdown(get_settings().database_url, workspace_id, data_version, start, end, spend_filter)


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def _filter_options(url: str, workspace_id: int, data_version: int) -> queries.FilterOptions:
    with open_session() as session:
        return queries.load_filter_options(session, workspace_id=workspace_id)


def filter_options(workspace_id: int, data_version: int) -> queries.FilterOptions:
    return _filter_options(get_settings().database_url, workspace_id, data_version)


def members(workspace_id: int) -> list[queries.MemberRow]:
    with open_session() as session:
        return queries.load_members(session, workspace_id=workspace_id)


def audit_entries(workspace_id: int) -> list[dict[str, object]]:
    with open_session() as session:
        return [
            {"When (UTC)": e.created_at.strftime("%Y-%m-%d %H:%M"), "Action": e.action, "Detail": e.detail}
            for e in queries.load_audit(session, workspace_id=workspace_id)
        ]


def user_count() -> int:
    with open_session() as session:
        return queries.count_users(session)
