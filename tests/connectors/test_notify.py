"""Outbound alerts through real loopback servers: SMTP (aiosmtpd), Slack and signed webhooks, and deliver_due."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine, func, select, text

from connectors.notify import (
    NO_SMTP,
    DeliveryReport,
    NotifyError,
    deliver_due,
    post_slack,
    post_webhook,
    send_email,
    send_test,
    send_test_email,
)
from connectors.webhooks import WebhookRejected, verify_signature
from core import queries
from core.alerts import (
    SmtpConfig,
    load_deliveries,
    record_alerts,
    retry_delivery,
    save_channel,
    save_smtp_server,
)
from core.crypto import SecretBox, decode_key, new_key_text
from core.db import session_scope
from core.models import AlertDelivery
from core.queries import NotFound
from tests.core.test_alerts import Candidate
from tests.fakes.http_server import serve
from tests.fakes.smtp_server import Mailbox, free_port, smtp_server

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
BASE_URL = "https://meterr.example.com"
SMTP_USER = "alerts"
SMTP_PASSWORD = "Sm7p-Pa55word-x9"
SLACK_SECRET_PATH = "/services/T0001/B0002/abcdefghijklmnopqrstuvwx"
SLACK_URL = f"https://hooks.slack.test{SLACK_SECRET_PATH}"  # sent to the local fake by LoopbackTransport
# aiosmtpd warns that a password over plain text is unsafe: true, and why this server listens on loopback only.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nfake report bytes\x00\x01"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(decode_key(new_key_text()))


# A real SMTP server on loopback ---------------------------------------------------------------------


def check_password(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode(),
    )  # fmt: skip
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def smtp_config(port: int, **changes: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "security": "none", "username": "", "password": "",
        "from_address": "meterr <alerts@example.com>", "timeout": 5.0,
    } | changes  # fmt: skip
    return SmtpConfig(**values)


def test_an_email_with_html_and_an_attachment_arrives_as_sent() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox, authenticator=check_password) as port:
        refused = send_email(
            smtp_config(port, username=SMTP_USER, password=SMTP_PASSWORD),
            to=["cfo@example.com", "ops@example.com"],
            subject="Weekly AI spend\r\nBcc: evil@example.com",
            text="Spend was $1,234.50 this week.",
            html="<p>Spend was <b>$1,234.50</b> this week.</p>",
            attachments=[("meterr-week-47.pdf", PDF, "application/pdf")],
        )
    assert refused == []
    [envelope] = mailbox.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("alerts@example.com", ["cfo@example.com", "ops@example.com"])
    [message] = mailbox.messages()
    assert message["Subject"] == "Weekly AI spend Bcc: evil@example.com"  # the line break could not inject a header
    assert (message["From"], message["To"]) == ("meterr <alerts@example.com>", "cfo@example.com, ops@example.com")
    assert message["Message-ID"].endswith("@example.com>")
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and plain.get_content() == "Spend was $1,234.50 this week.\n"
    assert html is not None and html.get_content() == "<p>Spend was <b>$1,234.50</b> this week.</p>\n"
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type()) == ("meterr-week-47.pdf", "application/pdf")
    assert attachment.get_content() == PDF


def test_a_wrong_password_is_refused_without_repeating_it() -> None:
    mailbox = Mailbox()
    wrong = "Wr0ng-Pa55word-q7"
    with smtp_server(mailbox, authenticator=check_password) as port, pytest.raises(NotifyError) as caught:
        send_email(smtp_config(port, username=SMTP_USER, password=wrong), to="cfo@example.com", subject="s", text="t")
    message = str(caught.value)
    assert message.startswith(f"The mail server at 127.0.0.1:{port} refused the user name or password (535")
    assert wrong not in message and SMTP_PASSWORD not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no traceback carrying it either
    assert mailbox.envelopes == []


def test_refused_recipients_are_named() -> None:
    mailbox = Mailbox(refuse=("nobody@example.com",))
    with smtp_server(mailbox) as port:
        config = smtp_config(port)
        with pytest.raises(NotifyError, match=r"refused every recipient: nobody@example\.com \(550 5\.1\.1 No such"):
            send_email(config, to="nobody@example.com", subject="s", text="t")
        # With one good recipient the message goes out, and the refusal is reported back.
        assert send_email(config, to="nobody@example.com, cfo@example.com", subject="s", text="t") == [
            "nobody@example.com"
        ]
        with pytest.raises(NotifyError, match=r"refused nobody@example\.com; the other recipients got the test"):
            send_test_email(config, "cfo@example.com, nobody@example.com")
    assert [envelope.rcpt_tos for envelope in mailbox.envelopes] == [["cfo@example.com"], ["cfo@example.com"]]


def test_the_settings_test_email_arrives() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        send_test_email(smtp_config(port), "cfo@example.com")
    [message] = mailbox.messages()
    assert message["Subject"] == "meterr test email"
    assert "your email server settings work" in str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_mail_server_problems_are_explained() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        with pytest.raises(NotifyError, match="does not offer STARTTLS; choose SSL"):
            send_email(smtp_config(port, security="starttls"), to="a@example.com", subject="s", text="t")
        with pytest.raises(NotifyError, match="does not offer sign-in on this connection"):
            # aiosmtpd offers AUTH only over TLS unless told otherwise, like many real servers
            send_email(smtp_config(port, username="u", password="p"), to="a@example.com", subject="s", text="t")
        with pytest.raises(NotifyError, match="Could not set up an encrypted connection"):
            send_email(smtp_config(port, security="ssl"), to="a@example.com", subject="s", text="t")
    closed = free_port()
    with pytest.raises(NotifyError, match=rf"Could not connect to 127\.0\.0\.1:{closed}: connection refused"):
        send_email(smtp_config(closed), to="a@example.com", subject="s", text="t")
    with socket.socket() as silent:  # accepts the connection but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(NotifyError, match="did not answer within 0.2 seconds"):
            send_email(smtp_config(port, timeout=0.2), to="a@example.com", subject="s", text="t")
    with pytest.raises(NotifyError, match="no one to send to"):
        send_email(smtp_config(closed), to=" , ", subject="s", text="t")
    assert mailbox.envelopes == []


# Slack and webhooks through a real loopback HTTP server ---------------------------------------------


@dataclass
class Receiver:
    """Answers each request with the next scripted (status, body), then 200 "ok"; keeps every request."""

    script: list[tuple[int, str]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            status, body = self.script.pop(0) if self.script else (200, "ok")
        return httpx.Response(status, text=body)


class LoopbackTransport(httpx.BaseTransport):
    """Sends https://*.test addresses to the local fake over plain HTTP: tests cannot serve Slack's TLS."""

    def __init__(self, base: str) -> None:
        self.base = httpx.URL(base)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.endswith(".test"):
            request.url = request.url.copy_with(scheme="http", host=self.base.host, port=self.base.port)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@contextmanager
