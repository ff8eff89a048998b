"""Alerts and where they go: the inbox, notification channels, the mail server, and deliveries with retries.

An alert fires once per (workspace, dedupe key) whichever replica finds it first: the insert is an
`ON CONFLICT DO NOTHING`, so a second finder inserts nothing and queues nothing. Each new alert queues one
delivery per enabled channel; senders claim due deliveries with a conditional UPDATE, so two replicas never
claim the same one, and a failure is retried after 1 min, 5 min, 30 min and 2 h before it is given up.
Secrets (Slack's URL, a webhook's signing secret, the SMTP password) are sealed to their workspace and row.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from core.crypto import SecretBox, hint
from core.db import insert_ignoring
from core.models import Alert, AlertDelivery, NotificationChannel, SmtpServer
from core.queries import NotFound
from core.security import InvalidInput, check_email

ALERT_KINDS = ("threshold", "overrun", "anomaly")
CHANNEL_KINDS = ("email", "slack", "webhook")
SMTP_SECURITY = ("starttls", "ssl", "none")
MAX_RECIPIENTS = 20
MAX_ATTEMPTS = 5
# The wait after the 1st, 2nd, 3rd and 4th failed try; the 5th failure gives up.
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2))
SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 - marks meterr signing secrets, not a secret
MAX_ERROR_CHARS = 500

_ALERT = Alert.metadata.tables["alert"]
_DELIVERY = AlertDelivery.metadata.tables["alertdelivery"]
_CHANNEL = NotificationChannel.metadata.tables["notificationchannel"]
_URL_IN_TEXT = re.compile(r"https?://(?:[^@/\s]*@)?([^/\s?#]+)\S*", re.IGNORECASE)
_HOST = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")


class AlertCandidate(Protocol):
    """What the alert evaluator hands over: an alert that may or may not have fired already."""

    @property
    def kind(self) -> str: ...
    @property
    def dedupe_key(self) -> str: ...
    @property
    def budget_id(self) -> int | None: ...
    @property
    def period(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def amount_micros(self) -> int: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


# Alerts ---------------------------------------------------------------------------------------------


def record_alerts(
    session: Session, *, workspace_id: int, candidates: Iterable[AlertCandidate], now: dt.datetime
) -> list[Alert]:
    """Store the candidates that have not fired yet and queue their deliveries; returns only the new alerts.

    Safe under concurrency: of several sessions recording the same dedupe key, exactly one inserts it.
    """
    new_ids: list[int] = []
    for candidate in candidates:
        values = _alert_values(candidate, workspace_id=workspace_id, now=now)
        inserted = session.execute(
            insert_ignoring(session, _ALERT, ("workspace_id", "dedupe_key")).values(values).returning(_ALERT.c.id)
        ).scalar()
        if inserted is not None:
            new_ids.append(int(inserted))
    if not new_ids:
        return []
    channel_ids = (
        session.execute(
            select(_CHANNEL.c.id)
            .where(_CHANNEL.c.workspace_id == workspace_id, _CHANNEL.c.enabled.is_(True))
            .order_by(_CHANNEL.c.id)
        )
        .scalars()
        .all()
    )
    if channel_ids:
        session.execute(
            _DELIVERY.insert(),
            [
                {
                    "workspace_id": workspace_id,
                    "alert_id": alert_id,
                    "channel_id": channel_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for alert_id in new_ids
                for channel_id in channel_ids
            ],
        )
    return list(
        session.execute(
            select(Alert)
            .where(col(Alert.id).in_(new_ids))
            .order_by(col(Alert.id))
            .execution_options(populate_existing=True)
        ).scalars()
    )


def _alert_values(candidate: AlertCandidate, *, workspace_id: int, now: dt.datetime) -> dict[str, Any]:
    if candidate.kind not in ALERT_KINDS:
        raise ValueError(f"unknown alert kind {candidate.kind!r}")
    if not candidate.dedupe_key or len(candidate.dedupe_key) > 255:
        raise ValueError("an alert's dedupe_key is 1 to 255 characters (truncating could merge two alerts)")
    if len(candidate.period) > 10:
        raise ValueError(f"an alert's period is at most 10 characters, not {candidate.period!r}")
    return {
        "workspace_id": workspace_id,
        "budget_id": candidate.budget_id,
        "kind": candidate.kind,
        "period": candidate.period,
        "dedupe_key": candidate.dedupe_key,
        "title": _shorten(candidate.title, 255),
        "body": candidate.body,
        "amount_micros": int(candidate.amount_micros),
        # Through JSON once, so Decimals and dates become text here rather than failing in the driver.
        "detail": json.loads(json.dumps(dict(candidate.detail), default=str)),
        "created_at": now,
    }


def load_alerts(session: Session, *, workspace_id: int, limit: int = 100, unread_only: bool = False) -> list[Alert]:
    """The workspace's alerts, newest first."""
    query = select(Alert).where(col(Alert.workspace_id) == workspace_id)
    if unread_only:
        query = query.where(col(Alert.read_at).is_(None))
    query = query.order_by(col(Alert.created_at).desc(), col(Alert.id).desc()).limit(limit)
    return list(session.execute(query).scalars())


