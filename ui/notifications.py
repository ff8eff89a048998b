"""Alerts in the app: the inbox, delivery status with retries, and where alerts go (Settings → Notifications)."""

from __future__ import annotations

import datetime as dt

import httpx
import streamlit as st

from connectors import alerting, notify
from core import alerts
from core.models import utcnow
from core.security import InvalidInput
from ui import widgets
from ui.context import Context, require_role
from ui.db import get_engine, get_settings, open_session

KIND_LABELS = {"threshold": "Threshold crossed", "overrun": "Predicted overrun", "anomaly": "Cost spike"}
KIND_ICONS = {"threshold": ":material/data_usage:", "overrun": ":material/trending_up:", "anomaly": ":material/bolt:"}
CHANNEL_LABELS = {"email": "Email", "slack": "Slack", "webhook": "Signed webhook"}
STATUS_LABELS = {"pending": "Waiting to send", "sending": "Sending", "sent": "Sent", "failed": "Gave up"}
SECURITY_LABELS = {"starttls": "STARTTLS (port 587)", "ssl": "SSL/TLS (port 465)", "none": "None (local relays only)"}


def unread_count(workspace_id: int) -> int:
    with open_session() as session:
        return alerts.count_unread(session, workspace_id=workspace_id)


def _when(moment: dt.datetime) -> str:
    return f"{moment:%b} {moment.day}, {moment:%H:%M} UTC"


# Inbox ------------------------------------------------------------------------------------------------


def render_inbox(ctx: Context) -> None:
    with open_session() as session:
        items = alerts.load_alerts(session, workspace_id=ctx.workspace_id, limit=100)
    unread = sum(1 for a in items if a.read_at is None)
    top, action = st.columns([3, 1], vertical_alignment="center")
    top.markdown(f"**{unread} unread** of {len(items)} alerts" if items else "")
    if unread and action.button("Mark all read", icon=":material/done_all:", key="alerts_read_all"):
        with open_session() as session:
            alerts.mark_all_read(session, workspace_id=ctx.workspace_id, now=utcnow())
        st.rerun()
    if not items:
        st.info(
            "No alerts yet. meterr checks every budget and looks for cost spikes every 15 minutes, and tells you here "
            "— and by email, Slack or webhook if you add a channel in Settings → Notifications.",
            icon=":material/notifications_none:",
        )
        return
    for alert in items:
        assert alert.id is not None
        with st.container(border=True, key=f"alert_{alert.id}"):
            head, button = st.columns([5, 1], vertical_alignment="center")
            marker = "" if alert.read_at else ":blue-badge[New] "
            head.markdown(f"{marker}{KIND_ICONS.get(alert.kind, '')} **{alert.title}**")
            head.caption(f"{KIND_LABELS.get(alert.kind, alert.kind)} · {_when(alert.created_at)}")
            if alert.read_at is None and button.button("Mark read", key=f"alert_read_{alert.id}"):
                with open_session() as session:
                    alerts.mark_read(session, workspace_id=ctx.workspace_id, alert_id=alert.id, now=utcnow())
                st.rerun()
            st.markdown(alert.body)


def check_now(ctx: Context) -> alerting.AlertRun:
    """Evaluate this workspace right away and send what is due (the scheduler does the same every 15 minutes)."""
    require_role(ctx, "admin")
    settings = get_settings()
    engine = get_engine()
    now = utcnow()
    run = alerting.run_alerts(engine, workspace_id=ctx.workspace_id, today=ctx.today(), now=now)
    with httpx.Client(timeout=20) as client:
        notify.deliver_due(
            lambda: open_session(), settings.secret_box(), client=client, now=now, base_url=settings.base_url,
            workspace_id=ctx.workspace_id,
        )  # fmt: skip
    return run


def render_deliveries(ctx: Context) -> None:
    with open_session() as session:
        rows = alerts.load_deliveries(session, workspace_id=ctx.workspace_id, limit=50)
    if not rows:
        st.caption("Nothing sent yet: deliveries appear here once a channel is set up and an alert fires.")
        return
    st.dataframe(
        [
            {
                "Alert": r.alert_title,
                "Channel": f"{r.channel_name} ({CHANNEL_LABELS.get(r.channel_kind, r.channel_kind)})",
                "Status": STATUS_LABELS.get(r.status, r.status), "Tries": r.attempts,
                "Sent": _when(r.sent_at) if r.sent_at else "",
                "Next try": _when(r.next_attempt_at) if r.status == "pending" else "",
                "Last error": r.last_error or "",
            }
            for r in rows
        ],
        hide_index=True, key="deliveries_table",
    )  # fmt: skip
    stuck = [r for r in rows if r.status in ("failed", "pending") and r.attempts]
    if stuck and ctx.can("admin"):
        labels = {r.id: f"{r.alert_title} → {r.channel_name}" for r in stuck}
        picked = st.selectbox("Try again now", list(labels), format_func=labels.get, key="delivery_retry_pick")
        if st.button("Retry delivery", icon=":material/refresh:", key="delivery_retry"):
            try:
                with open_session() as session:
                    alerts.retry_delivery(session, workspace_id=ctx.workspace_id, delivery_id=picked, now=utcnow())
            except InvalidInput as problem:
                st.error(str(problem))
            else:
                st.toast("Queued: it will be sent within a minute, or press Check now.")
                st.rerun()


# Settings → Notifications ----------------------------------------------------------------------------------