def receiver(*script: tuple[int, str]) -> Iterator[tuple[Receiver, str, httpx.Client]]:
    fake = Receiver(list(script))
    with serve(fake) as base, httpx.Client(transport=LoopbackTransport(base), timeout=5) as client:
        yield fake, base, client


def test_slack_gets_text_and_blocks() -> None:
    with receiver() as (slack, base, client):
        post_slack(
            client, base + SLACK_SECRET_PATH, title="Spend <spike> & more", body="OpenAI: *$912.00*", link=BASE_URL
        )
    [request] = slack.requests
    assert (request.method, request.url.path, request.headers["content-type"]) == (
        "POST", SLACK_SECRET_PATH, "application/json",
    )  # fmt: skip
    assert json.loads(request.content) == {
        "text": "Spend &lt;spike&gt; &amp; more\nOpenAI: *$912.00*",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Spend <spike> & more", "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "OpenAI: *$912.00*"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{BASE_URL}|Open in meterr>"}]},
        ],
    }


def test_slacks_refusal_is_explained_without_the_secret_path() -> None:
    with receiver((404, "no_service")) as (_, base, client), pytest.raises(NotifyError) as caught:
        post_slack(client, base + SLACK_SECRET_PATH, title="t", body="b")
    assert str(caught.value) == (
        "Slack refused the message (404 no_service). The incoming webhook was removed or turned off: create a new one "
        "and paste its URL."
    )
    with httpx.Client(timeout=2) as client, pytest.raises(NotifyError) as caught:
        post_slack(client, f"http://127.0.0.1:{free_port()}{SLACK_SECRET_PATH}", title="t", body="b")
    assert str(caught.value) == "Could not connect to Slack at 127.0.0.1."
    assert "abcdefghij" not in str(caught.value)


