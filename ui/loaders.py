"""Cached reads for pages: the only st.cache_data users. Keys carry the database, workspace and data version."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from connectors import alerting
from core import queries
from insights import outlook
from insights.anomalies import Anomaly, detect_anomalies
from insights.budgets import BudgetSpec
from insights.forecast import Backtest, compute_backtest
from ui.db import get_settings, open_session

# Anomaly baselines look back this far before the first day checked: four weeks of weekdays plus two
# four-week windows of residuals for the robust scale (insights.anomalies).
ANOMALY_BASELINE_DAYS = 84


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


def budget_specs(workspace_id: int) -> tuple[BudgetSpec, ...]:
    """The workspace's budgets as plain specs (read fresh: budgets change without touching the data version)."""
    with open_session() as session:
        return tuple(alerting.load_budget_specs(session, workspace_id=workspace_id))


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _outlook(
    url: str, workspace_id: int, data_version: int, today: dt.date, specs: tuple[BudgetSpec, ...]
) -> outlook.Outlook:
    # ``specs`` is only the cache key: the same budgets are read again with the data.
    with open_session() as session:
        return alerting.load_outlook(session, workspace_id=workspace_id, today=today, with_history=True)


def month_outlook(workspace_id: int, data_version: int, today: dt.date) -> outlook.Outlook:
    """Forecasts for every scope and the status of every budget; cached per data version, day and budgets."""
    specs = budget_specs(workspace_id)
    return _outlook(get_settings().database_url, workspace_id, data_version, today, specs)


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _anomalies(url: str, workspace_id: int, data_version: int, start: dt.date, end: dt.date) -> list[Anomaly]:
    with open_session() as session:
        frame = queries.load_anomaly_frame(
            session, workspace_id=workspace_id, start=start - dt.timedelta(days=ANOMALY_BASELINE_DAYS), end=end
        )
    return detect_anomalies(frame, start=start, end=end)


def anomalies(workspace_id: int, data_version: int, start: dt.date, end: dt.date) -> list[Anomaly]:
    """Cost spikes in [start, end], each with its likely driver; biggest first."""
    return _anomalies(get_settings().database_url, workspace_id, data_version, start, end)


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _backtest(url: str, workspace_id: int, data_version: int, today: dt.date) -> Backtest:
    through = today - dt.timedelta(days=1)
    with open_session() as session:
        frame = queries.load_daily_totals(
            session, workspace_id=workspace_id, start=through - dt.timedelta(days=outlook.HISTORY_DAYS - 1), end=through
        )
    return compute_backtest(pd.Series(frame["amount_micros"].to_numpy(), index=frame["day"]), today=through)


def backtest(workspace_id: int, data_version: int, today: dt.date) -> Backtest:
    """The workspace forecast's rolling-origin accuracy over the last 90 days."""
    return _backtest(get_settings().database_url, workspace_id, data_version, today)
