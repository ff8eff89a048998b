"""The weekly executive-summary email: each workspace's schedule, and one send per (workspace, ISO week).

A week falls due once the workspace's local time passes the schedule's weekday and hour in that ISO week, and
stays due until the week ends. Whoever finds it due first claims it: the week's ReportSend row is inserted with
`ON CONFLICT DO NOTHING`, so of several replicas (or runs) only one inserts it, and only that one sends.

Retries: there is no attempts column. A failed week is claimed again by a conditional UPDATE (failed → sending)
once its last attempt is an hour old, so a broken mail server is retried hourly until it works or the week ends
(a mail server set up on Wednesday still delivers Monday's report). A claim still "sending" after an hour — its
replica stopped between claiming and recording the outcome — is taken over the same way; that is the one case
where a report could go out twice (the replica stopped after the mail server took the message). On a ReportSend
row `created_at` is therefore when the latest attempt started, and `sent_at` when it was sent.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlmodel import Session, col

from core.alerts import MAX_RECIPIENTS, clean_error, clean_recipients
from core.db import insert_ignoring
from core.models import ReportSchedule, ReportSend
from core.security import InvalidInput

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RETRY_AFTER = dt.timedelta(hours=1)

_SEND = ReportSend.metadata.tables["reportsend"]


# Schedules ------------------------------------------------------------------------------------------


def save_schedule(
    session: Session, *, workspace_id: int, weekday: int, hour: int, recipients: str, enabled: bool
) -> ReportSchedule:
    """Create or change the workspace's schedule; recipients are 1 to 20 addresses separated by commas."""
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise InvalidInput("Choose the day of the week the report goes out (Monday to Sunday).")
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise InvalidInput("Choose the hour the report goes out, from 00:00 to 23:00.")
    addresses = {part.lower() for part in re.split(r"[,;\s]+", recipients.strip()) if part}
    if len(addresses) > MAX_RECIPIENTS:
        raise InvalidInput(f"The weekly report goes to at most {MAX_RECIPIENTS} addresses; use a mailing list.")
    cleaned = clean_recipients(recipients)
    schedule = load_schedule(session, workspace_id=workspace_id)
    if schedule is None:
        schedule = ReportSchedule(workspace_id=workspace_id)
    schedule.weekday, schedule.hour, schedule.recipients, schedule.enabled = weekday, hour, cleaned, enabled
    session.add(schedule)
    session.flush()
    return schedule


def load_schedule(session: Session, *, workspace_id: int) -> ReportSchedule | None:
    return (
        session.execute(select(ReportSchedule).where(col(ReportSchedule.workspace_id) == workspace_id))
        .scalars()
        .first()
    )


def load_enabled_schedules(session: Session) -> list[ReportSchedule]:
    """Every workspace's schedule that is switched on, for the scheduler."""
    return list(
        session.execute(
            select(ReportSchedule).where(col(ReportSchedule.enabled).is_(True)).order_by(col(ReportSchedule.id))
        ).scalars()
    )


def delete_schedule(session: Session, *, workspace_id: int) -> bool:
    """Stop the weekly email; returns whether there was a schedule. Past sends stay listed."""
    schedule = load_schedule(session, workspace_id=workspace_id)
    if schedule is None:
        return False
    session.delete(schedule)
    session.flush()
    return True


def schedule_recipients(schedule: ReportSchedule) -> list[str]:
    return [part.strip() for part in schedule.recipients.split(",") if part.strip()]


def describe_schedule(schedule: ReportSchedule, timezone: str) -> str:
    """ "Mondays at 08:00 (Europe/Berlin)"."""
    return f"{WEEKDAYS[schedule.weekday]}s at {schedule.hour:02d}:00 ({timezone})"


# When a week is due ---------------------------------------------------------------------------------


def zone(timezone: str) -> ZoneInfo:
    """The workspace's timezone; UTC when the name is unknown to this machine."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def week_key(local: dt.date) -> str:
    """The ISO week holding this (local) date or datetime: "2026-W47"."""
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def is_due(schedule: ReportSchedule, now_utc: dt.datetime, timezone: str) -> str | None:
    """This ISO week's key when the schedule is on and its weekday and hour (local time) have come; else None.

    Wall-clock comparison, so an hour skipped by a daylight-saving change counts as passed once the clock is past it.
    """
    if not schedule.enabled:
        return None
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    local = now_utc.astimezone(zone(timezone)).replace(tzinfo=None)
    monday = local.date() - dt.timedelta(days=local.weekday())
    moment = dt.datetime.combine(monday + dt.timedelta(days=schedule.weekday), dt.time(schedule.hour))
    return week_key(local) if local >= moment else None


def next_send(schedule: ReportSchedule, now_utc: dt.datetime, timezone: str) -> dt.datetime:
    """The next scheduled moment after now, in the workspace's local time (for the Reports page)."""
    tz = zone(timezone)
    local = now_utc.astimezone(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    moment = dt.datetime.combine(monday + dt.timedelta(days=schedule.weekday), dt.time(schedule.hour), tzinfo=tz)
    return moment if moment > local else moment + dt.timedelta(days=7)


# Claiming and recording a week's send ---------------------------------------------------------------


def claim_week(
    session: Session, *, workspace_id: int, week: str, recipients: str, now: dt.datetime
) -> ReportSend | None:
    """Take the week's send for this caller, or None when another run has it (sending, sent, or failed < 1 h ago).

    Commit right away: the claim only keeps others out once they can see it.
    """
    values: dict[str, Any] = {
        "workspace_id": workspace_id, "week": week, "status": "sending", "recipients": recipients, "created_at": now,
    }  # fmt: skip
    claimed = session.execute(
        insert_ignoring(session, _SEND, ("workspace_id", "week")).values(values).returning(_SEND.c.id)
    ).scalar()
    if claimed is None:
        c = _SEND.c
        claimed = session.execute(
            update(_SEND)
            .where(
                c.workspace_id == workspace_id,
                c.week == week,
                c.status.in_(("failed", "sending")),
                c.created_at <= now - RETRY_AFTER,
            )
            .values(status="sending", recipients=recipients, created_at=now, error=None)
            .returning(c.id)
        ).scalar()
    if claimed is None:
        return None
    return session.execute(
        select(ReportSend).where(col(ReportSend.id) == claimed).execution_options(populate_existing=True)
    ).scalar_one()


def mark_sent(session: Session, send_id: int, *, now: dt.datetime, note: str | None = None) -> None:
    """Record that the week's report went out; ``note`` says which recipients the mail server refused, if any."""
    session.execute(
        update(_SEND)
        .where(_SEND.c.id == send_id)
        .values(status="sent", sent_at=now, error=None if note is None else clean_error(note))
    )


def mark_failed(session: Session, send_id: int, *, error: str) -> None:
    """Record why the week's report did not go out (one line, URLs cut to their host); retried after RETRY_AFTER."""
    session.execute(
        update(_SEND)
        .where(_SEND.c.id == send_id, _SEND.c.status == "sending")
        .values(status="failed", error=clean_error(error))
    )


def load_sends(session: Session, *, workspace_id: int, limit: int = 10) -> list[ReportSend]:
    """The workspace's weekly sends, newest week first."""
    return list(
        session.execute(
            select(ReportSend)
            .where(col(ReportSend.workspace_id) == workspace_id)
            .order_by(col(ReportSend.week).desc(), col(ReportSend.id).desc())
            .limit(limit)
        ).scalars()
    )