def test_a_webhook_is_signed_so_the_receiver_can_verify_it() -> None:
    secret = "whsec_test-secret-0123456789"
    payload = {"id": 7, "title": "Marketing passed 75%", "amount_usd": "812.400000", "detail": {"percent": 75}}
    with receiver() as (hook, base, client):
        post_webhook(client, f"{base}/hooks/meterr", secret, payload, now=NOW)
    [request] = hook.requests
    assert json.loads(request.content) == payload
    assert (request.headers["x-meterr-event"], request.headers["x-meterr-timestamp"]) == (
        "alert", str(int(NOW.timestamp())),
    )  # fmt: skip
    verify: dict[str, Any] = {
        "timestamp_header": request.headers["x-meterr-timestamp"],
        "signature_header": request.headers["x-meterr-signature"],
        "body": request.content,
        "now": NOW.timestamp(),
    }
    verify_signature(secret, **verify)
    with pytest.raises(WebhookRejected):
        verify_signature("whsec_another-secret-98765", **verify)


def test_a_webhook_error_names_the_host_and_the_answer() -> None:
    with receiver((500, "upstream\n down")) as (_, base, client), pytest.raises(NotifyError) as caught:
        post_webhook(client, f"{base}/hooks/meterr?token=abc", "whsec_0123456789abcdef", {}, now=NOW)
    assert str(caught.value) == "The webhook at 127.0.0.1 answered 500: upstream down."


# deliver_due end to end -------------------------------------------------------------------------------


@dataclass
class World:
    engine: Engine
    workspace_id: int
    box: SecretBox
    client: httpx.Client
    slack: Receiver
    hook: Receiver
    hook_base: str
    mailbox: Mailbox
    smtp_port: int

    def factory(self) -> Any:
        return lambda: session_scope(self.engine)

    def deliver(self, now: dt.datetime) -> DeliveryReport:
        return deliver_due(self.factory(), self.box, client=self.client, now=now, base_url=BASE_URL)

    def add_smtp(self, workspace_id: int | None = None) -> None:
        with session_scope(self.engine) as session:
            save_smtp_server(
                session, self.box, workspace_id=workspace_id or self.workspace_id, host="127.0.0.1",
                port=self.smtp_port, security="none", username=SMTP_USER, password=SMTP_PASSWORD,
                from_address="meterr <alerts@example.com>",
            )  # fmt: skip

    def add_channel(self, kind: str, workspace_id: int | None = None) -> tuple[int, str | None]:
        values = {
            "email": ("Finance", "cfo@example.com, ops@example.com", None),
            "slack": ("#ai-spend", "#ai-spend", SLACK_URL),
            "webhook": ("Ops hook", f"{self.hook_base}/hooks/meterr", None),
        }[kind]
        with session_scope(self.engine) as session:
            channel, secret = save_channel(
                session, self.box, workspace_id=workspace_id or self.workspace_id, kind=kind, name=values[0],
                target=values[1], secret=values[2],
            )  # fmt: skip
            assert channel.id is not None
            return channel.id, secret

    def record(self, key: str = "budget:1:2026-11:75", workspace_id: int | None = None) -> int:
        with session_scope(self.engine) as session:
            [alert] = record_alerts(
                session, workspace_id=workspace_id or self.workspace_id, candidates=[Candidate(key)], now=NOW
            )
            assert alert.id is not None
            return alert.id

    def deliveries(self) -> dict[int, AlertDelivery]:
        with session_scope(self.engine) as session:
            return {d.channel_id: d for d in session.execute(select(AlertDelivery)).scalars()}


