"""Plotly figures for the Overview; money arrives as integer micro-USD and is plotted in dollars."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.money import MICROS_PER_USD, format_usd_short
from insights.roi import CostPerOutcomePoint

PALETTE = ("#4F46E5", "#0EA5E9", "#10B981", "#F59E0B", "#EF4444", "#8B5CF6", "#EC4899", "#14B8A6", "#64748B")
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "hoverlabel": {"namelength": -1}}


def _dollars(micros: pd.Series) -> pd.Series:
    return micros.astype("float64") / MICROS_PER_USD


def cumulative_line(frame: pd.DataFrame) -> go.Figure:
    """This month's running spend against last month's, by day of month."""
    data = frame.assign(spend=_dollars(frame["micros"]))
    figure = px.line(
        data,
        x="day_of_month",
        y="spend",
        color="month",
        color_discrete_map={"This month": PALETTE[0], "Last month": "#94A3B8"},
        labels={"day_of_month": "Day of month", "spend": "Cumulative spend", "month": ""},
        title="Cumulative spend: this month vs last",
    )
    figure.update_traces(hovertemplate="Day %{x}: $%{y:,.2f}<extra>%{fullData.name}</extra>")
    figure.update_layout(
        yaxis_tickprefix="$", yaxis_tickformat=",.0f", legend={"orientation": "h", "y": -0.2}, **_LAYOUT
    )
    return figure


def spend_bars(frame: pd.DataFrame, *, title: str) -> go.Figure:
    """Horizontal bars, largest at the top, labelled in human money."""
    data = frame.assign(spend=_dollars(frame["micros"]), label=[format_usd_short(m) for m in frame["micros"]])
    figure = px.bar(
        data.iloc[::-1],
        x="spend",
        y="name",
        orientation="h",
        text="label",
        title=title,
        labels={"spend": "Spend", "name": ""},
        color_discrete_sequence=[PALETTE[0]],
        custom_data=["share"],
    )
    figure.update_traces(
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: $%{x:,.2f} (%{customdata[0]:.1%})<extra></extra>",
    )
    figure.update_layout(xaxis_tickprefix="$", xaxis_tickformat=",.0f", height=max(260, 38 * len(data) + 80), **_LAYOUT)
    return figure


def spend_treemap(frame: pd.DataFrame, path: tuple[str, ...]) -> go.Figure:
    data = frame.assign(spend=_dollars(frame["micros"]))
    figure = px.treemap(data, path=[px.Constant("All spend"), *path], values="spend", color_discrete_sequence=PALETTE)
    figure.update_traces(
        hovertemplate="%{label}<br>$%{value:,.2f} (%{percentParent:.1%} of parent)<extra></extra>",
        texttemplate="%{label}<br>$%{value:,.0f}",
    )
    figure.update_layout(title="Where the money goes: department → project → model", height=480, **_LAYOUT)
    return figure


def spend_heatmap(grid: pd.DataFrame) -> go.Figure:
    """Weekday × week heat map of daily spend."""
    values = grid.astype("float64") / MICROS_PER_USD
    weeks = [f"{w:%b %d}" for w in grid.columns]
    figure = go.Figure(
        go.Heatmap(
            z=values.to_numpy(),
            x=weeks,
            y=list(grid.index),
            colorscale="Blues",
            hovertemplate="Week of %{x}, %{y}: $%{z:,.2f}<extra></extra>",
            colorbar={"tickprefix": "$"},
            xgap=2,
            ygap=2,
        )
    )
    figure.update_layout(title="Daily spend by weekday", yaxis_autorange="reversed", height=300, **_LAYOUT)
    return figure


def cost_per_outcome_chart(points: list[CostPerOutcomePoint]) -> go.Figure:
    """One line per outcome: AI cost per outcome, period by period (gaps where nothing was achieved)."""
    data = pd.DataFrame(
        {
            "period": [pd.Timestamp(p.period) for p in points],
            "outcome": [p.group for p in points],
            "cost": [None if p.cost_per_outcome_micros is None else p.cost_per_outcome_micros / MICROS_PER_USD
                     for p in points],
            "outcomes": [p.outcomes for p in points],
        }
    )  # fmt: skip
    figure = px.line(
        data, x="period", y="cost", color="outcome", markers=True, custom_data=["outcomes"],
        color_discrete_sequence=PALETTE, title="AI cost per outcome over time",
        labels={"period": "", "cost": "Cost per outcome", "outcome": ""},
    )  # fmt: skip
    figure.update_traces(hovertemplate="%{x|%b %d}: $%{y:,.2f} each (%{customdata[0]:,} outcomes)")
    figure.update_layout(yaxis_tickprefix="$", legend={"orientation": "h", "y": -0.2}, margin={"t": 40, "b": 10})
    return figure
