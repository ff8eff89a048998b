"""AppTest: every page signed out and signed in, sign-in behaviour, filters and role limits."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from core import demo, queries
from core.db import session_scope
from core.models import User
from core.money import format_usd, format_usd_short
from insights import metrics
from tests.app.conftest import new_app, sign_in, signed_in_app, titles, utc_today
from tests.conftest import PASSWORD, app_engine, load_demo, make_member

PAGES = [
    "app_pages/overview.py", "app_pages/forecast.py", "app_pages/get_started.py", "app_pages/connect.py",
    "app_pages/rules.py", "app_pages/outcomes.py", "app_pages/alerts.py", "app_pages/profitability.py",
    "app_pages/roi.py", "app_pages/optimize.py", "app_pages/settings.py",
]  # fmt: skip


def test_first_visit_asks_to_create_a_workspace() -> None:
    at = new_app().run()
    assert not at.exception
    assert titles(at) == ["Create your workspace"]


def test_after_the_first_user_the_sign_in_page_is_the_front_door() -> None:
    make_member(app_engine(), username="ada", role="owner")
    at = new_app().run()
    assert not at.exception and titles(at) == ["Sign in to meterr"]
    at.switch_page("app_pages/create_workspace.py").run()
    assert not at.exception and titles(at) == ["Create your workspace"]


def test_create_workspace_then_demo_then_overview() -> None:
    at = new_app().run()
    for label, value in [
        ("Company or team name", "Acme Test"), ("Your name", "Ada Lovelace"), ("Work email", "ada@example.com"),
        ("Username", "ada"), ("Password", PASSWORD), ("Confirm password", PASSWORD),
    ]:  # fmt: skip
        next(t for t in at.text_input if t.label == label).input(value)
    at.button[0].click().run()
    assert not at.exception and titles(at) == ["Welcome to meterr, Ada"]

    at.button(key="load_demo").click().run()
    assert not at.exception and titles(at) == ["Where does the money go?"]
    today = utc_today()
    rows = demo.build_demo_charges(today)
    this_month = sum(r["amount_micros"] for r in rows if r["day"] >= today.replace(day=1))
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["This month so far"] == format_usd_short(this_month)
    last_start = metrics.previous_month_start(today)
    last_month = sum(r["amount_micros"] for r in rows if last_start <= r["day"] < today.replace(day=1))
    assert tiles["Last month"] == format_usd_short(last_month)
    assert any(s.value.startswith("Demo data loaded") for s in at.success)


def test_wrong_password_then_lockout_then_unlock() -> None:
    engine = app_engine()
    make_member(engine, username="ada", role="owner")
    at = new_app().run()
    sign_in(at, "ada", "Wr0ngPassword")
    assert "don't match" in at.error[0].value and titles(at) == ["Sign in to meterr"]
    for _ in range(4):
        sign_in(at, "ada", "Wr0ngPassword")
    assert "locked" in at.error[0].value
    sign_in(at, "ada", PASSWORD)  # the right password does not help while locked
    assert "locked" in at.error[0].value and titles(at) == ["Sign in to meterr"]

    with session_scope(engine) as session:  # a minute passes
        session.exec(update(User).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    sign_in(at, "ada", PASSWORD)
    assert not at.exception and titles(at) == ["Where does the money go?"]


def test_unknown_user_gets_the_same_message() -> None:
    make_member(app_engine(), username="ada", role="owner")
    at = sign_in(new_app().run(), "nobody", PASSWORD)
    assert "don't match" in at.error[0].value


@pytest.mark.parametrize("role", ["owner", "admin", "viewer"])
@pytest.mark.parametrize("with_data", [False, True], ids=["empty", "demo"])
def test_every_page_renders_for_every_role(role: str, with_data: bool) -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role=role)
    if with_data:
        load_demo(engine, workspace_id, utc_today())
    at = signed_in_app("ada")
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert titles(at), page
    at.switch_page("app_pages/overview.py").run()
    if with_data:
        assert len(at.metric) == 4
    else:
        assert "No spend yet" in at.info[0].value


def test_signed_out_visitors_cannot_reach_private_pages() -> None:
    make_member(app_engine(), username="ada", role="owner")
    at = new_app().run()
    with pytest.raises(ValueError):
        at.switch_page("app_pages/settings.py")  # not in the signed-out navigation at all


def test_filters_change_the_numbers() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="viewer")
    today = utc_today()
    load_demo(engine, workspace_id, today)
    at = signed_in_app("ada")
    start = today - dt.timedelta(days=364)
    rows = [r for r in demo.build_demo_charges(today) if start <= r["day"] <= today]
    exact = [c.value for c in at.caption if c.value.startswith("Exactly")]
    assert exact == [f"Exactly {format_usd(sum(r['amount_micros'] for r in rows))}."]

    at.multiselect(key="filter_providers").select("Anthropic").run()
    anthropic = sum(r["amount_micros"] for r in rows if r["provider"] == "Anthropic")
    assert [c.value for c in at.caption if c.value.startswith("Exactly")] == [f"Exactly {format_usd(anthropic)}."]

    month_start = today.replace(day=1)
    at.date_input(key="filter_dates").set_value((month_start, today)).run()
    in_month = sum(r["amount_micros"] for r in rows if r["provider"] == "Anthropic" and r["day"] >= month_start)
    assert [c.value for c in at.caption if c.value.startswith("Exactly")] == [f"Exactly {format_usd(in_month)}."]
    assert not at.exception


def test_viewers_cannot_change_anything() -> None:
    engine = app_engine()
    make_member(engine, username="ada", role="owner", workspace_slug="shared")
    make_member(engine, username="vic", role="viewer", workspace_slug="shared")
    at = signed_in_app("vic")
    at.switch_page("app_pages/get_started.py").run()
    assert at.button(key="load_demo").disabled
    at.switch_page("app_pages/settings.py").run()
    forms = {b.label for b in at.button}
    assert "Add member" not in forms and "Delete all workspace data" not in forms
    assert "Only a workspace owner can delete its data." in [c.value for c in at.caption]


def test_the_role_is_rechecked_when_acting() -> None:
    """A stale context that still says admin cannot act once the database says viewer."""
    from core.security import InvalidInput
    from ui import actions
    from ui.context import Context

    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="viewer")
    with session_scope(engine) as session:
        user = queries.load_user(session, username="ada")
        assert user is not None and user.id is not None
        stale = Context(
            user.id,
            "ada",
            "Ada",
            workspace_id,
            "ada-co",
            "Ada Co",
            "UTC",
            "admin",
            0,
            ((workspace_id, "Ada Co"),),
        )
    with pytest.raises(InvalidInput, match="your role is viewer"):
        actions.load_demo_data(stale)
    with session_scope(engine) as session:
        assert not queries.has_charges(session, workspace_id=workspace_id)


def test_owner_manages_members_and_deletes_data() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    load_demo(engine, workspace_id, utc_today())
    at = signed_in_app("ada")
    at.switch_page("app_pages/settings.py").run()

    form = {t.label: t for t in at.text_input}
    form["Username"].input("bob")
    form["Name (new people only)"].input("Bob")
    form["Email (new people only)"].input("bob@example.com")
    form["First password (new people only)"].input(PASSWORD)
    next(s for s in at.selectbox if s.label == "Role").select("viewer")
    next(b for b in at.button if b.label == "Add member").click().run()
    assert not at.exception
    with session_scope(engine) as session:
        assert [(m.username, m.role) for m in queries.load_members(session, workspace_id=workspace_id)] == [
            ("ada", "owner"),
            ("bob", "viewer"),
        ]

    confirm = next(t for t in at.text_input if t.label.startswith("Type"))
    confirm.input("wrong-slug")
    next(b for b in at.button if b.label == "Delete all workspace data").click().run()
    assert any("exactly to confirm" in e.value for e in at.error)
    with session_scope(engine) as session:
        assert queries.has_charges(session, workspace_id=workspace_id)

    slug = at.session_state["_context"].workspace_slug
    next(t for t in at.text_input if t.label.startswith("Type")).input(slug)
    next(b for b in at.button if b.label == "Delete all workspace data").click().run()
    assert any(s.value.startswith("Deleted ") for s in at.success)
    with session_scope(engine) as session:
        assert not queries.has_charges(session, workspace_id=workspace_id)
        assert [a.action for a in queries.load_audit(session, workspace_id=workspace_id)][:2] == [
            "workspace.data_deleted",
            "member.added",
        ]


def test_change_password_and_sign_in_with_the_new_one() -> None:
    make_member(app_engine(), username="ada", role="viewer")
    at = signed_in_app("ada")
    at.switch_page("app_pages/settings.py").run()
    fields = {t.label: t for t in at.text_input}
    fields["Current password"].input("not-it")
    fields["New password"].input("N3wPassword")
    fields["New password again"].input("N3wPassword")
    next(b for b in at.button if b.label == "Change password").click().run()
    assert any("current password is not right" in e.value for e in at.error)

    fields = {t.label: t for t in at.text_input}
    fields["Current password"].input(PASSWORD)
    fields["New password"].input("N3wPassword")
    fields["New password again"].input("N3wPassword")
    next(b for b in at.button if b.label == "Change password").click().run()
    assert any(s.value.startswith("Password changed") for s in at.success)

    fresh = new_app().run()
    sign_in(fresh, "ada", PASSWORD)
    assert titles(fresh) == ["Sign in to meterr"]
    sign_in(fresh, "ada", "N3wPassword")
    assert titles(fresh) == ["Where does the money go?"]


def test_sign_out_returns_to_sign_in() -> None:
    make_member(app_engine(), username="ada", role="owner")
    at = signed_in_app("ada")
    at.button(key="sign_out_button").click().run()
    assert not at.exception
    assert titles(at) == ["Sign in to meterr"]


def test_a_user_removed_from_every_workspace_sees_why() -> None:
    engine = app_engine()
    with session_scope(engine) as session:
        queries.create_user(
            session, username="lone", email="lone@example.com", name="Lone", password=PASSWORD, rounds=4
        )
    at = signed_in_app("lone")
    assert not at.exception
    assert titles(at) == ["No workspace yet"]
    assert "not a member of any workspace" in at.sidebar.warning[0].value
    with pytest.raises(ValueError):
        at.switch_page("app_pages/overview.py")  # private pages are not even in the navigation


def test_admin_sets_the_workspace_timezone_and_name() -> None:
    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="admin")
    at = signed_in_app("ada")
    at.switch_page("app_pages/settings.py").run()
    next(t for t in at.text_input if t.label == "Workspace name").input("Acme Europe")
    next(s for s in at.selectbox if s.label == "Timezone").select("Europe/Berlin")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    with session_scope(engine) as session:
        workspace = queries.load_workspace_by_id(session, workspace_id=workspace_id)
        assert (workspace.name, workspace.timezone) == ("Acme Europe", "Europe/Berlin")
    assert at.session_state["_context"].workspace_timezone == "Europe/Berlin"


def test_unknown_timezones_are_refused(app_env) -> None:  # type: ignore[no-untyped-def]
    from core.security import InvalidInput

    engine = app_engine()
    workspace_id = make_member(engine, username="ada", role="owner")
    with pytest.raises(InvalidInput, match="not a timezone"), session_scope(engine) as session:
        queries.save_workspace_settings(session, workspace_id=workspace_id, name="X", timezone="Mars/Olympus")
