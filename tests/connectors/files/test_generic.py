"""Any CSV/JSON: column detection, US/EU dates and amounts, credits, currencies, and the all-or-nothing import."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from connectors.files import detect_parser
from connectors.files.base import MAX_BYTES, BadFile, RawFile
from connectors.files.generic import ColumnMapping, GenericParser, suggest_mapping
from tests.connectors.files.conftest import stored

LEDGER = """Date,Vendor,Description,Amount
03/04/2026,OpenAI,GPT-4o API usage,"$1,234.56"
03/05/2026,Anthropic,Claude API,12.30
03/13/2026,AWS,Amazon Bedrock claude-3-5-sonnet,(2.00)
"""


def test_columns_are_found_and_us_dates_read() -> None:
    mapping = suggest_mapping(RawFile("ledger.csv", LEDGER.encode()))
    assert (mapping.date, mapping.amount, mapping.vendor, mapping.description) == (
        "Date", "Amount", "Vendor", "Description",
    )  # fmt: skip
    assert mapping.date_order == "MDY" and not mapping.decimal_comma
    frame = GenericParser().parse(RawFile("ledger.csv", LEDGER.encode()), skip_bad_rows=False).frame
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 3, 4), dt.date(2026, 3, 5), dt.date(2026, 3, 13)]
    assert list(frame["amount"]) == [Decimal("1234.56"), Decimal("12.30"), Decimal("-2.00")]
    assert list(frame["provider"]) == ["OpenAI", "Anthropic", "AWS Bedrock"]


def test_a_generic_ledger_imports_exactly_once(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    first = importer("ledger.csv", LEDGER)
    assert first.format == "generic"
    assert (first.rows_read, first.charges_written, first.duplicates, first.revised) == (3, 3, 0, 0)
    assert first.total_usd == "1244.860000"
    assert (first.first_day, first.last_day) == (dt.date(2026, 3, 4), dt.date(2026, 3, 13))
    again = importer("ledger-copy.csv", LEDGER)
    assert (again.charges_written, again.duplicates, again.revised) == (0, 3, 0)
    assert stored(engine, workspace_id) == (3, 1_244_860_000)


def test_a_later_export_with_a_revised_day_replaces_it(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("ledger.csv", LEDGER)
    revised = LEDGER.replace("12.30", "15.05")
    result = importer("ledger-v2.csv", revised)
    # The amount is no part of a charge's key: the same day, vendor and line replace the old amount.
    assert (result.charges_written, result.revised, result.duplicates) == (0, 1, 2)
    assert result.total_usd == "1247.610000"
    count, total = stored(engine, workspace_id)
    assert total == 1_247_610_000 and count == 3


def test_european_dates_and_decimal_commas() -> None:
    text = "Datum;Anbieter;Betrag\n31.01.2026;OpenAI;1.234,50\n01.02.2026;Anthropic;-3,25\n"
    raw = RawFile("eu.csv", text.encode())
    mapping = suggest_mapping(raw)
    # Nothing in the headers says which column is which, so the content decides.
    assert (mapping.date, mapping.amount, mapping.date_order, mapping.decimal_comma) == (
        "Datum", "Betrag", "DMY", True,
    )  # fmt: skip
    mapping = ColumnMapping(**{**mapping.as_dict(), "vendor": "Anbieter"})
    frame = GenericParser(mapping).parse(raw, skip_bad_rows=False).frame
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 1, 31), dt.date(2026, 2, 1)]
    assert list(frame["amount"]) == [Decimal("1234.50"), Decimal("-3.25")]


def test_json_records_are_read_like_a_table(importer) -> None:  # type: ignore[no-untyped-def]
    body = {"items": [
        {"date": "2026-05-01T10:00:00Z", "amount": 0.06, "vendor": "openai", "model": "gpt-4o"},
        {"date": "2026-05-01T23:59:59-02:00", "amount": "0.10", "vendor": "openai", "model": "gpt-4o"},
    ]}  # fmt: skip
    result = importer("spend.json", json.dumps(body))
    # The second timestamp is 01:59 UTC on 2 May: a different UTC day.
    assert (result.first_day, result.last_day) == (dt.date(2026, 5, 1), dt.date(2026, 5, 2))
    assert result.total_usd == "0.160000" and result.charges_written == 2


def test_other_currencies_need_a_rate(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    text = (
        "date,amount,currency,vendor\n2026-04-01,100.00,EUR,Mistral\n2026-04-01,50,GBP,OpenAI\n"
        "2026-04-02,1,USD,OpenAI\n"
    )
    with pytest.raises(BadFile, match="EUR and GBP"):
        importer("fx.csv", text)
    assert stored(engine, workspace_id) == (0, 0)
    result = importer("fx.csv", text, rates={"EUR": Decimal("1.08"), "GBP": Decimal("1.27")})
    assert result.total_usd == "172.500000"  # 100 × 1.08 + 50 × 1.27 + 1


def test_an_unknown_currency_names_the_row(importer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadFile, match="Row 3: 'XYZ' is not a currency code"):
        importer("fx.csv", "date,amount,currency\n2026-04-01,1,USD\n2026-04-02,2,XYZ\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,amount\n2026-04-01,1.00\n2026-04-02,twelve\n", "Row 3, column 'amount': 'twelve' is not a number"),
        ("date,amount\n2026-04-01,1.00\n2026-02-30,2.00\n", "Row 3, column 'date': '2026-02-30' is not a date"),
        ("date,amount\n2026-04-01,1.00\n2026-04-02,\n", "Row 3, column 'amount': the amount is blank"),
        ("date,amount\n2026-04-01,1.00\n2026-04-02,2.00,extra\n", "Row 3 has 3 cells but the header has 2"),
    ],
    ids=["non-numeric", "impossible-date", "blank-amount", "ragged-row"],
)
def test_bad_cells_stop_the_import_with_nothing_written(  # type: ignore[no-untyped-def]
    importer, engine: Engine, workspace_id: int, text: str, message: str
) -> None:
    with pytest.raises(BadFile, match=message):
        importer("bad.csv", text)
    assert stored(engine, workspace_id) == (0, 0)


def test_skip_bad_rows_imports_the_rest_and_lists_what_it_left_out(importer) -> None:  # type: ignore[no-untyped-def]
    text = "date,amount\n2026-04-01,1.00\n2026-04-02,twelve\n2026-13-01,3\n2026-04-03,4.50\n"
    result = importer("bad.csv", text, skip_bad_rows=True)
    assert result.total_usd == "5.500000" and result.rows_read == 4
    assert [(s.row, s.column) for s in result.skipped] == [(3, "amount"), (4, "date")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"   \n\n", "The file is empty"),
        (b"PK\x03\x04rest-of-a-zip", "spreadsheet or zip"),
        (b"\x00\x01\x02\x03binary" * 10, "binary file"),
        (b'[{"date": "2026-01-01", "amount": 1}, {"date": "2026-01-02", "am', "cut off"),
        (b"\x1f\x8b\x08\x00garbage", "damaged or cut short"),
        (b"date|amount\n2026-01-01|x\n", "not a number"),
        (b"just some words\nwith no numbers\n", "could not tell what kind of export"),
    ],
    ids=["empty", "blank", "zip", "binary", "truncated-json", "bad-gzip", "pipe-delimited-bad", "no-columns"],
)
def test_unreadable_files_get_a_plain_reason(
    importer, engine: Engine, workspace_id: int, data: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadFile, match=message):
        importer("file.csv", data)
    assert stored(engine, workspace_id) == (0, 0)


def test_files_over_the_limit_are_refused_before_reading() -> None:
    with pytest.raises(BadFile, match="limit is 200 MB"):
        RawFile("huge.csv", b"x" * (MAX_BYTES + 1))


def test_gzipped_exports_are_opened(importer) -> None:  # type: ignore[no-untyped-def]
    result = importer("ledger.csv.gz", gzip.compress(LEDGER.encode()))
    assert result.total_usd == "1244.860000"


def test_header_only_file_is_no_data(importer) -> None:  # type: ignore[no-untyped-def]
    result = importer("empty.csv", "date,amount,vendor\n", format="generic")
    assert (result.rows_read, result.charges_written, result.total_usd) == (0, 0, "0.000000")


def test_detection_falls_back_to_generic() -> None:
    assert detect_parser(RawFile("ledger.csv", LEDGER.encode())).name == "generic"


def test_token_only_rows_are_priced_and_unknown_models_listed(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    text = (
        "date,amount,vendor,model,input_tokens,output_tokens\n"
        "2026-04-01,,OpenAI,gpt-4o-mini,1000000,0\n"
        "2026-04-01,,OpenAI,no-such-model-9,500,20\n"
        "2026-04-02,2.50,OpenAI,gpt-4o,0,0\n"
    )
    mapping = ColumnMapping(date="date", amount="amount", vendor="vendor", model="model",
                            input_tokens="input_tokens", output_tokens="output_tokens")  # fmt: skip
    result = importer("usage.csv", text, mapping=mapping)
    # gpt-4o-mini input is $0.15 per million tokens (OpenAI's list price); the unknown model is not stored.
    assert result.total_usd == "2.650000" and result.charges_written == 2
    assert [(u.model, u.rows, u.input_tokens, u.output_tokens) for u in result.unpriced] == [
        ("no-such-model-9", 1, 500, 20)
    ]
    assert stored(engine, workspace_id) == (2, 2_650_000)


def test_token_only_rows_are_priced_at_the_workspaces_negotiated_rate_from_its_date(
    importer,
    engine: Engine,
    workspace_id: int,  # type: ignore[no-untyped-def]
) -> None:
    from decimal import Decimal

    from core import price_overrides
    from core.db import session_scope

    with session_scope(engine) as session:
        price_overrides.save_price_override(
            session, workspace_id=workspace_id, provider="OpenAI", model="", discount_pct=Decimal(20),
            input_usd_per_mtok=None, output_usd_per_mtok=None, cached_usd_per_mtok=None,
            effective_from=dt.date(2026, 4, 2),
        )  # fmt: skip
    text = (
        "date,amount,vendor,model,input_tokens,output_tokens\n"
        "2026-04-01,,OpenAI,gpt-4o-mini,1000000,0\n"
        "2026-04-02,,OpenAI,gpt-4o-mini,1000000,0\n"
    )
    mapping = ColumnMapping(date="date", amount="amount", vendor="vendor", model="model",
                            input_tokens="input_tokens", output_tokens="output_tokens")  # fmt: skip
    result = importer("usage.csv", text, mapping=mapping)
    # $0.15 at list price the day before the agreement, $0.12 (20% off) from its first day.
    assert result.total_usd == "0.270000"
    assert stored(engine, workspace_id) == (2, 270_000)


def test_a_file_cut_off_mid_row_is_refused(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadFile, match="Row 3 has fewer cells than the header: the file looks cut off"):
        importer("cut.csv", "date,amount,vendor\n2026-01-01,1.00,OpenAI\n2026-01-02,2.0")
    assert stored(engine, workspace_id) == (0, 0)
    # A whole last row without a final newline is fine.
    assert importer("whole.csv", "date,amount,vendor\n2026-01-01,1.00,OpenAI\n2026-01-02,2.0,OpenAI").total_usd == (
        "3.000000"
    )
