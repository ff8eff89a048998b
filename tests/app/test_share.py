"""AppTest: `/?share=TOKEN` opens a read-only view of one workspace; bad links reveal nothing; the links' manager."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core import queries, share_links
from core.db import session_scope
from core.models import ShareLink
from tests.app.conftest import new_app, signed_in_app, titles, utc_today
from tests.conftest import app_engine, load_demo, make_member

INVALID = "This link is no longer valid"


def workspace(name: str) -> int:
    with session_scope(app_engine()) as session:
        created = queries.create_workspace(session, name=name)
        assert created.id is not None
        return created.id


def link(workspace_id: int, **options: object) -> str:
    with session_scope(app_engine()) as session:
        return share_links.create_share_link(session, workspace_id=workspace_id, rounds=4, **options)[1]  # type: ignore[arg-type]


def opened(token: str) -> AppTest:
    at = new_app()
    at.query_params["share"] = token
    return at.run()


def everything_said(at: AppTest) -> str:
    """Every piece of text the run put on screen, sidebar included."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                  "error", "success", "code") for e in getattr(at, kind)]  # fmt: skip
    return " ".join(str(p) for p in parts)


def page_registered(at: AppTest, page: str) -> bool:
    try:
        at.switch_page(page)
    except ValueError:
        return False
    return True


def test_a_summary_link_shows_its_workspace_read_only_without_sign_in() -> None:
    acme = workspace("Acme Analytics")
    token = link(acme, kind="summary", days=7)
    at = opened(token)
    assert not at.exception, at.exception
    assert titles(at) == ["Executive summary"]
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).date()
    assert f"Shared by **Acme Analytics** · read-only · expires {expires:%b %d, %Y}" in everything_said(at)
    assert not at.text_input and not any(b.label == "Sign out" for b in at.button)  # no sign-in, no sign-out
    assert not at.selectbox  # no workspace switcher
    for page in ("app_pages/settings.py", "app_pages/alerts.py", "app_pages/overview.py", "app_pages/reports.py"):
        assert not page_registered(at, page), page
    ctx = at.session_state["_context"]
    assert (ctx.shared, ctx.role, ctx.user_id, ctx.workspaces) == (True, "viewer", 0, ((acme, "Acme Analytics"),))


def test_the_summary_body_comes_from_ui_reports() -> None:
    at = opened(link(workspace("Acme Analytics"), kind="summary"))
    assert not at.exception, at.exception
    # ui.reports.render_summary renders the body: with no spend yet it says there is nothing to report.
    assert any("Acme Analytics has no AI spend" in i.value for i in at.info)


def expire(token: str) -> None:
    with app_engine().begin() as connection:
        connection.execute(
            text("UPDATE sharelink SET expires_at = :past WHERE token_hash = :hash"),
            {"past": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), "hash": share_links.hash_token(token)},
        )


def revoke(token: str) -> None:
    with session_scope(app_engine()) as session:
        share_links.revoke_by_prefix(session, token)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda token: (expire(token), token)[1],
        lambda token: (revoke(token), token)[1],
        lambda token: token[:5] + ("A" if token[5] != "A" else "B") + token[6:],
        lambda token: "A" * 43,
        lambda token: "<script>alert(1)</script>",
    ],
    ids=["expired", "revoked", "tampered", "unknown", "malformed"],
)
def test_every_bad_link_shows_the_same_page_and_reveals_nothing(spoil) -> None:  # type: ignore[no-untyped-def]
    acme = workspace("Acme Analytics")
    token = spoil(link(acme, kind="overview"))
    at = opened(token)
    assert not at.exception
    assert titles(at) == [INVALID]
    said = everything_said(at)
    assert "Ask whoever sent it to you for a new one" in said and "[Sign in to meterr](/)" in said
    assert "Acme" not in said
    assert "_context" not in at.session_state
    reference = opened("B" * 43)  # an unknown token: every bad link must look exactly like it
    assert said == everything_said(reference)
    with session_scope(app_engine()) as session:
        assert session.get(ShareLink, 1).open_count == 0  # type: ignore[union-attr]


def test_a_link_shows_its_own_workspace_only() -> None:
    workspace("Alpha Secret Co")
    beta = workspace("Beta Books")
    at = opened(link(beta, kind="summary"))
    said = everything_said(at)
    assert "Beta Books" in said and "Alpha" not in said
    assert at.session_state["_context"].workspaces == ((beta, "Beta Books"),)


