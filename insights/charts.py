"""Plotly figures for the pages; money arrives as integer micro-USD and is plotted in dollars."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.money import MICROS_PER_USD, format_usd_short
from insights.budgets import BudgetMonth
from insights.facts import ReportFacts
from insights.forecast import Forecast
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


def _band(
    figure: go.Figure, x: Sequence[object], low: list[float], high: list[float], *, name: str, alpha: float
) -> None:
    """A shaded interval: the upper edge, then the lower one filled up to it."""
    figure.add_trace(go.Scatter(x=x, y=high, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"))
    figure.add_trace(
        go.Scatter(
            x=x,
            y=low,
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=f"rgba(79, 70, 229, {alpha})",
            name=name,
            hoverinfo="skip",
        )  # fmt: skip
    )


def month_burn_chart(
    month_daily: pd.Series,
    forecast: Forecast,
    *,
    month_start: dt.date,
    month_end: dt.date,
    budget_micros: int | None = None,
    exceed_date: dt.date | None = None,
) -> go.Figure:
    """This month's cumulative spend so far, then the forecast's median path with its 80% and 95% bands to the
    month's end, against the budget line when there is one."""
    actual = month_daily.copy()
    actual.index = pd.to_datetime(pd.Index(actual.index)).date
    days = [month_start + dt.timedelta(days=i) for i in range((forecast.today - month_start).days + 1)]
    spent = pd.Series([int(actual.get(d, 0)) for d in days], index=days, dtype="int64").cumsum()
    realised = int(spent.iloc[-1]) if len(spent) else 0
    ahead = [d for d in forecast.days if d.day <= month_end]
    figure = go.Figure()
    if ahead:
        x = [forecast.today, *(d.day for d in ahead)]

        def path(bound: str) -> list[float]:
            return [realised / MICROS_PER_USD] + [
                (realised + getattr(d, f"cum_{bound}")) / MICROS_PER_USD for d in ahead
            ]

        _band(figure, x, path("lower95"), path("upper95"), name="95% range", alpha=0.12)
        _band(figure, x, path("lower80"), path("upper80"), name="80% range", alpha=0.25)
        figure.add_trace(
            go.Scatter(
                x=x,
                y=path("median"),
                mode="lines",
                name="Forecast",
                line={"color": PALETTE[0], "dash": "dash"},
                hovertemplate="%{x|%b %d}: $%{y:,.0f} expected<extra></extra>",
            )  # fmt: skip
        )
    if len(spent):
        figure.add_trace(
            go.Scatter(
                x=list(spent.index),
                y=_dollars(spent).tolist(),
                mode="lines+markers",
                name="Spent",
                line={"color": PALETTE[0], "width": 3},
                marker={"size": 5},
                hovertemplate="%{x|%b %d}: $%{y:,.2f} spent<extra></extra>",
            )  # fmt: skip
        )
    if budget_micros is not None:
        figure.add_hline(
            y=budget_micros / MICROS_PER_USD, line={"color": PALETTE[4], "dash": "dot"},
            annotation_text=f"Budget {format_usd_short(budget_micros)}", annotation_position="top left",
        )  # fmt: skip
    if exceed_date is not None and budget_micros is not None:
        figure.add_trace(
            go.Scatter(
                x=[exceed_date],
                y=[budget_micros / MICROS_PER_USD],
                mode="markers",
                name="Projected to exceed",
                marker={"color": PALETTE[4], "size": 12, "symbol": "x"},
                hovertemplate="Projected to exceed on %{x|%b %d}<extra></extra>",
            )  # fmt: skip
        )
    figure.update_layout(
        title="This month: spent so far and where it is heading", xaxis_range=[month_start, month_end],
        yaxis_tickprefix="$", yaxis_tickformat=",.0f", legend={"orientation": "h", "y": -0.2}, **_LAYOUT,
    )  # fmt: skip
    return figure


