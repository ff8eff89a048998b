"""LiteLLM spend logs: the table as CSV, `/spend/logs/v2` JSON, logger payloads (JSONL and the real GCS sample);
naive/Z/offset timestamps, JSON-text vs object metadata and tags, failures and cache hits, pricing from tokens,
the roll-up of many requests into a few daily charges, and the all-or-nothing, idempotent import."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from connectors.files import detect_parser, get_parser
from connectors.files.base import BadFile, RawFile
from connectors.files.litellm import LiteLLMParser
from connectors.files.normalise import Unpriced
from connectors.files.synthetic import write_litellm_csv
from core.db import session_scope
from core.models import Charge
from tests.connectors.files.conftest import FIXTURES, SAMPLES, stored

LITELLM = FIXTURES / "litellm"
GCS_SAMPLE = SAMPLES / "litellm_spendlogs_payload_gcs.json"
BATCH_KEY = hashlib.sha256(b"sk-batch-key").hexdigest()  # the hashed key of the fixture's D and F rows


def text(name: str) -> str:
    return (LITELLM / name).read_text()


def parse(name: str, data: str | bytes, *, skip_bad_rows: bool = False):  # type: ignore[no-untyped-def]
    raw = RawFile(name, data.encode() if isinstance(data, str) else data)
    return LiteLLMParser().parse(raw, skip_bad_rows=skip_bad_rows)


def charges(engine: Engine, workspace_id: int) -> list[Charge]:
    with session_scope(engine) as session:
        rows = session.execute(select(Charge).where(Charge.workspace_id == workspace_id)).scalars().all()
        session.expunge_all()
    return sorted(rows, key=lambda c: (c.day, c.provider, c.amount_micros))


# The spendlogs.csv fixture, worked out by hand:
#   2026-03-01  A 0.000054999999999999995 + B 0.00012 = 0.000174999999999999995 → 175 micro-dollars (half-even)
#   2026-03-02  C 0.5 (20:30 at -05:00 is 01:30 UTC the next day) + E 0.0 (a failure)   → 500000
#   2026-03-02  D 0.0024 + F 0.0 (a cache hit)                                          → 2400
FIXTURE_CHARGES = [
    (dt.date(2026, 3, 1), "OpenAI", "gpt-4o-mini-2024-07-18", "prod-key", "search", "team-1", "cust-a",
     {"prod": "true"}, "0.000174999999999999995", 175, 2, 110, 70),
    (dt.date(2026, 3, 2), "Anthropic", "claude-3-5-haiku-20241022", BATCH_KEY, "proj-x", "team-2", "cust-b",
     {"batch": "true"}, "0.0024", 2400, 2, 1030, 405),
    (dt.date(2026, 3, 2), "OpenAI", "gpt-4o-mini-2024-07-18", "prod-key", "search", "team-1", "cust-a",
     {"prod": "true"}, "0.5", 500_000, 2, 2000, 1000),
]  # fmt: skip
FIXTURE_TOTAL = "0.502575"  # 175 + 2400 + 500000 micro-dollars


def summary(engine: Engine, workspace_id: int) -> list[tuple[object, ...]]:
    return [
        (c.day, c.provider, c.model, c.api_key, c.project, c.department, c.customer, c.tags, c.original_amount,
         c.amount_micros, c.requests, c.input_tokens, c.output_tokens)
        for c in charges(engine, workspace_id)
    ]  # fmt: skip


# Parsing ---------------------------------------------------------------------------------------------


def test_the_table_export_gives_one_row_per_request_with_its_dimensions() -> None:
    parsed = parse("spendlogs.csv", text("spendlogs.csv"))
    frame = parsed.frame
    assert parsed.rows_read == 6 and list(frame["row"]) == [2, 3, 4, 5, 6, 7]
    assert list(frame["amount"]) == [
        Decimal("0.000054999999999999995"),
        Decimal("0.00012"),
        Decimal("0.5"),
        Decimal("0.0024"),
        Decimal("0.0"),
        Decimal("0.0"),
    ]  # fmt: skip  (exact: the float's digits as written, not a float)
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 3, 1)] * 2 + [dt.date(2026, 3, 2)] * 4
    assert list(frame["provider"]) == ["OpenAI"] * 3 + ["Anthropic", "OpenAI", "Anthropic"]
    assert list(frame["service"]) == ["API"] * 6
    assert list(frame["api_key"]) == ["prod-key"] * 3 + [BATCH_KEY, "prod-key", BATCH_KEY]  # alias, else the hash
    assert list(frame["project"]) == ["search"] * 3 + ["proj-x", "search", "proj-x"]  # project_id before team alias
    assert list(frame["department"]) == ["team-1"] * 3 + ["team-2", "team-1", "team-2"]
    assert list(frame["customer"]) == ["cust-a"] * 3 + ["cust-b", "cust-a", "cust-b"]
    assert list(frame["requests"]) == [1] * 6
    # 'User-Agent: …' tags name the client library, not a spend dimension: left out.
    assert list(frame["tags"]) == ['{"prod": "true"}'] * 3 + ['{"batch": "true"}', '{"prod": "true"}'] + [
        '{"batch": "true"}'
    ]


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("2026-03-01 23:59:59.999", dt.date(2026, 3, 1)),  # naive: UTC
        ("2026-03-01T23:59:59.999999", dt.date(2026, 3, 1)),  # the logger's naive ISO
        ("2026-03-01T23:59:59Z", dt.date(2026, 3, 1)),
        ("2026-03-01T23:59:59+00:00", dt.date(2026, 3, 1)),
        ("2026-03-01T20:30:00-05:00", dt.date(2026, 3, 2)),  # 01:30 UTC the next day
        ("2026-03-02T00:30:00+01:00", dt.date(2026, 3, 1)),  # 23:30 UTC the day before
    ],
)
def test_timestamps_are_bucketed_by_their_utc_day(stamp: str, day: dt.date) -> None:
    csv_text = f"request_id,spend,startTime,model\nr-1,0.1,{stamp},gpt-4o\nr-2,0.1,2026-03-05 10:00:00,gpt-4o\n"
    assert parse("s.csv", csv_text).frame["day"].iloc[0].date() == day


def test_json_text_and_object_metadata_and_tags_read_the_same() -> None:
    """The logger writes metadata/request_tags as JSON text; the API returns objects and lists."""
    from_csv = parse("spendlogs.csv", text("spendlogs.csv")).frame
    from_api = parse("spendlogs_v2.json", text("spendlogs_v2.json")).frame
    columns = ["day", "amount", "provider", "model", "api_key", "project", "department", "customer", "tags",
               "input_tokens", "output_tokens", "requests"]  # fmt: skip
    assert from_api[columns].astype(str).values.tolist() == from_csv[columns].astype(str).values.tolist()


def test_the_real_gcs_logger_payload() -> None:
    parsed = parse(GCS_SAMPLE.name, GCS_SAMPLE.read_bytes())
    row = parsed.frame.iloc[0]
    assert parsed.rows_read == 1
    assert row["amount"] == Decimal("0.000054999999999999995")  # "spend": 0.000054999999999999995
    assert row["day"].date() == dt.date(2024, 8, 1)  # "2024-08-01T14:27:12.563246", naive
    assert (row["provider"], row["model"], row["customer"]) == ("OpenAI", "gpt-3.5-turbo", "ishaan-2")
    assert (row["input_tokens"], row["output_tokens"], row["tags"], row["project"]) == (10, 20, "", "")


def test_cached_tokens_come_from_the_usage_object_in_metadata() -> None:
    csv_text = (
        "request_id,spend,prompt_tokens,completion_tokens,startTime,model,custom_llm_provider,metadata\n"
        'r-1,0.001,1200,100,2026-03-01 10:00:00,gpt-4o,openai,"{""usage_object"": {""prompt_tokens"": 1200, '
        '""prompt_tokens_details"": {""cached_tokens"": 1024}}}"\n'
        'r-2,0.002,900,50,2026-03-01 11:00:00,claude-sonnet-4-5,anthropic,"{""usage_object"": '
        '{""cache_read_input_tokens"": 600}}"\n'
    )
    frame = parse("s.csv", csv_text).frame
    assert list(frame["cached_tokens"]) == [1024, 600]


def test_provider_comes_from_the_gateway_route_when_custom_llm_provider_is_blank() -> None:
    csv_text = (
        "request_id,spend,startTime,model,custom_llm_provider\n"
        "r-1,0.1,2026-03-01 10:00:00,bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0,\n"
        "r-2,0.1,2026-03-01 10:00:00,azure/gpt-4o,\n"
        "r-3,0.1,2026-03-01 10:00:00,gemini-2.0-flash,vertex_ai\n"
        "r-4,0.1,2026-03-01 10:00:00,claude-sonnet-4-5,\n"
    )
    frame = parse("s.csv", csv_text).frame
    assert list(frame["provider"]) == ["AWS Bedrock", "Azure OpenAI", "Google", "Anthropic"]
    assert list(frame["model"]) == [
        "claude-3-5-sonnet-20240620-v1:0", "gpt-4o", "gemini-2.0-flash", "claude-sonnet-4-5"
    ]  # fmt: skip


# Importing -------------------------------------------------------------------------------------------


def test_requests_roll_up_into_daily_charges_exactly_once(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    first = importer("spendlogs.csv", text("spendlogs.csv"))
    assert first.format == "litellm"
    assert (first.rows_read, first.charges_written, first.duplicates, first.total_usd) == (6, 3, 0, FIXTURE_TOTAL)
    assert (first.first_day, first.last_day, first.unpriced) == (dt.date(2026, 3, 1), dt.date(2026, 3, 2), [])
    assert summary(engine, workspace_id) == FIXTURE_CHARGES
    again = importer("spendlogs.csv", text("spendlogs.csv"))
    assert (again.charges_written, again.duplicates, again.revised) == (0, 3, 0)
    assert stored(engine, workspace_id) == (3, 502_575)


def test_the_same_requests_from_the_api_land_on_the_same_charges(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("spendlogs.csv", text("spendlogs.csv"))
    api = importer("spendlogs_v2.json", text("spendlogs_v2.json"))
    assert api.format == "litellm"
    assert (api.rows_read, api.charges_written, api.duplicates, api.revised) == (6, 0, 3, 0)
    logger = importer("spendlogs.jsonl", text("spendlogs.jsonl"))  # the first day's two requests again
    assert (logger.rows_read, logger.charges_written, logger.duplicates) == (2, 0, 1)
    assert stored(engine, workspace_id) == (3, 502_575)


def test_a_later_export_with_a_revised_request_replaces_that_day(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("spendlogs.csv", text("spendlogs.csv"))
    later = importer("spendlogs-later.csv", text("spendlogs_revised.csv"))  # B: 0.00012 → 0.00022
    assert (later.charges_written, later.revised, later.duplicates) == (0, 1, 2)
    first_day = charges(engine, workspace_id)[0]
    assert (first_day.original_amount, first_day.amount_micros) == ("0.000274999999999999995", 275)
    assert stored(engine, workspace_id) == (3, 502_675)


def test_missing_spend_is_priced_from_tokens_and_unknown_models_are_listed(  # type: ignore[no-untyped-def]
    importer, engine: Engine, workspace_id: int
) -> None:
    result = importer("spendlogs_unpriced.csv", text("spendlogs_unpriced.csv"))
    # gpt-4o-mini on 2026-03-01 (genai-prices): $0.15 per million input tokens, $0.60 per million output tokens:
    # 1200 × 0.15 / 1e6 + 300 × 0.60 / 1e6 = 0.00018 + 0.00018 = 0.00036.
    assert (result.charges_written, result.total_usd) == (1, "0.000360")
    assert result.unpriced == [Unpriced(provider="Other", model="acme-llm-7b", rows=1, input_tokens=500,
                                        output_tokens=100)]  # fmt: skip
    assert stored(engine, workspace_id) == (1, 360)  # the unknown model is listed, never stored as $0


def test_failed_requests_count_as_requests_at_the_zero_the_log_says() -> None:
    csv_text = (
        "request_id,spend,prompt_tokens,completion_tokens,startTime,model,custom_llm_provider,status\n"
        "r-1,0.0,0,0,2026-03-01 10:00:00,gpt-4o,openai,failure\n"
        "r-2,0.0,0,0,2026-03-01 10:05:00,gpt-4o,openai,failure\n"
    )
    frame = parse("s.csv", csv_text).frame
    assert list(frame["amount"]) == [Decimal("0.0"), Decimal("0.0")] and list(frame["requests"]) == [1, 1]


def test_synthetic_requests_sum_exactly_per_day(importer, engine: Engine, workspace_id: int, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Many requests, few charges: every day's charges hold exactly the day's spend, tokens and requests."""
    path = write_litellm_csv(tmp_path / "spend.csv", 20_000, seed=7, profile="full", days=2)
    expected: dict[dt.date, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0, 0, 0])
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            day = expected[dt.date.fromisoformat(record["startTime"][:10])]
            day[0] += Decimal(record["spend"])
            day[1] += int(record["prompt_tokens"])
            day[2] += int(record["completion_tokens"])
            day[3] += 1
    result = importer("spend.csv", path.read_bytes())
    assert result.format == "litellm" and result.rows_read == 20_000
    assert result.charges_written < 20_000 / 4
    got: dict[dt.date, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0, 0, 0])
    for charge in charges(engine, workspace_id):
        day = got[charge.day]
        day[0] += Decimal(charge.original_amount)
        day[1] += charge.input_tokens
        day[2] += charge.output_tokens
        day[3] += charge.requests
    assert got == expected
    micros = sum(
        (Decimal(c.original_amount).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN) for c in
         charges(engine, workspace_id)), Decimal(0)
    )  # fmt: skip
    assert Decimal(result.total_usd) == micros
    again = importer("spend.csv", path.read_bytes())
    assert (again.charges_written, again.duplicates) == (0, result.charges_written)