def test_a_link_revoked_while_open_stops_at_the_next_click() -> None:
    token = link(workspace("Acme Analytics"), kind="summary")
    at = opened(token)
    assert titles(at) == ["Executive summary"]
    revoke(token)
    at.run()
    assert titles(at) == [INVALID] and "Acme" not in everything_said(at) and "_context" not in at.session_state


def demo_workspace(name: str = "Demo Dollars") -> tuple[int, dt.date]:
    today = utc_today()
    workspace_id = workspace(name)
    load_demo(app_engine(), workspace_id, today)
    return workspace_id, today


def test_an_overview_link_is_read_only_and_the_token_survives_page_changes() -> None:
    workspace_id, _ = demo_workspace()
    token = link(workspace_id, kind="overview")
    at = opened(token)
    assert not at.exception, at.exception
    assert titles(at) == ["Where does the money go?"]
    assert any(m.label == "This month so far" for m in at.metric)
    assert not at.get("page_link")  # Forecast (and any other page) is not in the shared view
    assert not at.button  # nothing to change: no edit, adopt or sign-out buttons
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]
    assert not page_registered(at, "app_pages/forecast.py") and not page_registered(at, "app_pages/settings.py")

    at.query_params.clear()  # the browser drops ?share= when the visitor changes page
    at.switch_page("app_pages/shared_summary.py").run()
    assert not at.exception, at.exception
    assert titles(at) == ["Executive summary"]
    assert at.query_params["share"] == token
    assert any("Demo Dollars" in c.value for c in at.caption)
    assert [b.label for b in at.get("download_button")] == ["Download PDF"]  # from ui.reports.render_summary
    assert not at.button and not at.get("page_link")

    at.query_params.clear()
    at.switch_page("app_pages/overview.py").run()
    assert titles(at) == ["Where does the money go?"] and at.query_params["share"] == token
    at.run()  # a rerun with the token already in the URL leaves it alone
    assert at.query_params == {"share": token}


def test_a_fixed_period_opens_the_overview_on_that_month() -> None:
    workspace_id, today = demo_workspace()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    at = opened(link(workspace_id, kind="overview", period=f"{last_month:%Y-%m}"))
    assert not at.exception, at.exception
    picked = at.date_input(key="filter_dates").value
    assert picked == share_links.period_range(f"{last_month:%Y-%m}")
    assert any(f"to {picked[1]:%b %d, %Y}" in h.value for h in at.header)


def open_count(token: str) -> int:
    with session_scope(app_engine()) as session:
        found = share_links.resolve_share_link(session, token)
        assert found is not None
        return found.open_count


def test_an_opening_is_counted_once_per_browser_session() -> None:
    token = link(workspace("Acme Analytics"), kind="summary")
    at = opened(token)
    at.run()
    at.run()
    assert open_count(token) == 1
    opened(token)  # another browser
    assert open_count(token) == 2
    with session_scope(app_engine()) as session:
        rows = session.execute(text("SELECT ip_address, user_agent FROM shareopen")).all()
    assert len(rows) == 2


def test_a_passcode_gate_then_the_view() -> None:
    token = link(workspace("Acme Analytics"), kind="summary", passcode="4321")
    at = opened(token)
    assert titles(at) == ["Enter the passcode"] and "Acme" not in everything_said(at)
    assert open_count(token) == 0

    at.text_input(key="share_passcode").input("1111")
    at.button[0].click().run()
    assert any("not right" in e.value for e in at.error) and titles(at) == ["Enter the passcode"]

    at.text_input(key="share_passcode").input("4321")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert titles(at) == ["Executive summary"] and "Acme Analytics" in everything_said(at)
    assert open_count(token) == 1
    assert titles(opened(token)) == ["Enter the passcode"]  # another browser asks again


def test_five_wrong_passcodes_lock_the_link() -> None:
    token = link(workspace("Acme Analytics"), kind="summary", passcode="4321")
    at = opened(token)
    for _ in range(5):
        at.text_input(key="share_passcode").input("0000")
        at.button[0].click().run()
    assert any("Too many wrong passcodes" in e.value for e in at.error)
    at.text_input(key="share_passcode").input("4321")
    at.button[0].click().run()
    assert titles(at) == ["Enter the passcode"] and any("Too many" in e.value for e in at.error)


