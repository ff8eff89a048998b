"""The executive summary by email: the message (HTML, plain text, the PDF attached), the weekly sends the scheduler
makes, and the manual "send it now" of the CLI and the Reports page.

Weekly sends go out once per (workspace, ISO week) however many replicas look: see core.report_schedules for the
claim and the retry policy. Manual sends are outside that claim and leave an audit entry instead.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sqlmodel import Session

from connectors.notify import NO_SMTP, NotifyError, SendMail, SessionFactory, send_email
from connectors.reporting import Report, build_report
from core import alerts, queries, report_schedules
from core.alerts import SmtpConfig
from core.crypto import SecretBox, SecretError
from core.money import format_percent, format_usd
from insights.facts import ReportFacts

log = logging.getLogger(__name__)

MakeReport = Callable[..., Report]
NO_RECIPIENTS = "There is no one to send the report to: add recipients to the weekly email on the Reports page first."
_UNOPENABLE = (
    "The email server's password cannot be opened (the secret key changed, or it was altered): enter it again "
    "in Settings → Notifications."
)

# Inline styles only: most email clients drop <style> blocks.
_FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;"
_MUTED = "color:#57606a;"
_CELL = "padding:8px 10px;border-bottom:1px solid #e5e7eb;font-size:14px;"


class ReportEmail(NamedTuple):
    subject: str
    html: str
    text: str


# The message ----------------------------------------------------------------------------------------


def report_subject(facts: ReportFacts) -> str:
    """ "Acme AI · AI spend, November 2026 (month to date)"."""
    period = facts.period
    return f"{facts.workspace_name} · AI spend, {period.label}" + (" (month to date)" if period.partial else "")


def report_url(base_url: str | None) -> str | None:
    """The Reports page, when the installation knows its public http(s) address."""
    if not base_url:
        return None
    try:
        scheme = urlsplit(base_url).scheme.lower()
    except ValueError:
        return None
    return f"{base_url.rstrip('/')}/reports" if scheme in ("http", "https") else None


def report_kpis(facts: ReportFacts) -> list[tuple[str, str]]:
    """The headline figures as (label, value), exact to the dollar, in the order the Reports page shows them."""
    period = facts.period
    spend_label = "Spend, month to date" if period.partial else f"Spend in {period.month:%B %Y}"
    rows = [(spend_label, _usd(facts.total_micros))]
    change = facts.change
    previous = _usd(facts.previous_total_micros)
    rows.append(
        (f"vs {period.comparison_label}", previous + (f" ({format_percent(change)})" if change is not None else ""))
    )
    if facts.month_end is not None:
        end = facts.month_end
        rows.append(("Month-end forecast", f"{_usd(end.median)} (80% range {_usd(end.lower80)}–{_usd(end.upper80)})"))
    if facts.budgets:
        trouble = len(facts.budgets_at_risk)
        rows.append(("Budgets over or at risk", f"{trouble} of {len(facts.budgets)}"))
    if facts.roi is not None:
        roi = facts.roi
        ratio = f"ROI {roi.roi * 100:,.0f}%, " if roi.roi is not None else ""
        rows.append(("Value from outcomes", f"{_usd(roi.value_micros)} ({ratio}{roi.outcomes:,} outcomes)"))
    if facts.savings_total_micros > 0:
        rows.append(("Savings found", f"{_usd(facts.savings_total_micros)} a month"))
    return rows


def _usd(micros: int) -> str:
    return format_usd(micros, cents=False)


def _covered(facts: ReportFacts) -> str:
    period = facts.period
    span = f"{period.start:%b} {period.start.day} to {period.end:%b} {period.end.day}, {period.end.year}"
    return f"{span} · generated {facts.generated_on:%b} {facts.generated_on.day}, {facts.generated_on.year}"


def compose_report_email(report: Report, *, base_url: str | None) -> ReportEmail:
    """Subject, HTML body and plain-text alternative of the report's email (the PDF goes as an attachment).

    Everything that came from a person or a model (workspace name, narrative, insights) is HTML-escaped.
    """
    facts = report.facts
    subject = report_subject(facts)
    link = report_url(base_url)
    kpis = report_kpis(facts)
    footer = (
        f"The full report is attached as {report.filename}. You receive this weekly summary because you are on "
        f"{facts.workspace_name}'s list; change it in meterr under Reports → Weekly email."
    )

    text_lines = [subject, _covered(facts), "", *(f"{label}: {value}" for label, value in kpis), "", "Summary", ""]
    for paragraph in report.paragraphs:
        text_lines += [paragraph, ""]
    if report.insights:
        text_lines += ["What changed", "", *(f"- {sentence}" for sentence in report.insights), ""]
    if link:
        text_lines += [f"Open the report in meterr: {link}", ""]
    text_lines.append(footer)
    text = "\n".join(text_lines) + "\n"

    e = html_lib.escape
    h2 = "font-size:16px;margin:24px 0 8px;"
    rows = "".join(
        f'<tr><td style="{_CELL}{_MUTED}">{e(label)}</td>'
        f'<td style="{_CELL}font-weight:600;text-align:right;">{e(value)}</td></tr>'
        for label, value in kpis
    )
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(subject)}</title></head>',
        '<body style="margin:0;padding:0;background:#f6f7f9;">',
        f'<div style="max-width:640px;margin:0 auto;padding:24px;background:#ffffff;{_FONT}">',
        f'<p style="margin:0 0 4px;font-size:12px;{_MUTED}">meterr · weekly executive summary</p>',
        f'<h1 style="margin:0 0 4px;font-size:22px;">{e(facts.workspace_name)}: AI spend, {e(facts.period.label)}'
        + (" (month to date)" if facts.period.partial else "")
        + "</h1>",
        f'<p style="margin:0;font-size:13px;{_MUTED}">{e(_covered(facts))}</p>',
        f'<table role="presentation" style="border-collapse:collapse;width:100%;margin:16px 0;">{rows}</table>',
        f'<h2 style="{h2}">Summary</h2>',
        *(f'<p style="margin:0 0 12px;font-size:14px;line-height:1.5;">{e(p)}</p>' for p in report.paragraphs),
    ]
    if report.insights:
        items = "".join(f'<li style="margin:0 0 6px;">{e(sentence)}</li>' for sentence in report.insights)
        parts += [
            f'<h2 style="{h2}">What changed</h2>',
            f'<ul style="margin:0;padding-left:20px;font-size:14px;line-height:1.5;">{items}</ul>',
        ]
    if link:
        parts.append(
            f'<p style="margin:24px 0;"><a href="{e(link)}" style="display:inline-block;background:#0b5cff;'
            'color:#ffffff;padding:10px 16px;border-radius:6px;text-decoration:none;font-weight:600;">'
            "Open the report in meterr</a></p>"
        )
    parts += [f'<p style="margin:24px 0 0;font-size:12px;{_MUTED}">{e(footer)}</p>', "</div></body></html>"]
    return ReportEmail(subject, "".join(parts), text)


def send_report(
    report: Report,
    config: SmtpConfig,
    *,
    to: Sequence[str] | str,
    base_url: str | None,
    send_mail: SendMail = send_email,
) -> list[str]:
    """Email the report with its PDF attached; returns the recipients the server refused while accepting others.

    Raises NotifyError when nothing was sent.
    """
    subject, html, text = compose_report_email(report, base_url=base_url)
    return list(
        send_mail(
            config,
            to=to,
            subject=subject,
            text=text,
            html=html,
            attachments=[(report.filename, report.pdf, "application/pdf")],
        )  # fmt: skip
    )


def _smtp_config(session: Session, box: SecretBox, *, workspace_id: int) -> SmtpConfig:
    try:
        config = alerts.load_smtp_config(session, box, workspace_id=workspace_id)
    except SecretError:
        raise NotifyError(_UNOPENABLE) from None
    if config is None:
        raise NotifyError(NO_SMTP)
    return config


def _refusal(refused: Sequence[str]) -> str | None:
    return f"The mail server refused {', '.join(refused)}; the others got it." if refused else None


# The weekly send ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    """What happened to one workspace's weekly report in this run."""

    workspace_id: int
    week: str
    status: str  # sent | failed
    recipients: str
    error: str | None = None