def render_smtp_settings(ctx: Context) -> None:
    box = get_settings().secret_box()
    with open_session() as session:
        server = alerts.load_smtp_server(session, workspace_id=ctx.workspace_id)
    st.markdown("**Email server (SMTP)** — used for email alerts and the weekly report.")
    if server is not None:
        st.caption(
            f"Sending from {server.from_address} via {server.host}:{server.port}"
            + (f" as {server.username}, password stored encrypted." if server.username else ".")
        )
    if not ctx.can("admin"):
        st.caption("Only owners and admins can change where alerts go.")
        return
    with st.form("smtp_form"):
        host, port = st.columns([3, 1])
        new_host = host.text_input("Server", value=server.host if server else "", placeholder="smtp.example.com")
        new_port = port.number_input("Port", min_value=1, max_value=65535, value=server.port if server else 587)
        modes = list(SECURITY_LABELS)
        security = st.selectbox(
            "Encryption", modes, format_func=SECURITY_LABELS.get, index=modes.index(server.security) if server else 0
        )
        user, password = st.columns(2)
        username = user.text_input("SMTP username", value=server.username if server else "")
        new_password = password.text_input(
            "SMTP password", type="password", placeholder="unchanged" if server and server.password_ciphertext else ""
        )
        sender = st.text_input("Send as", value=server.from_address if server else "", placeholder="meterr@example.com")
        if st.form_submit_button("Save email server", icon=":material/save:"):
            try:
                with open_session() as session:
                    alerts.save_smtp_server(
                        session, box, workspace_id=ctx.workspace_id, host=new_host, port=int(new_port),
                        security=security, username=username, password=new_password or None, from_address=sender,
                    )  # fmt: skip
            except InvalidInput as problem:
                st.error(str(problem))
            else:
                st.session_state["smtp_saved"] = True
                st.rerun()
    if st.session_state.pop("smtp_saved", False):
        st.success("Email server saved. Send a test email to check it.")
    if server is not None:
        with st.form("smtp_test_form"):
            to = st.text_input("Send a test email to", placeholder="you@example.com")
            if st.form_submit_button("Send test email", icon=":material/send:"):
                with open_session() as session:
                    config = alerts.load_smtp_config(session, box, workspace_id=ctx.workspace_id)
                try:
                    with st.spinner("Talking to the mail server…"):
                        notify.send_test_email(config, to) if config else None
                except (notify.NotifyError, InvalidInput) as problem:
                    st.error(str(problem))
                else:
                    st.success(f"Sent. Check {to}'s inbox (and spam folder).")


def render_channels(ctx: Context) -> None:
    box = get_settings().secret_box()
    with open_session() as session:
        channels = alerts.load_channels(session, workspace_id=ctx.workspace_id)
    st.markdown("**Where alerts go** — besides this app's Alerts inbox.")
    if shown := st.session_state.pop("channel_secret_once", None):
        st.warning(
            f"Signing secret for **{shown[0]}** — copy it now, it is not shown again:\n\n`{shown[1]}`\n\n"
            "Verify `X-Meterr-Signature` on each request: HMAC-SHA256 of `timestamp.body` with this secret.",
            icon=":material/key:",
        )
    if not channels:
        st.caption("No channels yet: alerts only appear in the inbox.")
    for channel in channels:
        assert channel.id is not None
        with st.container(border=True, key=f"channel_{channel.id}"):
            text, test, remove = st.columns([4, 1, 1], vertical_alignment="center")
            where = channel.target if channel.kind != "slack" else f"Slack ({channel.target or 'incoming webhook'})"
            hint = f" · secret …{channel.secret_hint}" if channel.kind == "webhook" and channel.secret_hint else ""
            text.markdown(f"**{widgets.plain(channel.name)}** · {CHANNEL_LABELS[channel.kind]} · {where}{hint}")
            if ctx.can("admin") and test.button("Send test", key=f"channel_test_{channel.id}"):
                try:
                    with st.spinner("Sending…"), httpx.Client(timeout=15) as client, open_session() as session:
                        notify.send_test(
                            session, box, workspace_id=ctx.workspace_id, channel_id=channel.id, client=client
                        )
                except notify.NotifyError as problem:
                    st.error(str(problem))
                else:
                    st.toast(f"Test alert sent to {channel.name}.")
            if ctx.can("admin") and remove.button("Remove", key=f"channel_remove_{channel.id}"):
                with open_session() as session:
                    alerts.delete_channel(session, workspace_id=ctx.workspace_id, channel_id=channel.id)
                st.rerun()
    if not ctx.can("admin"):
        return
    with st.form("channel_form", clear_on_submit=True):
        st.markdown("**Add a channel**")
        kind = st.segmented_control("Kind", list(CHANNEL_LABELS), format_func=CHANNEL_LABELS.get, default="email")
        name = st.text_input("Channel name", placeholder="Finance team")
        target = st.text_input(
            "Email addresses (comma separated), or the webhook's URL",
            placeholder="cfo@example.com, finance@example.com",
        )
        secret = st.text_input(
            "Slack incoming-webhook URL (Slack only; stored encrypted)", type="password",
            placeholder="https://hooks.slack.com/services/…",
        )  # fmt: skip
        if st.form_submit_button("Add channel", icon=":material/add:"):
            try:
                with open_session() as session:
                    saved, generated = alerts.save_channel(
                        session, box, workspace_id=ctx.workspace_id, kind=kind or "email", name=name,
                        target=target if kind != "slack" else "", secret=secret if kind == "slack" else None,
                    )  # fmt: skip
            except InvalidInput as problem:
                st.error(str(problem))
            else:
                if generated:
                    st.session_state["channel_secret_once"] = (saved.name, generated)
                st.rerun()
