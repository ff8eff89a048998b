"""AppTest: the Alerts inbox and Settings → Notifications, with a real SMTP server on loopback."""

from __future__ import annotations

from sqlalchemy import func, select

from core import alerts
from core.db import session_scope
from core.models import Alert
from tests.app.conftest import signed_in_app, titles, utc_today
from tests.conftest import app_engine, load_demo, make_member
from tests.fakes.smtp_server import Mailbox, smtp_server


def button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_owner_sets_up_email_sends_a_test_and_an_alert_arrives_in_the_inbox_and_by_email() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    load_demo(engine, workspace_id, utc_today())
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        at = signed_in_app("ada")
        at.switch_page("app_pages/settings.py").run()
        fields = {t.label: t for t in at.text_input}
        fields["Server"].input("127.0.0.1")
        fields["Send as"].input("meterr <alerts@example.com>")
        next(n for n in at.number_input if n.label == "Port").set_value(port)
        next(s for s in at.selectbox if s.label == "Encryption").select("none")
        button(at, "Save email server").click().run()
        assert not at.exception and any("Email server saved" in s.value for s in at.success)

        next(t for t in at.text_input if t.label == "Send a test email to").input("cfo@example.com")
        button(at, "Send test email").click().run()
        assert any("Sent." in s.value for s in at.success), [e.value for e in at.error]
        assert [m["To"] for m in mailbox.messages()] == ["cfo@example.com"]

        fields = {t.label: t for t in at.text_input}
        fields["Channel name"].input("Finance")
        fields["Email addresses (comma separated), or the webhook's URL"].input("cfo@example.com")
        button(at, "Add channel").click().run()
        assert not at.exception
        with session_scope(engine) as session:
            assert [c.name for c in alerts.load_channels(session, workspace_id=workspace_id)] == ["Finance"]

        at.switch_page("app_pages/alerts.py").run()
        assert titles(at) == ["What needs my attention?"]
        button(at, "Check now").click().run()
        assert not at.exception
        with session_scope(engine) as session:
            fired = alerts.load_alerts(session, workspace_id=workspace_id)
        assert len(fired) == 4  # the demo: Data Science over (75% and 100%), Marketing past 75% and predicted over
        shown = " ".join(m.value for m in at.markdown)
        assert all(alert.title in shown for alert in fired)
        assert "**4 unread** of 4 alerts" in shown
        subjects = sorted(str(m["Subject"]) for m in mailbox.messages()[1:])
        assert subjects == sorted(f"[meterr] {alert.title}" for alert in fired)

        button(at, "Check now").click().run()  # nothing new: no second alert, no second email
        assert len(mailbox.messages()) == 5
        button(at, "Mark all read").click().run()
        assert "**0 unread** of 4 alerts" in " ".join(m.value for m in at.markdown)
        with session_scope(engine) as session:
            assert alerts.count_unread(session, workspace_id=workspace_id) == 0
            assert session.execute(select(func.count()).select_from(Alert)).scalar_one() == 4


def test_a_viewer_reads_alerts_but_cannot_check_or_change_channels() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="vic", role="viewer")
    load_demo(engine, workspace_id, utc_today())
    at = signed_in_app("vic")
    at.switch_page("app_pages/alerts.py").run()
    assert not at.exception and not any(b.label == "Check now" for b in at.button)
    at.switch_page("app_pages/settings.py").run()
    assert not any(b.label in ("Add channel", "Save email server") for b in at.button)
    assert any("Only owners and admins can change where alerts go." in c.value for c in at.caption)
