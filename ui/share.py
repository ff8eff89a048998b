"""Share links in the browser: the read-only view behind `/?share=TOKEN` (Home.py) and the links' manager.

The view resolves the token on every run, so a revoked or expired link stops working at the next click.
Streamlit drops query parameters when the visitor changes page, so the token is kept in the session and
put back into the URL on every run of the shared view.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from streamlit.navigation.page import StreamlitPage

from core import queries, security, share_links
from core.models import ShareLink
from ui import widgets
from ui.context import Context, require_role
from ui.db import get_settings, open_session

TOKEN_KEY = "_share_token"  # noqa: S105 - the session-state key, not a secret
_VIEW_KEY = "_share_view"
_UNLOCKED_KEY = "_share_unlocked"  # ids of the links whose passcode this session entered
_OPENED_KEY = "_share_opened"  # ids of the links this session has counted an opening of
_CONTEXT_KEY = "_context"
_FLASH_KEY = "_share_flash"
_MAX_TOKEN = 200  # longer than any token; what a visitor pastes is not kept in full
STATUS_ICONS = {"active": "🟢 active", "expired": "⚪ expired", "revoked": "🔴 revoked"}


@dataclass(frozen=True)
class SharedView:
    """What a live link lets this session see."""

    link_id: int
    kind: str
    period: str | None
    expires_at: dt.datetime
    needs_passcode: bool
    workspace_id: int
    workspace_slug: str
    workspace_name: str
    workspace_timezone: str
    data_version: int

    def expires_on(self) -> dt.date:
        return self.expires_at.astimezone(ZoneInfo(self.workspace_timezone)).date()


def requested_token() -> str | None:
    """The share token this session shows: the URL's ?share=, else the one an earlier run of this session kept."""
    offered = st.query_params.get("share")
    if offered:
        st.session_state[TOKEN_KEY] = str(offered)[:_MAX_TOKEN]
    token = st.session_state.get(TOKEN_KEY)
    return token if isinstance(token, str) else None


def current_view() -> SharedView | None:
    """The live link this run shows, once its passcode (if any) was entered; None outside a shared view."""
    view = st.session_state.get(_VIEW_KEY)
    return view if isinstance(view, SharedView) else None


def fixed_range() -> tuple[dt.date, dt.date] | None:
    """The first and last day of the shared link's fixed month, for the Overview's date range."""
    view = current_view()
    return share_links.period_range(view.period) if view is not None and view.period else None


def _load_view(token: str) -> SharedView | None:
    with open_session() as session:
        link = share_links.resolve_share_link(session, token)
        if link is None or link.id is None:
            return None
        workspace = queries.load_workspace_by_id(session, workspace_id=link.workspace_id)
        assert workspace.id is not None
        return SharedView(
            link_id=link.id,
            kind=link.kind,
            period=link.period,
            expires_at=link.expires_at,
            needs_passcode=link.passcode_hash is not None,
            workspace_id=workspace.id,
            workspace_slug=workspace.slug,
            workspace_name=workspace.name,
            workspace_timezone=workspace.timezone,
            data_version=workspace.data_version,
        )


def _context(view: SharedView) -> Context:
    """A viewer who is no member: pages hide edit controls, and require_role refuses every write."""
    return Context(
        user_id=0,
        username="",
        name="Shared link",
        workspace_id=view.workspace_id,
        workspace_slug=view.workspace_slug,
        workspace_name=view.workspace_name,
        workspace_timezone=view.workspace_timezone,
        role="viewer",
        data_version=view.data_version,
        workspaces=((view.workspace_id, view.workspace_name),),
        shared=True,
    )


def navigation(token: str, *, signed_in: bool) -> StreamlitPage:
    """This run's page for a share token: the shared view, its passcode form, or the 'no longer valid' page.

    A signed-in person who opens a share link sees the link's view for the rest of this browser session.
    """
    view = _load_view(token)
    for key in (_CONTEXT_KEY, _VIEW_KEY):  # nothing of a signed-in session or an earlier link leaks in
        st.session_state.pop(key, None)
    if view is None:
        page = st.Page(render_invalid, title="Link no longer valid", icon=":material/link_off:", url_path="shared")
        return st.navigation([page], position="hidden")
    if view.needs_passcode and view.link_id not in st.session_state.get(_UNLOCKED_KEY, set()):

        def passcode_form() -> None:
            render_passcode_form(token)

        page = st.Page(passcode_form, title="Passcode", icon=":material/lock:", url_path="shared")
        return st.navigation([page], position="hidden")

    st.session_state[_CONTEXT_KEY] = _context(view)
    st.session_state[_VIEW_KEY] = view
    if st.query_params.get("share") != token:  # put back after a page change; unchanged URLs are not rewritten
        st.query_params["share"] = token
    _record_open_once(view)
    summary = st.Page(
        "app_pages/shared_summary.py",
        title="Executive summary",
        icon=":material/summarize:",
        default=view.kind == "summary",
    )
    if view.kind == "overview":
        overview = st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True)
        current = st.navigation([overview, summary], position="sidebar")
    else:
        current = st.navigation([summary], position="hidden")
    expires = f"{view.expires_on():%b %d, %Y}"
    st.caption(
        f":material/visibility: Shared by **{widgets.plain(view.workspace_name)}** · read-only · expires {expires}"
    )
    if signed_in:
        st.caption(
            "You are signed in, but this browser tab shows a shared link until you close it; "
            "open meterr in a new tab to work in your own workspaces."
        )
    return current