def send_due_reports(
    session_factory: SessionFactory,
    box: SecretBox,
    *,
    now: dt.datetime,
    base_url: str | None,
    make_report: MakeReport = build_report,
    llm: Any = None,
    http_client: Any = None,
    send_mail: SendMail = send_email,
) -> list[ReportOutcome]:
    """Send every weekly report that is due and not claimed yet; returns what happened to each one this run took.

    Each week is claimed (and committed) before its report is built, built inside a short read transaction, sent
    outside any transaction, and its outcome recorded; a failure never stops the other workspaces.
    """
    with session_factory() as session:
        due = []
        for schedule in report_schedules.load_enabled_schedules(session):
            workspace = queries.load_workspace_by_id(session, workspace_id=schedule.workspace_id)
            week = report_schedules.is_due(schedule, now, workspace.timezone)
            if week is not None:
                due.append((schedule.workspace_id, week, schedule.recipients, workspace.timezone))
    outcomes = []
    for workspace_id, week, recipients, timezone in due:
        outcome = _send_week(
            session_factory, box, workspace_id=workspace_id, week=week, recipients=recipients, timezone=timezone,
            now=now, base_url=base_url, make_report=make_report, llm=llm, http_client=http_client,
            send_mail=send_mail,
        )  # fmt: skip
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _send_week(
    session_factory: SessionFactory,
    box: SecretBox,
    *,
    workspace_id: int,
    week: str,
    recipients: str,
    timezone: str,
    now: dt.datetime,
    base_url: str | None,
    make_report: MakeReport,
    llm: Any,
    http_client: Any,
    send_mail: SendMail,
) -> ReportOutcome | None:
    with session_factory() as session:
        claim = report_schedules.claim_week(
            session, workspace_id=workspace_id, week=week, recipients=recipients, now=now
        )
        if claim is None:
            return None
        assert claim.id is not None
        send_id = claim.id
    error: str | None
    try:
        with session_factory() as session:
            config = _smtp_config(session, box, workspace_id=workspace_id)
            today = now.astimezone(report_schedules.zone(timezone)).date()
            report = make_report(session, workspace_id=workspace_id, today=today, llm=llm, http_client=http_client)
        refused = send_report(report, config, to=recipients, base_url=base_url, send_mail=send_mail)
    except NotifyError as exc:
        error = str(exc)
    except Exception as exc:  # a bug must not stop the other workspaces; the week is tried again in an hour
        log.exception("weekly report of workspace %s for %s failed", workspace_id, week)
        error = f"meterr could not build or send the report ({type(exc).__name__}); it will try again within the hour."
    else:
        with session_factory() as session:
            report_schedules.mark_sent(session, send_id, now=now, note=_refusal(refused))
        return ReportOutcome(workspace_id, week, "sent", recipients, _refusal(refused))
    with session_factory() as session:
        report_schedules.mark_failed(session, send_id, error=error)
    log.warning("weekly report of workspace %s for %s not sent: %s", workspace_id, week, alerts.clean_error(error))
    return ReportOutcome(workspace_id, week, "failed", recipients, alerts.clean_error(error))


