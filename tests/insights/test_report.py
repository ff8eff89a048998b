"""The executive summary PDF: what it says (pdftotext), how its pages look (pdftoppm), and its fallbacks."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import plotly.graph_objects as go
import pytest
from PIL import Image, ImageStat
from sqlalchemy import Engine, text

from connectors.reporting import load_report_facts
from core import demo, queries
from core.db import make_engine, session_scope, upgrade
from core.money import format_percent, format_usd, format_usd_short
from insights import charts, report
from insights.facts import ReportFacts
from tests.conftest import IN_CI, TODAY

ROOT = Path(__file__).resolve().parents[2]
PARAGRAPHS = (
    "Acme AI spent less on claude-opus-4-1 this month — the code-assistant project moved work to cheaper models.",
    "Marketing is heading past its budget; Data Science is already over it. Savings of about $14k a month wait.",
)
INSIGHTS = (
    "Data Science has been over its $2,400 budget since Nov 17.",
    "Engineering's cost per code review fell 9.7% ($22.67 → $20.48).",
)
GENERATED = dt.datetime(2026, 11, 21, 7, 30, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Facts:
    november: ReportFacts  # the demo's month in progress
    october: ReportFacts  # a finished month
    plain: ReportFacts  # spend only: no budgets, no outcomes
    empty: ReportFacts  # no spend at all
    november_total: int  # SUM(amount_micros) over the charge table, by plain SQL
    october_1_20_total: int
    october_total: int
    september_total: int


def _charge_sum(engine: Engine, workspace_id: int, start: dt.date, end: dt.date) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT COALESCE(SUM(amount_micros), 0) FROM charge "
                    "WHERE workspace_id = :w AND day BETWEEN :start AND :end"
                ),
                {"w": workspace_id, "start": start.isoformat(), "end": end.isoformat()},
            ).scalar_one()
        )


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Facts]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('report') / 'report.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        acme = queries.create_workspace(session, name="Acme AI")
        plain = queries.create_workspace(session, name="Plain Co")
        empty = queries.create_workspace(session, name="Empty Co")
        assert acme.id is not None and plain.id is not None and empty.id is not None
        demo.load_demo(session, workspace_id=acme.id, today=TODAY)
        queries.upsert_charges(session, workspace_id=plain.id, rows=demo.build_demo_charges(TODAY))
        ids = acme.id, plain.id, empty.id
    with session_scope(engine) as session:
        loaded = Facts(
            november=load_report_facts(session, workspace_id=ids[0], today=TODAY),
            october=load_report_facts(session, workspace_id=ids[0], today=TODAY, period="2026-10"),
            plain=load_report_facts(session, workspace_id=ids[1], today=TODAY),
            empty=load_report_facts(session, workspace_id=ids[2], today=TODAY),
            november_total=_charge_sum(engine, ids[0], dt.date(2026, 11, 1), dt.date(2026, 11, 20)),
            october_1_20_total=_charge_sum(engine, ids[0], dt.date(2026, 10, 1), dt.date(2026, 10, 20)),
            october_total=_charge_sum(engine, ids[0], dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
            september_total=_charge_sum(engine, ids[0], dt.date(2026, 9, 1), dt.date(2026, 9, 30)),
        )
    yield loaded
    engine.dispose()


@pytest.fixture(scope="module")
def poppler() -> None:
    missing = [tool for tool in ("pdftotext", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        reason = f"poppler-utils is not installed ({', '.join(missing)} missing; apt-get install -y poppler-utils)"
        if IN_CI:
            pytest.fail(f"{reason} — PDF checks are mandatory when CI=true")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def chart_pngs(facts: Facts) -> Iterator[dict[str, bytes]]:
    from connectors import chart_images

    if not chart_images.chromium_available():
        reason = "Debian chromium is not installed (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"{reason} — chart export is mandatory when CI=true")
        pytest.skip(reason)
    images = chart_images.render_pngs(report.report_figures(facts.november))
    assert images is not None
    yield images
    chart_images.stop()


def _pdf(facts: ReportFacts, images: dict[str, bytes] | None = None, *, paper: report.Paper = "A4") -> bytes:
    return report.build_pdf(
        facts, paragraphs=PARAGRAPHS, insights=INSIGHTS, images=images, generated_at=GENERATED, paper=paper
    )


def _text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext reads it, whitespace collapsed (table cells may wrap)."""
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60)
    return " ".join(result.stdout.split())