def _record_open_once(view: SharedView) -> None:
    """Count one opening per browser session, not one per rerun."""
    opened: set[int] = st.session_state.setdefault(_OPENED_KEY, set())
    if view.link_id in opened:
        return
    opened.add(view.link_id)
    ip_address, user_agent = st.context.ip_address, st.context.headers.get("User-Agent")
    with open_session() as session:
        link = session.get(ShareLink, view.link_id)
        if link is not None:
            share_links.record_open(
                session,
                link,
                ip_address=ip_address if isinstance(ip_address, str) else None,  # None on localhost
                user_agent=user_agent if isinstance(user_agent, str) else None,
            )


def render_invalid() -> None:
    """The same page for every link that does not work (expired, revoked, mistyped, unknown): it reveals nothing."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.markdown("### :material/savings: meterr")
        st.title("This link is no longer valid")
        st.write(
            "The link may have expired or been switched off, or part of it may be missing. "
            "Ask whoever sent it to you for a new one."
        )
        st.markdown(":material/login: Have a meterr account? [Sign in to meterr](/)")


def render_passcode_form(token: str) -> None:
    """Ask for the link's passcode; five wrong ones in a minute lock it for a while."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.markdown("### :material/savings: meterr")
        st.title("Enter the passcode")
        st.caption("Whoever shared this link protected it with a passcode; they can tell you what it is.")
        with st.form("share_passcode_form", clear_on_submit=True):
            passcode = st.text_input("Passcode", type="password", key="share_passcode")
            submitted = st.form_submit_button("Open", type="primary", icon=":material/lock_open:")
        if not submitted:
            return
        with open_session() as session:
            link = share_links.resolve_share_link(session, token)
            check = share_links.check_passcode(session, link, passcode) if link is not None else None
        if link is None or check is None:
            st.rerun()  # the link stopped working meanwhile: the next run says so
        elif check.ok:
            st.session_state.setdefault(_UNLOCKED_KEY, set()).add(link.id)
            st.rerun()
        elif check.locked_until is not None:
            seconds = max(1, int((check.locked_until - dt.datetime.now(dt.UTC)).total_seconds()))
            st.error(
                f"Too many wrong passcodes. For safety this link waits {seconds} second{'s' if seconds != 1 else ''} "
                "before it accepts another try.",
                icon=":material/lock_clock:",
            )
        else:
            st.error("That passcode is not right. Check it with whoever shared the link.", icon=":material/lock:")


def render_shared_summary(ctx: Context) -> None:
    """The link's executive summary, rendered read-only by ui.reports (with its Download PDF button)."""
    from ui import reports  # at call time: the report machinery loads only for the page that shows it

    view = current_view()
    st.title("Executive summary")
    reports.render_summary(
        workspace_id=ctx.workspace_id,
        workspace_name=ctx.workspace_name,
        data_version=ctx.data_version,
        period=view.period if view is not None else None,
        today=ctx.today(),
        shared=True,
        key="shared_report",
    )


# The manager: for the Reports page --------------------------------------------------------------------


def create_link(
    ctx: Context, *, kind: str, days: int, period: str | None, passcode: str, label: str
) -> tuple[str, dt.datetime]:
    """A new link's full URL (shown once) and when it expires; admins and owners only. Audited without the token."""
    require_role(ctx, "admin")
    settings = get_settings()
    with open_session() as session:
        link, token = share_links.create_share_link(
            session,
            workspace_id=ctx.workspace_id,
            kind=kind,
            days=days,
            period=period,
            passcode=passcode or None,
            label=label,
            created_by=ctx.user_id,
            rounds=settings.bcrypt_rounds,
        )
        queries.save_audit(
            session,
            workspace_id=ctx.workspace_id,
            user_id=ctx.user_id,
            action="share.created",
            link_id=link.id,
            kind=kind,
            period=link.period,
            days=days,
            passcode=link.passcode_hash is not None,
        )
        return share_links.share_url(settings.base_url, token), link.expires_at


def revoke_link(ctx: Context, *, link_id: int) -> None:
    require_role(ctx, "admin")
    with open_session() as session:
        share_links.revoke_share_link(session, workspace_id=ctx.workspace_id, link_id=link_id)
        queries.save_audit(
            session, workspace_id=ctx.workspace_id, user_id=ctx.user_id, action="share.revoked", link_id=link_id
        )


