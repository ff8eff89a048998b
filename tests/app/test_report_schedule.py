"""The Reports page's weekly email editor: admins schedule it and send it now, viewers only read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from streamlit.testing.v1 import AppTest

from core import alerts, queries
from core.db import session_scope
from core.report_schedules import WEEKDAYS, claim_week, load_schedule, mark_failed, mark_sent, save_schedule
from core.settings import current_settings
from tests.app.conftest import open_demo_page, utc_today
from tests.conftest import app_engine, load_demo, make_member
from tests.fakes.smtp_server import Mailbox, free_port, smtp_server

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def _editor(workspace_id: int, role: str, user_id: int) -> None:
    from ui import report_schedule
    from ui.context import Context

    ctx = Context(
        user_id=user_id, username="ada", name="Ada", workspace_id=workspace_id, workspace_slug="ada-co",
        workspace_name="Ada Co", workspace_timezone="Europe/Berlin", role=role, data_version=0,
        workspaces=((workspace_id, "Ada Co"),),
    )  # fmt: skip
    report_schedule.render_schedule_editor(ctx)


def editor(workspace_id: int, role: str, user_id: int = 1) -> AppTest:
    return AppTest.from_function(
        _editor, default_timeout=120, kwargs={"workspace_id": workspace_id, "role": role, "user_id": user_id}
    ).run()


def save_smtp(workspace_id: int, port: int = 2525) -> None:
    with session_scope(app_engine()) as session:
        alerts.save_smtp_server(
            session, current_settings().secret_box(), workspace_id=workspace_id, host="127.0.0.1", port=port,
            security="none", username="", password=None, from_address="reports@example.com",
        )  # fmt: skip


def test_an_admin_schedules_the_weekly_email_and_it_is_audited() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="admin")
    save_smtp(workspace_id)
    at = editor(workspace_id, "admin")
    assert not at.exception, at.exception
    assert not at.warning
    assert at.selectbox(key="report_hour").label == "Hour (Europe/Berlin)"
    assert at.button(key="report_send_now").disabled  # no recipients yet

    # Today at midnight in Berlin has always passed: this week's report is due at once, and the admin is told.
    weekday = dt.datetime.now(ZoneInfo("Europe/Berlin")).weekday()
    at.selectbox(key="report_weekday").set_value(weekday)
    at.selectbox(key="report_hour").set_value(0)
    at.text_input(key="report_recipients").input("cfo@acme.com; ceo@acme.com")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [
        "Weekly email saved. This week's time has passed, so this week's report goes out within 15 minutes."
    ]
    assert not at.button(key="report_send_now").disabled
    day = WEEKDAYS[weekday]
    expected = f"Goes out {day}s at 00:00 (Europe/Berlin) to cfo@acme.com, ceo@acme.com. Next: {day}"
    assert any(c.value.startswith(expected) for c in at.caption)
    with session_scope(app_engine()) as session:
        schedule = load_schedule(session, workspace_id=workspace_id)
        assert schedule is not None
        assert (schedule.weekday, schedule.hour, schedule.recipients, schedule.enabled) == (
            weekday, 0, "cfo@acme.com, ceo@acme.com", True,
        )  # fmt: skip
        [entry] = queries.load_audit(session, workspace_id=workspace_id)
    assert entry.action == "report_schedule.saved" and entry.user_id == 1
    assert entry.detail == {"weekday": weekday, "hour": 0, "recipients": "cfo@acme.com, ceo@acme.com", "enabled": True}

    at.toggle(key="report_enabled").set_value(False)
    at.button[0].click().run()
    assert [s.value for s in at.success] == ["Weekly email saved."]
    assert any(c.value == "Switched off. When on, it goes to cfo@acme.com, ceo@acme.com." for c in at.caption)


def test_a_bad_address_is_explained_and_saves_nothing() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="owner")
    save_smtp(workspace_id)
    at = editor(workspace_id, "owner")
    at.text_input(key="report_recipients").input("the board")
    at.button[0].click().run()
    assert any("'the' does not look like an email address" in e.value for e in at.error)
    with session_scope(app_engine()) as session:
        assert load_schedule(session, workspace_id=workspace_id) is None


def test_a_demoted_admin_cannot_change_the_schedule() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="viewer")
    save_smtp(workspace_id)
    at = editor(workspace_id, "admin")  # the page still believes Ada is an admin
    at.text_input(key="report_recipients").input("cfo@acme.com")
    at.button[0].click().run()
    assert any("Only a workspace admin or above" in e.value for e in at.error)
    with session_scope(app_engine()) as session:
        assert load_schedule(session, workspace_id=workspace_id) is None


def test_a_viewer_reads_the_schedule_and_the_recent_weeks_without_controls() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="vic", role="viewer")
    save_smtp(workspace_id)
    with session_scope(engine) as session:
        save_schedule(session, workspace_id=workspace_id, weekday=0, hour=8, recipients="cfo@acme.com", enabled=True)
        sent = claim_week(session, workspace_id=workspace_id, week="2026-W47", recipients="cfo@acme.com", now=NOW)
        failed = claim_week(session, workspace_id=workspace_id, week="2026-W48", recipients="cfo@acme.com", now=NOW)
        assert sent is not None and sent.id is not None and failed is not None and failed.id is not None
        mark_sent(session, sent.id, now=NOW)
        mark_failed(session, failed.id, error="The mail server at smtp.acme.com:587 did not answer within 15 seconds.")
    at = editor(workspace_id, "viewer")
    assert not at.exception, at.exception
    assert not at.button and not at.text_input and not at.warning
    assert any(c.value.startswith("Goes out Mondays at 08:00 (Europe/Berlin) to cfo@acme.com.") for c in at.caption)
    table = at.dataframe[0].value
    assert table["Week"].tolist() == ["2026-W48", "2026-W47"]
    assert table["Status"].tolist() == ["Failed (retried hourly this week)", "Sent"]
    assert table["When"].tolist() == ["Nov 23, 08:00 UTC", "Nov 23, 08:00 UTC"]
    assert table["Error"].tolist() == ["The mail server at smtp.acme.com:587 did not answer within 15 seconds.", ""]


def test_send_now_emails_this_weeks_report_with_the_pdf_attached() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="admin")
    load_demo(engine, workspace_id, utc_today())
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        save_smtp(workspace_id, port)
        with session_scope(engine) as session:
            save_schedule(
                session, workspace_id=workspace_id, weekday=0, hour=8, recipients="cfo@acme.com", enabled=True
            )
        at = editor(workspace_id, "admin")
        at.button(key="report_send_now").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Sent to cfo@acme.com."] and not at.error
    [message] = mailbox.messages()
    assert message["To"] == "cfo@acme.com" and str(message["Subject"]).startswith("ada Co · AI spend, ")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_content().startswith(b"%PDF")
    with session_scope(engine) as session:
        assert [a.action for a in queries.load_audit(session, workspace_id=workspace_id)][0] == "report.emailed"


def test_send_now_says_why_the_mail_server_did_not_take_it() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    port = free_port()  # nothing listens here
    save_smtp(workspace_id, port)
    with session_scope(engine) as session:
        save_schedule(session, workspace_id=workspace_id, weekday=0, hour=8, recipients="cfo@acme.com", enabled=True)
    at = editor(workspace_id, "owner")
    at.button(key="report_send_now").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        f"Could not connect to 127.0.0.1:{port}: connection refused. Check the host and port."
    ]
    assert not at.success


def test_the_reports_page_points_an_admin_without_a_mail_server_to_settings() -> None:
    at, _, _ = open_demo_page("app_pages/reports.py", "What do I tell the board?", role="admin")
    assert any("No email server is set up" in w.value for w in at.warning)
    links = [el for el in at.get("page_link") if "Settings → Notifications" in str(el.proto)]
    assert len(links) == 1
