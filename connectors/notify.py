"""Alerts out into the world: email over SMTP, Slack incoming webhooks, signed webhooks, and the delivery runner.

Every failure is a NotifyError whose message a person can act on and which never repeats a secret: not the
SMTP password, not the path of a Slack URL (the path is the secret). Outgoing webhooks are signed exactly like
meterr's incoming ones (connectors.webhooks), so a receiver verifies them with `verify_signature`.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlmodel import Session

from connectors.webhooks import signature_headers
from core import alerts
from core.alerts import SmtpConfig
from core.crypto import SecretBox, SecretError
from core.models import Alert, AlertDelivery, NotificationChannel, Workspace
from core.money import decimal_string, format_usd
from core.queries import NotFound, load_workspace_by_id

log = logging.getLogger(__name__)

EVENT_HEADER = "X-Meterr-Event"
NO_SMTP = "Set up an email server in Settings → Notifications first."
Attachment = tuple[str, bytes, str]  # (filename, content, mime type such as "application/pdf")
SendMail = Callable[..., Sequence[str]]
SessionFactory = Callable[[], AbstractContextManager[Session]]
_SERVER_TEXT_MAX = 160
_SLACK_ADVICE = {
    "invalid_payload": " meterr sent a message Slack could not read; please report this.",
    "no_service": " The incoming webhook was removed or turned off: create a new one and paste its URL.",
    "no_active_hooks": " The incoming webhook was turned off: create a new one and paste its URL.",
    "invalid_token": " The webhook URL is no longer valid: create a new incoming webhook and paste its URL.",
    "channel_not_found": " The Slack channel was deleted or renamed: create a new incoming webhook for it.",
    "channel_is_archived": " The Slack channel is archived: unarchive it or pick another channel.",
    "action_prohibited": " A Slack admin has restricted posting to this channel.",
    "posting_to_general_channel_denied": " Only admins may post to #general: pick another channel.",
}


class NotifyError(Exception):
    """A message that could not be sent, with a plain-English reason free of secrets."""


# Email ----------------------------------------------------------------------------------------------


def build_email(
    config: SmtpConfig,
    *,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
) -> EmailMessage:
    """The message: plain text, an optional HTML alternative, then any attachments."""
    message = EmailMessage()
    message["From"] = config.from_address
    message["To"] = ", ".join(to)
    message["Subject"] = " ".join(subject.split())  # a line break in a header would be an injection
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(config.from_address)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(
            content, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=filename
        )
    return message


def send_email(
    config: SmtpConfig,
    *,
    to: Sequence[str] | str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
) -> list[str]:
    """Send one message over SMTP; returns the recipients the server refused while accepting others.

    Raises NotifyError when nothing was sent: server unreachable, sign-in refused, every recipient refused.
    """
    addresses = [part.strip() for part in ([to] if isinstance(to, str) else to) for part in part.split(",")]
    addresses = [address for address in addresses if address]
    if not addresses:
        raise NotifyError("There is no one to send to: give at least one email address.")
    message = build_email(config, to=addresses, subject=subject, text=text, html=html, attachments=attachments)
    where = f"{config.host}:{config.port}"
    try:
        with _connect(config) as smtp:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                smtp.login(config.username, config.password)
            refused = smtp.send_message(message, to_addrs=addresses)
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(
            f"The mail server at {where} refused the user name or password ({exc.smtp_code}"
            f"{_server_text(exc.smtp_error, config)}). Check them, or create an app password if the account uses "
            "two-step sign-in."
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        if "STARTTLS" in str(exc).upper():
            raise NotifyError(
                f"The mail server at {where} does not offer STARTTLS; choose SSL (usually port 465) or no encryption."
            ) from None
        raise NotifyError(
            f"The mail server at {where} does not offer sign-in on this connection: clear the user name, or choose "
            "STARTTLS or SSL (many servers only accept a password over an encrypted connection)."
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        refusals = "; ".join(
            f"{address} ({code}{_server_text(reply, config)})" for address, (code, reply) in exc.recipients.items()
        )
        raise NotifyError(f"The mail server refused every recipient: {refusals}.") from None
    except smtplib.SMTPSenderRefused as exc:
        raise NotifyError(
            f"The mail server refused the sender address {exc.sender} ({exc.smtp_code}"
            f"{_server_text(exc.smtp_error, config)}): use an address this account may send from."
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise NotifyError(
            f"The mail server at {where} answered {exc.smtp_code}{_server_text(exc.smtp_error, config)}."
        ) from None
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):  # smtplib reports a read timeout as a disconnection
            raise NotifyError(f"The mail server at {where} did not answer within {config.timeout:g} seconds.") from None
        raise NotifyError(
            f"The mail server at {where} closed the connection unexpectedly; check the port and the security "
            "setting (SSL is usually port 465, STARTTLS 587)."
        ) from None
    except smtplib.SMTPException as exc:
        raise NotifyError(f"The mail server at {where} could not take the message ({type(exc).__name__}).") from None
    except ssl.SSLCertVerificationError:
        raise NotifyError(
            f"The mail server at {where} showed a certificate that could not be verified for {config.host}."
        ) from None
    except ssl.SSLError as exc:
        raise NotifyError(
            f"Could not set up an encrypted connection with {where} ({exc.reason or 'TLS error'}); check the security "
            "setting: SSL is usually port 465, STARTTLS 587."
        ) from None
    except socket.gaierror:
        raise NotifyError(f"The mail server '{config.host}' was not found; check the host name.") from None
    except ConnectionRefusedError:
        raise NotifyError(f"Could not connect to {where}: connection refused. Check the host and port.") from None
    except TimeoutError:
        raise NotifyError(f"The mail server at {where} did not answer within {config.timeout:g} seconds.") from None
    except OSError as exc:
        raise NotifyError(
            f"Could not reach the mail server at {where} ({exc.strerror or type(exc).__name__})."
        ) from None
    return sorted(refused)


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "ssl":
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=ssl.create_default_context())
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def _server_text(reply: bytes | str, config: SmtpConfig) -> str:
    """The server's own words, short, with the password cut out should a server ever echo it."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join(text.split())
    if config.password:
        text = text.replace(config.password, "***")
    text = text[:_SERVER_TEXT_MAX]
    return f" {text}" if text else ""