def forecast_chart(history: pd.Series, forecast: Forecast, *, until: dt.date) -> go.Figure:
    """Daily spend: the recent past, then the forecast median with 80% and 95% bands up to ``until``."""
    past = history.copy()
    past.index = pd.to_datetime(pd.Index(past.index))
    ahead = [d for d in forecast.days if d.day <= until]
    figure = go.Figure()
    if ahead:
        x = [d.day for d in ahead]

        def line(bound: str) -> list[float]:
            return [getattr(d, bound) / MICROS_PER_USD for d in ahead]

        _band(figure, x, line("lower95"), line("upper95"), name="95% range", alpha=0.12)
        _band(figure, x, line("lower80"), line("upper80"), name="80% range", alpha=0.25)
        figure.add_trace(
            go.Scatter(
                x=x,
                y=line("median"),
                mode="lines",
                name="Forecast",
                line={"color": PALETTE[0], "dash": "dash"},
                hovertemplate="%{x|%a %b %d}: $%{y:,.0f} expected<extra></extra>",
            )  # fmt: skip
        )
    figure.add_trace(
        go.Scatter(
            x=list(past.index),
            y=_dollars(past).tolist(),
            mode="lines",
            name="Actual",
            line={"color": "#334155", "width": 1.5},
            hovertemplate="%{x|%a %b %d}: $%{y:,.2f}<extra></extra>",
        )  # fmt: skip
    )
    figure.update_layout(
        title="Daily spend and forecast", yaxis_tickprefix="$", yaxis_tickformat=",.0f",
        legend={"orientation": "h", "y": -0.2}, **_LAYOUT,
    )  # fmt: skip
    return figure


def budget_history_chart(months: Sequence[BudgetMonth], *, current: tuple[dt.date, int] | None = None) -> go.Figure:
    """Spend per past month against the budget; the month in progress (projected) last, when given."""
    labels = [f"{m.month:%b %Y}" for m in months]
    spent = [m.spent_micros / MICROS_PER_USD for m in months]
    colours = [PALETTE[4] if m.over else PALETTE[2] for m in months]
    if current is not None:
        labels.append(f"{current[0]:%b %Y} (projected)")
        spent.append(current[1] / MICROS_PER_USD)
        colours.append("#94A3B8")
    figure = go.Figure(
        go.Bar(x=labels, y=spent, marker_color=colours, hovertemplate="%{x}: $%{y:,.0f}<extra></extra>", name="Spent")
    )
    if months:
        figure.add_hline(
            y=months[-1].amount_micros / MICROS_PER_USD, line={"color": "#334155", "dash": "dot"},
            annotation_text="Budget", annotation_position="top left",
        )  # fmt: skip
    figure.update_layout(
        title="Past months against the budget", yaxis_tickprefix="$", yaxis_tickformat=",.0f", height=300, **_LAYOUT
    )
    return figure


_PRINT_FONT = {"family": "DejaVu Sans, Arial, sans-serif", "size": 18, "color": "#334155"}
_PRINT_AXIS = {"showline": True, "linecolor": "#CBD5E1", "ticks": "", "zeroline": False}
_GRID = "#E2E8F0"
REPORT_TREND_HEIGHT = 310  # px at the 1000 px width chart_images renders: 180 mm × 56 mm on the page


def _print_layout(figure: go.Figure, *, height: int) -> go.Figure:
    """White, large type, no title or toolbar clutter: readable on a printed page as well as on screen."""
    figure.update_layout(
        template="plotly_white", paper_bgcolor="white", plot_bgcolor="white", font=_PRINT_FONT, height=height,
        margin={"l": 8, "r": 16, "t": 44, "b": 8}, hoverlabel={"namelength": -1}, bargap=0.25,
    )  # fmt: skip
    return figure