@pytest.fixture
def world(engine: Engine, workspace_id: int, box: SecretBox) -> Iterator[World]:
    mailbox = Mailbox()
    slack, hook = Receiver(), Receiver()
    with (
        smtp_server(mailbox, authenticator=check_password) as smtp_port,
        serve(slack) as slack_base,
        serve(hook) as hook_base,
        httpx.Client(transport=LoopbackTransport(slack_base), timeout=5) as client,
    ):
        yield World(engine, workspace_id, box, client, slack, hook, hook_base, mailbox, smtp_port)


def test_an_alert_goes_out_once_by_email_slack_and_signed_webhook(world: World) -> None:
    world.add_smtp()
    email_id, _ = world.add_channel("email")
    slack_id, _ = world.add_channel("slack")
    hook_id, secret = world.add_channel("webhook")
    assert secret is not None
    alert_id = world.record()

    assert world.deliver(NOW) == DeliveryReport(sent=3)
    assert world.deliver(NOW + dt.timedelta(hours=3)) == DeliveryReport()  # nothing is sent twice

    [envelope] = world.mailbox.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("alerts@example.com", ["cfo@example.com", "ops@example.com"])
    [message] = world.mailbox.messages()
    assert message["Subject"] == "[meterr] Marketing passed 75% of its $1,000.00 budget"
    assert message.get_body(("plain",)).get_content() == (  # type: ignore[union-attr]
        "Marketing passed 75% of its $1,000.00 budget\n\nMarketing has spent $812.40 of $1,000.00 this month.\n\n"
        "Amount: $812.40\nPeriod: 2026-11\nWorkspace: Test Co\n\nOpen meterr: https://meterr.example.com/alerts\n"
    )
    [slack] = world.slack.requests
    assert slack.url.path == SLACK_SECRET_PATH
    assert json.loads(slack.content)["blocks"][0]["text"]["text"] == "Marketing passed 75% of its $1,000.00 budget"
    [hook] = world.hook.requests
    assert json.loads(hook.content) == {
        "id": alert_id,
        "workspace": "test-co",
        "kind": "threshold",
        "title": "Marketing passed 75% of its $1,000.00 budget",
        "body": "Marketing has spent $812.40 of $1,000.00 this month.",
        "amount_usd": "812.400000",
        "period": "2026-11",
        "detail": {"percent": 75, "budget_micros": 1_000_000_000},
        "created_at": "2026-11-21T09:00:00+00:00",
        "url": "https://meterr.example.com/alerts",
    }
    assert hook.headers["x-meterr-event"] == "alert"
    verify_signature(
        secret,
        timestamp_header=hook.headers["x-meterr-timestamp"],
        signature_header=hook.headers["x-meterr-signature"],
        body=hook.content,
        now=NOW.timestamp(),
    )
    deliveries = world.deliveries()
    assert {channel: (d.status, d.attempts, d.sent_at) for channel, d in deliveries.items()} == {
        email_id: ("sent", 1, NOW), slack_id: ("sent", 1, NOW), hook_id: ("sent", 1, NOW),
    }  # fmt: skip

    with world.engine.connect() as connection:
        raw = " ".join(
            str(value)
            for table in ("notificationchannel", "smtpserver")
            for row in connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed table names
            for value in row
        )
    assert SLACK_SECRET_PATH not in raw and secret not in raw and SMTP_PASSWORD not in raw


