"""Reads what a period's report needs and computes its facts: the one path for the Reports page, the shared
view, the PDF, the weekly email, the CLI and the API's summary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlmodel import Session

from connectors import chart_images
from connectors import llm as llm_client
from connectors.alerting import load_outlook
from connectors.llm import LlmConfig
from core import decisions, outcomes, queries
from insights import advice, narrative, report
from insights.advice import Advice
from insights.anomalies import detect_anomalies
from insights.facts import TREND_DAYS, Period, ReportFacts, RoiInputs, compute_facts, parse_period

ANOMALY_BASELINE_DAYS = 84  # what the spike detector compares against: 12 weeks before the first day examined


def load_advice(session: Session, *, workspace_id: int, today: dt.date, timezone: str = "UTC") -> Advice:
    """Open recommendations over the analysis window, and adopted ones with what they saved since."""
    chosen: dict[str, tuple[str, str, int, dict[str, Any]]] = {
        key: (r.status, r.title, r.estimated_monthly_micros, dict(r.detail))
        for key, r in decisions.load_decisions(session, workspace_id=workspace_id).items()
    }
    start, end = advice.analysis_window(today)
    adopted_days = [dt.date.fromisoformat(str(d["adopted_on"])) for s, _, _, d in chosen.values() if s == "adopted"]
    since = min([start, *(day - dt.timedelta(days=advice.WINDOW_DAYS) for day in adopted_days)])
    usage = queries.load_usage_profile(session, workspace_id=workspace_id, start=start, end=end)
    daily = queries.load_model_daily(session, workspace_id=workspace_id, start=since, end=end)
    hourly = queries.load_hourly_profile(session, workspace_id=workspace_id, start=start, end=end)
    return advice.compute_advice(usage, daily, chosen, today=today, hourly=hourly, timezone=timezone)


def _sum_by(frame: pd.DataFrame, key: str, value: str) -> dict[str, int]:
    if frame.empty:
        return {}
    return {str(k): int(v) for k, v in frame.groupby(key, sort=True)[value].sum().items()}


def _efficiency(totals: pd.DataFrame, cost_by_department: dict[str, int]) -> pd.DataFrame:
    counted = totals[totals["count"] > 0]
    return pd.DataFrame(
        {
            "department": counted["department"],
            "outcome": counted["name"],
            "cost_micros": [cost_by_department.get(d, 0) for d in counted["department"]],
            "outcomes": counted["count"],
        }
    ).reset_index(drop=True)


def _roi_inputs(
    session: Session, *, workspace_id: int, period: Period, current: pd.DataFrame, previous: pd.DataFrame
) -> RoiInputs:
    now = outcomes.load_outcome_totals(session, workspace_id=workspace_id, start=period.start, end=period.end)
    before = outcomes.load_outcome_totals(
        session, workspace_id=workspace_id, start=period.previous_start, end=period.previous_end
    )
    cost_now, cost_before = (
        _sum_by(current, "department", "amount_micros"),
        _sum_by(previous, "department", "amount_micros"),
    )
    return RoiInputs(
        cost_by_department=cost_now,
        value_by_department=_sum_by(now, "department", "value_micros"),
        outcomes_by_department=_sum_by(now, "department", "count"),
        efficiency=_efficiency(now, cost_now),
        previous_cost_by_department=cost_before,
        previous_value_by_department=_sum_by(before, "department", "value_micros"),
        previous_efficiency=_efficiency(before, cost_before),
        has_outcomes=not now.empty,
    )


def load_report_facts(
    session: Session, *, workspace_id: int, today: dt.date, period: str | Period | None = None
) -> ReportFacts:
    """The facts of ``period`` ('YYYY-MM', default the month holding yesterday) as seen on ``today``.

    Raises insights.facts.PeriodError for a period that is not a month with a whole day of spend.
    """
    chosen = period if isinstance(period, Period) else parse_period(period, today=today)
    workspace = queries.load_workspace_by_id(session, workspace_id=workspace_id)
    current = queries.load_spend_breakdown(session, workspace_id=workspace_id, start=chosen.start, end=chosen.end)
    previous = queries.load_spend_breakdown(
        session, workspace_id=workspace_id, start=chosen.previous_start, end=chosen.previous_end
    )
    daily = queries.load_daily_totals(
        session, workspace_id=workspace_id, start=chosen.end - dt.timedelta(days=TREND_DAYS - 1), end=chosen.end
    )
    view = load_outlook(session, workspace_id=workspace_id, today=today, with_history=not chosen.partial)
    frame = queries.load_anomaly_frame(
        session,
        workspace_id=workspace_id,
        start=chosen.start - dt.timedelta(days=ANOMALY_BASELINE_DAYS),
        end=chosen.end,
    )
    return compute_facts(
        workspace_name=workspace.name,
        period=chosen,
        generated_on=today,
        current=current,
        previous=previous,
        daily=daily,
        outlook=view,
        anomalies=detect_anomalies(frame, start=chosen.start, end=chosen.end),
        roi=_roi_inputs(session, workspace_id=workspace_id, period=chosen, current=current, previous=previous),
        advice=load_advice(session, workspace_id=workspace_id, today=today, timezone=workspace.timezone),
    )


def _filename(facts: ReportFacts) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in facts.workspace_name.lower()).strip("-") or "workspace"
    return f"meterr-{slug}-{facts.period.key}.pdf"


@dataclass(frozen=True)
class Summary:
    """One period's executive summary as words: the facts, the narrative and the insights feed."""

    facts: ReportFacts
    paragraphs: tuple[str, ...]  # the narrative
    narrative_source: str  # "llm" | "deterministic"
    insights: tuple[str, ...]  # the insights feed, biggest dollar impact first
    rejected: tuple[str, ...] = ()  # why LLM drafts were set aside for the written-from-facts summary
    model: str | None = None  # the LLM that wrote the narrative, when one did

    @property
    def filename(self) -> str:
        return _filename(self.facts)


