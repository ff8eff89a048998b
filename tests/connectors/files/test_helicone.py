"""Helicone exports: the export tool's CSV (empty model column, JSON escaped twice, 'cost' or 'cost_usd'), the raw
API records as JSONL and as the tool's JSON array (with its trailing comma), custom properties as dimensions,
cache tokens, $0 for unpriced models, nano-dollar costs, the roll-up and the all-or-nothing, idempotent import."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from connectors.files import detect_parser, get_parser
from connectors.files.base import BadFile, RawFile
from connectors.files.helicone import HeliconeParser
from connectors.files.normalise import Unpriced
from connectors.files.synthetic import write_helicone_csv
from core.db import session_scope
from core.models import Charge
from tests.connectors.files.conftest import FIXTURES, SAMPLES, stored

HELICONE = FIXTURES / "helicone"
HEADER_SAMPLE = SAMPLES / "helicone_export_header.csv"


def data(name: str) -> bytes:
    return (HELICONE / name).read_bytes()


def parse(name: str, content: bytes | str, *, skip_bad_rows: bool = False):  # type: ignore[no-untyped-def]
    raw = RawFile(name, content.encode() if isinstance(content, str) else content)
    return HeliconeParser().parse(raw, skip_bad_rows=skip_bad_rows)


def charges(engine: Engine, workspace_id: int) -> list[Charge]:
    with session_scope(engine) as session:
        rows = session.execute(select(Charge).where(Charge.workspace_id == workspace_id)).scalars().all()
        session.expunge_all()
    return sorted(rows, key=lambda c: (c.day, c.provider, c.model, c.amount_micros))


# The export tool's CSV -------------------------------------------------------------------------------


def test_the_export_tool_csv_reads_its_doubly_escaped_properties() -> None:
    parsed = parse("output.csv", data("export_tool.csv"))
    frame = parsed.frame
    assert parsed.rows_read == 4 and list(frame["row"]) == [2, 3, 4, 5]
    assert list(frame["amount"]) == [Decimal("0.00027"), Decimal("0.000135"), Decimal("0.002"), Decimal("0")]
    # The request's time, not the response's: request 2 was sent at 23:59:59.999 and answered after midnight.
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 3, 1)] * 2 + [dt.date(2026, 3, 2)] * 2
    # {"Helicone-Property-Customer": …} and a plain {"customer": …} both name the customer.
    assert list(frame["customer"]) == ["acme", "acme", "globex", "acme"]
    assert list(frame["feature"]) == ["chat", "chat", "", "chat"]
    assert list(frame["input_tokens"]) == [1000, 500, 50, 0] and list(frame["output_tokens"]) == [200, 100, 10, 0]
    # The tool reads item["model"], which the API does not return: no model, and a note that says so.
    assert list(frame["provider"]) == ["Other"] * 4 and list(frame["model"]) == [""] * 4
    assert any("name no model" in note for note in parsed.notes)


def test_the_export_tool_csv_imports_exactly_once(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    first = importer("output.csv", data("export_tool.csv"))
    assert first.format == "helicone"
    # 2026-03-01 acme/chat: 0.00027 + 0.000135 = 0.000405; 2026-03-02 globex 0.002; acme/chat's failed request $0.
    assert (first.rows_read, first.charges_written, first.total_usd) == (4, 3, "0.002405")
    assert [(c.day, c.customer, c.feature, c.amount_micros, c.requests) for c in charges(engine, workspace_id)] == [
        (dt.date(2026, 3, 1), "acme", "chat", 405, 2),
        (dt.date(2026, 3, 2), "acme", "chat", 0, 1),
        (dt.date(2026, 3, 2), "globex", "", 2000, 1),
    ]
    again = importer("output (1).csv", data("export_tool.csv"))
    assert (again.charges_written, again.duplicates, again.revised) == (0, 3, 0)
    assert stored(engine, workspace_id) == (3, 2405)


def test_without_a_cost_the_model_in_the_request_body_is_priced(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    """The tool version that writes 'cost_usd' leaves it empty; with --include-body the body names the model."""
    result = importer("output.csv", data("export_with_bodies.csv"))
    assert result.format == "helicone"
    # genai-prices on 2026-03-02: gpt-4o-mini $0.15 / $0.60 per million input / output tokens:
    #   2000 × 0.15 / 1e6 + 1000 × 0.60 / 1e6 = 0.0003 + 0.0006 = 0.0009
    # claude-3-5-haiku $0.80 / $4 per million: 100 × 0.80 / 1e6 + 10 × 4 / 1e6 = 0.00008 + 0.00004 = 0.00012
    assert (result.charges_written, result.total_usd) == (2, "0.001020")
    assert result.unpriced == [Unpriced(provider="Other", model="acme-llm-7b", rows=1, input_tokens=100,
                                        output_tokens=100)]  # fmt: skip
    assert [(c.provider, c.model, c.customer, c.amount_micros) for c in charges(engine, workspace_id)] == [
        ("Anthropic", "claude-3-5-haiku-20241022", "u-3", 120),  # no Customer property: the Helicone user id
        ("OpenAI", "gpt-4o-mini", "acme", 900),
    ]


# API records -----------------------------------------------------------------------------------------


def test_api_records_carry_provider_cache_tokens_and_properties() -> None:
    parsed = parse("requests.jsonl", data("requests.jsonl"))
    frame = parsed.frame
    assert parsed.rows_read == 6
    assert list(frame["provider"]) == ["OpenAI", "Anthropic", "AWS Bedrock", "OpenAI", "OpenAI", "OpenAI"]
    assert frame["model"].iloc[2] == "claude-3-5-sonnet-20240620-v1:0"  # 'anthropic.' prefix gone
    # prompt_tokens are the fresh ones; input adds cache reads (800 + 200) and writes (1000 + 100).
    assert list(frame["input_tokens"][:2]) == [1000, 1100] and list(frame["cached_tokens"][:2]) == [200, 0]
    assert (frame["project"].iloc[1], frame["department"].iloc[1], frame["customer"].iloc[1]) == (
        "search-revamp", "search", "u-2"
    )  # fmt: skip
    assert frame["tags"].iloc[0] == '{"environment": "production"}'
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 3, 1)] * 3 + [dt.date(2026, 3, 2)] * 3
    # Request 4 used 2,000 tokens at "$0": Helicone had no price for it, so it is priced from its tokens.
    # Request 5 is a Helicone cache hit (cache_reference_id set): its $0 is real. Request 6 failed (429): $0.
    assert list(frame["amount"][3:]) == [None, Decimal("0"), Decimal("0")]
    assert any("show $0 in Helicone" in note for note in parsed.notes)


def test_api_records_import_with_exact_totals(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    result = importer("requests.jsonl", data("requests.jsonl"))
    # 0.000315 + 0.0017 + 0.0018 on 2026-03-01; on 2026-03-02 gpt-4.1-mini priced by genai-prices at $0.40 / $1.60
    # per million: 1000 × 0.40 / 1e6 + 1000 × 1.60 / 1e6 = 0.002, and the cache hit and the failure at $0.
    assert (result.rows_read, result.charges_written, result.total_usd) == (6, 5, "0.005815")
    assert result.unpriced == []
    assert [(c.day, c.provider, c.model, c.amount_micros, c.requests) for c in charges(engine, workspace_id)] == [
        (dt.date(2026, 3, 1), "AWS Bedrock", "claude-3-5-sonnet-20240620-v1:0", 1800, 1),
        (dt.date(2026, 3, 1), "Anthropic", "claude-3-5-haiku-20241022", 1700, 1),
        (dt.date(2026, 3, 1), "OpenAI", "gpt-4o-mini", 315, 1),
        (dt.date(2026, 3, 2), "OpenAI", "gpt-4.1-mini", 2000, 1),
        (dt.date(2026, 3, 2), "OpenAI", "gpt-4o-mini", 0, 2),
    ]
    # The tool's JSON array of the first three requests (trailing comma and all) lands on the same charges.
    again = importer("output.json", data("requests.json"))
    assert (again.format, again.rows_read, again.charges_written, again.duplicates) == ("helicone", 3, 0, 3)


def test_a_later_export_with_a_revised_cost_replaces_that_day(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("output.csv", data("export_tool.csv"))
    revised = data("export_tool.csv").replace(b'"0.000135"', b'"0.000235"')
    later = importer("output-later.csv", revised)
    assert (later.charges_written, later.revised, later.duplicates) == (0, 1, 2)
    assert stored(engine, workspace_id) == (3, 2505)


def test_nano_dollar_costs_read_from_clickhouse_are_divided() -> None:
    parsed = parse("clickhouse.csv", data("clickhouse_nano.csv"))
    assert list(parsed.frame["amount"]) == [Decimal("0.00027"), Decimal("0.000135")]
    assert any("nano-dollars" in note for note in parsed.notes)


def test_dollar_costs_that_happen_to_be_whole_are_left_alone() -> None:
    csv_text = (
        "request_id,request_created_at,provider,model,prompt_tokens,completion_tokens,cost\n"
        "q-1,2026-03-01 10:00:00,OPENAI,o1-pro,2000000,100000,360\n"  # $360 for 2.1M tokens: real dollars
    )
    assert list(parse("q.csv", csv_text).frame["amount"]) == [Decimal("360")]


# Bad files -------------------------------------------------------------------------------------------


def test_a_bad_cost_names_its_row_and_column(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    bad = data("export_tool.csv").replace(b'"0.000135"', b'"n/a"')
    with pytest.raises(BadFile) as problem:
        importer("output.csv", bad)
    assert (problem.value.row, problem.value.column) == (3, "cost")
    assert stored(engine, workspace_id) == (0, 0)
    skipped = importer("output.csv", bad, skip_bad_rows=True)
    assert [(s.row, s.column) for s in skipped.skipped] == [(3, "cost")]
    assert skipped.total_usd == "0.002270"  # 0.00027 + 0.002 without the bad row


def test_an_impossible_date_names_its_row(importer) -> None:  # type: ignore[no-untyped-def]
    bad = data("export_tool.csv").replace(b'"2026-03-02T00:00:00.001Z"', b'"2026-02-30T00:00:00.001Z"')
    with pytest.raises(BadFile) as problem:
        importer("output.csv", bad)
    assert (problem.value.row, problem.value.column) == (4, "request_created_at")


def test_a_cut_off_export_is_refused(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    content = data("export_tool.csv")
    with pytest.raises(BadFile):
        importer("output.csv", content[: content.index(b"6f1c2e1a-0003") + 60], format="helicone")
    with pytest.raises(BadFile, match="cut off"):
        importer("output.jsonl", data("requests.jsonl")[:-40], format="helicone")
    assert stored(engine, workspace_id) == (0, 0)


def test_the_real_header_only_sample_is_no_data(importer) -> None:  # type: ignore[no-untyped-def]
    result = importer(HEADER_SAMPLE.name, HEADER_SAMPLE.read_bytes())
    assert (result.format, result.rows_read, result.charges_written) == ("helicone", 0, 0)


# Detection -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["export_tool.csv", "export_with_bodies.csv", "requests.jsonl", "requests.json", "clickhouse_nano.csv"]
)
def test_each_variant_is_detected(name: str) -> None:
    assert detect_parser(RawFile(name, data(name))).name == "helicone"


def test_the_real_header_and_synthetic_files_are_detected(tmp_path: Path) -> None:
    assert detect_parser(RawFile(HEADER_SAMPLE.name, HEADER_SAMPLE.read_bytes())).name == "helicone"
    for profile in ("benchmark", "full"):
        path = write_helicone_csv(tmp_path / f"{profile}.csv", 50, seed=1, profile=profile)
        assert detect_parser(RawFile(path.name, path.read_bytes())).name == "helicone"


@pytest.mark.parametrize(
    "name",
    [
        "openai_costs_response.json", "anthropic_usage_report_messages_response.json",
        "openai_dashboard_completions_usage_export.tsv", "litellm_spendlogs_payload_gcs.json", "stripe_charge.json",
    ],
)  # fmt: skip
def test_other_exports_are_not_mistaken_for_helicone(name: str) -> None:
    assert get_parser("helicone").detect(RawFile(name, (SAMPLES / name).read_bytes())) == 0


def test_a_synthetic_export_rolls_up_to_exact_daily_sums(  # type: ignore[no-untyped-def]
    importer, engine: Engine, workspace_id: int, tmp_path: Path
) -> None:
    path = write_helicone_csv(tmp_path / "out.csv", 20_000, seed=3, days=2)
    expected: dict[dt.date, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0])
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            day = expected[dt.date.fromisoformat(record["request_created_at"][:10])]
            day[0] += Decimal(record["cost"])
            day[1] += 1
    result = importer(path.name, path.read_bytes())
    assert result.rows_read == 20_000 and result.charges_written < 20_000 / 4
    got: dict[dt.date, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0])
    for charge in charges(engine, workspace_id):
        got[charge.day][0] += Decimal(charge.original_amount)
        got[charge.day][1] += charge.requests
    assert got == expected