def test_a_signed_in_person_opening_a_link_sees_the_link() -> None:
    own = make_member(app_engine(), username="ada", role="owner")
    other = workspace("Client Co")
    at = signed_in_app("ada")
    assert titles(at) == ["Where does the money go?"] or at.session_state["_context"].workspace_id == own
    at.query_params["share"] = link(other, kind="summary")
    at.run()
    assert not at.exception, at.exception
    assert titles(at) == ["Executive summary"]
    said = everything_said(at)
    assert "Client Co" in said and "this browser tab shows a shared link" in said and "Ada Co" not in said
    assert not any(b.label == "Sign out" for b in at.button)
    assert at.session_state["_context"].workspace_id == other


def test_a_shared_context_may_not_write() -> None:
    from core.security import InvalidInput
    from ui import share
    from ui.context import require_role

    view = share.SharedView(1, "summary", None, dt.datetime.now(dt.UTC), False, 1, "acme", "Acme", "UTC", 0)
    with pytest.raises(InvalidInput, match="read-only"):
        require_role(share._context(view), "viewer")


def _manager(workspace_id: int, role: str, user_id: int) -> None:
    from ui import share
    from ui.context import Context

    ctx = Context(
        user_id=user_id, username="ada", name="Ada", workspace_id=workspace_id, workspace_slug="ada-co",
        workspace_name="Ada Co", workspace_timezone="UTC", role=role, data_version=0,
        workspaces=((workspace_id, "Ada Co"),),
    )  # fmt: skip
    share.render_share_manager(ctx)


def manager(workspace_id: int, role: str, user_id: int = 1) -> AppTest:
    return AppTest.from_function(
        _manager, default_timeout=60, kwargs={"workspace_id": workspace_id, "role": role, "user_id": user_id}
    ).run()


def test_an_admin_creates_a_link_sees_it_once_and_revokes_it() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="admin")
    at = manager(workspace_id, "admin")
    assert not at.exception, at.exception
    at.radio(key="share_kind").set_value("overview")
    at.slider(key="share_days").set_value(30)
    at.text_input(key="share_label").input("Board pack")
    at.button[0].click().run()
    assert not at.exception, at.exception
    [url] = [c.value for c in at.code]
    assert url.startswith("http://localhost:8501/?share=")
    token = url.split("=", 1)[1]
    with session_scope(app_engine()) as session:
        found = share_links.resolve_share_link(session, token)
        assert found is not None and (found.kind, found.label, found.created_by) == ("overview", "Board pack", 1)
        audit = queries.load_audit(session, workspace_id=workspace_id)
    assert audit[0].action == "share.created" and token not in str(audit[0].detail)
    table = at.dataframe[0].value
    assert table["Label"].tolist() == ["Board pack"] and table["Status"].tolist() == ["🟢 active"]

    at.run()
    assert not at.code  # shown only once

    opened(token)
    at.run()
    assert at.dataframe[0].value["Opens"].tolist() == [1]
    assert len(at.dataframe) == 2 and at.dataframe[1].value.columns.tolist() == ["When", "IP address", "Browser"]

    at.button(key=f"share_revoke_{found.id}").click().run()
    assert not at.exception, at.exception
    assert any("stopped working" in s.value for s in at.success)
    assert at.dataframe[0].value["Status"].tolist() == ["🔴 revoked"]
    assert not any(b.key and b.key.startswith("share_revoke_") for b in at.button)
    assert titles(opened(token)) == [INVALID]


def test_a_bad_choice_is_explained_and_creates_nothing() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="owner")
    at = manager(workspace_id, "owner")
    at.text_input(key="share_new_passcode").input("123")
    at.button[0].click().run()
    assert any("4 to 72 characters" in e.value for e in at.error) and not at.code
    with session_scope(app_engine()) as session:
        assert share_links.load_share_links(session, workspace_id=workspace_id) == []


def test_a_viewer_sees_the_links_without_buttons() -> None:
    workspace_id = make_member(app_engine(), username="vic", role="viewer")
    link(workspace_id, kind="summary", label="For the CFO")
    at = manager(workspace_id, "viewer")
    assert not at.exception, at.exception
    assert not at.button and not at.text_input
    assert at.dataframe[0].value["Label"].tolist() == ["For the CFO"]


def test_a_demoted_admin_cannot_create_a_link() -> None:
    workspace_id = make_member(app_engine(), username="ada", role="viewer")
    at = manager(workspace_id, "admin")  # the page still believes Ada is an admin
    at.button[0].click().run()
    assert any("Only a workspace admin" in e.value for e in at.error) and not at.code
