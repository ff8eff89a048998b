"""The weekly report email through a real loopback SMTP server: the message, the PDF attached, escaping, the weekly
send exactly once (also with racing replicas), failures and retries, and the manual send."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from fpdf import FPDF
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from connectors.notify import NO_SMTP, NotifyError
from connectors.report_mail import (
    NO_RECIPIENTS,
    ManualSend,
    compose_report_email,
    manual_recipients,
    report_kpis,
    send_due_reports,
    send_report,
    send_report_now,
)
from connectors.reporting import Report, load_report_facts
from core import alerts, queries
from core.crypto import SecretBox, decode_key, new_key_text
from core.db import make_engine, session_scope, upgrade
from core.models import AuditLog, ReportSend
from core.money import format_usd
from core.report_schedules import load_sends, save_schedule
from core.security import InvalidInput
from insights.facts import ReportFacts
from tests.conftest import TODAY, load_demo
from tests.connectors.test_notify import smtp_config
from tests.fakes.smtp_server import Mailbox, free_port, smtp_server

# Monday 23 November 2026, 08:00 UTC: a Monday-08:00 schedule in UTC is due, in ISO week 48.
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
BASE_URL = "https://meterr.example.com"
EVIL = "<b>Evil & Co</b>"
PARAGRAPHS = (
    "AI spend reached $25,553.97 so far this month, up from the same days of October.",
    "Data Science is over its budget <script>alert(1)</script> & needs a look.",
)
INSIGHTS = ("Marketing is on track to exceed its budget.", "Switching models could save <$1,000> a month.")


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory: pytest.TempPathFactory) -> ReportFacts:
    """The demo workspace's November facts, computed once (the forecasts take seconds) under an evil name."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('facts') / 'facts.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name=EVIL)
        assert workspace.id is not None
        workspace_id = workspace.id
    load_demo(engine, workspace_id, TODAY)
    with session_scope(engine) as session:
        facts = load_report_facts(session, workspace_id=workspace_id, today=TODAY)
    engine.dispose()
    return facts


def small_pdf(title: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=title)
    return bytes(pdf.output())


def make_report(facts: ReportFacts) -> Report:
    return Report(facts, PARAGRAPHS, "deterministic", INSIGHTS, small_pdf(facts.workspace_name), charts=False)


class FakeBuilder:
    """Stands in for connectors.reporting.build_report: the demo's facts under the workspace's own name."""

    def __init__(self, facts: ReportFacts, *, fail_for: str | None = None) -> None:
        self.facts = facts
        self.fail_for = fail_for
        self.calls: list[dict[str, Any]] = []

    def __call__(self, session: Session, *, workspace_id: int, today: dt.date, **options: Any) -> Report:
        self.calls.append({"workspace_id": workspace_id, "today": today, **options})
        name = queries.load_workspace_by_id(session, workspace_id=workspace_id).name
        if name == self.fail_for:
            raise RuntimeError("the chart renderer crashed")
        return make_report(dataclasses.replace(self.facts, workspace_name=name))


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(decode_key(new_key_text()))


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port(mailbox: Mailbox) -> Iterator[int]:
    with smtp_server(mailbox) as port:
        yield port


def set_up(engine: Engine, box: SecretBox, workspace_id: int, *, port: int | None, weekday: int = 0) -> None:
    with session_scope(engine) as session:
        if port is not None:
            alerts.save_smtp_server(
                session, box, workspace_id=workspace_id, host="127.0.0.1", port=port, security="none", username="",
                password=None, from_address="meterr <reports@example.com>",
            )  # fmt: skip
        save_schedule(
            session, workspace_id=workspace_id, weekday=weekday, hour=8, recipients="cfo@example.com, ceo@example.com",
            enabled=True,
        )  # fmt: skip


def run(engine: Engine, box: SecretBox, builder: FakeBuilder, now: dt.datetime = NOW) -> list[Any]:
    return send_due_reports(lambda: session_scope(engine), box, now=now, base_url=BASE_URL, make_report=builder)


def sends(engine: Engine, workspace_id: int) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as session:
        return [(s.week, s.status, s.error) for s in load_sends(session, workspace_id=workspace_id)]


def pdf_attachment(message: EmailMessage) -> EmailMessage:
    [attachment] = list(message.iter_attachments())
    assert isinstance(attachment, EmailMessage)
    return attachment


# The message ----------------------------------------------------------------------------------------