def _pages(pdf: bytes, tmp_path: Path, dpi: int = 40) -> list[Image.Image]:
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), str(tmp_path / "page")], check=True, timeout=60)
    return [Image.open(page).convert("L") for page in sorted(tmp_path.glob("page-*.png"))]


def _assert_pages_look_printed(pages: list[Image.Image], *, size: tuple[int, int] = (331, 468)) -> None:
    """1–3 pages of the paper's size at 40 dpi, each with real content on it (not blank, not one flat colour)."""
    assert 1 <= len(pages) <= 3
    for page in pages:
        assert abs(page.width - size[0]) <= 2 and abs(page.height - size[1]) <= 2
        assert ImageStat.Stat(page).stddev[0] > 12
        darkest, _ = page.getextrema()
        assert isinstance(darkest, int) and darkest < 60  # dark text on it


def test_the_demo_summary_states_the_facts(facts: Facts, poppler: None, tmp_path: Path) -> None:
    november = facts.november
    assert november.total_micros == facts.november_total  # the facts agree with a plain SQL sum
    change = (Decimal(facts.november_total - facts.october_1_20_total) / Decimal(facts.october_1_20_total)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_EVEN
    )

    words = _text(_pdf(november), tmp_path)

    assert "Acme AI" in words
    assert "Executive summary — November 2026" in words
    assert "Month to date, through Nov 20 · compared with the same 20 days of October" in words
    assert "Generated Nov 21, 2026, 07:30 UTC" in words
    assert november.month_end is not None
    end = november.month_end
    # pdftotext reads the KPI row across: the four labels, the four figures, then the four notes.
    assert (
        "Spend, Nov 1–20 Change vs Oct 1–20 Forecast to Nov 30 Budgets at risk "
        f"{format_usd_short(facts.november_total)} {format_percent(change)} {format_usd_short(end.median)} 2 "
        f"month to date +{format_usd_short(facts.november_total - facts.october_1_20_total)} on "
        f"{format_usd_short(facts.october_1_20_total)} "
        f"80% range {format_usd_short(end.lower80)}–{format_usd_short(end.upper80)} of 3 budgets · 1 already over"
    ) in words
    for paragraph in PARAGRAPHS + INSIGHTS:
        assert paragraph in words
    assert "What changed" in words
    assert "Budgets at risk" in words
    for at_risk in ("Data Science", "Marketing"):
        row = next(b for b in november.budgets if b.label == at_risk)
        assert f"{at_risk} {format_usd(row.amount_micros, cents=False)}" in words
    assert "Over since Nov 17" in words and "Set to exceed on Nov 26" in words
    assert "1 other budget is on track." in words
    shortest = min(november.savings, key=lambda s: len(s.title))
    assert f"{shortest.title} {format_usd(shortest.monthly_saving_micros, cents=False)}" in words
    assert f"Total potential, all open recommendations {format_usd(november.savings_total_micros, cents=False)}" in (
        words
    )
    assert "Return on AI spend" in words and "Customer Support" in words
    assert "meterr · page 1 of 2" in words and "meterr · page 2 of 2" in words
    assert "Forecast ranges are 80% ranges" in words


def test_the_demo_summary_prints_on_two_pages(facts: Facts, poppler: None, tmp_path: Path) -> None:
    _assert_pages_look_printed(_pages(_pdf(facts.november), tmp_path))


