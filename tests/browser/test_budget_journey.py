"""Forecast & budgets in a browser: create a Sales budget and see when it is projected to be exceeded."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors import alerting
from core.db import make_engine, session_scope, upgrade
from core.money import format_usd
from insights import outlook
from insights.forecast import Scope
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, LiveServer, settle, sign_in
from tests.browser.test_connect_journey import _assert_no_traceback
from tests.conftest import PASSWORD, load_demo, make_member

pytestmark = pytest.mark.browser


def _outlook(database_url: str, workspace_id: int, today: dt.date) -> outlook.Outlook:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        view = alerting.load_outlook(session, workspace_id=workspace_id, today=today)
    engine.dispose()
    return view


def test_create_a_budget_and_see_its_projected_exceed_date(chromium: str, live_server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    today = dt.datetime.now(dt.UTC).date()
    engine = make_engine(live_server.database_url)
    upgrade(engine)
    workspace_id = make_member(engine, username="cfo", role="owner")
    load_demo(engine, workspace_id, today)
    engine.dispose()
    # A Sales budget half way between what Sales has spent this month and its forecast month end: an overrun.
    sales = _outlook(live_server.database_url, workspace_id, today).scopes[Scope("department", "Sales")]
    dollars = (sales.realised_micros + (sales.month_end.median - sales.realised_micros) // 2) // 1_000_000

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        sign_in(page, live_server.url, "cfo", PASSWORD)
        page.get_by_role("link", name="Forecast & budgets").click()
        settle(page, timeout=60_000)
        heading = "What will it cost, and will we stay within budget?"
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=60_000)
        page.get_by_text("Add a budget").click()
        settle(page)
        department = page.get_by_label("Department", exact=True)
        expect(department).to_be_visible(timeout=30_000)
        # Type to filter, as a person does; the click can land while the expander is still opening, so retry it.
        sales = page.get_by_role("option", name="Sales", exact=True)
        for _ in range(5):
            department.click()
            department.fill("Sales")
            try:
                expect(sales).to_be_visible(timeout=5_000)
                break
            except AssertionError:
                page.keyboard.press("Escape")
        sales.click()
        settle(page)
        amount = page.get_by_label("Monthly amount (USD)")
        amount.fill(str(dollars))
        amount.press("Enter")
        settle(page)
        page.get_by_role("button", name="Save budget").click()
        settle(page, timeout=60_000)
        expect(page.get_by_text("Budget saved for Sales.")).to_be_visible(timeout=30_000)

        view = _outlook(live_server.database_url, workspace_id, today)
        status = next(s for s in view.budgets if s.spec.scope_value == "Sales")
        assert status.spec.amount_micros == dollars * 1_000_000
        assert status.state == "overrun_predicted" and status.exceed_date is not None
        card = page.locator(f".st-key-budget_card_{status.spec.id}")
        expect(card).to_contain_text(status.sentence, timeout=30_000)
        expect(card).to_contain_text(f"on {status.exceed_date:%b} {status.exceed_date.day}")
        expect(card).to_contain_text(f"{format_usd(dollars * 1_000_000, cents=False)} a month")
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "budget-exceed-date.png"), full_page=True)
        _assert_no_traceback(page)
        browser.close()
