"""Journeys a person takes, in Debian's headless Chromium against `streamlit run server.py`."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, LiveServer, settle

pytestmark = pytest.mark.browser
PASSWORD = "Sup3rSecret"


def test_first_visit_to_demo_overview_filter_and_csv(chromium: str, live_server: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(live_server.url)
        settle(page)
        expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()

        for label, value in [
            ("Company or team name", "Acme Browser"), ("Your name", "Ada Lovelace"),
            ("Work email", "ada@example.com"), ("Username", "ada"), ("Password", PASSWORD),
            ("Confirm password", PASSWORD),
        ]:  # fmt: skip
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_role("button", name="Create workspace").click()
        settle(page)
        expect(page.get_by_role("heading", name="Welcome to meterr, Ada")).to_be_visible(timeout=30_000)

        page.get_by_role("button", name="Load demo data").click()
        settle(page, timeout=60_000)
        expect(page.get_by_role("heading", name="Where does the money go?")).to_be_visible(timeout=30_000)
        metrics = page.locator('[data-testid="stMetric"]')
        expect(metrics).to_have_count(4, timeout=60_000)  # the first Overview on fresh data computes everything
        expect(metrics.first).to_contain_text("This month so far")
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        # The page draws as it runs (the insights feed takes a moment on fresh data): wait for the later charts.
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=60_000)
        settle(page, timeout=60_000)
        page.set_viewport_size({"width": 1400, "height": 4000})  # Streamlit scrolls inside its own container
        settle(page)
        page.wait_for_timeout(500)  # let plotly finish drawing after the resize
        page.screenshot(path=str(ARTIFACTS / "overview.png"))
        page.set_viewport_size({"width": 1400, "height": 1000})
        settle(page)

        exact = page.get_by_text(re.compile(r"^Exactly \$[\d,]+\.\d\d\.$")).first
        everything = exact.inner_text()
        page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
        page.get_by_role("option", name="Anthropic").click()
        page.keyboard.press("Escape")
        settle(page)
        expect(exact).not_to_have_text(everything)
        filtered = exact.inner_text()
        page.screenshot(path=str(ARTIFACTS / "overview-anthropic.png"), full_page=True)

        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download CSV").click()
        target = tmp_path / "drilldown.csv"
        download_info.value.save_as(target)
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        assert rows and set(rows[0]) >= {"provider", "model", "amount_usd"}
        assert {r["provider"] for r in rows} == {"Anthropic"}
        total = sum(Decimal(r["amount_usd"]) for r in rows)
        shown = Decimal(filtered.removeprefix("Exactly $").rstrip(".").replace(",", ""))
        assert total.quantize(Decimal("0.01")) == shown
        browser.close()


def test_sign_in_survives_a_reload_and_sign_out_sticks(chromium: str, live_server: LiveServer) -> None:
    """The sign-in cookie: a reload keeps you signed in; after signing out a reload does not sign you back in."""
    from playwright.sync_api import expect, sync_playwright

    from core import queries
    from core.db import make_engine, session_scope, upgrade

    engine = make_engine(live_server.database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Reload Co")
        user = queries.create_user(
            session, username="cfo", email="cfo@example.com", name="Casey", password=PASSWORD, rounds=4
        )
        assert workspace.id and user.id
        queries.add_member(session, workspace_id=workspace.id, user_id=user.id, role="viewer")
    engine.dispose()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(live_server.url)
        settle(page)
        expect(page.get_by_role("heading", name="Sign in to meterr")).to_be_visible(timeout=30_000)
        page.get_by_label("Username", exact=True).fill("cfo")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        settle(page)
        expect(page.get_by_role("heading", name="Where does the money go?")).to_be_visible(timeout=30_000)
        page.wait_for_function("document.cookie.includes('meterr_auth')", timeout=10_000)

        page.reload()
        settle(page)
        expect(page.get_by_role("heading", name="Where does the money go?")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Signed in as")).to_be_visible()

        page.get_by_role("button", name="Sign out").click()
        settle(page)
        expect(page.get_by_role("heading", name="Sign in to meterr")).to_be_visible(timeout=30_000)
        page.wait_for_function("!document.cookie.includes('meterr_auth')", timeout=10_000)
        page.reload()
        settle(page)
        expect(page.get_by_role("heading", name="Sign in to meterr")).to_be_visible(timeout=30_000)
        browser.close()