def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(world: World) -> None:
    hook_id, _ = world.add_channel("webhook")
    world.hook.script = [(500, "upstream down"), (503, "")]
    world.record()
    error = "The webhook at 127.0.0.1 answered 500: upstream down."

    assert world.deliver(NOW) == DeliveryReport(retrying=1, errors=[f"Ops hook: {error}"])
    d = world.deliveries()[hook_id]
    assert (d.status, d.attempts, d.next_attempt_at, d.last_error) == (
        "pending",
        1,
        NOW + dt.timedelta(minutes=1),
        error,
    )

    assert world.deliver(NOW + dt.timedelta(seconds=59)) == DeliveryReport()  # not due yet
    assert len(world.hook.requests) == 1

    second = NOW + dt.timedelta(minutes=1)
    assert world.deliver(second).retrying == 1
    d = world.deliveries()[hook_id]
    assert (d.status, d.attempts, d.next_attempt_at, d.last_error) == (
        "pending", 2, second + dt.timedelta(minutes=5), "The webhook at 127.0.0.1 answered 503.",
    )  # fmt: skip

    third = second + dt.timedelta(minutes=5)
    assert world.deliver(third) == DeliveryReport(sent=1)
    d = world.deliveries()[hook_id]
    assert (d.status, d.attempts, d.sent_at, d.last_error) == ("sent", 3, third, None)
    assert [r.headers["x-meterr-timestamp"] for r in world.hook.requests] == [
        str(int(when.timestamp())) for when in (NOW, second, third)
    ]  # each try is signed afresh
    assert len({r.content for r in world.hook.requests}) == 1


def test_after_five_failures_a_delivery_is_given_up_until_retried(world: World) -> None:
    hook_id, _ = world.add_channel("webhook")
    world.hook.script = [(500, "down")] * 5
    world.record()
    at = NOW
    for minutes in (1, 5, 30, 120):
        assert world.deliver(at).retrying == 1
        at += dt.timedelta(minutes=minutes)
        assert world.deliveries()[hook_id].next_attempt_at == at
    assert world.deliver(at) == DeliveryReport(
        failed=1, errors=["Ops hook: The webhook at 127.0.0.1 answered 500: down."]
    )
    d = world.deliveries()[hook_id]
    assert (d.status, d.attempts) == ("failed", 5)
    assert world.deliver(at + dt.timedelta(days=7)) == DeliveryReport()
    assert len(world.hook.requests) == 5

    with session_scope(world.engine) as session:
        retry_delivery(session, workspace_id=world.workspace_id, delivery_id=d.id or 0, now=at + dt.timedelta(days=7))
    assert world.deliver(at + dt.timedelta(days=7)) == DeliveryReport(sent=1)
    assert (world.deliveries()[hook_id].status, len(world.hook.requests)) == ("sent", 6)


def test_email_waits_for_a_mail_server_of_its_own_workspace(world: World) -> None:
    other = queries.create_workspace
    with session_scope(world.engine) as session:
        other_id = other(session, name="Other Co").id
    assert other_id is not None
    world.add_smtp(other_id)  # another workspace's server is not ours to use
    email_id, _ = world.add_channel("email")
    world.record()

    assert world.deliver(NOW) == DeliveryReport(retrying=1, errors=[f"Finance: {NO_SMTP}"])
    assert world.deliveries()[email_id].last_error == NO_SMTP
    assert world.mailbox.envelopes == []

    world.add_smtp()
    assert world.deliver(NOW + dt.timedelta(minutes=1)) == DeliveryReport(sent=1)
    assert len(world.mailbox.envelopes) == 1
    with session_scope(world.engine) as session:
        assert load_deliveries(session, workspace_id=other_id) == []
        [row] = load_deliveries(session, workspace_id=world.workspace_id)
    assert (row.channel_name, row.alert_title, row.status, row.attempts) == (
        "Finance", "Marketing passed 75% of its $1,000.00 budget", "sent", 2,
    )  # fmt: skip


def test_a_workspace_can_deliver_its_own_alerts_only(world: World) -> None:
    with session_scope(world.engine) as session:
        other_id = queries.create_workspace(session, name="Other Co").id
    assert other_id is not None
    world.add_channel("webhook")
    world.add_channel("webhook", workspace_id=other_id)
    world.record()
    world.record(workspace_id=other_id)

    def deliver(workspace_id: int) -> DeliveryReport:
        return deliver_due(
            world.factory(), world.box, client=world.client, now=NOW, base_url=BASE_URL, workspace_id=workspace_id
        )

    assert deliver(other_id) == DeliveryReport(sent=1)
    assert [json.loads(r.content)["workspace"] for r in world.hook.requests] == ["other-co"]
    assert deliver(other_id) == DeliveryReport()
    assert deliver(world.workspace_id) == DeliveryReport(sent=1)
    assert [json.loads(r.content)["workspace"] for r in world.hook.requests] == ["other-co", "test-co"]


