"""A CFO's share link in a browser: an owner creates it on Reports; a fresh browser with no cookies opens it,
sees the executive summary and the Overview, keeps the link across pages, and reaches nothing else."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from connectors.reporting import load_report_facts
from core import queries
from core.db import make_engine, session_scope, upgrade
from core.money import format_usd_short
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, LiveServer, settle, sign_in
from tests.browser.test_connect_journey import _assert_no_traceback
from tests.conftest import PASSWORD, load_demo, make_member

pytestmark = pytest.mark.browser


def test_a_share_link_opens_read_only_without_an_account(chromium: str, live_server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    today = dt.datetime.now(dt.UTC).date()
    engine = make_engine(live_server.database_url)
    upgrade(engine)
    workspace_id = make_member(engine, username="owner", role="owner")
    load_demo(engine, workspace_id, today)
    with session_scope(engine) as session:  # another workspace on the same server, which the link must not show
        queries.create_workspace(session, name="Globex Secret Projects")
        facts = load_report_facts(session, workspace_id=workspace_id, today=today)
    engine.dispose()
    total = format_usd_short(facts.total_micros)

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        owner = browser.new_page(viewport={"width": 1400, "height": 1600})
        sign_in(owner, live_server.url, "owner", PASSWORD)
        owner.get_by_role("link", name="Reports").click()
        settle(owner, timeout=90_000)
        expect(owner.get_by_role("heading", name="What do I tell the board?")).to_be_visible(timeout=60_000)
        owner.get_by_role("tab", name="Share with your CFO").click()
        owner.get_by_text("Overview and executive summary").click()
        owner.get_by_label("Label").fill("Board pack")
        owner.get_by_role("button", name="Create link").click()
        settle(owner, timeout=60_000)
        expect(owner.get_by_text("Link created")).to_be_visible(timeout=30_000)
        url = owner.locator("[data-testid='stCode'] code").first.inner_text().strip()
        assert url.startswith(f"{live_server.url.replace('127.0.0.1', 'localhost')}/?share=") or "?share=" in url
        token = url.split("?share=", 1)[1]
        shared_url = f"{live_server.url}/?share={token}"

        # A fresh context: no cookies, no session: the CFO's own browser.
        cfo = browser.new_context(viewport={"width": 1400, "height": 1600})
        assert cfo.cookies() == []
        page = cfo.new_page()
        started = time.perf_counter()
        page.goto(shared_url)
        expect(page.get_by_role("heading", name="Where does the money go?")).to_be_visible(timeout=60_000)
        first_render_s = time.perf_counter() - started
        settle(page, timeout=60_000)
        expect(page.get_by_text("Shared by").first).to_contain_text(facts.workspace_name)
        expect(page.get_by_role("link", name="Settings")).to_have_count(0)
        expect(page.get_by_role("link", name="Alerts")).to_have_count(0)
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

        # Page change inside the shared view keeps the token.
        started = time.perf_counter()
        page.get_by_role("link", name="Executive summary").click()
        expect(page.get_by_role("heading", name="Executive summary", exact=True)).to_be_visible(timeout=60_000)
        expect(page.get_by_text(total).first).to_be_visible(timeout=60_000)
        summary_render_s = time.perf_counter() - started
        settle(page, timeout=90_000)
        expect(page.get_by_role("button", name="Download PDF")).to_be_visible()
        assert f"share={token}" in page.url
        page.reload()
        settle(page, timeout=60_000)
        expect(page.get_by_role("heading", name="Executive summary", exact=True)).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "share-summary.png"), full_page=True)
        _assert_no_traceback(page)
        assert "Globex" not in page.content()

        # Settings is not reachable: not by its address with the token, nor without it (sign-in instead).
        page.goto(f"{live_server.url}/settings?share={token}")
        settle(page, timeout=60_000)
        expect(page.get_by_role("heading", name="Settings")).to_have_count(0)
        page.goto(f"{live_server.url}/settings")
        settle(page, timeout=60_000)
        expect(page.get_by_role("heading", name="Settings")).to_have_count(0)
        expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=30_000)

        # A tampered token reveals nothing, not even whose link it was.
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        page.goto(f"{live_server.url}/?share={tampered}")
        settle(page, timeout=60_000)
        expect(page.get_by_role("heading", name="This link is no longer valid")).to_be_visible(timeout=30_000)
        assert facts.workspace_name not in page.content() and "Globex" not in page.content()
        cfo.close()

        # The owner sees the opening.
        owner.reload()
        settle(owner, timeout=90_000)
        owner.get_by_role("tab", name="Share with your CFO").click()
        expect(owner.get_by_text("Board pack").first).to_be_visible(timeout=30_000)
        browser.close()
    timings = {"overview_first_render_s": round(first_render_s, 2), "summary_render_s": round(summary_render_s, 2)}
    (ARTIFACTS / "share-timing.json").write_text(json.dumps(timings))