def _month_choices(today: dt.date) -> list[str | None]:
    """None (the month the link is opened in), then this month and the eleven before it."""
    months: list[str | None] = [None]
    year, month = today.year, today.month
    for _ in range(12):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def _month_label(period: str | None) -> str:
    if period is None:
        return "The current month, whenever it is opened"
    return dt.date.fromisoformat(f"{period}-01").strftime("%B %Y")


def _render_create_form(ctx: Context) -> None:
    with st.form("share_create_form", clear_on_submit=True):
        st.markdown("**Share a read-only view**")
        kind = st.radio(
            "What it shows",
            list(share_links.KINDS),
            format_func=share_links.KINDS.get,
            horizontal=True,
            key="share_kind",
        )
        period = st.selectbox("Period", _month_choices(ctx.today()), format_func=_month_label, key="share_period")
        days = st.slider(
            "Expires in (days)",
            share_links.MIN_DAYS,
            share_links.MAX_DAYS,
            share_links.DEFAULT_DAYS,
            key="share_days",
        )
        passcode = st.text_input(
            "Passcode (optional)",
            type="password",
            key="share_new_passcode",
            help=f"At least {share_links.MIN_PASSCODE} characters; send it separately from the link.",
        )
        label = st.text_input("Label", key="share_label", placeholder="e.g. Board pack, November", max_chars=120)
        submitted = st.form_submit_button("Create link", type="primary", icon=":material/add_link:")
    if not submitted:
        return
    try:
        url, expires_at = create_link(
            ctx, kind=str(kind), days=int(days), period=period, passcode=passcode, label=label
        )
    except (security.InvalidInput, queries.NotFound) as problem:
        st.error(str(problem), icon=":material/error:")
        return
    expires_on = expires_at.astimezone(ZoneInfo(ctx.workspace_timezone)).date()
    st.success(f"Link created; it works until {expires_on:%b %d, %Y}.", icon=":material/check_circle:")
    st.code(url, language=None)
    st.caption(
        "Copy it now: it is shown only once (meterr keeps only a fingerprint of it). "
        "Lost it? Revoke it and create another."
    )


def _local(moment: dt.datetime | None, timezone: str) -> str:
    return "" if moment is None else moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def render_share_manager(ctx: Context) -> None:
    """Create links (owners and admins), list them with their openings, revoke the active ones."""
    st.subheader("Share links")
    st.caption(
        "A link opens a read-only view of this workspace without signing in: the executive summary, or the "
        "Overview too. Whoever has the link can see it until it expires or you revoke it."
    )
    if flash := st.session_state.pop(_FLASH_KEY, None):
        st.success(flash, icon=":material/check_circle:")
    if ctx.can("admin"):
        _render_create_form(ctx)
    with open_session() as session:
        links = share_links.load_share_links(session, workspace_id=ctx.workspace_id)
    if not links:
        st.caption("No share links yet.")
        return
    now = dt.datetime.now(dt.UTC)
    tz = ctx.workspace_timezone
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Link": f"{link.prefix}…",
                    "Label": link.label,
                    "Shows": share_links.KINDS.get(link.kind, link.kind),
                    "Period": _month_label(link.period) if link.period else "Current month",
                    "Passcode": "yes" if link.has_passcode else "no",
                    "Created": _local(link.created_at, tz),
                    "Expires": _local(link.expires_at, tz),
                    "Status": STATUS_ICONS[link.status(now)],
                    "Opens": link.open_count,
                    "Last opened": _local(link.last_opened_at, tz),
                }
                for link in links
            ]
        ),
        hide_index=True,
        key="share_links_table",
    )
    for link in links:
        status = link.status(now)
        name = link.label or f"Link {link.prefix}…"
        with st.expander(f"{name} · {status} · {link.open_count} open{'s' if link.open_count != 1 else ''}"):
            if link.opens:
                st.dataframe(
                    pd.DataFrame(
                        [
                            {"When": _local(o.opened_at, tz), "IP address": o.ip_address, "Browser": o.user_agent}
                            for o in link.opens
                        ]
                    ),
                    hide_index=True,
                    key=f"share_opens_{link.id}",
                )
            else:
                st.caption("Not opened yet.")
            revoke = status == "active" and ctx.can("admin")
            if revoke and st.button("Revoke", key=f"share_revoke_{link.id}", icon=":material/link_off:"):
                try:
                    revoke_link(ctx, link_id=link.id)
                except (security.InvalidInput, queries.NotFound) as problem:
                    st.error(str(problem), icon=":material/error:")
                else:
                    st.session_state[_FLASH_KEY] = f"Revoked {name}: it stopped working at once."
                    st.rerun()