# A manual send --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManualSend:
    """A report sent now, outside the weekly schedule."""

    recipients: tuple[str, ...]
    refused: tuple[str, ...]


def manual_recipients(session: Session, box: SecretBox, *, workspace_id: int, to: str | None = None) -> str:
    """Whom a manual send goes to (``to``, else the weekly list), checking first that it can go at all.

    Raises NotifyError (no mail server, or no one to send to) or security.InvalidInput (a bad address in ``to``),
    so callers can refuse before spending seconds building the report.
    """
    return _manual_target(session, box, workspace_id=workspace_id, to=to)[1]


def _manual_target(session: Session, box: SecretBox, *, workspace_id: int, to: str | None) -> tuple[SmtpConfig, str]:
    config = _smtp_config(session, box, workspace_id=workspace_id)
    if to is not None and to.strip():
        return config, alerts.clean_recipients(to)
    schedule = report_schedules.load_schedule(session, workspace_id=workspace_id)
    if schedule is None or not schedule.recipients:
        raise NotifyError(NO_RECIPIENTS)
    return config, schedule.recipients


def send_report_now(
    session_factory: SessionFactory,
    box: SecretBox,
    report: Report,
    *,
    workspace_id: int,
    base_url: str | None,
    to: str | None = None,
    user_id: int | None = None,
    via: str = "app",
    send_mail: SendMail = send_email,
) -> ManualSend:
    """Email a built report now to ``to`` (default: the weekly list); audited as report.emailed.

    Raises NotifyError or security.InvalidInput saying why it could not go. Not the week's scheduled send: that
    still goes out at its time.
    """
    with session_factory() as session:
        config, recipients = _manual_target(session, box, workspace_id=workspace_id, to=to)
    refused = send_report(report, config, to=recipients, base_url=base_url, send_mail=send_mail)
    with session_factory() as session:
        queries.save_audit(
            session, workspace_id=workspace_id, user_id=user_id, action="report.emailed", via=via,
            period=report.facts.period.key, recipients=recipients, refused=refused,
        )  # fmt: skip
    return ManualSend(tuple(part.strip() for part in recipients.split(",") if part.strip()), tuple(refused))