def test_slacks_refusal_is_stored_without_the_url(world: World) -> None:
    slack_id, _ = world.add_channel("slack")
    world.slack.script = [(403, "invalid_token")]
    world.record()
    assert world.deliver(NOW).retrying == 1
    last_error = world.deliveries()[slack_id].last_error
    assert last_error == (
        "Slack refused the message (403 invalid_token). The webhook URL is no longer valid: create a new incoming "
        "webhook and paste its URL."
    )


def test_a_channel_turned_off_after_the_alert_is_not_sent_to(world: World) -> None:
    hook_id, _ = world.add_channel("webhook")
    world.record()
    with session_scope(world.engine) as session:
        save_channel(
            session, world.box, workspace_id=world.workspace_id, kind="webhook", name="Ops hook",
            target=f"{world.hook_base}/hooks/meterr", channel_id=hook_id, enabled=False,
        )  # fmt: skip
    assert world.deliver(NOW).failed == 1
    d = world.deliveries()[hook_id]
    assert (d.status, d.last_error) == ("failed", "The channel was turned off before this alert went out.")
    assert world.hook.requests == []


def test_replicas_delivering_at_once_send_each_delivery_once(world: World) -> None:
    world.add_smtp()
    world.add_channel("slack")
    world.add_channel("webhook")
    for n in range(5):
        world.record(f"key-{n}")
    start = threading.Barrier(3)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            start.wait(10)
            reports.append(world.deliver(NOW))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(report.sent for report in reports) == 10
    assert (len(world.slack.requests), len(world.hook.requests)) == (5, 5)


# Test sends -----------------------------------------------------------------------------------------


def test_each_kind_of_channel_can_be_tested_now(world: World) -> None:
    def test(channel_id: int, workspace_id: int | None = None) -> str:
        with session_scope(world.engine) as session:
            return send_test(
                session, world.box, workspace_id=workspace_id or world.workspace_id, channel_id=channel_id,
                client=world.client, now=NOW,
            )  # fmt: skip

    email_id, _ = world.add_channel("email")
    slack_id, _ = world.add_channel("slack")
    hook_id, secret = world.add_channel("webhook")
    assert secret is not None
    with pytest.raises(NotifyError, match="Set up an email server"):
        test(email_id)
    world.add_smtp()
    assert test(email_id) == "Sent a test alert to cfo@example.com, ops@example.com."
    assert test(slack_id) == "Sent a test alert to Slack."
    assert test(hook_id) == "Sent a test alert to 127.0.0.1."

    [message] = world.mailbox.messages()
    assert message["Subject"] == "meterr test alert"
    [slack] = world.slack.requests
    assert json.loads(slack.content)["blocks"][0]["text"]["text"] == "meterr test alert"
    [hook] = world.hook.requests
    body = json.loads(hook.content)
    assert (body["kind"], body["title"], body["amount_usd"], body["id"]) == (
        "test",
        "meterr test alert",
        "0.000000",
        None,
    )
    verify_signature(
        secret,
        timestamp_header=hook.headers["x-meterr-timestamp"],
        signature_header=hook.headers["x-meterr-signature"],
        body=hook.content,
        now=NOW.timestamp(),
    )

    world.slack.script = [(404, "channel_not_found")]
    with pytest.raises(NotifyError, match=r"^Slack refused the message \(404 channel_not_found\)"):
        test(slack_id)
    with session_scope(world.engine) as session:
        other_id = queries.create_workspace(session, name="Other Co").id
    with pytest.raises(NotFound):
        test(slack_id, workspace_id=other_id)
    with session_scope(world.engine) as session:
        assert session.execute(select(func.count()).select_from(AlertDelivery)).scalar_one() == 0  # tests aren't alerts
