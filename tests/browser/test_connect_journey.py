"""Connect data in the browser: upload a generic CSV, confirm the columns, import, and see it on the Overview."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, LiveServer, settle
from tests.conftest import PASSWORD, make_member

pytestmark = pytest.mark.browser
# What a Python error looks like when Streamlit shows it, or when it leaks into the page as text.
TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|\b\w+(Error|Exception): |File \"[^\"]+\.py\""
    r"|This app has encountered an error"
)


def _us(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def _spend_csv(today: dt.date) -> tuple[str, Decimal, int]:
    """A generic export with US dates, '$1,234.56' amounts and a '(2.00)' credit; its exact total and day span."""
    first, second, third = today - dt.timedelta(days=2), today - dt.timedelta(days=1), today
    text = (
        "Date,Vendor,Description,Amount\n"
        f'{_us(first)},OpenAI,API usage,"$1,234.56"\n'
        f"{_us(second)},Anthropic,Claude API,$310.25\n"
        f"{_us(second)},OpenAI,Refund credit,(2.00)\n"
        f"{_us(third)},Anthropic,Claude API,45.10\n"
    )
    total = Decimal("1234.56") + Decimal("310.25") - Decimal("2.00") + Decimal("45.10")  # 1587.91, by hand
    return text, total, 3


def _assert_no_traceback(page) -> None:  # type: ignore[no-untyped-def]
    assert page.locator('[data-testid="stException"]').count() == 0, "Streamlit showed an exception"
    body = page.locator("body").inner_text()
    assert not TRACEBACK.search(body), f"Python error text on the page: {TRACEBACK.search(body)}"


def test_upload_a_generic_csv_map_columns_import_and_see_it(
    chromium: str, live_server: LiveServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from core.db import make_engine, upgrade

    engine = make_engine(live_server.database_url)
    upgrade(engine)
    make_member(engine, username="ops", role="owner")
    engine.dispose()

    today = dt.datetime.now(dt.UTC).date()  # the workspace's timezone is UTC: the Overview's "today"
    text, total, days = _spend_csv(today)
    upload = tmp_path / "ai-spend.csv"
    upload.write_text(text)
    shown_total = f"${total:,.2f}"  # $1,587.91

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
        page.goto(live_server.url)
        settle(page)
        expect(page.get_by_role("heading", name="Sign in to meterr")).to_be_visible(timeout=30_000)
        page.get_by_label("Username", exact=True).fill("ops")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        settle(page)
        expect(page.get_by_role("heading", name="Where does the money go?")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("No spend yet in this workspace.")).to_be_visible()

        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Connect data").click()
        settle(page)
        expect(page.get_by_role("heading", name="Connect your data")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Any other CSV or JSON").click()
        settle(page)
        page.locator('[data-testid="stRadio"]').get_by_text("Upload an export file", exact=True).click()
        settle(page)
        page.get_by_role("button", name="Next").click()
        settle(page)

        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(upload))
        settle(page)
        expect(page.get_by_text("Confirm the columns.")).to_be_visible(timeout=30_000)
        # Format + the ten column pickers; Streamlit draws them lazily, so wait for all of them.
        expect(page.locator('[data-testid="stSelectbox"]')).to_have_count(11, timeout=30_000)
        guessed = {
            "Format": "Detect from the content", "Date": "Date", "Amount": "Amount", "Vendor / provider": "Vendor",
            "Description": "Description", "Dates are written": "03/31/2026 (US)", "Model": "(none)",
            "Currency": "(none)", "Department / team": "(none)", "Project": "(none)", "Customer": "(none)",
        }  # fmt: skip
        for label, value in guessed.items():
            expect(page.get_by_role("combobox", name=label, exact=True)).to_have_value(value)
        expect(page.get_by_role("checkbox", name="Amounts use a decimal comma (1.234,56)")).not_to_be_checked()
        preview = page.locator('[data-testid="stAlertContentSuccess"]')
        expect(preview).to_contain_text(
            f"Any CSV or JSON (date and amount columns): 4 rows → 4 daily charges, {shown_total} "
            f"({today - dt.timedelta(days=2):%d %b %Y} – {today:%d %b %Y})."
        )
        _assert_no_traceback(page)
        page.screenshot(path=str(ARTIFACTS / "connect-mapping.png"), full_page=True)

        page.get_by_role("button", name="Import").click()
        settle(page)
        imported = f"Imported {shown_total} across {days} days from Any CSV or JSON (date and amount columns)."
        expect(page.locator('[data-testid="stAlertContentSuccess"]').get_by_text(imported, exact=True)).to_be_visible(
            timeout=30_000
        )
        expect(page.get_by_text("4 rows read → 4 new charges, 0 revised, 0 already there.")).to_be_visible()
        expect(page.get_by_text("Any other CSV or JSON exports")).to_be_visible()  # the new connection
        _assert_no_traceback(page)
        page.screenshot(path=str(ARTIFACTS / "connect-result.png"), full_page=True)

        page.get_by_role("link", name="See it on the Overview").click()
        settle(page)
        expect(page.get_by_role("heading", name="Where does the money go?")).to_be_visible(timeout=30_000)
        expect(page.get_by_text(f"Exactly {shown_total}.", exact=True)).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first).to_be_visible()
        page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()  # Provider filter
        for provider in ("Anthropic", "OpenAI"):
            expect(page.get_by_role("option", name=provider, exact=True)).to_be_visible()
        page.keyboard.press("Escape")
        settle(page)
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download CSV").click()
        target = tmp_path / "drilldown.csv"
        download_info.value.save_as(target)
        by_provider: dict[str, Decimal] = {}
        for row in csv.DictReader(io.StringIO(target.read_text())):
            by_provider[row["provider"]] = by_provider.get(row["provider"], Decimal(0)) + Decimal(row["amount_usd"])
        # By hand from the CSV: OpenAI 1234.56 - 2.00, Anthropic 310.25 + 45.10.
        assert by_provider == {"OpenAI": Decimal("1232.56"), "Anthropic": Decimal("355.35")}
        _assert_no_traceback(page)
        page.set_viewport_size({"width": 1400, "height": 4000})  # Streamlit scrolls inside its own container
        settle(page)
        page.wait_for_timeout(500)  # let plotly finish drawing after the resize
        page.screenshot(path=str(ARTIFACTS / "connect-overview.png"))
        browser.close()
