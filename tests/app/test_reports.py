"""AppTest: the Reports page on the demo: the executive summary's figures match plain SQL, another month can be
chosen, the PDF is offered; Overview shows the insights feed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core.money import format_usd, format_usd_short
from insights.facts import parse_period
from tests.app.conftest import open_demo_page
from tests.conftest import app_engine

PAGE = "app_pages/reports.py"


def sql_total(workspace_id: int, start: dt.date, end: dt.date) -> int:
    sql = "SELECT COALESCE(SUM(amount_micros), 0) FROM charge WHERE workspace_id = :w AND day >= :s AND day <= :e"
    with app_engine().connect() as connection:
        params = {"w": workspace_id, "s": start.isoformat(), "e": end.isoformat()}
        return int(connection.execute(text(sql), params).scalar_one())


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def shown_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_the_summary_states_the_months_spend_and_offers_the_pdf() -> None:
    at, workspace_id, today = open_demo_page(PAGE, "What do I tell the board?")
    period = parse_period(None, today=today)
    total = sql_total(workspace_id, period.start, period.end)
    previous = sql_total(workspace_id, period.previous_start, period.previous_end)
    assert metric(at, "Spend, month to date") == format_usd_short(total)
    assert metric(at, f"{period.previous_start:%B}, same days") == format_usd_short(previous)
    # The narrative, written from the facts (no LLM is configured in tests), states the exact dollars.
    assert format_usd(total, cents=False).replace("$", "\\$") in shown_text(at)
    assert any(s.value == "What changed" for s in at.subheader)
    assert "Written by meterr from the computed figures." in [c.value for c in at.caption]
    assert [b.proto.label for b in at.get("download_button")] == ["Download PDF"]
    budgets = next(d.value for d in at.dataframe if "Budget" in d.value.columns)
    assert set(budgets["Budget"]) == {"Data Science", "Marketing"}  # the demo's two budgets in trouble


def test_choosing_a_finished_month_reports_that_month_against_the_one_before() -> None:
    at, workspace_id, today = open_demo_page(PAGE, "What do I tell the board?")
    current = parse_period(None, today=today).month
    before = parse_period(f"{(current - dt.timedelta(days=1)):%Y-%m}", today=today)
    at.selectbox(key="report_period").set_value(before.key).run()
    assert not at.exception, at.exception
    assert metric(at, f"Spend in {before.month:%B}") == format_usd_short(
        sql_total(workspace_id, before.start, before.end)
    )
    assert metric(at, f"{before.previous_start:%B %Y}") == format_usd_short(
        sql_total(workspace_id, before.previous_start, before.previous_end)
    )
    assert "Month-end forecast" not in [m.label for m in at.metric]


def test_overview_shows_what_changed() -> None:
    at, _, _ = open_demo_page("app_pages/overview.py", "Where does the money go?")
    assert any(s.value == "What changed" for s in at.subheader)
    feed = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert feed and 3 <= feed[0].count("\n- ") + 1 <= 6


def test_names_from_settings_or_imports_cannot_format_or_link() -> None:
    from markdown_it import MarkdownIt

    from ui.widgets import plain

    hostile = "Acme [click here](http://evil.example) **$5** :red[alarm] <b>x</b> a_b"
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(plain(hostile))
    assert "<a " not in rendered and "<strong>" not in rendered and "<em>" not in rendered
    assert "[click here](http://evil.example)" in rendered and "$5" in rendered and "&lt;b&gt;x&lt;/b&gt;" in rendered
