"""The executive summary as a PDF (fpdf2): a header band, the KPI row, the narrative, what changed, the spend
trend with its forecast, spend by department, budgets at risk, recommendations and return on AI spend.

Pure: facts, words and chart images in, bytes out; the only file read is the bundled DejaVu font (for —, →, ×).
Without chart images (no Chromium) the trend and the departments come out as tables, so a report never waits
on a browser. A section without data is left out.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from fpdf import FPDF, FontFace, XPos, YPos

from core.money import format_percent, format_usd, format_usd_short
from insights.facts import BudgetFact, ReportFacts

if TYPE_CHECKING:
    import plotly.graph_objects as go

TREND_CHART = "trend"  # keys of the images: insights.charts.report_trend_chart
DEPARTMENT_CHART = "departments"  # and report_department_chart
FONT_DIRS = (
    Path(__file__).resolve().parents[1] / "assets" / "fonts",  # vendored, so a fresh machine has it
    Path("/usr/share/fonts/truetype/dejavu"),
)
Paper = Literal["A4", "Letter"]

MARGIN = 15.0  # mm
_TEXT_PT, _TEXT_LINE = 9.5, 4.7
INK = (15, 23, 42)  # slate-900
TEXT = (30, 41, 59)  # slate-800
MUTED = (100, 116, 139)  # slate-500
RULE = (226, 232, 240)  # slate-200
TILE = (248, 250, 252)  # slate-50
BAND = (30, 27, 75)  # indigo-950
ACCENT = (79, 70, 229)  # the charts' indigo
PALE_ACCENT = (199, 210, 254)
HEAD_FILL = (238, 242, 255)
BAD = (185, 28, 28)
GOOD = (4, 120, 87)
WEEKS = 8  # the trend table's rows when there is no chart
# What the core PDF fonts can't show, for the machine with neither the vendored nor the system DejaVu.
_LATIN1 = str.maketrans({"—": "-", "–": "-", "→": "->", "×": "x", "≈": "~", "•": "-", "’": "'", "“": '"', "”": '"'})


@dataclass(frozen=True)
class _Kpi:
    label: str
    value: str
    sub: str
    colour: tuple[int, int, int] = INK


@dataclass(frozen=True)
class _Section:
    draw: Callable[[_Document], None]
    floats: bool = False  # a chart (or the table standing in for it): may wait for the next page's top


def report_figures(facts: ReportFacts) -> dict[str, go.Figure]:
    """The figures whose PNGs `build_pdf` places, by the keys it looks for (empty without spend)."""
    from insights import charts

    if not facts.has_spend:
        return {}
    figures = {TREND_CHART: charts.report_trend_chart(facts)}
    if facts.departments:
        figures[DEPARTMENT_CHART] = charts.report_department_chart(facts)
    return figures


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _days(start: dt.date, end: dt.date) -> str:
    """ "Nov 1–20", "Oct 28 – Nov 3", "Nov 1"."""
    if start == end:
        return _day(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{_day(start)}–{end.day}"
    return f"{_day(start)} – {_day(end)}"


def _signed(micros: int) -> str:
    return f"+{format_usd_short(micros)}" if micros > 0 else format_usd_short(micros)


def _roi(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{(value * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN):,}%"


def _whole(micros: int) -> str:
    return format_usd(micros, cents=False)


class _Document(FPDF):
    """fpdf2 with meterr's header band, running header and footer."""

    def __init__(
        self, *, paper: Paper | tuple[float, float], title: str, subtitle: str, workspace: str, generated: str
    ) -> None:
        super().__init__(orientation="portrait", unit="mm", format=paper.lower() if isinstance(paper, str) else paper)
        self.report_title, self.subtitle, self.workspace, self.generated = title, subtitle, workspace, generated
        self.measuring = not isinstance(paper, str)  # a scratch page as tall as any section, to measure them
        self.content_top = MARGIN
        self.unicode = self._add_fonts()
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(f"{workspace} · {title}")
        self.set_author("meterr")
        self.set_creator("meterr")

    def _add_fonts(self) -> bool:
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.is_file() and bold.is_file():
                self.add_font("DejaVu", "", str(regular))
                self.add_font("DejaVu", "B", str(bold))
                return True
        return False

    def text_of(self, text: str) -> str:
        if self.unicode:
            return text
        return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    def style(self, size: float, *, bold: bool = False, colour: tuple[int, int, int] = TEXT) -> None:
        self.set_font("DejaVu" if self.unicode else "Helvetica", "B" if bold else "", size)
        self.set_text_color(*colour)

    def line_at(self, x: float, y: float, text: str, *, w: float = 0, align: str = "L", h: float = 5) -> None:
        self.set_xy(x, y)
        self.cell(w, h, self.text_of(text), align=align)

    def header(self) -> None:
        if self.measuring:
            return
        if self.page_no() == 1:
            self._band()
            return
        self.style(8, colour=MUTED)
        self.line_at(MARGIN, 7, f"{self.workspace} · {self.report_title}", w=self.epw)
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(MARGIN, 12.5, self.w - MARGIN, 12.5)
        self.set_y(16)
        self.content_top = self.get_y()

    def _band(self) -> None:
        height = 32.0
        self.set_fill_color(*BAND)
        self.rect(0, 0, self.w, height, style="F")
        self.set_fill_color(*ACCENT)
        self.rect(0, height, self.w, 1.2, style="F")
        self.style(9, bold=True, colour=PALE_ACCENT)
        self.line_at(MARGIN, 8, self.workspace, w=self.epw * 0.6)
        self.style(8, colour=PALE_ACCENT)
        self.line_at(MARGIN, 8, self.generated, w=self.epw, align="R")
        self.style(19, bold=True, colour=(255, 255, 255))
        self.line_at(MARGIN, 13, self.report_title, w=self.epw, h=9)
        self.style(9.5, colour=(224, 231, 255))
        self.line_at(MARGIN, 23, self.subtitle, w=self.epw)
        self.set_y(height + 7)
        self.content_top = self.get_y()

    def footer(self) -> None:
        if self.measuring:
            return
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(MARGIN, self.h - 13, self.w - MARGIN, self.h - 13)
        self.style(7.5, colour=MUTED)
        note = "Amounts in US dollars. Forecast ranges are 80% ranges: 8 times in 10 the outcome falls inside."
        self.line_at(MARGIN, self.h - 11.5, note, w=self.epw * 0.78)
        self.line_at(MARGIN, self.h - 11.5, f"meterr · page {self.page_no()} of {{nb}}", w=self.epw, align="R")

    def room(self) -> float:
        """Millimetres left on this page above the bottom margin."""
        return self.page_break_trigger - self.get_y()

    def need(self, height: float) -> None:
        """A new page unless ``height`` more fits on this one."""
        if height > self.room():
            self.add_page()


