"""OpenAI dashboard cost and completions-usage exports: the real TSV samples, CSV variants, empty days, minute
buckets, zero-dollar usage (and the priced variant), detection, and the all-or-nothing import."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from sqlalchemy import Engine

from connectors.files import detect_parser
from connectors.files.base import BadFile, RawFile
from connectors.files.openai_exports import (
    USAGE_NOTE,
    OpenAICostsExport,
    OpenAIUsageExport,
    OpenAIUsagePriced,
)
from tests.connectors.files.conftest import FIXTURES, SAMPLES, stored

COSTS_TSV = (SAMPLES / "openai_dashboard_costs_export.tsv").read_text()
USAGE_TSV = (SAMPLES / "openai_dashboard_completions_usage_export.tsv").read_text()
COSTS_BY_LINE = (FIXTURES / "openai_exports" / "costs_by_line_item.csv").read_text()
USAGE_1M = (FIXTURES / "openai_exports" / "completions_usage_1m.csv").read_text()
COST_HEADER = COSTS_TSV.splitlines()[0]
USAGE_HEADER = USAGE_TSV.splitlines()[0]
ORG = "org-Hp9mSGev2sVmtMeF2wrnSeOV"
PROJECT = "proj_4BhNtYH0z7dWbBtzhibxa65W"

# The amount_value cells of the cost sample, as written in the file (two days are empty rows).
SAMPLE_DAYS = {
    dt.date(2025, 10, 5): Decimal("0.8958740000000000"),
    dt.date(2025, 10, 6): Decimal("0.5617712500000000"),
    dt.date(2025, 10, 7): Decimal("0.569788"),
    dt.date(2025, 10, 8): Decimal("0.5455665000000000"),
    dt.date(2025, 10, 10): Decimal("0.34090000000000000"),
    dt.date(2025, 10, 11): Decimal("0.072054"),
}


def micros(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


# Each day is one charge, rounded to micro-dollars on its own (half-even: 0.5455665 → 0.545566), so the stored
# total is the sum of the rounded days: 2.985953, one micro-dollar under the exact sum 2.98595375 rounded.
SAMPLE_TOTAL = sum((micros(v) for v in SAMPLE_DAYS.values()), Decimal(0))


def as_csv(tsv: str) -> str:
    """The same export written with commas (no cell in the samples contains a comma)."""
    assert "," not in tsv
    return tsv.replace("\t", ",")


def costs(text: str, name: str = "costs.csv", *, skip_bad_rows: bool = False):  # type: ignore[no-untyped-def]
    return OpenAICostsExport().parse(RawFile(name, text.encode()), skip_bad_rows=skip_bad_rows)


def usage(text: str, name: str = "usage.csv"):  # type: ignore[no-untyped-def]
    return OpenAIUsageExport().parse(RawFile(name, text.encode()), skip_bad_rows=False)


# The cost export -------------------------------------------------------------------------------------------


def test_cost_sample_amounts_are_exact_decimals_and_empty_days_are_no_data() -> None:
    parsed = costs(COSTS_TSV, "costs.tsv")
    frame = parsed.frame
    assert parsed.rows_read == 8  # 6 days with spend, 2 empty days (10-09, 10-12) with a trailing tab
    assert [d.date() for d in frame["day"]] == list(SAMPLE_DAYS)
    assert list(frame["amount"]) == list(SAMPLE_DAYS.values())
    assert all(isinstance(a, Decimal) for a in frame["amount"])
    assert set(frame["currency"]) == {"USD"}  # written 'usd'
    assert set(frame["provider"]) == {"OpenAI"} and set(frame["service"]) == {"API"}
    assert set(frame["model"]) == {""} and set(frame["line_item"]) == {""} and set(frame["project"]) == {""}
    assert {json.loads(t)["organization"] for t in frame["tags"]} == {ORG}
    assert list(frame["row"]) == [2, 3, 4, 5, 7, 8]  # file lines: the empty day on line 6 is left out
    assert parsed.notes == ["2 empty days (rows with only the time columns) had nothing to import."]


def test_cost_sample_imports_with_the_exact_total(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    exact = (
        Decimal("0.8958740000000000") + Decimal("0.5617712500000000") + Decimal("0.569788")
        + Decimal("0.5455665000000000") + Decimal("0.34090000000000000") + Decimal("0.072054")
    )  # fmt: skip
    assert exact == Decimal("2.98595375")
    assert f"{SAMPLE_TOTAL:f}" == "2.985953"  # per-day rounding; see SAMPLE_TOTAL
    result = importer("openai_dashboard_costs_export.tsv", COSTS_TSV)
    assert result.format == "openai_costs_export"
    assert (result.rows_read, result.charges_written, result.duplicates, result.revised) == (8, 6, 0, 0)
    assert result.total_usd == "2.985953"
    assert (result.first_day, result.last_day) == (dt.date(2025, 10, 5), dt.date(2025, 10, 11))
    assert stored(engine, workspace_id) == (6, 2_985_953)


def test_csv_variant_of_the_cost_sample_is_the_same_data(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    text = as_csv(COSTS_TSV)
    assert ",,,,,,," in text  # the ragged empty-day rows keep their extra trailing separator
    assert detect_parser(RawFile("costs.csv", text.encode())).name == "openai_costs_export"
    parsed = costs(text)
    assert list(parsed.frame["amount"]) == list(SAMPLE_DAYS.values())
    importer("costs.tsv", COSTS_TSV)
    again = importer("costs.csv", text)  # same rows, other separator: same keys
    assert (again.charges_written, again.duplicates, again.revised) == (0, 6, 0)
    assert again.total_usd == "2.985953"
    assert stored(engine, workspace_id) == (6, 2_985_953)


def test_line_items_give_the_model_and_project(importer) -> None:  # type: ignore[no-untyped-def]
    parsed = costs(COSTS_BY_LINE)
    frame = parsed.frame
    # The 0.0 line is left out (as the API sync leaves zero lines out); the last row is an empty day.
    assert list(frame["line_item"]) == [
        "gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06, output", "gpt-4o-2024-08-06, cached input",
        "Web search tool calls", "gpt-5-2025-08-07, input",
    ]  # fmt: skip
    assert list(frame["model"]) == ["gpt-4o-2024-08-06"] * 3 + ["", "gpt-5-2025-08-07"]
    assert set(frame["project"]) == {PROJECT}
    assert parsed.rows_read == 7
    result = importer("costs_by_line_item.csv", COSTS_BY_LINE)
    # 0.41875 + 0.10646 + 0.0072 + 0.02 on 10-05, 0.25 on 10-06
    assert (result.charges_written, result.total_usd) == (5, "0.802410")
    assert (result.first_day, result.last_day) == (dt.date(2025, 10, 5), dt.date(2025, 10, 6))


@pytest.mark.parametrize(
    "text",
    [
        COST_HEADER + "\n",
        as_csv(COST_HEADER),
        "start_time,end_time,start_time_iso,end_time_iso\n",  # the "empty export": only the time columns
        "start_time\tend_time\tstart_time_iso\tend_time_iso",
    ],
)
def test_header_only_cost_export_is_no_data(importer, engine: Engine, workspace_id: int, text: str) -> None:  # type: ignore[no-untyped-def]
    raw = RawFile("costs.csv", text.encode())
    assert detect_parser(raw).name == "openai_costs_export"
    result = importer("costs.csv", text)
    assert (result.rows_read, result.charges_written, result.total_usd) == (0, 0, "0.000000")
    assert result.notes == ["This export has no rows, only the header: there was no spend in the period exported."]
    assert stored(engine, workspace_id) == (0, 0)


def test_header_only_usage_export_is_no_data(importer) -> None:  # type: ignore[no-untyped-def]
    result = importer("usage.csv", as_csv(USAGE_HEADER) + "\n")
    assert result.format == "openai_usage_export"
    assert (result.rows_read, result.charges_written) == (0, 0)


@pytest.mark.parametrize("sep", [",", "\t"])
def test_ragged_empty_day_rows_are_no_data(importer, sep: str) -> None:  # type: ignore[no-untyped-def]
    days = [
        "1759968000,1760054400,2025-10-09T00:00:00+00:00,2025-10-10T00:00:00+00:00,,,,,,,",  # one extra cell
        "1760227200,1760313600,2025-10-12T00:00:00+00:00,2025-10-13T00:00:00+00:00",  # only the time cells
        "1760313600,1760400000,2025-10-13T00:00:00+00:00,2025-10-14T00:00:00+00:00,,,,,,",  # exactly as wide
    ]
    text = "\n".join([as_csv(COST_HEADER), *days]).replace(",", sep) + "\n"
    result = importer("costs.csv", text)
    assert result.format == "openai_costs_export"
    assert (result.rows_read, result.charges_written) == (3, 0)
    assert result.notes == [
        "Every row in this export is an empty day (only the time columns): there was no spend to import."
    ]
    # Among days with spend, a short empty-day row is skipped and the rest imported.
    mixed = "\n".join([as_csv(COSTS_TSV.splitlines()[1]), days[1], as_csv(COSTS_TSV.splitlines()[2])])
    result = importer("costs.csv", as_csv(COST_HEADER) + "\n" + mixed + "\n")
    assert (result.rows_read, result.charges_written, result.total_usd) == (3, 2, "1.457645")


def test_cells_past_the_header_are_an_error() -> None:
    row = COSTS_TSV.splitlines()[1] + "\tsurprise"
    with pytest.raises(BadFile, match="Row 2 has more cells than the header") as caught:
        costs(COST_HEADER + "\n" + row + "\n", "costs.tsv")
    assert caught.value.row == 2


def test_a_cut_off_last_row_is_an_error() -> None:
    lines = COSTS_TSV.splitlines()
    cut = "\n".join([*lines[:4], lines[4][:-60]])  # the download stopped inside the 10-08 row
    with pytest.raises(BadFile, match="Row 5 .*the file looks cut off"):
        costs(cut, "costs.tsv")


def test_a_blank_currency_next_to_an_amount_is_an_error() -> None:
    row = COSTS_TSV.splitlines()[2].replace("\tusd\t", "\t\t")
    with pytest.raises(BadFile, match="Row 2, column 'amount_currency': the currency is blank"):
        costs(COST_HEADER + "\n" + row + "\n", "costs.tsv")


def test_a_bad_amount_names_the_row_and_column_and_writes_nothing(  # type: ignore[no-untyped-def]
    importer, engine: Engine, workspace_id: int
) -> None:
    bad = COSTS_TSV.replace("0.569788", "0.56x788")
    with pytest.raises(BadFile, match="Row 4, column 'amount_value': '0.56x788' is not a number") as caught:
        importer("costs.tsv", bad)
    assert (caught.value.row, caught.value.column) == (4, "amount_value")
    assert stored(engine, workspace_id) == (0, 0)
    # Skipping bad rows imports the other five days and lists the one left out.
    result = importer("costs.tsv", bad, skip_bad_rows=True)
    assert result.charges_written == 5 and [s.row for s in result.skipped] == [4]
    assert result.total_usd == f"{SAMPLE_TOTAL - micros(SAMPLE_DAYS[dt.date(2025, 10, 7)]):f}"


def test_an_impossible_date_is_an_error() -> None:
    bad = COSTS_TSV.replace("1759795200\t1759881600", "17597952OO\t1759881600")
    with pytest.raises(BadFile, match="Row 4, column 'start_time'"):
        costs(bad, "costs.tsv")


def test_reimporting_is_idempotent_and_a_later_export_revises_a_day(  # type: ignore[no-untyped-def]
    importer, engine: Engine, workspace_id: int
) -> None:
    importer("costs.tsv", COSTS_TSV)
    again = importer("costs-copy.tsv", COSTS_TSV)
    assert (again.charges_written, again.duplicates, again.revised) == (0, 6, 0)
    # A later export: 10-07 was still being counted when the first one was taken, and 10-12 now has spend.
    later = COSTS_TSV.replace("0.569788", "0.6123450000000000").replace(
        "2025-10-13T00:00:00+00:00\t\t\t\t\t\t\t",
        f"2025-10-13T00:00:00+00:00\t0.0100000000000000\tusd\t\t\t{ORG}\tPersonal",
    )
    revised = importer("costs-later.tsv", later)
    assert (revised.charges_written, revised.duplicates, revised.revised) == (1, 5, 1)
    expected = SAMPLE_TOTAL - Decimal("0.569788") + Decimal("0.612345") + Decimal("0.01")
    assert revised.total_usd == f"{expected:f}" == "3.038510"
    assert stored(engine, workspace_id) == (7, 3_038_510)


def test_other_currencies_need_a_rate(importer) -> None:  # type: ignore[no-untyped-def]
    eur = COSTS_TSV.replace("\tusd\t", "\teur\t")
    with pytest.raises(BadFile, match="amounts in EUR"):
        importer("costs.tsv", eur)
    result = importer("costs.tsv", eur, rates={"EUR": Decimal("2")})
    assert result.total_usd == f"{sum((micros(v * 2) for v in SAMPLE_DAYS.values()), Decimal(0)):f}"


# The completions usage export -------------------------------------------------------------------------------


def test_usage_sample_counts_written_as_floats_become_whole_numbers() -> None:
    parsed = usage(USAGE_TSV, "usage.tsv")
    frame = parsed.frame
    assert parsed.rows_read == 7  # one empty day (10-08) with a trailing tab
    assert list(frame["input_tokens"]) == [59200, 46264, 5783, 80992, 124784, 22688]
    assert list(frame["output_tokens"]) == [10646, 60000, 16000, 274770, 154852, 33191]
    assert list(frame["cached_tokens"]) == [5760, 8192, 0, 0, 0, 0]
    assert list(frame["requests"]) == [10, 8, 1, 21, 11, 2]
    assert str(frame["input_tokens"].dtype) == "int64"
    assert list(frame["model"]) == ["gpt-4o-2024-08-06"] + ["gpt-5-2025-08-07"] * 2 + ["gpt-5-mini-2025-08-07"] * 3
    assert set(frame["project"]) == {PROJECT} and set(frame["api_key"]) == {"key_OYRZfEkH5R9CNgtY"}
    assert {t for t in frame["tags"]} == {'{"user": "user-dAU7Ud7OljwJvKfi4wQzWHyV"}'}  # batch FALSE, tier default
    assert all(a == Decimal(0) and isinstance(a, Decimal) for a in frame["amount"])  # zero dollars, not None
    assert parsed.notes[0] == USAGE_NOTE


def test_usage_imports_as_zero_dollar_charges_beside_the_costs(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    result = importer("openai_dashboard_completions_usage_export.tsv", USAGE_TSV)
    assert result.format == "openai_usage_export"
    # 10-06 has two gpt-5 rows with the same model, project, key and user: one charge for the day.
    assert (result.rows_read, result.charges_written, result.total_usd, result.unpriced) == (7, 5, "0.000000", [])
    assert USAGE_NOTE in result.notes
    costs_result = importer("openai_dashboard_costs_export.tsv", COSTS_TSV)
    # Together: the money once (from the cost lines), the tokens once (from the usage lines).
    assert costs_result.total_usd == "2.985953"
    assert stored(engine, workspace_id) == (11, 2_985_953)
    again = importer("usage-again.tsv", USAGE_TSV)
    assert (again.charges_written, again.duplicates, again.revised) == (0, 5, 0)


def test_csv_variant_of_the_usage_sample(importer) -> None:  # type: ignore[no-untyped-def]
    text = as_csv(USAGE_TSV)
    assert detect_parser(RawFile("usage.csv", text.encode())).name == "openai_usage_export"
    assert list(usage(text).frame["requests"]) == [10, 8, 1, 21, 11, 2]
    importer("usage.tsv", USAGE_TSV)
    again = importer("usage.csv", text)
    assert (again.charges_written, again.duplicates) == (0, 5)


def test_minute_buckets_roll_up_to_days(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    result = importer("completions_usage_2025-10-05_2025-10-06.csv", USAGE_1M)
    assert (result.rows_read, result.charges_written, result.total_usd) == (6, 3, "0.000000")
    assert (result.first_day, result.last_day) == (dt.date(2025, 10, 5), dt.date(2025, 10, 6))
    from connectors.files.normalise import roll_up

    rows = {
        (r["day"], r["model"], json.dumps(r["tags"], sort_keys=True)): r
        for r in roll_up(usage(USAGE_1M).frame, namespace="openai_usage").rows
    }
    gpt4o = rows[(dt.date(2025, 10, 5), "gpt-4o-2024-08-06", '{"user": "user-1"}')]
    # 00:00, 00:01 and 23:59 on 10-05: 2+1+1 requests, 1200+800+1000 in, 300+100+50 out, 0+512+0 cached
    assert (gpt4o["requests"], gpt4o["input_tokens"], gpt4o["output_tokens"], gpt4o["cached_tokens"]) == (
        4, 3000, 450, 512,
    )  # fmt: skip
    mini = rows[(dt.date(2025, 10, 5), "gpt-4o-mini-2024-07-18", '{"batch": "true", "user": "user-2"}')]
    assert (mini["requests"], mini["input_tokens"], mini["output_tokens"]) == (3, 900, 90)
    next_day = rows[(dt.date(2025, 10, 6), "gpt-4o-2024-08-06", '{"user": "user-1"}')]
    assert (next_day["requests"], next_day["input_tokens"], next_day["cached_tokens"]) == (4, 4000, 1024)
    assert stored(engine, workspace_id) == (3, 0)


def test_a_partial_first_bucket_counts_on_its_own_utc_day() -> None:
    # The API's first bucket for "the last 30 days" starts mid-day (17:31 UTC); the day is the bucket's start.
    line = USAGE_TSV.splitlines()[1].replace("1759622400\t1759708800\t2025-10-05T00:00:00+00:00",
                                             "1736616660\t1736640000\t2025-01-11T17:31:00+00:00")  # fmt: skip
    frame = usage(USAGE_HEADER + "\n" + line, "usage.tsv").frame
    assert [d.date() for d in frame["day"]] == [dt.date(2025, 1, 11)]


def test_a_fractional_count_or_odd_batch_names_the_row_and_column() -> None:
    with pytest.raises(BadFile, match="Row 3, column 'input_tokens': '46264.5' is not a whole number"):
        usage(USAGE_TSV.replace("46264.0", "46264.5"), "usage.tsv")
    with pytest.raises(BadFile, match="Row 2, column 'batch': 'maybe' is not TRUE or FALSE"):
        usage(USAGE_TSV.replace("\tFALSE\t", "\tmaybe\t", 1), "usage.tsv")


def test_usage_only_can_be_priced_from_tokens_when_chosen(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    one_row = USAGE_HEADER + "\n" + USAGE_TSV.splitlines()[1] + "\n"  # gpt-4o-2024-08-06, 10 requests
    assert detect_parser(RawFile("usage.tsv", one_row.encode())).name == "openai_usage_export"
    priced = importer("usage.tsv", one_row, format="openai_usage_priced")
    assert priced.format == "openai_usage_priced"
    # List prices for gpt-4o-2024-08-06: $2.50/M input, $1.25/M cached input, $10/M output.
    # (59200 - 5760) x 2.50 + 5760 x 1.25 + 10646 x 10.00 per million = 0.1336 + 0.0072 + 0.10646
    assert priced.total_usd == "0.247260"
    assert "Priced from tokens" in priced.notes[0]
    assert stored(engine, workspace_id) == (1, 247_260)
    # Importing it again without pricing (because the cost export is coming) sets the same charge to $0.
    plain = importer("usage.tsv", one_row)
    assert (plain.charges_written, plain.revised) == (0, 1)
    assert stored(engine, workspace_id) == (1, 0)


def test_priced_usage_warns_about_batch_rates() -> None:
    parsed = OpenAIUsagePriced().parse(RawFile("usage.csv", USAGE_1M.encode()), skip_bad_rows=False)
    assert all(a is None for a in parsed.frame["amount"])
    assert "Batch" in parsed.notes[0]


def test_usage_exports_without_tokens_are_refused_plainly() -> None:
    images = "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,images,size,source\n"
    images += "1759622400,1759708800,2025-10-05T00:00:00+00:00,2025-10-06T00:00:00+00:00,proj_a,2.0,2.0,1024x1024,"
    images += "image.generation\n"
    raw = RawFile("images.csv", images.encode())
    assert detect_parser(raw).name == "openai_usage_export"
    with pytest.raises(BadFile, match="no 'input_tokens' column"):
        OpenAIUsageExport().parse(raw, skip_bad_rows=False)


# Detection -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (COSTS_TSV, "openai_costs_export"),
        (as_csv(COSTS_TSV), "openai_costs_export"),
        (COSTS_BY_LINE, "openai_costs_export"),
        (USAGE_TSV, "openai_usage_export"),
        (as_csv(USAGE_TSV), "openai_usage_export"),
        (USAGE_1M, "openai_usage_export"),
    ],
)
def test_each_variant_is_detected(text: str, expected: str) -> None:
    assert detect_parser(RawFile("export", text.encode())).name == expected


@pytest.mark.parametrize(
    "text",
    [
        "Date,Vendor,Description,Amount\n03/04/2026,OpenAI,GPT-4o API usage,12.30\n",
        "start_time,amount,model\n2025-10-05T00:00:00Z,1.20,gpt-4o\n",  # one of our column names is not enough
        (SAMPLES / "openai_costs_response.json").read_text(),  # the API's JSON is a different format
        "",
        "\x00\x01binary",
    ],
)
def test_other_files_are_not_mistaken_for_ours(text: str) -> None:
    raw = RawFile("other", text.encode())
    for parser in (OpenAICostsExport(), OpenAIUsageExport(), OpenAIUsagePriced()):
        assert parser.detect(raw) == 0


def test_the_priced_variant_is_never_the_detected_one() -> None:
    raw = RawFile("usage.tsv", USAGE_TSV.encode())
    assert OpenAIUsagePriced().detect(raw) < OpenAIUsageExport().detect(raw)
    assert OpenAIUsagePriced().detect(RawFile("costs.tsv", COSTS_TSV.encode())) == 0


def test_a_row_far_longer_than_the_header_is_refused_not_cut(importer) -> None:  # type: ignore[no-untyped-def]
    header = "start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,line_item,project_id"
    row = "1759622400,1759708800,2025-10-05T00:00:00+00:00,2025-10-06T00:00:00+00:00,0.5,usd,x,p" + ",z" * 20
    with pytest.raises(BadFile, match="more cells than the header"):
        importer("costs.csv", f"{header}\n{row}\n")


def test_a_cost_export_and_an_api_sync_of_the_same_days_count_the_money_once(  # type: ignore[no-untyped-def]
    importer, engine: Engine, workspace_id: int
) -> None:
    import csv
    import io

    from connectors.openai_costs import charges_from_costs_page
    from core import queries
    from core.db import session_scope

    first = importer("costs_by_line_item.csv", COSTS_BY_LINE)
    count, total = stored(engine, workspace_id)
    # The same lines as the Costs API returns them: one bucket per day, grouped by line item and project.
    buckets: dict[int, list[dict[str, object]]] = {}
    for record in csv.DictReader(io.StringIO(COSTS_BY_LINE)):
        if record.get("amount_value") and Decimal(record["amount_value"]):
            buckets.setdefault(int(record["start_time"]), []).append(
                {"object": "organization.costs.result", "amount": {"value": Decimal(record["amount_value"]),
                 "currency": record["amount_currency"]}, "line_item": record["line_item"] or None,
                 "project_id": record["project_id"] or None}
            )  # fmt: skip
    page = {"data": [{"start_time": t, "end_time": t + 86_400, "results": r} for t, r in sorted(buckets.items())]}
    with session_scope(engine) as session:
        result = queries.upsert_charges(session, workspace_id=workspace_id, rows=charges_from_costs_page(page))
    # Same keys: the sync finds every line the export wrote (it may restate them, with the same money).
    assert result.written == 0 and result.duplicates + result.revised == first.charges_written
    assert stored(engine, workspace_id) == (count, total)