def test_charts_are_images_when_chromium_drew_them(
    facts: Facts, chart_pngs: dict[str, bytes], poppler: None, tmp_path: Path
) -> None:
    pdf = _pdf(facts.november, chart_pngs)
    words = _text(pdf, tmp_path)

    assert pdf.count(b"/Subtype /Image") >= 2
    assert "Spend trend" in words and "Spend by department" in words
    assert "then the forecast to Nov 30" in words
    assert "vs week before" not in words and "share of the total" not in words  # no stand-in tables
    pages = _pages(pdf, tmp_path)
    _assert_pages_look_printed(pages)
    assert len(pages) == 2


def test_without_images_the_charts_become_tables(facts: Facts, poppler: None, tmp_path: Path) -> None:
    november = facts.november
    pdf = _pdf(november, None)
    words = _text(pdf, tmp_path)

    assert b"/Subtype /Image" not in pdf
    assert "Spend by department Nov 1–20, share of the total. Department Spend Share" in words
    for share in november.departments:
        assert f"{share.name} {format_usd(share.micros, cents=False)} {share.share * 100:.1f}%" in words
    assert "Engineering $13,929 54.5%" in words  # the demo's biggest department, by hand
    assert "Spend trend Spend per week over the 8 weeks to Nov 20" in words
    assert "Nov 14–20" in words and "Nov 21–30 (forecast)" in words
    _assert_pages_look_printed(_pages(pdf, tmp_path))


def test_a_broken_image_becomes_a_table(facts: Facts, poppler: None, tmp_path: Path) -> None:
    words = _text(_pdf(facts.november, {report.TREND_CHART: b"not a png", report.DEPARTMENT_CHART: b""}), tmp_path)
    assert "vs week before" in words and "share of the total" in words


def test_a_finished_month_has_no_forecast(facts: Facts, poppler: None, tmp_path: Path) -> None:
    october = facts.october
    assert october.total_micros == facts.october_total
    words = _text(_pdf(october), tmp_path)

    assert "Executive summary — October 2026" in words
    assert "Oct 1–31 · compared with September 2026" in words
    change = (Decimal(facts.october_total - facts.september_total) / Decimal(facts.september_total)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_EVEN
    )
    assert (
        "Spend, October 2026 Change vs September September 2026 Budgets over "
        f"{format_usd_short(facts.october_total)} {format_percent(change)} {format_usd_short(facts.september_total)} 2 "
        "the whole month"
    ) in words
    assert "the month before of 3 budgets" in words
    assert "Forecast to" not in words and "(forecast)" not in words and "Month to date" not in words
    assert "Marketing $7,100" in words and "Data Science $2,400" in words
    assert "1 other budget stayed within its amount." in words
    _assert_pages_look_printed(_pages(_pdf(october), tmp_path))


def test_a_workspace_without_budgets_or_outcomes_leaves_those_sections_out(
    facts: Facts, poppler: None, tmp_path: Path
) -> None:
    plain = facts.plain
    assert not plain.budgets and plain.roi is None and plain.has_spend
    pdf = report.build_pdf(plain, paragraphs=["Plain Co spent on AI."], insights=[], images=None)
    words = _text(pdf, tmp_path)

    assert "Plain Co" in words and "Plain Co spent on AI." in words
    assert "Budgets at risk" not in words and "Budgets over" not in words and "Budget for" not in words
    assert "Return on AI spend" not in words and "Outcomes" not in words
    assert "What changed" not in words  # no insights given, no heading
    assert "Spend by department" in words and "Recommendations" in words
    assert (
        "Spend, Nov 1–20 Change vs Oct 1–20 Forecast to Nov 30 Savings available "
        f"{format_usd_short(plain.total_micros)}"
    ) in words
    # What is left out is said, at the end.
    assert (
        "No budgets are set, so there is no budget section. "
        "No business outcomes are defined, so there is no return-on-investment section."
    ) in words
    _assert_pages_look_printed(_pages(pdf, tmp_path))