def _heading(pdf: _Document, title: str, caption: str = "") -> None:
    """A section title with an accent rule (and a caption), spaced from what is above it on the page."""
    if pdf.measuring or pdf.get_y() > pdf.content_top + 0.5:
        pdf.ln(3)
    pdf.style(12.5, bold=True, colour=INK)
    pdf.cell(0, 7, pdf.text_of(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(MARGIN, y, 10, 0.7, style="F")
    pdf.set_y(y + 2)
    if caption:
        pdf.style(8.5, colour=MUTED)
        pdf.multi_cell(0, 4.2, pdf.text_of(caption), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)


def _kpis(facts: ReportFacts) -> list[_Kpi]:
    period = facts.period
    if period.partial:
        spent = _Kpi(f"Spend, {_days(period.start, period.end)}", format_usd_short(facts.total_micros), "month to date")
    else:
        spent = _Kpi(f"Spend, {period.label}", format_usd_short(facts.total_micros), "the whole month")
    compared = _days(period.previous_start, period.previous_end) if period.partial else f"{period.previous_start:%B}"
    if facts.change is None:
        change = _Kpi(f"Change vs {compared}", _signed(facts.change_micros), "nothing spent then to compare with")
    else:
        change = _Kpi(
            f"Change vs {compared}",
            format_percent(facts.change),
            f"{_signed(facts.change_micros)} on {format_usd_short(facts.previous_total_micros)}",
            BAD if facts.change_micros > 0 else GOOD,
        )
    tiles = [spent, change]
    if facts.month_end is not None and facts.has_spend:
        end = facts.month_end
        tiles.append(
            _Kpi(
                f"Forecast to {_day(period.month_end)}",
                format_usd_short(end.median),
                f"80% range {format_usd_short(end.lower80)}–{format_usd_short(end.upper80)}",
            )
        )
    elif not period.partial:
        tiles.append(
            _Kpi(f"{period.previous_start:%B %Y}", format_usd_short(facts.previous_total_micros), "the month before")
        )
    if facts.budgets:
        risky = facts.budgets_at_risk
        over = sum(b.state == "over" for b in risky)
        sub = f"of {len(facts.budgets)} budget{'s' if len(facts.budgets) != 1 else ''}"
        if period.partial and over:
            sub += f" · {over} already over"
        label = "Budgets at risk" if period.partial else "Budgets over"
        tiles.append(_Kpi(label, str(len(risky)), sub, BAD if risky else GOOD))
    elif facts.roi is not None:
        roi = facts.roi
        sub = f"{format_usd_short(roi.value_micros)} value on {format_usd_short(roi.cost_micros)}"
        tiles.append(_Kpi("Return on AI spend", _roi(roi.roi), sub, GOOD if roi.net_micros >= 0 else BAD))
    elif facts.savings_total_micros > 0:
        tiles.append(_Kpi("Savings available", format_usd_short(facts.savings_total_micros), "a month"))
    return tiles


def _kpi_row(pdf: _Document, tiles: Sequence[_Kpi]) -> None:
    gap, height = 4.0, 24.0
    width = (pdf.epw - gap * (len(tiles) - 1)) / len(tiles)
    top = pdf.get_y()
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.25)
    for i, tile in enumerate(tiles):
        x = MARGIN + i * (width + gap)
        pdf.set_fill_color(*TILE)
        pdf.rect(x, top, width, height, style="DF", round_corners=True, corner_radius=1.8)
        pdf.set_fill_color(*tile.colour)
        pdf.rect(x, top + 3, 0.9, height - 6, style="F")
        pdf.style(7.5, colour=MUTED)
        pdf.line_at(x + 4, top + 2.5, tile.label, w=width - 6, h=4)
        pdf.style(17, bold=True, colour=tile.colour)
        pdf.line_at(x + 4, top + 8, tile.value, w=width - 6, h=9)
        pdf.style(7.5, colour=MUTED)
        pdf.set_xy(x + 4, top + 17)
        pdf.multi_cell(width - 6, 3.4, pdf.text_of(tile.sub), align="L")
    pdf.set_xy(MARGIN, top + height + 3)


def _paragraphs(pdf: _Document, paragraphs: Sequence[str]) -> None:
    texts = [p.strip() for p in paragraphs if p.strip()]
    if not texts:
        return
    _heading(pdf, "Summary")
    pdf.style(_TEXT_PT, colour=TEXT)
    for text in texts:
        pdf.multi_cell(0, _TEXT_LINE, pdf.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.6)


def _bullets(pdf: _Document, title: str, items: Sequence[str]) -> None:
    texts = [i.strip() for i in items if i.strip()]
    if not texts:
        return
    _heading(pdf, title)
    for text in texts:
        pdf.style(_TEXT_PT, colour=TEXT)
        lines = cast(
            list[str], pdf.multi_cell(pdf.epw - 6, _TEXT_LINE, pdf.text_of(text), dry_run=True, output="LINES")
        )
        pdf.need(_TEXT_LINE * len(lines) + 1)  # a bullet is not split across pages
        y = pdf.get_y()
        pdf.set_fill_color(*ACCENT)
        pdf.rect(MARGIN + 1, y + 1.7, 1.4, 1.4, style="F")
        pdf.set_xy(MARGIN + 6, y)
        pdf.multi_cell(pdf.epw - 6, _TEXT_LINE, pdf.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)


def _is_png(data: bytes) -> bool:
    """A PNG with a size (anything else in ``images`` is ignored, so that chart becomes a table)."""
    return len(data) > 24 and data[:8] == b"\x89PNG\r\n\x1a\n" and min(_png_size(data)) > 0


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _image(pdf: _Document, png: bytes) -> None:
    """The chart across the page."""
    pixels_w, pixels_h = _png_size(png)
    height = pdf.epw * pixels_h / pixels_w
    y = pdf.get_y()
    if not pdf.measuring:
        pdf.image(io.BytesIO(png), x=MARGIN, y=y, w=pdf.epw, h=height)
    pdf.set_y(y + height + 2)


_BODY_PT, _HEAD_PT, _LINE, _PAD = 9.0, 8.5, 4.2, 1.0


def _table(
    pdf: _Document,
    rows: Sequence[Sequence[str]],
    *,
    widths: Sequence[float],
    align: Sequence[str],
    bold_last: bool = False,
    colours: Mapping[tuple[int, int], tuple[int, int, int]] | None = None,
) -> None:
    """A header row and body rows, numbers right-aligned, light rules between rows."""
    pdf.style(_BODY_PT, colour=TEXT)
    pdf.set_fill_color(255, 255, 255)  # the table starts from the current style, fill colour included
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    heading = FontFace(emphasis="BOLD", color=ACCENT, fill_color=HEAD_FILL, size_pt=_HEAD_PT)
    with pdf.table(
        col_widths=tuple(widths),
        text_align=tuple(align),
        headings_style=heading,
        borders_layout="HORIZONTAL_LINES",
        cell_fill_color=TILE,
        cell_fill_mode="EVEN_ROWS",
        line_height=_LINE,
        padding=(_PAD, 2, _PAD, 2),
        width=pdf.epw,
    ) as table:
        for r, values in enumerate(rows):
            row = table.row()
            last = bold_last and r == len(rows) - 1
            for c, value in enumerate(values):
                colour = (colours or {}).get((r, c))
                style = FontFace(emphasis="BOLD" if last else None, color=colour) if last or colour else None
                row.cell(pdf.text_of(value), style=style)
    pdf.ln(2)


def _note(pdf: _Document, text: str, *, colour: tuple[int, int, int] = MUTED, size: float = 8.5) -> None:
    pdf.style(size, colour=colour)
    pdf.multi_cell(0, 4.4, pdf.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _weekly(facts: ReportFacts) -> list[tuple[dt.date, dt.date, int]]:
    """The trend's last WEEKS seven-day spans, ending on the period's last day, oldest first."""
    trend = list(facts.trend)
    spans: list[tuple[dt.date, dt.date, int]] = []
    for end in range(len(trend), 0, -7):
        days = trend[max(0, end - 7) : end]
        if len(days) < 7 or len(spans) == WEEKS:
            break
        spans.append((days[0][0], days[-1][0], sum(micros for _, micros in days)))
    return spans[::-1]


def _trend_section(pdf: _Document, facts: ReportFacts, image: bytes | None) -> None:
    period = facts.period
    if image is not None:
        caption = f"Spend per day over the 90 days to {_day(period.end)}, {period.month:%B} in dark blue"
        if facts.forecast:
            caption += f", then the forecast to {_day(facts.forecast[-1][0])}"
        _heading(pdf, "Spend trend", caption + ".")
        _image(pdf, image)
        return
    weeks = _weekly(facts)
    if not weeks:
        return
    rows = [["Week", "Spend", "Per day", "vs week before"]]
    for i, (start, end, micros) in enumerate(weeks):
        before = weeks[i - 1][2] if i else 0
        change = format_percent(Decimal(micros - before) / Decimal(before)) if i and before > 0 else ""
        rows.append([_days(start, end), format_usd_short(micros), format_usd_short(micros // 7), change])
    if facts.month_end is not None and facts.forecast:
        # The month-end range less what is spent already: the rest of the month, with the same 80% range.
        median, low, high = (v - facts.total_micros for v in (facts.month_end.median, facts.month_end.lower80,
                                                              facts.month_end.upper80))  # fmt: skip
        rows.append(
            [
                f"{_days(facts.forecast[0][0], facts.forecast[-1][0])} (forecast)",
                format_usd_short(median),
                format_usd_short(median // len(facts.forecast)),
                f"80% range {format_usd_short(low)}–{format_usd_short(high)}",
            ]
        )
    widths = (3, 2, 2, 3)
    caption = f"Spend per week over the {len(weeks)} weeks to {_day(period.end)}"
    if facts.forecast:
        caption += f", and the forecast for the rest of {period.month:%B}"
    _heading(pdf, "Spend trend", caption + ".")
    _table(pdf, rows, widths=widths, align=("LEFT", "RIGHT", "RIGHT", "RIGHT"))


def _department_section(pdf: _Document, facts: ReportFacts, image: bytes | None) -> None:
    if not facts.departments:
        return
    period = facts.period
    if image is not None:
        _heading(pdf, "Spend by department")
        _image(pdf, image)
        return
    rows = [["Department", "Spend", "Share"]]
    rows += [[s.name, _whole(s.micros), f"{s.share * 100:.1f}%"] for s in facts.departments]
    widths = (5, 2, 1.5)
    _heading(pdf, "Spend by department", f"{_days(period.start, period.end)}, share of the total.")
    _table(pdf, rows, widths=widths, align=("LEFT", "RIGHT", "RIGHT"))


def _budget_status(budget: BudgetFact) -> str:
    if budget.state == "over":
        return f"Over since {_day(budget.exceed_date)}" if budget.exceed_date else "Over"
    if budget.state == "overrun_predicted":
        return f"Set to exceed on {_day(budget.exceed_date)}" if budget.exceed_date else "Set to exceed"
    if budget.state == "at_risk":
        return "At risk" + (f", around {_day(budget.exceed_date)}" if budget.exceed_date else "")
    return "On track"


def _budget_section(pdf: _Document, facts: ReportFacts) -> None:
    if not facts.budgets:
        return
    risky = facts.budgets_at_risk
    partial = facts.period.partial
    if not risky:
        _heading(pdf, "Budgets")
        count = len(facts.budgets)
        if partial:
            text = f"All {count} budgets are on track." if count > 1 else "The budget is on track."
        else:
            text = f"All {count} budgets stayed within their amounts." if count > 1 else "The budget was kept."
        _note(pdf, text, colour=GOOD, size=10)
        return
    colours = {}
    if partial:
        rows = [["Budget for", "Amount", "Spent so far", "Projected month end", "Status"]]
        for r, b in enumerate(risky, start=1):
            projected = ""
            if b.projected is not None:
                p = b.projected
                projected = f"{_whole(p.median)} ({format_usd_short(p.lower80)}–{format_usd_short(p.upper80)})"
            rows.append([b.label, _whole(b.amount_micros), _whole(b.spent_micros), projected, _budget_status(b)])
            colours[(r, 4)] = BAD
        widths: tuple[float, ...] = (2.9, 1.6, 1.9, 3.5, 3.6)
    else:
        rows = [["Budget for", "Amount", "Spent", "Over by", "Used"]]
        for r, b in enumerate(risky, start=1):
            used = f"{Decimal(b.spent_micros) / Decimal(b.amount_micros) * 100:.0f}%" if b.amount_micros else ""
            rows.append([b.label, _whole(b.amount_micros), _whole(b.spent_micros),
                         _whole(b.spent_micros - b.amount_micros), used])  # fmt: skip
            colours[(r, 3)] = BAD
        widths = (4, 2.2, 2.2, 2.2, 1.6)
    _heading(pdf, "Budgets at risk" if partial else "Budgets over")
    _table(pdf, rows, widths=widths, align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT" if partial else "RIGHT"),
           colours=colours)  # fmt: skip
    fine = len(facts.budgets) - len(risky)
    if fine:
        if partial:
            verb = "is on track" if fine == 1 else "are on track"
        else:
            verb = "stayed within its amount" if fine == 1 else "stayed within their amounts"
        _note(pdf, f"{fine} other budget{'s' if fine != 1 else ''} {verb}.")


def _savings_section(pdf: _Document, facts: ReportFacts) -> None:
    if not facts.savings:
        return
    rows = [["Recommendation", "Saves a month", "Confidence"]]
    rows += [[s.title, _whole(s.monthly_saving_micros), s.confidence.capitalize()] for s in facts.savings]
    rows.append(["Total potential, all open recommendations", _whole(facts.savings_total_micros), ""])
    widths = (7.3, 1.8, 1.5)
    caption = "Open recommendations, biggest saving first; each is an estimate from the last 30 days of usage."
    _heading(pdf, "Recommendations", caption)
    _table(pdf, rows, widths=widths, align=("LEFT", "RIGHT", "LEFT"), bold_last=True)
    if facts.realised_savings_micros > 0:
        _note(pdf, f"Recommendations already adopted save {_whole(facts.realised_savings_micros)} a month, measured.")


def _roi_section(pdf: _Document, facts: ReportFacts) -> None:
    roi = facts.roi
    if roi is None:
        return
    when = "so far this month" if facts.period.partial else f"in {facts.period.month:%B}"
    net = "a net gain" if roi.net_micros >= 0 else "a net loss"
    sentence = (
        f"{_whole(roi.cost_micros)} of AI spend {when} went with {roi.outcomes:,} business outcomes worth "
        f"{_whole(roi.value_micros)}: {net} of {_whole(abs(roi.net_micros))}, a return of {_roi(roi.roi)}."
    )
    rows = [["Department", "AI cost", "Value", "Net", "Return", "Outcomes", "Per outcome"]]
    colours = {}
    for r, line in enumerate(roi.pnl, start=1):
        per = format_usd(line.cost_per_outcome_micros) if line.cost_per_outcome_micros is not None else "–"
        rows.append([line.department, _whole(line.cost_micros), _whole(line.value_micros), _whole(line.net_micros),
                     _roi(line.roi), f"{line.outcomes:,}", per])  # fmt: skip
        if line.net_micros < 0:
            colours[(r, 3)] = BAD
    widths = (3.0, 1.8, 1.9, 1.9, 1.5, 1.8, 2.0)
    table = len(roi.pnl) > 1
    _heading(pdf, "Return on AI spend")
    pdf.style(_TEXT_PT, colour=TEXT)
    pdf.multi_cell(0, _TEXT_LINE, pdf.text_of(sentence), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    if table:
        _table(pdf, rows, widths=widths, align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
               bold_last=True, colours=colours)  # fmt: skip


def _notes(pdf: _Document, facts: ReportFacts) -> None:
    """What is not in the report and why, in small print at its end."""
    period = facts.period
    lines = list(facts.notes)
    if not facts.has_spend:
        compared = _days(period.previous_start, period.previous_end)
        lines.insert(0, f"No AI spend was recorded in {_days(period.start, period.end)} or in {compared}.")
    if not lines:
        return
    pdf.ln(2)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.line(MARGIN, pdf.get_y(), MARGIN + 40, pdf.get_y())
    pdf.ln(2)
    for line in lines:
        _note(pdf, line)


def _measure(scratch: _Document, section: _Section) -> float:
    """The section's height in mm, drawn on a page of its own in the scratch document."""
    scratch.add_page()
    top = scratch.get_y()
    section.draw(scratch)
    return scratch.get_y() - top


def _place(pdf: _Document, scratch: _Document, sections: Sequence[_Section]) -> None:
    """Each section in order, kept on one page when it is short (else at least its start), except that a chart
    that does not fit waits for the next page while the text and tables after it fill this one."""
    waiting: list[tuple[_Section, float]] = []

    def flush() -> None:
        for chart, height in waiting:
            pdf.need(height)
            chart.draw(pdf)
        waiting.clear()

    for section in sections:
        height = _measure(scratch, section)
        if height <= 0:
            continue
        if section.floats and (waiting or height > pdf.room()):
            waiting.append((section, height))
            continue
        if waiting and height > pdf.room():
            pdf.add_page()
            flush()
        pdf.need(min(height, pdf.eph * 0.45))
        section.draw(pdf)
    flush()


def _subtitle(facts: ReportFacts) -> str:
    period = facts.period
    if period.partial:
        return f"Month to date, through {_day(period.end)} · compared with {period.comparison_label}"
    return f"{_days(period.start, period.end)} · compared with {period.comparison_label}"


def _generated(facts: ReportFacts, generated_at: dt.datetime | None) -> str:
    if generated_at is None:
        return f"Generated {_day(facts.generated_on)}, {facts.generated_on.year}"
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must carry its time zone")
    zone = generated_at.tzname() or "UTC"
    return f"Generated {_day(generated_at.date())}, {generated_at.year}, {generated_at:%H:%M} {zone}"


def build_pdf(
    facts: ReportFacts,
    *,
    paragraphs: Sequence[str],
    insights: Sequence[str],
    images: Mapping[str, bytes] | None,
    generated_at: dt.datetime | None = None,
    paper: Paper = "A4",
) -> bytes:
    """The period's executive summary as PDF bytes, one to three pages.

    ``paragraphs`` is the narrative and ``insights`` the one-sentence insights feed, as plain text;
    ``images`` the PNGs of `report_figures` by key (None or a missing key: a table instead of that chart);
    ``generated_at`` (time-zone aware) is printed in the header, else the facts' date.
    """
    title = f"Executive summary — {facts.period.label}"
    pdf = _Document(
        paper=paper,
        title=title,
        subtitle=_subtitle(facts),
        workspace=facts.workspace_name,
        generated=_generated(facts, generated_at),
    )
    # The PDF's own date is the report's, not the clock's: the same facts give the same bytes.
    pdf.set_creation_date(generated_at or dt.datetime.combine(facts.generated_on, dt.time(), tzinfo=dt.UTC))
    pdf.add_page()
    images = {key: png for key, png in (images or {}).items() if _is_png(png)}
    _kpi_row(pdf, _kpis(facts))
    sections = [
        _Section(lambda doc: _paragraphs(doc, paragraphs)),
        _Section(lambda doc: _bullets(doc, "What changed", insights)),
    ]
    if facts.has_spend:
        trend, departments = images.get(TREND_CHART), images.get(DEPARTMENT_CHART)
        sections += [
            _Section(lambda doc: _trend_section(doc, facts, trend), floats=True),
            _Section(lambda doc: _department_section(doc, facts, departments), floats=True),
        ]
    sections += [
        _Section(lambda doc: _budget_section(doc, facts)),
        _Section(lambda doc: _savings_section(doc, facts)),
        _Section(lambda doc: _roi_section(doc, facts)),
        _Section(lambda doc: _notes(doc, facts)),
    ]
    scratch = _Document(paper=(pdf.w, 3000), title=title, subtitle="", workspace="", generated="")
    _place(pdf, scratch, sections)
    return bytes(pdf.output())