def load_alert(session: Session, *, workspace_id: int, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.workspace_id != workspace_id:
        raise NotFound("There is no such alert in this workspace.")
    return alert


def count_unread(session: Session, *, workspace_id: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Alert)
            .where(col(Alert.workspace_id) == workspace_id, col(Alert.read_at).is_(None))
        ).scalar_one()
    )


def mark_read(session: Session, *, workspace_id: int, alert_id: int, now: dt.datetime) -> Alert:
    """Mark one alert read; reading it again keeps the first time."""
    alert = load_alert(session, workspace_id=workspace_id, alert_id=alert_id)
    if alert.read_at is None:
        alert.read_at = now
        session.add(alert)
        session.flush()
    return alert


def mark_all_read(session: Session, *, workspace_id: int, now: dt.datetime) -> int:
    """Mark every unread alert of the workspace read; returns how many were unread."""
    result = session.execute(
        update(Alert)
        .where(col(Alert.workspace_id) == workspace_id, col(Alert.read_at).is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session="evaluate")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# Channels -------------------------------------------------------------------------------------------


def channel_context(workspace_id: int, channel_id: int) -> str:
    return f"meterr:workspace={workspace_id}:channel={channel_id}"


def smtp_context(workspace_id: int) -> str:
    return f"meterr:workspace={workspace_id}:smtp"


def save_channel(
    session: Session,
    box: SecretBox,
    *,
    workspace_id: int,
    kind: str,
    name: str,
    target: str,
    secret: str | None = None,
    channel_id: int | None = None,
    enabled: bool = True,
) -> tuple[NotificationChannel, str | None]:
    """Create or change a channel; returns it and, when meterr generated one, the webhook's signing secret.

    email: `target` is the recipients, separated by commas. slack: `secret` is the incoming-webhook URL and
    `target` an optional label such as "#finance". webhook: `target` is the URL and `secret` the signing
    secret, generated (whsec_...) for a new webhook without one. When changing a channel, `secret=None`
    keeps the stored one. The generated secret is returned this once; only its last characters stay readable.
    """
    if kind not in CHANNEL_KINDS:
        raise InvalidInput(f"'{kind[:20]}' is not a kind of channel meterr knows; choose email, Slack or webhook.")
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Name the channel, for example 'Finance team' or '#ai-spend'.")
    if len(name) > 120:
        raise InvalidInput("A channel's name is at most 120 characters.")
    target = target.strip()
    if kind == "slack" and secret is None and "://" in target:
        target, secret = "", target  # the Slack URL is the secret: never keep it readable in `target`
    if secret is not None:
        secret = secret.strip()

    if channel_id is None:
        channel = NotificationChannel(workspace_id=workspace_id, kind=kind, name=name)
    else:
        channel = load_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    # A new channel, or one changing kind, has no usable secret yet.
    keeps_secret = channel_id is not None and channel.kind == kind and channel.secret_ciphertext is not None

    generated: str | None = None
    if kind == "email":
        target, secret = clean_recipients(target), None
    elif kind == "slack":
        if secret is None and not keeps_secret:
            raise InvalidInput("Paste the Slack incoming-webhook URL (https://hooks.slack.com/services/...).")
        if secret is not None:
            _check_url(secret, what="The Slack webhook URL", https_only=True)
        if len(target) > 120 or "://" in target:
            raise InvalidInput("The Slack label is a short name such as '#finance'; the URL goes in its own field.")
    else:
        _check_url(target, what="The webhook URL", https_only=False)
        if secret is None and not keeps_secret:
            secret = generated = SIGNING_SECRET_PREFIX + secrets.token_urlsafe(32)
        elif secret is not None:
            _check_signing_secret(secret)

    channel.kind, channel.name, channel.target, channel.enabled = kind, name, target, enabled
    if kind == "email":
        channel.secret_ciphertext = channel.secret_hint = None
    session.add(channel)
    session.flush()
    if secret is not None:
        assert channel.id is not None
        channel.secret_ciphertext = box.seal(secret, context=channel_context(workspace_id, channel.id))
        channel.secret_hint = hint(secret)
        session.add(channel)
        session.flush()
    return channel, generated


def clean_recipients(text: str) -> str:
    """'a@x.com; B@y.com a@x.com' → 'a@x.com, B@y.com': checked, de-duplicated, at most MAX_RECIPIENTS."""
    seen: dict[str, str] = {}
    for part in re.split(r"[,;\s]+", text.strip()):
        if not part:
            continue
        if re.search(r"[<>\"'()\[\]\\]", part):
            raise InvalidInput(f"'{part[:60]}' does not look like an email address (name@example.com).")
        address = check_email(part)
        seen.setdefault(address.lower(), address)
    if not seen:
        raise InvalidInput("Give at least one email address, e.g. finance@example.com.")
    if len(seen) > MAX_RECIPIENTS:
        raise InvalidInput(f"An email channel sends to at most {MAX_RECIPIENTS} addresses; use a mailing list.")
    joined = ", ".join(seen.values())
    if len(joined) > 1000:
        raise InvalidInput("Those addresses are too long together (1,000 characters at most); use a mailing list.")
    return joined


def recipients(channel: NotificationChannel) -> list[str]:
    """An email channel's addresses."""
    return [part.strip() for part in channel.target.split(",") if part.strip()]


def _check_url(url: str, *, what: str, https_only: bool) -> None:
    schemes = ("https",) if https_only else ("http", "https")
    example = "https://..." if https_only else "https://example.com/hooks/meterr"
    if not url:
        raise InvalidInput(f"{what} is missing; paste it in full ({example}).")
    if len(url) > 1000 or any(c.isspace() for c in url) or not url.isprintable():
        raise InvalidInput(f"{what} must be one line of at most 1,000 characters without spaces.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise InvalidInput(f"{what} is not a valid address ({example}).") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        needs = "start with https://" if https_only else "start with http:// or https://"
        raise InvalidInput(f"{what} must {needs} and name a host ({example}).")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{what} must not carry a user name or password; meterr signs each delivery instead.")


def _check_signing_secret(secret: str) -> None:
    if not 16 <= len(secret) <= 200 or not re.fullmatch(r"[\x21-\x7e]+", secret):
        raise InvalidInput("A signing secret is 16 to 200 printable characters without spaces; leave it empty for one.")


def load_channels(session: Session, *, workspace_id: int) -> list[NotificationChannel]:
    """The workspace's channels in the order they were added (secrets stay sealed)."""
    return list(
        session.execute(
            select(NotificationChannel)
            .where(col(NotificationChannel.workspace_id) == workspace_id)
            .order_by(col(NotificationChannel.id))
        ).scalars()
    )


def load_channel(session: Session, *, workspace_id: int, channel_id: int) -> NotificationChannel:
    channel = session.get(NotificationChannel, channel_id)
    if channel is None or channel.workspace_id != workspace_id:
        raise NotFound("There is no such notification channel in this workspace.")
    return channel


def delete_channel(session: Session, *, workspace_id: int, channel_id: int) -> NotificationChannel:
    """Remove a channel and its sealed secret; deliveries still queued for it go too."""
    channel = load_channel(session, workspace_id=workspace_id, channel_id=channel_id)
    session.execute(delete(_DELIVERY).where(_DELIVERY.c.channel_id == channel_id))
    session.delete(channel)
    session.flush()
    return channel


def open_channel_secret(box: SecretBox, channel: NotificationChannel) -> str:
    """A channel's secret in plain text: Slack's URL, or the webhook's signing secret. The only way to read it."""
    if channel.id is None or not channel.secret_ciphertext:
        raise NotFound(f"The channel '{channel.name}' has no stored secret; enter it again.")
    return box.open(channel.secret_ciphertext, context=channel_context(channel.workspace_id, channel.id))


# The mail server ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """An opened mail-server setting, ready for connectors.notify.send_email; the password never prints."""

    host: str
    port: int
    security: str  # starttls | ssl | none
    username: str
    password: str = field(default="", repr=False)
    from_address: str = ""
    timeout: float = 15.0


def save_smtp_server(
    session: Session,
    box: SecretBox,
    *,
    workspace_id: int,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str | None,
    from_address: str,
) -> SmtpServer:
    """Create or change the workspace's mail server; `password=None` keeps the stored one, "" forgets it."""
    host = host.strip()
    if not host or len(host) > 255 or not _HOST.fullmatch(host):
        raise InvalidInput("Give the mail server's host name, e.g. smtp.example.com (no http://, no port).")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInput("The port is a number from 1 to 65535; usually 587 (STARTTLS) or 465 (SSL).")
    if security not in SMTP_SECURITY:
        raise InvalidInput("Choose the connection security: STARTTLS (usually port 587), SSL (465) or none.")
    username = username.strip()
    if len(username) > 255 or not username.isprintable():
        raise InvalidInput("The user name is at most 255 printable characters.")
    sender = _clean_from_address(from_address)
    if password is not None and len(password) > 1000:
        raise InvalidInput("The password is at most 1,000 characters.")
    if password and not username:
        raise InvalidInput("Give the user name that goes with the password.")

    server = load_smtp_server(session, workspace_id=workspace_id)
    if server is None:
        server = SmtpServer(workspace_id=workspace_id, host=host, from_address=sender)
    server.host, server.port, server.security, server.username, server.from_address = (
        host, port, security, username, sender,
    )  # fmt: skip
    if not username:
        server.password_ciphertext = None
    elif password is not None:
        server.password_ciphertext = box.seal(password, context=smtp_context(workspace_id)) if password else None
    session.add(server)
    session.flush()
    return server


def _clean_from_address(text: str) -> str:
    text = text.strip()
    if "\r" in text or "\n" in text:
        raise InvalidInput("The sender address must be on one line.")
    display, address = parseaddr(text)
    if not address:
        raise InvalidInput("Give the address alerts come from, e.g. alerts@example.com or meterr <alerts@example.com>.")
    address = check_email(address)
    formatted = formataddr((display, address)) if display else address
    if len(formatted) > 254:
        raise InvalidInput("The sender address is too long (254 characters at most).")
    return formatted


def load_smtp_server(session: Session, *, workspace_id: int) -> SmtpServer | None:
    return session.execute(select(SmtpServer).where(col(SmtpServer.workspace_id) == workspace_id)).scalars().first()


def open_smtp_config(box: SecretBox, server: SmtpServer) -> SmtpConfig:
    """The stored server with its password opened, for sending."""
    password = ""
    if server.password_ciphertext:
        password = box.open(server.password_ciphertext, context=smtp_context(server.workspace_id))
    return SmtpConfig(
        host=server.host,
        port=server.port,
        security=server.security,
        username=server.username,
        password=password,
        from_address=server.from_address,
    )


def load_smtp_config(session: Session, box: SecretBox, *, workspace_id: int) -> SmtpConfig | None:
    """The workspace's mail server ready to send, or None when none is set up."""
    server = load_smtp_server(session, workspace_id=workspace_id)
    return None if server is None else open_smtp_config(box, server)


# Deliveries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as the Settings page lists it."""

    id: int
    alert_id: int
    alert_title: str
    channel_id: int
    channel_name: str
    channel_kind: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    created_at: dt.datetime


def _due(now: dt.datetime) -> Any:
    """Pending and due, or claimed by a sender whose claim ran out (it stopped before saying how it went)."""
    c = _DELIVERY.c
    return (c.next_attempt_at <= now) & ((c.status == "pending") | ((c.status == "sending") & (c.claimed_until < now)))


def claim_due_deliveries(
    session: Session, *, now: dt.datetime, limit: int = 50, claim_seconds: int = 120, workspace_id: int | None = None
) -> list[AlertDelivery]:
    """Take up to `limit` due deliveries (of one workspace, or all) until now + claim_seconds.

    The UPDATE repeats the due condition, so of two senders racing for a row only one changes it.
    """
    c = _DELIVERY.c
    query = select(c.id).where(_due(now)).order_by(c.next_attempt_at, c.id).limit(limit)
    if workspace_id is not None:
        query = query.where(c.workspace_id == workspace_id)
    ids = session.execute(query).scalars().all()
    if not ids:
        return []
    claimed = (
        session.execute(
            update(_DELIVERY)
            .where(c.id.in_(ids), _due(now))
            .values(status="sending", claimed_until=now + dt.timedelta(seconds=claim_seconds))
            .returning(c.id)
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    return list(
        session.execute(
            select(AlertDelivery)
            .where(col(AlertDelivery.id).in_(claimed))
            .order_by(col(AlertDelivery.id))
            .execution_options(populate_existing=True)
        ).scalars()
    )


def mark_delivery_sent(session: Session, delivery_id: int, *, now: dt.datetime) -> None:
    """Record a successful send (a delivery already marked sent keeps its first time)."""
    session.execute(
        update(_DELIVERY)
        .where(_DELIVERY.c.id == delivery_id, _DELIVERY.c.status != "sent")
        .values(status="sent", sent_at=now, attempts=_DELIVERY.c.attempts + 1, claimed_until=None, last_error=None)
    )


def mark_delivery_failed(
    session: Session, delivery_id: int, *, now: dt.datetime, error: str, final: bool = False
) -> str | None:
    """Record a failed try: "pending" again after the backoff, or "failed" after MAX_ATTEMPTS (or when `final`).

    Returns the new status, or None when the delivery was no longer being sent by us (e.g. already sent).
    """
    c = _DELIVERY.c
    row = session.execute(select(c.attempts, c.status).where(c.id == delivery_id)).first()
    if row is None or row.status != "sending":
        return None
    attempts = int(row.attempts) + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": clean_error(error), "claimed_until": None}
    if final or attempts >= MAX_ATTEMPTS:
        values["status"] = "failed"
    else:
        values["status"] = "pending"
        values["next_attempt_at"] = now + BACKOFF[attempts - 1]
    changed = session.execute(
        update(_DELIVERY).where(c.id == delivery_id, c.status == "sending", c.attempts == row.attempts).values(**values)
    )
    return str(values["status"]) if changed.rowcount == 1 else None  # type: ignore[attr-defined]


def clean_error(error: str) -> str:
    """An error as stored: one line, at most MAX_ERROR_CHARS, with any URL cut to its host (paths can be secrets)."""
    text = _URL_IN_TEXT.sub(lambda m: f"{m.group(1)}/…", " ".join(error.split()))
    return _shorten(text or "Unknown error", MAX_ERROR_CHARS)


def _shorten(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def load_delivery(session: Session, *, workspace_id: int, delivery_id: int) -> AlertDelivery:
    delivery = session.get(AlertDelivery, delivery_id)
    if delivery is None or delivery.workspace_id != workspace_id:
        raise NotFound("There is no such delivery in this workspace.")
    return delivery


def load_deliveries(session: Session, *, workspace_id: int, limit: int = 100) -> list[DeliveryRow]:
    """The workspace's deliveries, newest first, with the alert's title and the channel's name."""
    d, a, n = _DELIVERY.c, _ALERT.c, _CHANNEL.c
    rows = session.execute(
        select(
            d.id,
            d.alert_id,
            a.title,
            d.channel_id,
            n.name,
            n.kind,
            d.status,
            d.attempts,
            d.last_error,
            d.next_attempt_at,
            d.sent_at,
            d.created_at,
        )  # fmt: skip
        .join_from(_DELIVERY, _ALERT, a.id == d.alert_id)
        .join(_CHANNEL, n.id == d.channel_id)
        .where(d.workspace_id == workspace_id)
        .order_by(d.id.desc())
        .limit(limit)
    ).all()
    return [DeliveryRow(*row) for row in rows]


def retry_delivery(session: Session, *, workspace_id: int, delivery_id: int, now: dt.datetime) -> AlertDelivery:
    """Send a failed (or waiting) delivery again now, with a fresh set of tries."""
    delivery = load_delivery(session, workspace_id=workspace_id, delivery_id=delivery_id)
    c = _DELIVERY.c
    changed = session.execute(
        update(_DELIVERY)
        .where(c.id == delivery_id, c.workspace_id == workspace_id, c.status.in_(("failed", "pending")))
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_until=None)
    )
    session.refresh(delivery)
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        if delivery.status == "sent":
            raise InvalidInput("This alert was already sent to that channel.")
        raise InvalidInput("This alert is being sent to that channel right now.")
    return delivery