@dataclass(frozen=True)
class Report:
    """One period's executive summary, ready to show, send or download."""

    facts: ReportFacts
    paragraphs: tuple[str, ...]  # the narrative
    narrative_source: str  # "llm" | "deterministic"
    insights: tuple[str, ...]  # the insights feed, biggest dollar impact first
    pdf: bytes
    charts: bool  # whether the PDF has chart images (False: tables instead, e.g. without Chromium)
    rejected: tuple[str, ...] = ()  # why LLM drafts were set aside for the written-from-facts summary
    model: str | None = None  # the LLM that wrote the narrative, when one did

    @property
    def filename(self) -> str:
        return _filename(self.facts)


def build_summary(
    session: Session,
    *,
    workspace_id: int,
    today: dt.date,
    period: str | Period | None = None,
    llm: LlmConfig | None = None,
    http_client: Any = None,
) -> Summary:
    """Facts, the narrative (by the LLM when one is configured and its figures check out, else written from the
    facts) and the insights feed of one period."""
    facts = load_report_facts(session, workspace_id=workspace_id, today=today, period=period)
    insights = narrative.compute_insights(facts)
    written = llm_client.write_narrative(facts, llm, insights=insights, http_client=http_client)
    return Summary(
        facts,
        tuple(written.paragraphs),
        written.source,
        tuple(i.sentence for i in insights),
        rejected=tuple(written.rejected),
        model=written.model,
    )


def render_pdf(summary: Summary, *, images: bool = True) -> tuple[bytes, bool]:
    """The summary as PDF bytes, and whether it has chart images (tables instead when Chromium cannot draw)."""
    facts = summary.facts
    pngs = None
    if images and facts.has_spend:
        pngs = chart_images.render_pngs(report.report_figures(facts))
    pdf = report.build_pdf(facts, paragraphs=summary.paragraphs, insights=summary.insights, images=pngs)
    return pdf, pngs is not None


def build_report(
    session: Session,
    *,
    workspace_id: int,
    today: dt.date,
    period: str | Period | None = None,
    llm: LlmConfig | None = None,
    http_client: Any = None,
    images: bool = True,
) -> Report:
    """The summary and its PDF; ``images=False`` skips chart rendering (tables instead)."""
    summary = build_summary(
        session, workspace_id=workspace_id, today=today, period=period, llm=llm, http_client=http_client
    )
    pdf, with_charts = render_pdf(summary, images=images)
    return Report(
        summary.facts,
        summary.paragraphs,
        summary.narrative_source,
        summary.insights,
        pdf,
        charts=with_charts,
        rejected=summary.rejected,
        model=summary.model,
    )
