"""The weekly report's schedule: validation, when a week is due across timezones, and claiming a week exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine

from core.db import make_engine, session_scope
from core.models import ReportSchedule, ReportSend
from core.report_schedules import (
    RETRY_AFTER,
    claim_week,
    delete_schedule,
    describe_schedule,
    is_due,
    load_enabled_schedules,
    load_schedule,
    load_sends,
    mark_failed,
    mark_sent,
    next_send,
    save_schedule,
    week_key,
)
from core.security import InvalidInput

NOW = dt.datetime(2026, 11, 23, 7, 30, tzinfo=dt.UTC)  # Monday of ISO week 48
UTC = dt.UTC


def schedule(weekday: int = 0, hour: int = 8, *, enabled: bool = True) -> ReportSchedule:
    return ReportSchedule(workspace_id=1, weekday=weekday, hour=hour, recipients="cfo@example.com", enabled=enabled)


# Saving ---------------------------------------------------------------------------------------------


def test_a_schedule_is_saved_cleaned_changed_and_deleted(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        saved = save_schedule(
            session, workspace_id=workspace_id, weekday=0, hour=8,
            recipients=" cfo@acme.com; CFO@acme.com ceo@acme.com", enabled=True,
        )  # fmt: skip
        first_id = saved.id
    with session_scope(engine) as session:
        loaded = load_schedule(session, workspace_id=workspace_id)
        assert loaded is not None
        assert (loaded.weekday, loaded.hour, loaded.recipients, loaded.enabled) == (
            0, 8, "cfo@acme.com, ceo@acme.com", True,
        )  # fmt: skip
        changed = save_schedule(
            session, workspace_id=workspace_id, weekday=6, hour=23, recipients="ops@acme.com", enabled=False
        )
        assert changed.id == first_id  # one schedule per workspace, changed in place
        assert load_enabled_schedules(session) == []
    with session_scope(engine) as session:
        assert delete_schedule(session, workspace_id=workspace_id) is True
        assert delete_schedule(session, workspace_id=workspace_id) is False
        assert load_schedule(session, workspace_id=workspace_id) is None


@pytest.mark.parametrize(
    ("weekday", "hour", "recipients", "message"),
    [
        pytest.param(7, 8, "a@b.co", "day of the week", id="weekday-7"),
        pytest.param(-1, 8, "a@b.co", "day of the week", id="weekday-negative"),
        pytest.param(True, 8, "a@b.co", "day of the week", id="weekday-bool"),
        pytest.param(0, 24, "a@b.co", "00:00 to 23:00", id="hour-24"),
        pytest.param(0, -1, "a@b.co", "00:00 to 23:00", id="hour-negative"),
        pytest.param(0, 8, "  ", "at least one email address", id="no-recipients"),
        pytest.param(0, 8, "finance", "does not look like an email address", id="not-an-address"),
        pytest.param(0, 8, "CFO <cfo@acme.com>", "does not look like an email address", id="display-name"),
        pytest.param(0, 8, ", ".join(f"p{i}@acme.com" for i in range(21)), "at most 20 addresses", id="21-recipients"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_clear_message(
    engine: Engine, workspace_id: int, weekday: int, hour: int, recipients: str, message: str
) -> None:
    with session_scope(engine) as session, pytest.raises(InvalidInput, match=message):
        save_schedule(
            session, workspace_id=workspace_id, weekday=weekday, hour=hour, recipients=recipients, enabled=True
        )


def test_twenty_recipients_are_allowed(engine: Engine, workspace_id: int) -> None:
    addresses = ", ".join(f"p{i}@acme.com" for i in range(20))
    with session_scope(engine) as session:
        saved = save_schedule(session, workspace_id=workspace_id, weekday=0, hour=8, recipients=addresses, enabled=True)
    assert saved.recipients == addresses


# When a week is due ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "key"),
    [
        pytest.param(dt.date(2026, 11, 16), "2026-W47", id="monday"),
        pytest.param(dt.date(2026, 11, 22), "2026-W47", id="sunday-same-week"),
        pytest.param(dt.date(2027, 1, 1), "2026-W53", id="new-year-in-last-week"),
        pytest.param(dt.date(2024, 12, 30), "2025-W01", id="december-in-first-week"),
        pytest.param(dt.datetime(2026, 1, 5, 23, 59), "2026-W02", id="datetime"),
    ],
)
def test_week_key_is_the_iso_week(day: dt.date, key: str) -> None:
    assert week_key(day) == key


@pytest.mark.parametrize(
    ("weekday", "hour", "timezone", "now", "due"),
    [
        # Monday 08:00 in Berlin (UTC+1 in November) is 07:00 UTC.
        pytest.param(0, 8, "Europe/Berlin", dt.datetime(2026, 11, 23, 6, 59, tzinfo=UTC), None, id="berlin-before"),
        pytest.param(0, 8, "Europe/Berlin", dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "2026-W48", id="berlin-at"),
        pytest.param(0, 8, "UTC", dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC), None, id="utc-an-hour-later"),
        pytest.param(0, 8, "UTC", dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC), "2026-W48", id="utc-at"),
        # Still due later in the week, and no longer once the next week starts.
        pytest.param(0, 8, "UTC", dt.datetime(2026, 11, 29, 23, 59, tzinfo=UTC), "2026-W48", id="rest-of-week"),
        pytest.param(0, 8, "UTC", dt.datetime(2026, 11, 30, 7, 59, tzinfo=UTC), None, id="next-monday-before"),
        # Sunday 23:00: in Berlin that is 22:00 UTC; half an hour after Berlin's midnight a new week has begun.
        pytest.param(6, 23, "Europe/Berlin", dt.datetime(2026, 11, 29, 21, 59, tzinfo=UTC), None, id="sunday-before"),
        pytest.param(6, 23, "Europe/Berlin", dt.datetime(2026, 11, 29, 22, 0, tzinfo=UTC), "2026-W48", id="sunday-at"),
        pytest.param(6, 23, "Europe/Berlin", dt.datetime(2026, 11, 29, 23, 30, tzinfo=UTC), None, id="sunday-next-wk"),
        # Auckland (UTC+13): Monday 08:00 there is Sunday 19:00 UTC, and the week is Auckland's, not UTC's.
        pytest.param(0, 8, "Pacific/Auckland", dt.datetime(2026, 11, 22, 19, 0, tzinfo=UTC), "2026-W48", id="nz"),
        pytest.param(0, 8, "Pacific/Auckland", dt.datetime(2026, 11, 22, 18, 59, tzinfo=UTC), None, id="nz-before"),
        # Los Angeles (UTC-8): Monday 08:00 is 16:00 UTC.
        pytest.param(0, 8, "America/Los_Angeles", dt.datetime(2026, 11, 23, 15, 59, tzinfo=UTC), None, id="la-before"),
        pytest.param(0, 8, "America/Los_Angeles", dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC), "2026-W48", id="la"),
        # 02:00 does not exist in Berlin on 29 March 2026 (clocks go 02:00 → 03:00): 03:00 CEST counts as past it.
        pytest.param(6, 2, "Europe/Berlin", dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC), None, id="dst-gap-before"),
        pytest.param(6, 2, "Europe/Berlin", dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "2026-W13", id="dst-gap"),
        # A timezone this machine does not know is read as UTC rather than failing the scheduler.
        pytest.param(0, 8, "Mars/Olympus", dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC), "2026-W48", id="unknown-tz"),
    ],
)
def test_a_week_is_due_once_its_local_weekday_and_hour_have_come(
    weekday: int, hour: int, timezone: str, now: dt.datetime, due: str | None
) -> None:
    assert is_due(schedule(weekday, hour), now, timezone) == due


def test_a_switched_off_schedule_is_never_due_and_now_must_be_aware() -> None:
    assert is_due(schedule(enabled=False), dt.datetime(2026, 11, 29, 23, 0, tzinfo=UTC), "UTC") is None
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(schedule(), dt.datetime(2026, 11, 29, 23, 0), "UTC")  # noqa: DTZ001 - the point of the test


def test_the_next_send_and_the_description_are_in_local_time() -> None:
    berlin = schedule(0, 8)
    assert describe_schedule(berlin, "Europe/Berlin") == "Mondays at 08:00 (Europe/Berlin)"
    before = next_send(berlin, dt.datetime(2026, 11, 23, 6, 0, tzinfo=UTC), "Europe/Berlin")
    assert before.isoformat() == "2026-11-23T08:00:00+01:00"
    after = next_send(berlin, dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "Europe/Berlin")
    assert after.isoformat() == "2026-11-30T08:00:00+01:00"


# Claiming a week ------------------------------------------------------------------------------------


def claim(engine: Engine, workspace_id: int, now: dt.datetime = NOW, week: str = "2026-W48") -> ReportSend | None:
    with session_scope(engine) as session:
        return claim_week(session, workspace_id=workspace_id, week=week, recipients="cfo@example.com", now=now)


def test_a_week_is_claimed_once_and_a_sent_week_never_again(engine: Engine, workspace_id: int) -> None:
    first = claim(engine, workspace_id)
    assert first is not None and first.id is not None
    assert (first.week, first.status, first.recipients, first.created_at) == (
        "2026-W48", "sending", "cfo@example.com", NOW,
    )  # fmt: skip
    assert claim(engine, workspace_id) is None
    with session_scope(engine) as session:
        mark_sent(session, first.id, now=NOW + dt.timedelta(minutes=1))
    assert claim(engine, workspace_id, NOW + dt.timedelta(days=3)) is None  # sent: never again this week
    other_week = claim(engine, workspace_id, NOW + dt.timedelta(days=7), week="2026-W49")
    assert other_week is not None and other_week.id != first.id
    with session_scope(engine) as session:
        sends = load_sends(session, workspace_id=workspace_id)
    assert [(s.week, s.status, s.sent_at) for s in sends] == [
        ("2026-W49", "sending", None), ("2026-W48", "sent", NOW + dt.timedelta(minutes=1)),
    ]  # fmt: skip


def test_a_failed_week_is_claimed_again_after_an_hour_not_before(engine: Engine, workspace_id: int) -> None:
    first = claim(engine, workspace_id)
    assert first is not None and first.id is not None
    with session_scope(engine) as session:
        mark_failed(session, first.id, error="Could not reach https://smtp.example.com/secret-path\nat all")
    with session_scope(engine) as session:
        [failed] = load_sends(session, workspace_id=workspace_id)
    assert (failed.status, failed.error) == ("failed", "Could not reach smtp.example.com/… at all")
    assert claim(engine, workspace_id, NOW + RETRY_AFTER - dt.timedelta(seconds=1)) is None
    again = claim(engine, workspace_id, NOW + RETRY_AFTER)
    assert again is not None
    assert (again.id, again.status, again.error, again.created_at) == (first.id, "sending", None, NOW + RETRY_AFTER)


def test_a_claim_abandoned_mid_send_is_taken_over_after_an_hour(engine: Engine, workspace_id: int) -> None:
    assert claim(engine, workspace_id) is not None  # and its replica stops before recording how it went
    assert claim(engine, workspace_id, NOW + dt.timedelta(minutes=59)) is None
    taken = claim(engine, workspace_id, NOW + dt.timedelta(hours=1))
    assert taken is not None and taken.status == "sending"


def test_a_refused_recipient_is_noted_on_a_sent_week(engine: Engine, workspace_id: int) -> None:
    first = claim(engine, workspace_id)
    assert first is not None and first.id is not None
    with session_scope(engine) as session:
        mark_sent(session, first.id, now=NOW, note="The mail server refused x@acme.com; the others got it.")
        mark_failed(session, first.id, error="too late: it was sent")  # only a week being sent can fail
    with session_scope(engine) as session:
        [sent] = load_sends(session, workspace_id=workspace_id)
    assert (sent.status, sent.error) == ("sent", "The mail server refused x@acme.com; the others got it.")


def test_two_replicas_racing_claim_a_week_exactly_once(engine: Engine, workspace_id: int) -> None:
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    claims: list[ReportSend | None] = []
    errors: list[BaseException] = []

    def replica(own: Engine) -> None:
        try:
            start.wait(10)
            claims.append(claim(own, workspace_id))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(own,)) for own in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for own in engines:
        own.dispose()
    assert errors == []
    assert len(claims) == 4 and sum(c is not None for c in claims) == 1
    with session_scope(engine) as session:
        assert len(load_sends(session, workspace_id=workspace_id)) == 1