def report_trend_chart(facts: ReportFacts) -> go.Figure:
    """Daily spend over the trend window (the reported period in colour), then the forecast median with its 80%
    band to the month's end, and a marker where the period starts."""
    period = facts.period
    days = [day for day, _ in facts.trend]
    in_period = [period.start <= day <= period.end for day in days]
    figure = go.Figure(
        go.Bar(
            x=days, y=[micros / MICROS_PER_USD for _, micros in facts.trend], name="Daily spend",
            marker={"color": [PALETTE[0] if inside else "#A5B4FC" for inside in in_period], "line": {"width": 0}},
            hovertemplate="%{x|%a %b %d}: $%{y:,.2f}<extra></extra>", legendrank=1,
        )
    )  # fmt: skip
    if facts.forecast:
        x = [day for day, *_ in facts.forecast]
        _band(
            figure, x, [low / MICROS_PER_USD for *_, low, _ in facts.forecast],
            [high / MICROS_PER_USD for *_, high in facts.forecast], name="80% range", alpha=0.22,
        )  # fmt: skip
        figure.add_trace(
            go.Scatter(
                x=x, y=[median / MICROS_PER_USD for _, median, _, _ in facts.forecast], mode="lines+markers",
                name="Forecast", line={"color": PALETTE[0], "dash": "dash", "width": 3}, marker={"size": 6},
                hovertemplate="%{x|%a %b %d}: $%{y:,.0f} expected<extra></extra>", legendrank=2,
            )
        )  # fmt: skip
    if days and days[0] < period.start:
        # A shape and a text annotation rather than add_vline, whose annotation does not work on date axes;
        # half a day early, so the line falls between two bars.
        boundary = dt.datetime.combine(period.start, dt.time()) - dt.timedelta(hours=12)
        figure.add_shape(
            type="line", x0=boundary, x1=boundary, xref="x", y0=0, y1=1, yref="paper",
            line={"color": "#0F172A", "width": 1.5, "dash": "dot"},
        )  # fmt: skip
        figure.add_annotation(
            x=boundary, y=1, xref="x", yref="paper", text=f"{period.start:%b} {period.start.day}", showarrow=False,
            xanchor="left", yanchor="bottom", xshift=4, font={"size": 15, "color": "#0F172A"},
        )  # fmt: skip
    end = facts.forecast[-1][0] if facts.forecast else (days[-1] if days else period.end)
    start = days[0] if days else period.start
    figure.update_xaxes(
        range=[start - dt.timedelta(hours=18), end + dt.timedelta(hours=18)], tickformat="%b %-d", showgrid=False,
        **_PRINT_AXIS,
    )  # fmt: skip
    figure.update_yaxes(tickprefix="$", tickformat="~s", gridcolor=_GRID, rangemode="tozero", zeroline=False)
    figure.update_layout(
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "xanchor": "left", "traceorder": "normal"}
    )
    return _print_layout(figure, height=REPORT_TREND_HEIGHT)


def report_department_chart(facts: ReportFacts) -> go.Figure:
    """The period's spend by department: horizontal bars, biggest on top, labelled in dollars and share."""
    shares = list(facts.departments)
    figure = go.Figure(
        go.Bar(
            x=[s.micros / MICROS_PER_USD for s in reversed(shares)], y=[s.name for s in reversed(shares)],
            orientation="h", marker={"color": PALETTE[0]}, cliponaxis=False, textposition="outside",
            text=[f"{format_usd_short(s.micros)}  ·  {s.share * 100:.0f}%" for s in reversed(shares)],
            textfont={"size": 18, "color": "#0F172A"}, hovertemplate="%{y}: $%{x:,.2f}<extra></extra>",
        )
    )  # fmt: skip
    widest = max((s.micros for s in shares), default=0) / MICROS_PER_USD
    figure.update_xaxes(visible=False, range=[0, widest * 1.32 or 1])
    figure.update_yaxes(showgrid=False, ticks="", ticksuffix="  ")
    if not shares:
        figure.add_annotation(text="No spend in this period", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure = _print_layout(figure, height=max(120, 32 * len(shares) + 24))
    figure.update_layout(margin={"l": 8, "r": 16, "t": 8, "b": 8}, showlegend=False, bargap=0.3)
    return figure
