"""The ROI calculator in a browser: move a slider and see the scenario's cost and ROI change against today."""

from __future__ import annotations

import datetime as dt

import pytest

from core.money import format_usd_short
from insights import whatif
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, LiveServer, settle, sign_in
from tests.browser.test_connect_journey import _assert_no_traceback
from tests.conftest import PASSWORD, load_demo, make_member

pytestmark = pytest.mark.browser


def test_moving_the_price_slider_changes_cost_and_roi(chromium: str, live_server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    from core.db import make_engine, upgrade

    today = dt.datetime.now(dt.UTC).date()
    engine = make_engine(live_server.database_url)
    upgrade(engine)
    workspace_id = make_member(engine, username="cfo", role="owner")
    load_demo(engine, workspace_id, today)
    engine.dispose()

    # The page's numbers must be the what-if model's: the same baseline and lever, computed here first, so the
    # browser waits for exactly these figures instead of for "anything different" (a rerun can flicker).
    from core.db import session_scope
    from core.scenarios import load_whatif_aggregates
    from ui.profitability import baseline_range, format_roi

    baseline_engine = make_engine(live_server.database_url)
    start, end = baseline_range(today)  # the page's own window: the last 30 days up to today
    with session_scope(baseline_engine) as session:
        spend, outcomes = load_whatif_aggregates(session, workspace_id=workspace_id, start=start, end=end)
    baseline_engine.dispose()
    baseline = whatif.compute_baseline(spend, outcomes, on=today, days=30)
    before = whatif.compute_whatif(baseline, whatif.WhatIf())
    after = whatif.compute_whatif(baseline, whatif.WhatIf(price_change_pct=-10))
    cost_before, cost_after = (format_usd_short(r.scenario.cost_micros) for r in (before, after))
    roi_before, roi_after = (format_roi(r.scenario.roi) for r in (before, after))
    assert (cost_before, roi_before) != (cost_after, roi_after)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        sign_in(page, live_server.url, "cfo", PASSWORD)
        page.get_by_role("link", name="ROI calculator").click()
        settle(page)
        expect(page.get_by_role("heading", name="ROI calculator: what if…")).to_be_visible(timeout=30_000)
        scenario = page.get_by_test_id("stColumn").filter(has_text="With these changes").first
        roi_metric = scenario.get_by_test_id("stMetric").filter(has_text="ROI").first
        cost_metric = scenario.get_by_test_id("stMetric").filter(has_text="Monthly AI cost").first
        expect(cost_metric).to_contain_text(cost_before, timeout=30_000)
        expect(roi_metric).to_contain_text(roi_before, timeout=30_000)

        # Provider prices down 10%: two steps of 5% to the left with the keyboard, as a person can do too.
        slider = page.get_by_role("slider", name="Provider price change")
        assert slider.input_value() == "0"
        slider.focus()
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        settle(page)
        expect(slider).to_have_value("-10")
        settle(page)
        expect(cost_metric).to_contain_text(cost_after, timeout=30_000)
        expect(roi_metric).to_contain_text(roi_after, timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "roi-slider.png"), full_page=True)
        _assert_no_traceback(page)
        browser.close()
