"""The executive summary on screen: cached report builds, the KPI row, narrative, insights and tables.

Used by the Reports page, the read-only shared view and (the insights feed) Overview.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import streamlit as st

from connectors import llm, reporting
from connectors.reporting import Summary
from core import queries
from core.money import format_usd, format_usd_short
from insights import charts, narrative
from insights.facts import PeriodError, ReportFacts, parse_period
from ui import widgets
from ui.db import get_settings, open_session

STATE_LABELS = {
    "over": "Over budget",
    "overrun_predicted": "Predicted to overrun",
    "at_risk": "At risk",
    "on_track": "On track",
    "within": "Within budget",
}
CONFIDENCE = {"high": "High", "medium": "Medium", "low": "Low"}


def _llm_key() -> tuple[str, str, str]:
    """What the cached report depends on of the LLM settings (the key only as present or not)."""
    settings = get_settings()
    return ("key" if settings.llm_api_key else "", settings.llm_base_url, settings.llm_model)


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _summary(
    url: str, workspace_id: int, data_version: int, period: str | None, today: dt.date, llm_key: tuple[str, ...]
) -> Summary:
    with open_session() as session:
        return reporting.build_summary(
            session, workspace_id=workspace_id, today=today, period=period, llm=llm.llm_config(get_settings())
        )


def _period_key(period: str | None, today: dt.date) -> str | None:
    """None and the current month's own key are the same report: one cache entry for both."""
    current = parse_period(None, today=today).key
    return current if period is None or period == current else period


def load_summary(workspace_id: int, data_version: int, period: str | None, today: dt.date) -> Summary:
    """The period's facts, narrative and insights; cached per data version, period, day and LLM settings."""
    period = _period_key(period, today)
    return _summary(get_settings().database_url, workspace_id, data_version, period, today, _llm_key())


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def _pdf(
    url: str, workspace_id: int, data_version: int, period: str | None, today: dt.date, llm_key: tuple[str, ...]
) -> bytes:
    summary = _summary(url, workspace_id, data_version, period, today, llm_key)
    return reporting.render_pdf(summary)[0]


def pdf_bytes(workspace_id: int, data_version: int, period: str | None, today: dt.date) -> bytes:
    """The summary's PDF (charts drawn by Chromium when it is there), built when first asked for and cached."""
    period = _period_key(period, today)
    return _pdf(get_settings().database_url, workspace_id, data_version, period, today, _llm_key())


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _insights(url: str, workspace_id: int, data_version: int, today: dt.date) -> tuple[str, ...]:
    with open_session() as session:
        facts = reporting.load_report_facts(session, workspace_id=workspace_id, today=today)
    return tuple(i.sentence for i in narrative.compute_insights(facts))


def insights_feed(workspace_id: int, data_version: int, today: dt.date) -> tuple[str, ...]:
    """This month's 3–6 insights, biggest dollar impact first; () before a month has a whole day."""
    try:
        return _insights(get_settings().database_url, workspace_id, data_version, today)
    except PeriodError:
        return ()


def period_choices(today: dt.date, months: int = 12) -> list[str]:
    """'2026-11' (the month holding yesterday) and the months before it, newest first."""
    first = parse_period(None, today=today).month
    choices = []
    for _ in range(months):
        choices.append(f"{first:%Y-%m}")
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return choices


def period_label(key: str, today: dt.date) -> str:
    period = parse_period(key, today=today)
    return f"{period.label} (month to date)" if period.partial else period.label


def render_insights(sentences: tuple[str, ...], *, title: str = "What changed", caption: str | None = None) -> None:
    if not sentences:
        return
    st.subheader(title)
    if caption:
        st.caption(caption)
    st.markdown("\n".join(f"- {widgets.plain(sentence)}" for sentence in sentences))


def comparison_tile(facts: ReportFacts) -> str:
    """The compared period in a few words: "October, same days" or "October 2026"."""
    period = facts.period
    return f"{period.previous_start:%B}, same days" if period.partial else f"{period.previous_start:%B %Y}"


def render_kpis(facts: ReportFacts) -> None:
    period = facts.period
    first, second, third, fourth = st.columns(4)
    first.metric(
        "Spend, month to date" if period.partial else f"Spend in {period.month:%B}",
        format_usd_short(facts.total_micros),
        help=f"Exactly {format_usd(facts.total_micros)}, {period.start:%b %d} to {period.end:%b %d, %Y}.",
        border=True,
    )
    change = facts.change
    second.metric(
        comparison_tile(facts),
        format_usd_short(facts.previous_total_micros),
        delta=f"{change * 100:+.1f}%" if change is not None else None,
        delta_color="inverse",
        help=f"Exactly {format_usd(facts.previous_total_micros)} from {period.previous_start:%b %d} to "
        f"{period.previous_end:%b %d}; the change is this period against it.",
        border=True,
    )
    if facts.month_end is not None:
        third.metric(
            "Month-end forecast",
            format_usd_short(facts.month_end.median),
            help=f"80% range {format_usd_short(facts.month_end.lower80)}–{format_usd_short(facts.month_end.upper80)}"
            ": spend so far plus the forecast for the rest of the month.",
            border=True,
        )
    elif facts.roi is not None:
        third.metric("Value from outcomes", format_usd_short(facts.roi.value_micros), border=True)
    else:
        third.metric("Biggest department", facts.departments[0].name if facts.departments else "—", border=True)
    at_risk = facts.budgets_at_risk
    if facts.budgets:
        fourth.metric(
            "Budgets in trouble",
            f"{len(at_risk)} of {len(facts.budgets)}",
            help="Over, predicted to overrun, or at risk this month." if period.partial else "Over budget.",
            border=True,
        )
    else:
        fourth.metric(
            "Savings found",
            f"{format_usd_short(facts.savings_total_micros)}/mo",
            help="Open recommendations on the Optimize page, a month.",
            border=True,
        )


