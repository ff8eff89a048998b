"""Reusable pieces of the screen: the KPI row, the sidebar filters, the empty state."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from core.money import MICROS_PER_USD, format_percent, format_usd, format_usd_short
from core.queries import FilterOptions, SpendFilter
from insights.budgets import BudgetSpec
from insights.metrics import UNALLOCATED, SpendSummary
from ui.context import is_shared

_MARKDOWN = re.compile(r"([\\`*_\[\]<>$|~#:])")


def plain(text: str) -> str:
    """Text to show through st.markdown as written: names from imports or settings ("[x](http://...)", "$5",
    ":red[...]") can neither format nor link."""
    return _MARKDOWN.sub(r"\\\1", text)


def render_kpi_row(summary: SpendSummary) -> None:
    first, second, third, fourth = st.columns(4)
    first.metric(
        "This month so far",
        format_usd_short(summary.this_month_micros),
        delta=format_percent(summary.change) if summary.change is not None else None,
        delta_color="inverse",
        help=f"Exactly {format_usd(summary.this_month_micros)} over {summary.days_elapsed} days; "
        "the change compares with the same days of last month.",
        border=True,
    )
    second.metric(
        "Last month",
        format_usd_short(summary.last_month_micros),
        help=f"Exactly {format_usd(summary.last_month_micros)}.",
        border=True,
    )
    third.metric(
        "Month-end projection",
        format_usd_short(summary.projection_micros),
        delta=format_percent(summary.projection_change) + " vs last month"
        if summary.projection_change is not None
        else None,
        delta_color="inverse",
        help="Spend so far plus the daily average so far for each remaining day "
        f"({summary.days_in_month - summary.days_elapsed} left). Exactly {format_usd(summary.projection_micros)}.",
        border=True,
    )
    daily = summary.this_month_micros // max(summary.days_elapsed, 1)
    fourth.metric(
        "Daily average",
        format_usd_short(daily),
        help=f"This month so far: exactly {format_usd(daily)} a day.",
        border=True,
    )


def render_filters(
    options: FilterOptions, *, today: dt.date, default_range: tuple[dt.date, dt.date] | None = None
) -> tuple[dt.date, dt.date, SpendFilter]:
    """Date range and provider / department / project pickers in the sidebar.

    `default_range` (a share link's fixed month) replaces the last year as the range first shown.
    """
    sidebar = st.sidebar
    sidebar.subheader("Filters")
    first = options.first_day or today
    last = max(options.last_day or today, today)
    default_start, default_end = max(first, last - dt.timedelta(days=364)), last
    if default_range is not None:
        default_start = min(max(default_range[0], first), last)
        default_end = max(min(default_range[1], last), default_start)
    picked = sidebar.date_input(
        "Date range",
        value=(default_start, default_end),
        min_value=first,
        max_value=last,
        key="filter_dates",
        format="YYYY-MM-DD",
    )
    start, end = (picked[0], picked[-1]) if isinstance(picked, tuple) and picked else (default_start, default_end)
    label = {"": "Unallocated"}
    providers = sidebar.multiselect("Provider", options.providers, key="filter_providers", placeholder="All providers")
    departments = sidebar.multiselect(
        "Department",
        options.departments,
        key="filter_departments",
        placeholder="All departments",
        format_func=lambda v: label.get(v, v),
    )
    projects = sidebar.multiselect(
        "Project",
        options.projects,
        key="filter_projects",
        placeholder="All projects",
        format_func=lambda v: label.get(v, v),
    )
    return start, end, SpendFilter(tuple(providers), tuple(departments), tuple(projects))


def render_spend_table(table: pd.DataFrame, *, labels: dict[str, str], key: str) -> None:
    """A table of spend and usage: dollars for sorting and display (exact micros stay in the CSV)."""
    shown = table.assign(spend=table["micros"] / MICROS_PER_USD).drop(columns=["micros"])
    shown = shown.replace({"": UNALLOCATED})
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "spend": st.column_config.NumberColumn("Spend", format="dollar"),
            "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
            "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized"),
            "requests": st.column_config.NumberColumn("Requests", format="localized"),
            **{column: st.column_config.TextColumn(label) for column, label in labels.items()},
        },
        key=key,
    )


def render_empty_state(*, can_edit: bool) -> None:
    st.info(
        "**No spend yet in this workspace.** Connect a provider or import an export and your AI spend appears "
        "here, or explore with a year of demo data first.",
        icon=":material/insights:",
    )
    if can_edit and not is_shared():
        st.page_link(
            "app_pages/get_started.py",
            label="Get started: demo data or connect your data",
            icon=":material/rocket_launch:",
        )
    else:
        st.caption("Ask a workspace owner or admin to connect data.")


@st.cache_data(max_entries=1, show_spinner=False)
def timezone_choices() -> list[str]:
    """IANA timezones, UTC first."""
    return ["UTC", *sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))]


def render_budget_used(specs: tuple[BudgetSpec, ...], summary: SpendSummary, *, filtered: bool) -> None:
    """The workspace budget's bar under the tiles, once there is a workspace-wide budget."""
    budget = next((s for s in specs if s.scope == "workspace"), None)
    if budget is None:
        return
    if filtered:
        st.caption("Clear the filters to see how much of the workspace budget is used.")
        return
    used = summary.this_month_micros / budget.amount_micros
    projected = summary.projection_micros / budget.amount_micros
    st.progress(
        min(used, 1.0),
        text=f"Budget used: {format_usd_short(summary.this_month_micros)} of "
        f"{format_usd(budget.amount_micros, cents=False)} ({used:.0%}); on pace for {projected:.0%} by month end.",
    )
    if not is_shared():  # a share link's view has no Forecast page to go to
        st.page_link("app_pages/forecast.py", label="Forecast and budgets", icon=":material/query_stats:")


def render_flash() -> None:
    """The message an action left for the page it reran into (st.session_state["flash"])."""
    if flash := st.session_state.pop("flash", None):
        st.success(flash, icon=":material/check_circle:")


def require_spend(workspace_id: int, data_version: int, *, can_edit: bool) -> FilterOptions:
    """The workspace's filter options; without any spend, the empty state instead of the page (st.stop)."""
    from ui import loaders

    options = loaders.filter_options(workspace_id, data_version)
    if options.first_day is None:
        render_empty_state(can_edit=can_edit)
        st.stop()
    return options