def test_the_email_names_the_period_shows_exact_kpis_and_escapes_everything(demo_facts: ReportFacts) -> None:
    report = make_report(demo_facts)
    subject, html, text = compose_report_email(report, base_url=BASE_URL + "/")
    assert subject == f"{EVIL} · AI spend, November 2026 (month to date)"
    # Nothing a person or a model wrote reaches the HTML unescaped.
    assert EVIL not in html and "<script>" not in html and "<$1,000>" not in html
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;: AI spend, November 2026 (month to date)" in html
    assert "over its budget &lt;script&gt;alert(1)&lt;/script&gt; &amp; needs a look." in html
    assert "Switching models could save &lt;$1,000&gt; a month." in html
    assert '<a href="https://meterr.example.com/reports"' in html
    assert "<style" not in html and 'style="' in html  # inline styles only: email clients drop <style>
    # The plain-text alternative says the same in plain words.
    assert EVIL in text and PARAGRAPHS[1] in text and f"- {INSIGHTS[0]}" in text
    assert "Open the report in meterr: https://meterr.example.com/reports" in text
    assert f"attached as {report.filename}" in text
    kpis = dict(report_kpis(demo_facts))
    assert kpis["Spend, month to date"] == format_usd(demo_facts.total_micros, cents=False) == "$25,554"
    assert kpis["Budgets over or at risk"] == f"{len(demo_facts.budgets_at_risk)} of {len(demo_facts.budgets)}"
    for label, value in kpis.items():
        assert f"{label}: {value}" in text
        assert f">{value.replace('&', '&amp;')}</td>" in html


@pytest.mark.parametrize("base_url", [None, "", "javascript:alert(1)"], ids=["none", "empty", "javascript"])
def test_without_a_public_http_address_there_is_no_link(demo_facts: ReportFacts, base_url: str | None) -> None:
    _, html, text = compose_report_email(make_report(demo_facts), base_url=base_url)
    assert "<a " not in html and "Open the report" not in text


def test_a_finished_month_has_no_forecast_and_no_month_to_date(demo_facts: ReportFacts) -> None:
    october = dataclasses.replace(
        demo_facts,
        period=dataclasses.replace(
            demo_facts.period, end=dt.date(2026, 10, 31), month=dt.date(2026, 10, 1), start=dt.date(2026, 10, 1),
            partial=False,
        ),
        month_end=None,
    )  # fmt: skip
    subject, _, text = compose_report_email(make_report(october), base_url=None)
    assert subject == f"{EVIL} · AI spend, October 2026"
    assert "Spend in October 2026: " in text and "Month-end forecast" not in text


def test_the_report_arrives_with_its_pdf_attached(demo_facts: ReportFacts, mailbox: Mailbox, smtp_port: int) -> None:
    report = make_report(demo_facts)
    refused = send_report(report, smtp_config(smtp_port), to="cfo@example.com, ceo@example.com", base_url=BASE_URL)
    assert refused == []
    [envelope] = mailbox.envelopes
    assert sorted(envelope.rcpt_tos) == ["ceo@example.com", "cfo@example.com"]
    [message] = mailbox.messages()
    assert message["Subject"] == f"{EVIL} · AI spend, November 2026 (month to date)"
    attachment = pdf_attachment(message)
    assert attachment.get_filename() == report.filename == "meterr-b-evil---co--b-2026-11.pdf"
    assert attachment.get_content_type() == "application/pdf"
    content = attachment.get_content()
    assert content == report.pdf and content.startswith(b"%PDF")
    html = message.get_body(preferencelist=("html",))
    plain = message.get_body(preferencelist=("plain",))
    assert html is not None and "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in html.get_content()
    assert plain is not None and PARAGRAPHS[0] in plain.get_content()


# The weekly send ------------------------------------------------------------------------------------


def test_a_due_week_is_sent_once_then_not_again(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, mailbox: Mailbox, smtp_port: int
) -> None:
    set_up(engine, box, workspace_id, port=smtp_port)
    builder = FakeBuilder(demo_facts)
    assert run(engine, box, builder, NOW - dt.timedelta(minutes=1)) == []  # Monday 07:59: not yet
    [outcome] = run(engine, box, builder)
    assert (outcome.workspace_id, outcome.week, outcome.status) == (workspace_id, "2026-W48", "sent")
    assert outcome.error is None
    today = dt.date(2026, 11, 23)
    assert builder.calls == [{"workspace_id": workspace_id, "today": today, "llm": None, "http_client": None}]
    assert run(engine, box, builder, NOW + dt.timedelta(minutes=15)) == []
    assert run(engine, box, builder, NOW + dt.timedelta(days=3)) == []
    assert len(builder.calls) == 1
    [message] = mailbox.messages()
    assert message["To"] == "cfo@example.com, ceo@example.com"
    assert message["Subject"] == "Test Co · AI spend, November 2026 (month to date)"
    assert pdf_attachment(message).get_content().startswith(b"%PDF")
    assert sends(engine, workspace_id) == [("2026-W48", "sent", None)]
    with session_scope(engine) as session:
        [row] = session.execute(select(ReportSend)).scalars().all()
    assert row.sent_at == NOW and row.recipients == "cfo@example.com, ceo@example.com"

    [next_week] = run(engine, box, builder, NOW + dt.timedelta(days=7))
    assert (next_week.week, next_week.status) == ("2026-W49", "sent")
    assert len(mailbox.messages()) == 2