# Bad files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "column", "row"),
    [("0,0012x", "spend", 3), ("2026-02-30 10:00:00", "startTime", 3), ("12.5", "prompt_tokens", 3)],
)
def test_a_bad_cell_names_its_row_and_column_and_nothing_is_written(  # type: ignore[no-untyped-def]
    importer, engine: Engine, workspace_id: int, cell: str, column: str, row: int
) -> None:
    lines = text("spendlogs.csv").splitlines()
    header = lines[0].split(",")
    values = next(csv.reader([lines[2]]))
    values[header.index(column)] = cell
    buffer = [lines[0], lines[1]]
    out = csv.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    buffer.append(out.getvalue())
    data = "\n".join(buffer + lines[3:]) + "\n"
    with pytest.raises(BadFile) as problem:
        importer("bad.csv", data)
    assert (problem.value.row, problem.value.column) == (row, column)
    assert f"Row {row}" in str(problem.value) and column in str(problem.value)
    assert stored(engine, workspace_id) == (0, 0)
    skipped = importer("bad.csv", data, skip_bad_rows=True)
    assert [(s.row, s.column) for s in skipped.skipped] == [(row, column)]
    assert skipped.rows_read == 6


def test_a_file_cut_off_mid_row_is_refused(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    data = text("spendlogs.csv")
    cut = data[: data.index("chatcmpl-d4") + 40]
    with pytest.raises(BadFile, match="Row 5"):
        importer("cut.csv", cut, format="litellm")
    assert stored(engine, workspace_id) == (0, 0)


def test_a_cut_off_json_export_is_refused(importer) -> None:  # type: ignore[no-untyped-def]
    data = text("spendlogs_v2.json")
    with pytest.raises(BadFile, match="cut off"):
        importer("cut.json", data[: len(data) // 2], format="litellm")


def test_header_only_is_no_data(importer) -> None:  # type: ignore[no-untyped-def]
    result = importer("empty.csv", text("spendlogs.csv").splitlines()[0] + "\n")
    assert (result.format, result.rows_read, result.charges_written) == ("litellm", 0, 0)


def test_a_log_without_spend_or_start_time_says_which_column_is_missing() -> None:
    with pytest.raises(BadFile, match="'startTime'"):
        parse("s.csv", "request_id,call_type,spend,model\nr-1,acompletion,0.1,gpt-4o\n")
    with pytest.raises(BadFile, match="'spend'"):
        parse("s.csv", "request_id,call_type,startTime,model\nr-1,acompletion,2026-03-01,gpt-4o\n")


# Detection -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["spendlogs.csv", "spendlogs_v2.json", "spendlogs.jsonl", "spendlogs_unpriced.csv"])
def test_each_variant_is_detected(name: str) -> None:
    assert detect_parser(RawFile(name, (LITELLM / name).read_bytes())).name == "litellm"


def test_the_real_sample_and_synthetic_files_are_detected(tmp_path: Path) -> None:
    assert detect_parser(RawFile(GCS_SAMPLE.name, GCS_SAMPLE.read_bytes())).name == "litellm"
    for profile in ("benchmark", "full"):
        path = write_litellm_csv(tmp_path / f"{profile}.csv", 50, seed=1, profile=profile)
        assert detect_parser(RawFile(path.name, path.read_bytes())).name == "litellm"


@pytest.mark.parametrize(
    "name",
    [
        "openai_costs_response.json", "anthropic_cost_report_response.json", "openai_dashboard_costs_export.tsv",
        "helicone_export_header.csv", "aws_ce_get_cost_and_usage_response.json", "stripe_invoice.json",
    ],
)  # fmt: skip
def test_other_exports_are_not_mistaken_for_litellm(name: str) -> None:
    assert get_parser("litellm").detect(RawFile(name, (SAMPLES / name).read_bytes())) == 0


@pytest.mark.parametrize(
    "ledger", ["date,vendor,spend\n2026-03-01,OpenAI,12.50\n", "startTime,vendor,spend\n2026-03-01,OpenAI,12.50\n"]
)
def test_a_generic_ledger_with_a_spend_column_is_not_litellm(ledger: str) -> None:
    assert get_parser("litellm").detect(RawFile("ledger.csv", ledger.encode())) == 0
    assert detect_parser(RawFile("ledger.csv", ledger.encode())).name == "generic"
