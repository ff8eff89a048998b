"""The Reports page's weekly email: when it goes out and to whom, "Send now", and how the recent weeks went."""

from __future__ import annotations

import datetime as dt

import httpx
import streamlit as st

from connectors import llm, report_mail, reporting
from connectors.notify import NotifyError
from core import alerts, queries, report_schedules
from core.models import ReportSchedule, ReportSend, utcnow
from core.report_schedules import WEEKDAYS
from core.security import InvalidInput
from insights.facts import PeriodError
from ui.context import Context, require_role
from ui.db import get_settings, open_session

STATUS_LABELS = {"sending": "Sending", "sent": "Sent", "failed": "Failed (retried hourly this week)"}
DEFAULT_HOUR = 8


def render_schedule_editor(ctx: Context) -> None:
    """Schedule form (admins and owners), Send now, and the last ten weeks' sends; read-only for viewers."""
    with open_session() as session:
        schedule = report_schedules.load_schedule(session, workspace_id=ctx.workspace_id)
        has_smtp = alerts.load_smtp_server(session, workspace_id=ctx.workspace_id) is not None
        sends = report_schedules.load_sends(session, workspace_id=ctx.workspace_id, limit=10)
    st.markdown(
        "Every week meterr emails this workspace's executive summary — headline figures, the summary and what "
        "changed — with the PDF attached."
    )
    if not has_smtp:
        st.warning("No email server is set up, so the weekly email cannot go out yet.", icon=":material/mail_lock:")
        if ctx.can("admin") and not ctx.shared:
            st.page_link(
                "app_pages/settings.py", label="Set up the email server in Settings → Notifications",
                icon=":material/settings:",
            )  # fmt: skip
        else:
            st.caption("Ask a workspace owner or admin to set it up in Settings → Notifications.")
    _render_status(ctx, schedule)
    if saved := st.session_state.pop("report_schedule_saved", None):
        st.success(saved, icon=":material/check_circle:")
    if ctx.can("admin") and not ctx.shared:
        _render_form(ctx, schedule)
        _render_send_now(ctx, schedule, has_smtp=has_smtp)
    else:
        st.caption("Only owners and admins can change the weekly email.")
    _render_sends(sends)


def _render_status(ctx: Context, schedule: ReportSchedule | None) -> None:
    if schedule is None:
        st.caption("Not scheduled yet.")
        return
    if not schedule.enabled:
        st.caption(f"Switched off. When on, it goes to {schedule.recipients}.")
        return
    upcoming = report_schedules.next_send(schedule, utcnow(), ctx.workspace_timezone)
    st.caption(
        f"Goes out {report_schedules.describe_schedule(schedule, ctx.workspace_timezone)} to {schedule.recipients}. "
        f"Next: {upcoming:%A %b} {upcoming.day}, {upcoming:%H:%M}."
    )


def _render_form(ctx: Context, schedule: ReportSchedule | None) -> None:
    with st.form("report_schedule_form"):
        day, hour = st.columns(2)
        weekday = day.selectbox(
            "Day",
            range(7),
            index=schedule.weekday if schedule else 0,
            format_func=WEEKDAYS.__getitem__,
            key="report_weekday",
        )
        at = hour.selectbox(
            f"Hour ({ctx.workspace_timezone})", range(24), index=schedule.hour if schedule else DEFAULT_HOUR,
            format_func=lambda h: f"{h:02d}:00", key="report_hour",
        )  # fmt: skip
        recipients = st.text_input(
            "Recipients", value=schedule.recipients if schedule else "", placeholder="cfo@example.com, ceo@example.com",
            help="Up to 20 email addresses, separated by commas.", key="report_recipients",
        )  # fmt: skip
        enabled = st.toggle("Send every week", value=schedule.enabled if schedule else True, key="report_enabled")
        if st.form_submit_button("Save weekly email", icon=":material/save:"):
            try:
                message = _save(ctx, weekday=int(weekday), hour=int(at), recipients=recipients, enabled=enabled)
            except InvalidInput as problem:
                st.error(str(problem))
            else:
                st.session_state["report_schedule_saved"] = message
                st.rerun()


def _save(ctx: Context, *, weekday: int, hour: int, recipients: str, enabled: bool) -> str:
    """Save and audit the schedule; returns what to tell the admin."""
    require_role(ctx, "admin")
    with open_session() as session:
        saved = report_schedules.save_schedule(
            session, workspace_id=ctx.workspace_id, weekday=weekday, hour=hour, recipients=recipients, enabled=enabled
        )
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="report_schedule.saved",
            weekday=saved.weekday, hour=saved.hour, recipients=saved.recipients, enabled=saved.enabled,
        )  # fmt: skip
        week = report_schedules.is_due(saved, utcnow(), ctx.workspace_timezone)
        done = {s.week for s in report_schedules.load_sends(session, workspace_id=ctx.workspace_id, limit=1)}
    minutes = get_settings().report_interval_minutes
    if week is None or week in done or not minutes:
        return "Weekly email saved."
    return f"Weekly email saved. This week's time has passed, so this week's report goes out within {minutes} minutes."


def _render_send_now(ctx: Context, schedule: ReportSchedule | None, *, has_smtp: bool) -> None:
    ready = has_smtp and schedule is not None and bool(schedule.recipients)
    clicked = st.button(
        "Send now", icon=":material/send:", disabled=not ready, key="report_send_now",
        help="Email this week's report to the recipients right away; the scheduled email still goes out."
        if ready else "Set up the email server and save the recipients first.",
    )  # fmt: skip
    if not clicked:
        return
    try:
        with st.spinner("Writing the report and sending it…"):
            sent = _send_now(ctx)
    except (NotifyError, InvalidInput, PeriodError) as problem:
        st.error(str(problem), icon=":material/error:")
    else:
        st.success(f"Sent to {', '.join(sent.recipients)}.", icon=":material/mark_email_read:")
        if sent.refused:
            st.warning(f"The mail server refused {', '.join(sent.refused)}.")


def _send_now(ctx: Context) -> report_mail.ManualSend:
    require_role(ctx, "admin")
    settings = get_settings()
    box = settings.secret_box()
    with open_session() as session:
        report_mail.manual_recipients(session, box, workspace_id=ctx.workspace_id)  # refuse before building
    # Built afresh, like the scheduled and command-line sends: one path for every emailed report.
    with httpx.Client(timeout=60) as client, open_session() as session:
        report = reporting.build_report(
            session, workspace_id=ctx.workspace_id, today=ctx.today(), llm=llm.llm_config(settings), http_client=client
        )
    return report_mail.send_report_now(
        open_session, box, report, workspace_id=ctx.workspace_id, base_url=settings.base_url, user_id=ctx.user_id
    )


def _when(moment: dt.datetime | None) -> str:
    return "" if moment is None else f"{moment:%b} {moment.day}, {moment:%H:%M} UTC"


def _render_sends(sends: list[ReportSend]) -> None:
    st.markdown("**Recent weeks**")
    if not sends:
        st.caption("Nothing sent yet.")
        return
    st.dataframe(
        [
            {
                "Week": s.week, "Status": STATUS_LABELS.get(s.status, s.status),
                "When": _when(s.sent_at if s.status == "sent" else s.created_at), "Recipients": s.recipients,
                "Error": s.error or "",
            }
            for s in sends
        ],
        hide_index=True, key="report_sends_table",
    )  # fmt: skip