def test_the_report_is_built_for_the_workspaces_own_date(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, smtp_port: int
) -> None:
    set_up(engine, box, workspace_id, port=smtp_port)
    with session_scope(engine) as session:
        queries.load_workspace_by_id(session, workspace_id=workspace_id).timezone = "Pacific/Auckland"
    builder = FakeBuilder(demo_facts)
    [outcome] = run(engine, box, builder, dt.datetime(2026, 11, 22, 19, 0, tzinfo=dt.UTC))  # Monday 08:00 in NZ
    assert outcome.week == "2026-W48" and builder.calls[0]["today"] == dt.date(2026, 11, 23)


def test_without_a_mail_server_the_week_fails_saying_what_to_do(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts
) -> None:
    set_up(engine, box, workspace_id, port=None)
    builder = FakeBuilder(demo_facts)
    [outcome] = run(engine, box, builder)
    assert (outcome.status, outcome.error) == ("failed", NO_SMTP)
    assert builder.calls == []  # nothing built for a mail that cannot go
    assert sends(engine, workspace_id) == [("2026-W48", "failed", NO_SMTP)]
    assert run(engine, box, builder, NOW + dt.timedelta(minutes=30)) == []  # tried again only after an hour


def test_a_failed_week_is_retried_an_hour_later_and_then_delivered(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, mailbox: Mailbox
) -> None:
    port = free_port()  # nothing listens here yet
    set_up(engine, box, workspace_id, port=port)
    builder = FakeBuilder(demo_facts)
    [failed] = run(engine, box, builder)
    assert failed.status == "failed" and failed.error == (
        f"Could not connect to 127.0.0.1:{port}: connection refused. Check the host and port."
    )
    assert run(engine, box, builder, NOW + dt.timedelta(minutes=59)) == []
    with smtp_server(mailbox) as live:
        with session_scope(engine) as session:
            alerts.save_smtp_server(
                session, box, workspace_id=workspace_id, host="127.0.0.1", port=live, security="none", username="",
                password=None, from_address="reports@example.com",
            )  # fmt: skip
        [sent] = run(engine, box, builder, NOW + dt.timedelta(hours=1))
    assert (sent.week, sent.status) == ("2026-W48", "sent")
    assert len(mailbox.messages()) == 1
    assert sends(engine, workspace_id) == [("2026-W48", "sent", None)]


def test_one_workspace_failing_does_not_stop_the_others(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, mailbox: Mailbox, smtp_port: int
) -> None:
    with session_scope(engine) as session:
        broken = queries.create_workspace(session, name="Broken Co")
        assert broken.id is not None
        broken_id = broken.id
    set_up(engine, box, broken_id, port=smtp_port)
    set_up(engine, box, workspace_id, port=smtp_port)
    outcomes = run(engine, box, FakeBuilder(demo_facts, fail_for="Broken Co"))
    assert sorted((o.workspace_id, o.status) for o in outcomes) == sorted(
        [(broken_id, "failed"), (workspace_id, "sent")]
    )
    [(_, _, error)] = sends(engine, broken_id)
    assert error == "meterr could not build or send the report (RuntimeError); it will try again within the hour."
    assert [m["Subject"] for m in mailbox.messages()] == ["Test Co · AI spend, November 2026 (month to date)"]


def test_a_switched_off_schedule_sends_nothing(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, mailbox: Mailbox, smtp_port: int
) -> None:
    set_up(engine, box, workspace_id, port=smtp_port)
    with session_scope(engine) as session:
        save_schedule(session, workspace_id=workspace_id, weekday=0, hour=8, recipients="a@b.co", enabled=False)
    assert run(engine, box, FakeBuilder(demo_facts), NOW + dt.timedelta(days=2)) == []
    assert mailbox.envelopes == [] and sends(engine, workspace_id) == []


