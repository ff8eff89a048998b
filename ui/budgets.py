"""The Forecast & budgets page's pieces: KPI row, budget cards, the budget form, forecast views, cost spikes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.budgets import DEFAULT_THRESHOLDS, SCOPES
from core.money import MICROS_PER_USD, format_usd, format_usd_short, to_micros
from core.queries import FilterOptions
from core.security import InvalidInput
from insights import charts
from insights.anomalies import Anomaly
from insights.budgets import BudgetStatus
from insights.forecast import Backtest, Scope
from insights.outlook import Outlook, month_bounds, scope_of
from ui import actions
from ui.context import Context

SCOPE_LABELS = {
    "workspace": "Whole workspace", "department": "Department", "project": "Project", "provider": "Provider",
    "customer": "Customer",
}  # fmt: skip
STATE_BADGES = {
    "over": ("Over budget", "red", ":material/error:"),
    "overrun_predicted": ("Predicted to overrun", "orange", ":material/trending_up:"),
    "at_risk": ("At risk", "orange", ":material/warning:"),
    "on_track": ("On track", "green", ":material/check_circle:"),
}
METHOD_LABELS = {
    "ets_weekly": "exponential smoothing with a weekly pattern", "ets": "exponential smoothing",
    "run_rate": "the daily average (too little history for a model)", "constant": "a flat line (spend never varies)",
    "none": "nothing yet (no spend)",
}  # fmt: skip


def _range(low: int, high: int) -> str:
    return f"{format_usd_short(low)} – {format_usd_short(high)}"


def render_outlook_kpis(view: Outlook, statuses: tuple[BudgetStatus, ...]) -> None:
    ws = view.workspace
    first, second, third, fourth = st.columns(4)
    first.metric(
        "This month so far", format_usd_short(ws.realised_micros), border=True,
        help=f"Exactly {format_usd(ws.realised_micros)}, {view.month_start:%b %d} to {view.through:%b %d}.",
    )  # fmt: skip
    end = ws.month_end
    second.metric(
        "Month-end forecast", format_usd_short(end.median), border=True,
        help=f"80% likely between {_range(end.lower80, end.upper80)}; 95% between {_range(end.lower95, end.upper95)}.",
    )  # fmt: skip
    second.caption(f"80% range {_range(end.lower80, end.upper80)}")
    upcoming = [m for m in ws.forecast.months if m.month > view.month_start]
    if upcoming:
        nxt = upcoming[0]
        third.metric(
            f"{nxt.month:%B} forecast", format_usd_short(nxt.median), border=True,
            help=f"80% likely between {_range(nxt.lower80, nxt.upper80)}.",
        )  # fmt: skip
        third.caption(f"80% range {_range(nxt.lower80, nxt.upper80)}")
    worrying = [s for s in statuses if s.state in ("over", "overrun_predicted")]
    fourth.metric(
        "Budgets in trouble", f"{len(worrying)} of {len(statuses)}" if statuses else "No budgets", border=True,
        help="Over budget already, or forecast to go over before the month ends.",
    )  # fmt: skip


def render_budget_card(status: BudgetStatus, view: Outlook, *, ctx: Context) -> None:
    spec = status.spec
    label, colour, icon = STATE_BADGES[status.state]
    with st.container(border=True, key=f"budget_card_{spec.id}"):
        title, badge = st.columns([4, 1], vertical_alignment="center")
        kind = "" if spec.scope == "workspace" else f" · {SCOPE_LABELS[spec.scope].lower()}"
        title.markdown(f"**{spec.label}**{kind} — {format_usd(spec.amount_micros, cents=False)} a month")
        badge.badge(label, color=colour, icon=icon)
        st.progress(
            min(status.utilisation, 1.0),
            text=f"{format_usd_short(status.realised_micros)} spent · {status.utilisation:.0%} used",
        )
        st.markdown(status.sentence)
        end = status.projected
        facts = [
            f"Projected month end **{format_usd_short(end.median)}** ({status.projected_utilisation:.0%}), "
            f"80% range {_range(end.lower80, end.upper80)}",
        ]
        facts.append("Alerts at " + ", ".join(f"{t}%" for t in spec.thresholds))
        st.caption(" · ".join(facts))
        scope = view.scopes.get(scope_of(spec))
        history = view.history.get(spec.id or -1, [])
        with st.expander("Chart and past months"):
            if scope is not None:
                st.plotly_chart(
                    charts.month_burn_chart(
                        view.month_daily.get(scope.scope, pd.Series(dtype="int64")), scope.forecast,
                        month_start=view.month_start, month_end=view.month_end, budget_micros=spec.amount_micros,
                        exceed_date=status.exceed_date,
                    ),
                    key=f"budget_burn_{spec.id}",
                )  # fmt: skip
            if history:
                st.plotly_chart(
                    charts.budget_history_chart(history, current=(view.month_start, end.median)),
                    key=f"budget_history_{spec.id}",
                )
        if ctx.can("admin") and spec.id is not None:
            edit, remove = st.columns(2)
            if edit.button("Edit", key=f"budget_edit_{spec.id}", icon=":material/edit:"):
                st.session_state["budget_editing"] = spec.id
                st.rerun()
            if remove.button("Delete", key=f"budget_delete_{spec.id}", icon=":material/delete:"):
                actions.delete_budget(ctx, budget_id=spec.id)
                st.toast(f"Budget for {spec.label} deleted.")
                st.rerun()


def _value_choices(scope: str, view: Outlook, options: FilterOptions) -> list[str]:
    known = {s.value for s in view.scopes if s.kind == scope}
    known |= set({"department": options.departments, "project": options.projects,
                  "provider": options.providers}.get(scope, ()))  # fmt: skip
    return sorted(v for v in known if v)


def render_budget_form(ctx: Context, view: Outlook, options: FilterOptions) -> None:
    """Add a budget, or edit the one chosen with its Edit button."""
    editing_id = st.session_state.get("budget_editing")
    editing = next((s.spec for s in view.budgets if s.spec.id == editing_id), None)
    heading = f"Edit the {editing.label} budget" if editing else "Add a budget"
    with st.expander(heading, expanded=editing is not None, icon=":material/add_circle:"):
        scope = st.selectbox(
            "Budget for", SCOPES, format_func=SCOPE_LABELS.get, key="budget_scope",
            index=SCOPES.index(editing.scope) if editing else 1,
        )  # fmt: skip
        value = ""
        if scope != "workspace":
            choices = _value_choices(scope, view, options)
            current = editing.scope_value if editing and editing.scope == scope else None
            value = st.selectbox(
                SCOPE_LABELS[scope], choices, key=f"budget_value_{scope}", accept_new_options=True,
                index=choices.index(current) if current in choices else (0 if choices else None),
                placeholder=f"Choose or type a {scope}",
            ) or ""  # fmt: skip
        amount = st.number_input(
            "Monthly amount (USD)", min_value=0.0, step=100.0, format="%.2f", key="budget_amount",
            value=editing.amount_micros / MICROS_PER_USD if editing else 5000.0,
        )  # fmt: skip
        thresholds = st.multiselect(
            "Alert when spend reaches (% of the budget)", [50, 75, 80, 90, 100, 110, 125, 150], key="budget_thresholds",
            default=list(editing.thresholds) if editing else list(DEFAULT_THRESHOLDS), accept_new_options=True,
        )  # fmt: skip
        save, cancel = st.columns(2)
        if save.button("Save budget", type="primary", icon=":material/save:", key="budget_save"):
            try:
                actions.save_budget(
                    ctx, scope=scope, scope_value=value, amount_micros=to_micros(f"{amount:.2f}"),
                    thresholds=[int(t) for t in thresholds], budget_id=editing.id if editing else None,
                )  # fmt: skip
            except (InvalidInput, ValueError) as problem:
                st.error(
                    str(problem) if isinstance(problem, InvalidInput) else "Thresholds are whole percents, e.g. 75."
                )
            else:
                st.session_state.pop("budget_editing", None)
                st.session_state["flash"] = f"Budget saved for {value or 'the whole workspace'}."
                st.rerun()
        if editing and cancel.button("Cancel", key="budget_cancel"):
            st.session_state.pop("budget_editing", None)
            st.rerun()


def render_forecast(view: Outlook, *, scope_key: str = "forecast_scope") -> Scope:
    """The chosen scope's month burn, daily forecast and the next months' totals."""
    scopes = sorted(view.scopes, key=lambda s: (SCOPES.index(s.kind), s.value.lower()))
    chosen = st.selectbox(
        "Forecast for", scopes, key=scope_key,
        format_func=lambda s: s.label if s.kind == "workspace" else f"{SCOPE_LABELS[s.kind]}: {s.value}",
    )  # fmt: skip
    scope = view.scopes[chosen]
    budget = next((s for s in view.budgets if scope_of(s.spec) == chosen), None)
    st.plotly_chart(
        charts.month_burn_chart(
            view.month_daily.get(chosen, pd.Series(dtype="int64")), scope.forecast, month_start=view.month_start,
            month_end=view.month_end, budget_micros=budget.spec.amount_micros if budget else None,
            exceed_date=budget.exceed_date if budget else None,
        ),
        key="forecast_burn",
    )  # fmt: skip
    months_ahead = st.segmented_control(
        "Months ahead", [3, 4, 5, 6], default=3, key="forecast_months", format_func=lambda m: f"{m} months"
    ) or 3  # fmt: skip
    months = list(scope.forecast.months[: months_ahead + 1])
    until = month_bounds(months[-1].month)[1] if months else view.month_end
    recent = view.daily[chosen]
    recent = recent[pd.to_datetime(pd.Index(recent.index)) > pd.Timestamp(view.through - dt.timedelta(days=90))]
    st.plotly_chart(charts.forecast_chart(recent, scope.forecast, until=until), key="forecast_daily")
    rows = [
        {
            "Month": f"{m.month:%B %Y}" + (" (rest of month)" if m.month == view.month_start else ""),
            "Forecast": format_usd(m.median, cents=False),
            "80% range": _range(m.lower80, m.upper80),
            "95% range": _range(m.lower95, m.upper95),
        }
        for m in months
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"Method: {METHOD_LABELS[scope.forecast.method]}, from {scope.forecast.history_days} days of history.")
    return chosen


def render_accuracy(backtest: Backtest) -> None:
    """How well the forecast did on the last 90 days, against the simple formulas."""
    scores = (backtest.model, backtest.seasonal_naive, backtest.run_rate)
    names = {"model": "meterr forecast", "seasonal_naive": "Same weekday last week", "run_rate": "Run-rate formula"}
    table = pd.DataFrame(
        [
            {
                "Method": names[s.name],
                "MASE (lower is better)": None if s.mase is None else round(s.mase, 2),
                "MAPE": None if s.mape is None else f"{s.mape:.1f}%",
            }
            for s in scores
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    beats = backtest.model_beats_run_rate
    if beats is None:
        st.caption("Not enough history yet to score the forecast.")
    elif beats:
        gain = 1 - backtest.model.mase / backtest.run_rate.mase  # type: ignore[operator]
        st.caption(
            f"Over {backtest.origins} forecasts made in the last {backtest.window_days} days, the model's errors were "
            f"{gain:.0%} smaller than the run-rate formula's (realised + daily average × days remaining)."
        )
    else:
        st.caption(
            f"Over {backtest.origins} forecasts in the last {backtest.window_days} days, the simple run-rate formula "
            "did as well as or better than the model: this workspace's spend is steady, so trust either."
        )


def render_anomalies(found: list[Anomaly], *, limit: int = 8, key: str = "spikes") -> None:
    if not found:
        st.success("No unusual spikes: every day was within the normal range for its weekday.", icon=":material/check:")
        return
    for anomaly in found[:limit]:
        with st.container(border=True, key=f"{key}_{anomaly.day}_{anomaly.dimension}_{anomaly.value}"):
            st.markdown(f":material/bolt: **{anomaly.day:%a %b} {anomaly.day.day}** — {anomaly.sentence}")
            also = f" Also seen in {', '.join(anomaly.also)}." if anomaly.also else ""
            st.caption(
                f"{format_usd(anomaly.actual_micros)} against a usual {format_usd(anomaly.expected_micros)} "
                f"(robust z-score {anomaly.score:.1f}).{also}"
            )
    if len(found) > limit:
        st.caption(f"…and {len(found) - limit} smaller spikes.")