def send_test_email(config: SmtpConfig, to: Sequence[str] | str) -> None:
    """The mail-server settings' test: one short message, or NotifyError saying what went wrong."""
    refused = send_email(
        config,
        to=to,
        subject="meterr test email",
        text=(
            "This is a test from meterr: your email server settings work.\n\n"
            "Alerts and reports will be sent the same way."
        ),
    )
    if refused:
        raise NotifyError(f"The mail server refused {', '.join(refused)}; the other recipients got the test.")


# Slack ----------------------------------------------------------------------------------------------


def slack_payload(*, title: str, body: str, link: str | None = None) -> dict[str, Any]:
    """An incoming-webhook message: `text` for notifications and old clients, `blocks` for the message itself."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _shorten(title, 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _shorten(_slack_escape(body), 3000)}},
    ]
    if link:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{_slack_escape(link)}|Open in meterr>"}]}
        )
    return {"text": _shorten(_slack_escape(f"{title}\n{body}"), 3000), "blocks": blocks}


def post_slack(client: httpx.Client, url: str, *, title: str, body: str, link: str | None = None) -> None:
    """Post to a Slack incoming webhook, or raise NotifyError with Slack's status and short answer."""
    response = _post(client, url, what="Slack", json=slack_payload(title=title, body=body, link=link))
    if not response.is_success:
        answer = _answer_text(response)
        advice = _SLACK_ADVICE.get(answer, "")
        raise NotifyError(
            f"Slack refused the message ({response.status_code}{f' {answer}' if answer else ''}).{advice}"
        )


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Webhooks -------------------------------------------------------------------------------------------