def _budget_table(facts: ReportFacts) -> pd.DataFrame:
    rows = facts.budgets_at_risk or facts.budgets
    return pd.DataFrame(
        {
            "Budget": [b.label for b in rows],
            "Monthly amount": [format_usd(b.amount_micros, cents=False) for b in rows],
            "Spent": [format_usd(b.spent_micros, cents=False) for b in rows],
            "Projected": [format_usd(b.projected.median, cents=False) if b.projected else "" for b in rows],
            "Status": [STATE_LABELS.get(b.state, b.state) for b in rows],
            "What it means": [b.sentence for b in rows],
        }
    )


def _savings_table(facts: ReportFacts) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Recommendation": [s.title for s in facts.savings],
            "Saves a month": [format_usd(s.monthly_saving_micros, cents=False) for s in facts.savings],
            "Confidence": [CONFIDENCE.get(s.confidence, s.confidence) for s in facts.savings],
        }
    )


def render_report(report: Summary, *, pdf: Callable[[], bytes], key: str) -> None:
    """Everything in the PDF, on screen, with the Download PDF button first (the PDF is built on the click)."""
    facts = report.facts
    period = facts.period
    st.download_button(
        "Download PDF",
        data=pdf,
        file_name=report.filename,
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        type="primary",
        key=f"{key}_pdf",
    )
    through = (
        f"month to date, through {period.end:%b %d}" if period.partial else f"{period.start:%b %d}–{period.end:%b %d}"
    )
    st.caption(
        f"{widgets.plain(facts.workspace_name)} · {period.label} ({through}) · generated {facts.generated_on:%b %d, %Y}"
    )
    render_kpis(facts)

    st.subheader("Summary")
    for paragraph in report.paragraphs:
        st.markdown(widgets.plain(paragraph))
    if report.narrative_source == "llm":
        st.caption(f"Written by {report.model or 'the configured AI model'}; every figure checked against meterr's.")
    else:
        st.caption("Written by meterr from the computed figures.")
        if report.rejected:
            st.caption("The AI draft was set aside: " + "; ".join(report.rejected))
    render_insights(report.insights)

    st.subheader("Spend trend")
    st.plotly_chart(charts.report_trend_chart(facts), key=f"{key}_trend")
    if facts.departments:
        st.subheader("Spend by department")
        st.plotly_chart(charts.report_department_chart(facts), key=f"{key}_departments")

    if facts.budgets:
        st.subheader("Budgets at risk" if facts.budgets_at_risk else "Budgets")
        if not facts.budgets_at_risk:
            st.success("Every budget is on track.", icon=":material/check_circle:")
        st.dataframe(_budget_table(facts), hide_index=True, key=f"{key}_budgets")
    if facts.savings:
        st.subheader("Recommendations")
        st.caption(
            f"{format_usd_short(facts.savings_total_micros)} a month in open recommendations"
            + (
                f"; adopted changes already save {format_usd_short(facts.realised_savings_micros)} a month."
                if facts.realised_savings_micros > 0
                else "."
            )
        )
        st.dataframe(_savings_table(facts), hide_index=True, key=f"{key}_savings")
    if facts.roi is not None:
        roi = facts.roi
        st.subheader("Return on AI spend")
        ratio = f"{roi.roi * 100:,.0f}%" if roi.roi is not None else "n/a"
        st.markdown(
            f"{roi.outcomes:,} business outcomes worth **{format_usd_short(roi.value_micros)}** for "
            f"**{format_usd_short(roi.cost_micros)}** of AI spend: ROI {ratio}."
        )


def render_summary(
    *,
    workspace_id: int,
    workspace_name: str,
    period: str | None,
    today: dt.date,
    data_version: int | None = None,
    shared: bool = False,
    key: str = "report",
) -> Summary | None:
    """Build (cached) and show one period's executive summary; None when there is nothing to report."""
    if data_version is None:
        with open_session() as session:
            data_version = queries.load_workspace_by_id(session, workspace_id=workspace_id).data_version
    try:
        with st.spinner("Writing the executive summary…"):
            report = load_summary(workspace_id, data_version, period, today)
    except PeriodError as error:
        st.warning(str(error), icon=":material/event_busy:")
        return None
    if not report.facts.has_spend:
        st.info(
            f"{widgets.plain(workspace_name)} has no AI spend in {report.facts.period.label} or the month before, so "
            "there is nothing to report yet." + ("" if shared else " Connect your data or choose another month."),
            icon=":material/receipt_long:",
        )
        return None
    version = data_version
    render_report(report, pdf=lambda: pdf_bytes(workspace_id, version, period, today), key=key)
    return report