def test_a_workspace_without_spend_still_gets_a_page(facts: Facts, poppler: None, tmp_path: Path) -> None:
    empty = facts.empty
    assert not empty.has_spend
    pdf = report.build_pdf(empty, paragraphs=[], insights=[], images=None)
    words = _text(pdf, tmp_path)

    assert "Empty Co" in words and "Executive summary — November 2026" in words
    assert "Spend, Nov 1–20 Change vs Oct 1–20 $0 $0 month to date nothing spent then to compare with" in words
    assert "No AI spend was recorded in Nov 1–20 or in Oct 1–20." in words
    assert "Spend trend" not in words and "Spend by department" not in words and "Summary" not in words
    assert report.report_figures(empty) == {}
    pages = _pages(pdf, tmp_path)
    assert len(pages) == 1
    assert ImageStat.Stat(pages[0]).stddev[0] > 5  # the header band and KPI tiles, at least


def test_letter_paper(facts: Facts, poppler: None, tmp_path: Path) -> None:
    pdf = _pdf(facts.november, paper="Letter")
    assert b"/MediaBox [0 0 612.00 792.00]" in pdf
    _assert_pages_look_printed(_pages(pdf, tmp_path), size=(340, 440))


def test_without_a_unicode_font_the_text_is_plain(
    facts: Facts, poppler: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "FONT_DIRS", (tmp_path / "no-fonts",))
    words = _text(_pdf(facts.november), tmp_path)
    assert "Executive summary - November 2026" in words
    assert "($22.67 -> $20.48)" in words


def test_the_font_ships_with_the_code() -> None:
    fonts = ROOT / "assets" / "fonts"
    assert report.FONT_DIRS[0] == fonts
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        assert (fonts / name).read_bytes()[:4] == b"\x00\x01\x00\x00"  # a TrueType font, not an LFS pointer
    assert "Bitstream Vera" in (fonts / "LICENSE").read_text()


def test_the_same_facts_give_the_same_bytes(facts: Facts) -> None:
    assert _pdf(facts.october) == _pdf(facts.october)


def test_a_naive_generation_time_is_refused(facts: Facts) -> None:
    with pytest.raises(ValueError, match="time zone"):
        report.build_pdf(facts.october, paragraphs=[], insights=[], images=None, generated_at=dt.datetime(2026, 11, 21))


def test_the_trend_chart_shows_the_forecast_band_and_where_the_period_starts(facts: Facts) -> None:
    november = facts.november
    figure = charts.report_trend_chart(november)

    bars = [t for t in figure.data if isinstance(t, go.Bar)]
    assert len(bars) == 1 and len(bars[0].x) == 90
    assert bars[0].y[-1] == november.trend[-1][1] / 1_000_000
    band = [t for t in figure.data if isinstance(t, go.Scatter) and t.fill == "tonexty"]
    assert [t.name for t in band] == ["80% range"]
    median = next(t for t in figure.data if t.name == "Forecast")
    assert list(median.x) == [day for day, *_ in november.forecast]
    assert median.y[-1] == november.forecast[-1][1] / 1_000_000
    assert [shape.x0 for shape in figure.layout.shapes] == [dt.datetime(2026, 10, 31, 12)]
    assert figure.layout.annotations[0].text == "Nov 1"
    assert figure.layout.title.text is None and figure.layout.paper_bgcolor == "white"


def test_the_trend_chart_of_a_finished_month_has_no_forecast(facts: Facts) -> None:
    figure = charts.report_trend_chart(facts.october)
    assert [type(t).__name__ for t in figure.data] == ["Bar"]


def test_the_department_chart_puts_the_biggest_on_top(facts: Facts) -> None:
    november = facts.november
    figure = charts.report_department_chart(november)

    (bars,) = figure.data
    assert bars.orientation == "h"
    assert list(bars.y) == [s.name for s in reversed(november.departments)]  # plotly draws the last one on top
    assert bars.y[-1] == "Engineering"
    assert bars.text[-1] == f"{format_usd_short(november.departments[0].micros)}  ·  55%"