def post_webhook(client: httpx.Client, url: str, secret: str, payload: dict[str, Any], *, now: dt.datetime) -> None:
    """POST the payload as JSON, signed with the channel's secret (X-Meterr-Signature over `timestamp.body`)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "meterr-alerts",
        EVENT_HEADER: "alert",
        **signature_headers(secret, int(now.timestamp()), body),
    }
    response = _post(client, url, what="the webhook", content=body, headers=headers)
    if not response.is_success:
        answer = _answer_text(response)
        raise NotifyError(
            f"The webhook at {_host(url)} answered {response.status_code}{f': {answer}' if answer else ''}."
        )


def _post(client: httpx.Client, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
    """One POST; network failures become NotifyError naming the host only (a URL's path may be its secret)."""
    where = f"{what} at {_host(url)}"
    try:
        return client.post(url, **kwargs)
    except httpx.TimeoutException:
        raise NotifyError(f"{where[0].upper()}{where[1:]} did not answer in time.") from None
    except httpx.ConnectError:
        raise NotifyError(f"Could not connect to {where}.") from None
    except httpx.HTTPError as exc:
        raise NotifyError(f"Could not reach {where} ({type(exc).__name__}).") from None


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "an unknown host"
    except ValueError:
        return "an unknown host"


def _answer_text(response: httpx.Response) -> str:
    return _shorten(" ".join(response.text.split()), 100)


def _shorten(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


# Alerts as messages ---------------------------------------------------------------------------------


def alert_url(base_url: str | None) -> str | None:
    """Where a person reads alerts in meterr, when the installation knows its public address."""
    return f"{base_url.rstrip('/')}/alerts" if base_url else None


def alert_payload(alert: Alert, workspace: Workspace, *, base_url: str | None) -> dict[str, Any]:
    """The JSON a webhook receives for an alert."""
    return {
        "id": alert.id,
        "workspace": workspace.slug,
        "kind": alert.kind,
        "title": alert.title,
        "body": alert.body,
        "amount_usd": decimal_string(alert.amount_micros),
        "period": alert.period,
        "detail": alert.detail,
        "created_at": alert.created_at.isoformat(),
        "url": alert_url(base_url),
    }


def alert_email(alert: Alert, workspace: Workspace, *, base_url: str | None) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an alert's email."""
    link = alert_url(base_url)
    facts = [("Amount", format_usd(alert.amount_micros)), ("Period", alert.period), ("Workspace", workspace.name)]
    text = "\n".join(
        [alert.title, "", alert.body, "", *(f"{name}: {value}" for name, value in facts)]
        + ([f"\nOpen meterr: {link}"] if link else [])
    )
    e = html_lib.escape
    rows = "".join(f"<tr><td><b>{e(name)}</b></td><td>{e(value)}</td></tr>" for name, value in facts)
    html = f"<h2>{e(alert.title)}</h2><p>{e(alert.body).replace(chr(10), '<br>')}</p><table>{rows}</table>" + (
        f'<p><a href="{e(link)}">Open meterr</a></p>' if link else ""
    )
    return f"[meterr] {alert.title}", text, html


# Delivery -------------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one run of deliver_due did: sent, given up ("failed"), and waiting for another try."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.sent + self.failed + self.retrying


@dataclass(frozen=True)
class _Job:
    """A claimed delivery turned into plain values, so sending needs no session."""

    delivery_id: int
    channel_name: str
    send: Callable[[], None] | None = None
    problem: str | None = None
    final: bool = False


def deliver_due(
    session_factory: SessionFactory,
    box: SecretBox,
    *,
    client: httpx.Client,
    now: dt.datetime,
    base_url: str | None,
    send_mail: SendMail = send_email,
    limit: int = 20,
    claim_seconds: int = 600,
    workspace_id: int | None = None,
) -> DeliveryReport:
    """Send due deliveries (of one workspace, or all) once: claim in one transaction, send outside it, record each.

    `claim_seconds` must outlast sending the whole batch (SMTP and HTTP timeouts included), or another replica
    could reclaim a delivery still being sent.
    """
    with session_factory() as session:
        claimed = alerts.claim_due_deliveries(
            session, now=now, limit=limit, claim_seconds=claim_seconds, workspace_id=workspace_id
        )
        smtp: dict[int, SmtpConfig | None] = {}
        jobs = [
            _prepare(session, box, delivery, client=client, now=now, base_url=base_url, send_mail=send_mail, smtp=smtp)
            for delivery in claimed
        ]
    report = DeliveryReport()
    for job in jobs:
        error = job.problem
        if job.send is not None:
            try:
                job.send()
            except NotifyError as exc:
                error = str(exc)
            except Exception as exc:  # a bug or an unforeseen library error must not stop the other deliveries
                log.warning("delivery %s failed unexpectedly: %s", job.delivery_id, type(exc).__name__)
                error = f"meterr could not send this ({type(exc).__name__}); it will try again."
        with session_factory() as session:
            if error is None:
                alerts.mark_delivery_sent(session, job.delivery_id, now=now)
                report.sent += 1
                continue
            status = alerts.mark_delivery_failed(session, job.delivery_id, now=now, error=error, final=job.final)
        report.errors.append(f"{job.channel_name}: {alerts.clean_error(error)}")
        if status == "failed":
            report.failed += 1
        elif status == "pending":
            report.retrying += 1
    return report


def _prepare(
    session: Session,
    box: SecretBox,
    delivery: AlertDelivery,
    *,
    client: httpx.Client,
    now: dt.datetime,
    base_url: str | None,
    send_mail: SendMail,
    smtp: dict[int, SmtpConfig | None],
) -> _Job:
    delivery_id, workspace_id = delivery.id or 0, delivery.workspace_id
    alert = alerts.load_alert(session, workspace_id=workspace_id, alert_id=delivery.alert_id)
    channel = alerts.load_channel(session, workspace_id=workspace_id, channel_id=delivery.channel_id)
    workspace = load_workspace_by_id(session, workspace_id=workspace_id)
    if not channel.enabled:
        return _Job(
            delivery_id, channel.name, problem="The channel was turned off before this alert went out.", final=True
        )
    try:
        send = _sender(
            session, box, channel, workspace,
            client=client, now=now, send_mail=send_mail, smtp=smtp,
            subject_text_html=alert_email(alert, workspace, base_url=base_url),
            payload=alert_payload(alert, workspace, base_url=base_url),
            title=alert.title, body=alert.body, link=alert_url(base_url),
        )  # fmt: skip
    except NotifyError as exc:
        return _Job(delivery_id, channel.name, problem=str(exc))
    return _Job(delivery_id, channel.name, send=send)


def _sender(
    session: Session,
    box: SecretBox,
    channel: NotificationChannel,
    workspace: Workspace,
    *,
    client: httpx.Client,
    now: dt.datetime,
    send_mail: SendMail,
    smtp: dict[int, SmtpConfig | None],
    strict: bool = False,
    subject_text_html: tuple[str, str, str],
    payload: dict[str, Any],
    title: str,
    body: str,
    link: str | None,
) -> Callable[[], None]:
    """A zero-argument function that sends to this channel, its secrets already opened; NotifyError if it cannot."""
    if channel.kind == "email":
        workspace_id = channel.workspace_id
        if workspace_id not in smtp:
            try:
                smtp[workspace_id] = alerts.load_smtp_config(session, box, workspace_id=workspace_id)
            except SecretError as exc:
                raise NotifyError(f"The email server's password {_unopenable(exc)}") from None
        config = smtp[workspace_id]
        if config is None:
            raise NotifyError(NO_SMTP)
        to = alerts.recipients(channel)
        subject, text, html = subject_text_html

        def send_email_now() -> None:
            refused = send_mail(config, to=to, subject=subject, text=text, html=html)
            if refused and strict:
                raise NotifyError(f"The mail server refused {', '.join(refused)}; the other recipients got it.")
            if refused:  # the others got it: sending again would repeat it to them, so this counts as sent
                log.warning("channel %s: the mail server refused %d recipient(s)", channel.id, len(refused))

        return send_email_now
    try:
        secret = alerts.open_channel_secret(box, channel)
    except (SecretError, NotFound) as exc:
        raise NotifyError(f"The channel's stored secret {_unopenable(exc)}") from None
    if channel.kind == "slack":
        return lambda: post_slack(client, secret, title=title, body=body, link=link)
    url = channel.target
    return lambda: post_webhook(client, url, secret, payload, now=now)


def _unopenable(exc: Exception) -> str:
    if isinstance(exc, NotFound):
        return "is missing: enter it again in Settings → Notifications."
    return "cannot be opened (the secret key changed, or it was altered): enter it again in Settings → Notifications."


def send_test(
    session: Session,
    box: SecretBox,
    *,
    workspace_id: int,
    channel_id: int,
    client: httpx.Client,
    send_mail: SendMail = send_email,
    base_url: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Send "meterr test alert" to one channel now; returns what was done, or raises NotifyError saying why not."""
    now = now or dt.datetime.now(dt.UTC)
    channel = alerts.load_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    workspace = load_workspace_by_id(session, workspace_id=workspace_id)
    title = "meterr test alert"
    body = f"This is a test of the '{channel.name}' channel of the {workspace.name} workspace: it works."
    link = alert_url(base_url)
    payload: dict[str, Any] = {
        "id": None,
        "workspace": workspace.slug,
        "kind": "test",
        "title": title,
        "body": body,
        "amount_usd": decimal_string(0),
        "period": now.date().isoformat(),
        "detail": {},
        "created_at": now.isoformat(),
        "url": link,
    }
    html = f"<h2>{html_lib.escape(title)}</h2><p>{html_lib.escape(body)}</p>"
    send = _sender(
        session, box, channel, workspace, client=client, now=now, send_mail=send_mail, smtp={}, strict=True,
        subject_text_html=(title, body, html), payload=payload, title=title, body=body, link=link,
    )  # fmt: skip
    send()
    if channel.kind == "email":
        return f"Sent a test alert to {channel.target}."
    return f"Sent a test alert to {'Slack' if channel.kind == 'slack' else _host(channel.target)}."