def test_replicas_racing_send_the_week_exactly_once(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, mailbox: Mailbox, smtp_port: int
) -> None:
    set_up(engine, box, workspace_id, port=smtp_port)
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(3)]
    start = threading.Barrier(len(engines))
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def replica(own: Engine) -> None:
        try:
            start.wait(10)
            outcomes.extend(run(own, box, FakeBuilder(demo_facts)))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(own,)) for own in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for own in engines:
        own.dispose()
    assert errors == []
    assert [(o.week, o.status) for o in outcomes] == [("2026-W48", "sent")]
    assert len(mailbox.messages()) == 1
    assert sends(engine, workspace_id) == [("2026-W48", "sent", None)]


def test_the_real_report_is_built_and_sent_once(
    engine: Engine, workspace_id: int, box: SecretBox, mailbox: Mailbox, smtp_port: int
) -> None:
    load_demo(engine, workspace_id, TODAY)
    set_up(engine, box, workspace_id, port=smtp_port, weekday=5)  # Saturdays at 08:00
    now = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    factory = lambda: session_scope(engine)  # noqa: E731
    [outcome] = send_due_reports(factory, box, now=now, base_url=BASE_URL)  # connectors.reporting.build_report
    assert (outcome.week, outcome.status, outcome.error) == ("2026-W47", "sent", None)
    assert send_due_reports(factory, box, now=now + dt.timedelta(hours=2), base_url=BASE_URL) == []
    [message] = mailbox.messages()
    assert message["Subject"] == "Test Co · AI spend, November 2026 (month to date)"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    with session_scope(engine) as session:
        facts = load_report_facts(session, workspace_id=workspace_id, today=TODAY)
    assert f"Spend, month to date: {format_usd(facts.total_micros, cents=False)}" in plain.get_content()
    attachment = pdf_attachment(message)
    assert attachment.get_filename() == "meterr-test-co-2026-11.pdf"
    assert attachment.get_content().startswith(b"%PDF")


# The manual send ------------------------------------------------------------------------------------


def test_send_now_goes_to_the_list_or_to_whom_it_is_told_and_is_audited(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, mailbox: Mailbox, smtp_port: int
) -> None:
    set_up(engine, box, workspace_id, port=smtp_port)
    report = make_report(demo_facts)
    factory = lambda: session_scope(engine)  # noqa: E731
    sent = send_report_now(factory, box, report, workspace_id=workspace_id, base_url=BASE_URL, via="cli")
    assert sent == ManualSend(("cfo@example.com", "ceo@example.com"), ())
    sent = send_report_now(
        factory, box, report, workspace_id=workspace_id, base_url=BASE_URL, to="board@example.com; cfo@example.com",
        user_id=None,
    )  # fmt: skip
    assert sent.recipients == ("board@example.com", "cfo@example.com")
    assert [m["To"] for m in mailbox.messages()] == [
        "cfo@example.com, ceo@example.com", "board@example.com, cfo@example.com",
    ]  # fmt: skip
    assert all(pdf_attachment(m).get_content() == report.pdf for m in mailbox.messages())
    assert sends(engine, workspace_id) == []  # not the week's scheduled send
    with session_scope(engine) as session:
        emailed = select(AuditLog).where(col(AuditLog.action) == "report.emailed").order_by(col(AuditLog.id))
        audit = session.execute(emailed).scalars().all()
    assert [(a.detail["via"], a.detail["period"], a.detail["recipients"]) for a in audit] == [
        ("cli", "2026-11", "cfo@example.com, ceo@example.com"),
        ("app", "2026-11", "board@example.com, cfo@example.com"),
    ]


def test_send_now_says_why_it_cannot_send_before_anything_is_built(
    engine: Engine, workspace_id: int, box: SecretBox, demo_facts: ReportFacts, mailbox: Mailbox, smtp_port: int
) -> None:
    def check(to: str | None = None) -> str:
        with session_scope(engine) as session:
            return manual_recipients(session, box, workspace_id=workspace_id, to=to)

    with pytest.raises(NotifyError, match="Set up an email server"):
        check("cfo@example.com")
    with session_scope(engine) as session:
        alerts.save_smtp_server(
            session, box, workspace_id=workspace_id, host="127.0.0.1", port=smtp_port, security="none", username="",
            password=None, from_address="reports@example.com",
        )  # fmt: skip
    with pytest.raises(NotifyError) as raised:
        check()
    assert str(raised.value) == NO_RECIPIENTS
    with pytest.raises(InvalidInput, match="does not look like an email address"):
        check("the board")
    assert check("cfo@example.com") == "cfo@example.com"
    with pytest.raises(NotifyError, match="There is no one to send the report to"):
        send_report_now(
            lambda: session_scope(engine), box, make_report(demo_facts), workspace_id=workspace_id, base_url=None
        )
    assert mailbox.envelopes == []
