"""Google Cloud: the console cost table CSV (preamble, footers, credits, currencies) and the BigQuery export."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from connectors.files import detect_parser, get_parser
from connectors.files.base import BadFile, RawFile
from connectors.files.cloud import model_in
from core.db import session_scope
from core.models import Charge
from tests.connectors.files.conftest import FIXTURES, SAMPLES, stored

GCP = FIXTURES / "gcp"
MINE = ("gcp_console", "gcp_bigquery", "aws_cost_explorer", "aws_cur", "azure_cost")


def fixture(name: str) -> str:
    return (GCP / name).read_text()


def parse(name: str, text: str, fmt: str | None = None, *, skip_bad_rows: bool = False):  # type: ignore[no-untyped-def]
    raw = RawFile(name, text.encode())
    parser = get_parser(fmt) if fmt else detect_parser(raw)
    return parser.parse(raw, skip_bad_rows=skip_bad_rows)


def charges(engine: Engine, workspace_id: int) -> list[Charge]:
    with session_scope(engine) as session:
        rows = session.execute(select(Charge).where(Charge.workspace_id == workspace_id)).scalars().all()
        session.expunge_all()
    return sorted(rows, key=lambda c: (c.day, c.line_item, c.amount_micros))


# Console cost table ----------------------------------------------------------------------------------


def test_cost_table_skips_the_preamble_and_the_total_and_rounding_rows() -> None:
    parsed = parse("cost.csv", fixture("cost_table.csv"))
    frame = parsed.frame
    assert parsed.rows_read == 7  # 9 table rows less 'Rounding error' and 'Total'
    assert list(frame["row"]) == [10, 11, 12, 13, 14, 15, 16]  # file lines, counting the 8-line preamble
    assert list(frame["amount"]) == [
        Decimal("15.625000"),
        Decimal("-10.000000"),
        Decimal("42.180000"),
        Decimal("120.004115"),
        Decimal("-18.000000"),
        Decimal("23.567310"),
        Decimal("3.100000"),
    ]  # fmt: skip  (the unrounded column, credits included)
    assert set(frame["currency"]) == {"USD"}
    assert list(frame["provider"]) == ["Google"] * 3 + ["Google Cloud"] * 4
    assert list(frame["model"][:3]) == ["gemini-2.5-pro"] * 3
    assert list(frame["project"][:4]) == ["chatbot-prod-4711"] * 3 + ["data-pipeline-2291"]
    assert frame["line_item"].iloc[-1] == "Tax"
    assert frame["day"].iloc[5].date() == dt.date(2026, 6, 3)
    assert any("usage start date" in note for note in parsed.notes)  # month-long lines, dated on their start
    assert not any("Total row" in note for note in parsed.notes)  # lines + rounding error = the Total row


def test_cost_table_imports_net_of_credits_exactly_once(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    first = importer("Acme_Cost table, 2026-06-01 — 2026-06-30.csv", fixture("cost_table.csv"))
    assert first.format == "gcp_console"
    # Credits net into their SKU's charge: 15.625 - 10 and 120.004115 - 18; the Total row is not counted.
    assert (first.rows_read, first.charges_written, first.duplicates) == (7, 5, 0)
    assert first.total_usd == "176.476425"  # 5.625 + 42.18 + 102.004115 + 23.56731 + 3.1
    assert (first.first_day, first.last_day) == (dt.date(2026, 6, 1), dt.date(2026, 6, 3))
    again = importer("copy.csv", fixture("cost_table.csv"))
    assert (again.charges_written, again.duplicates, again.revised) == (0, 5, 0)
    assert stored(engine, workspace_id) == (5, 176_476_425)
    gemini = [c for c in charges(engine, workspace_id) if c.line_item == "Gemini 2.5 Pro Input Text Tokens"]
    assert [(c.amount_micros, c.provider, c.service, c.model, c.project) for c in gemini] == [
        (5_625_000, "Google", "Vertex AI", "gemini-2.5-pro", "chatbot-prod-4711")
    ]


def test_a_later_cost_table_revises_a_line(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("june.csv", fixture("cost_table.csv"))
    later = (
        fixture("cost_table.csv")
        .replace("42.180000,42.18", "45.000000,45.00")
        .replace("176.480000,176.48", "179.300000,179.30")
    )
    result = importer("june-final.csv", later)
    assert (result.charges_written, result.revised, result.duplicates) == (0, 1, 4)
    assert stored(engine, workspace_id) == (5, 179_296_425)


def test_a_cut_off_cost_table_is_noticed_against_its_total_row() -> None:
    lines = fixture("cost_table.csv").splitlines(keepends=True)
    del lines[12]  # a Compute Engine line lost
    parsed = parse("cost.csv", "".join(lines))
    assert any("Total row says 176.480000" in note for note in parsed.notes)


def test_cost_table_in_euros_without_usage_dates_uses_the_invoice_month(importer) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Billing account ID,ABCDEF-123456-ABCDEF\n"
        "Invoice month,202607\n"
        "Invoice total,122.40\n"
        "Currency,EUR\n"
        "\n"
        "Project ID,Service description,Service ID,SKU description,SKU ID,Consumption model description,"
        "Consumption model ID,Cost type,Unrounded cost (€),Cost (€)\n"
        "prod-project,Vertex AI,C7E2-9256-1C43,Gemini 2.0 Flash Output Text Tokens,SKU-1,Default,DEFAULT,regular,"
        "120.00,120.00\n"
        "prod-project,Vertex AI,C7E2-9256-1C43,Committed use discount,SKU-CUD,Flexible CUD,CUD-1,adjustment,"
        "-5.00,-5.00\n"
        "prod-project,Tax,TAX,State sales tax,TAX-1,Default,DEFAULT,tax,7.40,7.40\n"
    )
    assert detect_parser(RawFile("eur.csv", text.encode())).name == "gcp_console"
    with pytest.raises(BadFile, match="EUR"):
        importer("eur.csv", text)
    result = importer("eur.csv", text, rates={"EUR": Decimal("1.10")})
    assert (result.rows_read, result.charges_written) == (3, 3)
    assert result.total_usd == "134.640000"  # (120 - 5 + 7.40) EUR x 1.10
    assert (result.first_day, result.last_day) == (dt.date(2026, 7, 1), dt.date(2026, 7, 1))
    assert any("first day of 202607" in note for note in result.notes)


def test_separate_credit_columns_reduce_the_cost() -> None:
    text = (
        "Billing account name,Project ID,Service description,SKU description,Usage start date,Usage end date,"
        "Cost ($),Credits ($)\n"
        "Acme,p1,Vertex AI,Gemini 2.5 Pro Input Text Tokens,2026-06-05,2026-06-05,10.00,-2.50\n"
        "Acme,p1,Vertex AI,Gemini 2.5 Pro Output Text Tokens,2026-06-05,2026-06-05,20.00,3.00\n"
        "Acme,p1,Vertex AI,Gemini 2.5 Pro Cached Input,2026-06-05,2026-06-05,1.00,\n"
    )
    frame = parse("credits.csv", text).frame
    # A credit shown as a positive number still reduces the cost.
    assert list(frame["amount"]) == [Decimal("7.50"), Decimal("17.00"), Decimal("1.00")]


def test_a_reports_csv_with_a_subtotal_uses_the_net_subtotal() -> None:
    text = (
        "Month,Service description,Service ID,Cost ($),Savings programs ($),Other savings ($),"
        "Unrounded subtotal ($),Subtotal ($)\n"
        "June 2026,Vertex AI,C7E2-9256-1C43,100.00,-10.00,-5.00,85.004,85.00\n"
        "2026-07,Vertex AI,C7E2-9256-1C43,50.00,0.00,0.00,50.00,50.00\n"
    )
    frame = parse("report.csv", text, "gcp_console").frame
    assert list(frame["amount"]) == [Decimal("85.004"), Decimal("50.00")]
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 6, 1), dt.date(2026, 7, 1)]


def test_cost_table_header_only_is_no_data(importer) -> None:  # type: ignore[no-untyped-def]
    text = "".join(fixture("cost_table.csv").splitlines(keepends=True)[:9])
    result = importer("empty.csv", text)
    assert (result.format, result.rows_read, result.charges_written, result.total_usd) == (
        "gcp_console", 0, 0, "0.000000",
    )  # fmt: skip


def test_cost_table_bad_cells_name_the_row_and_column(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    bad = fixture("cost_table.csv").replace("42.180000,42.18", "n/a,42.18")
    with pytest.raises(BadFile, match=r"Row 12, column 'Unrounded Cost \(\$\)': 'n/a' is not a number"):
        importer("bad.csv", bad)
    assert stored(engine, workspace_id) == (0, 0)
    impossible = fixture("cost_table.csv").replace("2026-06-03,2026-06-30", "2026-06-31,2026-06-30")
    with pytest.raises(BadFile, match=r"Row 15, column 'Usage start date': '2026-06-31' is not a date"):
        importer("bad-date.csv", impossible)
    skipped = importer("bad.csv", bad, skip_bad_rows=True)
    assert [(s.row, s.column) for s in skipped.skipped] == [(12, "Unrounded Cost ($)")]
    assert skipped.total_usd == "134.296425"


def test_a_truncated_cost_table_is_refused(importer) -> None:  # type: ignore[no-untyped-def]
    text = fixture("cost_table.csv")
    cut = text[: text.index("Standard Storage") + 10]
    with pytest.raises(BadFile, match="Row 15 has fewer cells"):
        importer("cut.csv", cut)


def test_usage_amounts_with_thousands_separators_do_not_break_the_row() -> None:
    frame = parse("cost.csv", fixture("cost_table.csv")).frame
    assert frame["line_item"].iloc[0] == "Gemini 2.5 Pro Input Text Tokens"  # '"12,500,000"' stayed one cell


# BigQuery export -------------------------------------------------------------------------------------


def test_bigquery_csv_adds_credits_to_cost_and_keeps_labels() -> None:
    parsed = parse("billing.csv", fixture("bigquery_export.csv"))
    frame = parsed.frame
    assert parsed.rows_read == 6
    # cost + SUM(credits.amount): 1.2 - 0.2, 0.8, 2.45 - 0.3 - 0.05, 0.6, 5.0, 0.51
    assert [str(a) for a in frame["amount"]] == ["1.0", "0.8", "2.10", "0.6", "5.0", "0.51"]
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 6, 1)] * 3 + [dt.date(2026, 6, 2)] + [
        dt.date(2026, 6, 1)
    ] * 2  # '2026-06-01 23:00 UTC' and '2026-06-02 00:00 UTC' are different days
    assert list(frame["provider"]) == ["Google"] * 4 + ["Google Cloud"] * 2
    assert frame["model"].iloc[0] == "gemini-2.5-flash"
    assert frame["project"].iloc[0] == "chatbot-prod-4711" and frame["department"].iloc[0] == "ml-platform"
    assert json.loads(frame["tags"].iloc[0]) == {"env": "prod", "team": "ml-platform"}
    many = json.loads(frame["tags"].iloc[4])
    assert len(many) == 10 and "label10" not in many and "label11" not in many
    assert any("more than 10" in note for note in parsed.notes)
    assert frame["line_item"].iloc[5] == "Tax"


def test_bigquery_json_lines_csv_and_json_array_are_the_same_charges(
    importer, engine: Engine, workspace_id: int
) -> None:  # type: ignore[no-untyped-def]
    first = importer("billing.jsonl", fixture("bigquery_export.jsonl"))
    assert first.format == "gcp_bigquery"
    assert (first.rows_read, first.charges_written) == (6, 5)
    assert first.total_usd == "10.010000"  # 1.8 + 2.10 + 0.6 + 5.0 + 0.51
    as_csv = importer("billing.csv", fixture("bigquery_export.csv"))
    assert (as_csv.format, as_csv.charges_written, as_csv.duplicates, as_csv.revised) == ("gcp_bigquery", 0, 5, 0)
    records = [json.loads(line) for line in fixture("bigquery_export.jsonl").splitlines()]
    as_array = importer("billing.json", json.dumps(records, indent=2))
    assert (as_array.format, as_array.charges_written, as_array.duplicates) == ("gcp_bigquery", 0, 5)
    assert stored(engine, workspace_id) == (5, 10_010_000)
    flash = [c for c in charges(engine, workspace_id) if c.day == dt.date(2026, 6, 1) and "Input" in c.line_item]
    assert [(c.amount_micros, c.tags, c.department) for c in flash] == [
        (1_800_000, {"env": "prod", "team": "ml-platform"}, "ml-platform")
    ]


def test_a_later_bigquery_export_revises_a_day(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("billing.csv", fixture("bigquery_export.csv"))
    lines = fixture("bigquery_export.csv").splitlines(keepends=True)
    lines[4] = lines[4].replace(",0.6,USD,", ",0.75,USD,")
    result = importer("billing-later.csv", "".join(lines))
    assert (result.charges_written, result.revised, result.duplicates) == (0, 1, 4)
    assert stored(engine, workspace_id) == (5, 10_160_000)


def test_bigquery_bad_credits_and_costs_name_row_and_column(importer) -> None:  # type: ignore[no-untyped-def]
    lines = fixture("bigquery_export.csv").splitlines(keepends=True)
    bad_credit = lines[:3] + [lines[3].replace('""amount"": -0.3', '""amount"": ""lots""')] + lines[4:]
    with pytest.raises(BadFile, match=r"Row 4, column 'credits': the credit amount 'lots' is not a number"):
        importer("bad.csv", "".join(bad_credit))
    not_a_list = lines[:2] + [lines[2].replace(",[],202606,", ",{oops,202606,")] + lines[3:]
    with pytest.raises(BadFile, match=r"Row 3, column 'credits'"):
        importer("bad.csv", "".join(not_a_list))
    bad_cost = lines[:2] + [lines[2].replace(",0.8,USD,", ",free,USD,")] + lines[3:]
    with pytest.raises(BadFile, match=r"Row 3, column 'cost': 'free' is not a number"):
        importer("bad.csv", "".join(bad_cost))
    records = [json.loads(line) for line in fixture("bigquery_export.jsonl").splitlines()]
    records[1]["usage_start_time"] = "yesterday"
    with pytest.raises(BadFile, match=r"Row 2, column 'day': 'yesterday' is not a date"):
        importer("bad.jsonl", "\n".join(json.dumps(r) for r in records))


def test_bigquery_header_only_and_truncated_json(importer) -> None:  # type: ignore[no-untyped-def]
    header = fixture("bigquery_export.csv").splitlines(keepends=True)[0]
    result = importer("empty.csv", header)
    assert (result.format, result.rows_read, result.charges_written) == ("gcp_bigquery", 0, 0)
    text = json.dumps([json.loads(line) for line in fixture("bigquery_export.jsonl").splitlines()])
    with pytest.raises(BadFile, match="cut off"):
        importer("cut.json", text[:-40], format="gcp_bigquery")


# Detection and names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cost_table.csv", "gcp_console"),
        ("bigquery_export.csv", "gcp_bigquery"),
        ("bigquery_export.jsonl", "gcp_bigquery"),
    ],
)
def test_each_google_export_is_detected(name: str, expected: str) -> None:
    raw = RawFile(name, (GCP / name).read_bytes())
    assert detect_parser(raw).name == expected
    others = [p for p in MINE if p != expected]
    assert all(get_parser(p).detect(raw) < 60 for p in others)


def test_other_files_are_not_taken_for_google_exports() -> None:
    ledger = RawFile("ledger.csv", b"Date,Vendor,Description,Amount\n2026-03-04,Google,Vertex AI,12.00\n")
    assert get_parser("gcp_console").detect(ledger) == 0 and get_parser("gcp_bigquery").detect(ledger) == 0
    for sample in sorted(SAMPLES.iterdir()):
        raw = RawFile(sample.name, sample.read_bytes())
        assert get_parser("gcp_console").detect(raw) == 0, sample.name
        assert get_parser("gcp_bigquery").detect(raw) == 0, sample.name


@pytest.mark.parametrize(
    ("text", "model"),
    [
        ("Gemini 2.5 Pro Input Text Tokens", "gemini-2.5-pro"),
        ("Generate content input token count Gemini 2.0 Flash Lite short input text", "gemini-2.0-flash-lite"),
        ("Claude 3.5 Sonnet Input Tokens", "claude-3-5-sonnet"),
        ("N2 Instance Core running in Americas", ""),
    ],
)
def test_model_from_sku(text: str, model: str) -> None:
    assert model_in(text) == model
