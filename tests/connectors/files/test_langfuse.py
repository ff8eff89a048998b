"""Langfuse observation exports: the batch export as CSV (JSON cells as text, dates as JSON strings), JSON and
JSONL; v2's generations CSV and the v1 API; only generations and embeddings counted; costs from costDetails
(with or without 'total'), a missing cost priced from tokens and never taken as $0, the all-or-nothing import."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from connectors.files import detect_parser, get_parser
from connectors.files.base import BadFile, RawFile
from connectors.files.langfuse import LangfuseParser
from connectors.files.normalise import Unpriced
from core.db import session_scope
from core.models import Charge
from tests.connectors.files.conftest import FIXTURES, SAMPLES, stored

LANGFUSE = FIXTURES / "langfuse"
PROJECT = "cm7proj0001langfuse0000a"
# observations.* hold 8 observations: 6 generations, 1 embedding… and a SPAN and an EVENT, which are left out.
#   2026-03-01 gpt-4o-mini       costDetails total 0.000315                                   → 315
#   2026-03-01 claude-3-5-haiku  costDetails without total: 0.0008 + 0.0008 + 0.00004 = 0.00164 → 1640
#   2026-03-02 gpt-4o-mini       no cost (costDetails {}, totalCost 0): priced by genai-prices at $0.15 / $0.60
#                                per million: 2000 × 0.15 / 1e6 + 500 × 0.60 / 1e6 = 0.0003 + 0.0003 → 600
#   2026-03-02 text-embedding-3-small costDetails total 0.0001                                 → 100
#   2026-03-02 acme-llm-7b       no cost, a model nobody prices                               → listed, not stored
#   2026-03-02 llama-3-8b-local  costDetails {"total": 0}: the source says $0                   → 0
TOTAL = "0.002655"


def data(name: str) -> bytes:
    return (LANGFUSE / name).read_bytes()


def parse(name: str, content: bytes | str, *, skip_bad_rows: bool = False):  # type: ignore[no-untyped-def]
    raw = RawFile(name, content.encode() if isinstance(content, str) else content)
    return LangfuseParser().parse(raw, skip_bad_rows=skip_bad_rows)


def charges(engine: Engine, workspace_id: int) -> list[Charge]:
    with session_scope(engine) as session:
        rows = session.execute(select(Charge).where(Charge.workspace_id == workspace_id)).scalars().all()
        session.expunge_all()
    return sorted(rows, key=lambda c: (c.day, c.model))


@pytest.mark.parametrize("name", ["observations.csv", "observations.json", "observations.jsonl"])
def test_only_generations_and_embeddings_are_read(name: str) -> None:
    parsed = parse(name, data(name))
    frame = parsed.frame
    assert parsed.rows_read == 8
    first_row = 2 if name.endswith(".csv") else 1
    assert list(frame["row"]) == [first_row + i for i in (0, 3, 4, 5, 6, 7)]  # the SPAN and the EVENT left out
    assert any("SPAN × 1, EVENT × 1" in note for note in parsed.notes)
    assert list(frame["model"]) == [
        "gpt-4o-mini", "claude-3-5-haiku-20241022", "gpt-4o-mini", "text-embedding-3-small", "acme-llm-7b",
        "llama-3-8b-local",
    ]  # fmt: skip
    assert list(frame["amount"]) == [
        Decimal("0.000315"), Decimal("0.00164"), None, Decimal("0.0001"), None, Decimal("0")
    ]  # fmt: skip
    # input = every input* key (Langfuse's keys add up) plus Anthropic-style cache_*_input_tokens.
    assert list(frame["input_tokens"]) == [1000, 1500, 2000, 5000, 100, 50]
    assert list(frame["output_tokens"]) == [300, 200, 500, 0, 100, 50]
    assert list(frame["cached_tokens"]) == [200, 500, 0, 0, 0, 0]
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 3, 1)] * 2 + [dt.date(2026, 3, 2)] * 4
    assert list(frame["customer"]) == ["user-1", "user-2", "user-1", "user-1", "user-3", "initech"]  # metadata wins
    assert list(frame["feature"]) == ["support-chat", "summarise", "support-chat", "index-docs", "experiments",
                                      "experiments"]  # fmt: skip
    assert set(frame["project"]) == {PROJECT}
    assert frame["tags"].iloc[0] == '{"environment": "production", "prod": "true"}'  # traceTags + environment
    assert frame["tags"].iloc[1] == ""  # environment 'default' is no tag


def test_csv_json_and_jsonl_exports_land_on_the_same_charges(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    first = importer("observations.csv", data("observations.csv"))
    assert first.format == "langfuse"
    assert (first.rows_read, first.charges_written, first.total_usd) == (8, 5, TOTAL)
    assert first.unpriced == [Unpriced(provider="Other", model="acme-llm-7b", rows=1, input_tokens=100,
                                       output_tokens=100)]  # fmt: skip
    stored_charges = charges(engine, workspace_id)
    assert [(c.day, c.provider, c.model, c.amount_micros, c.original_amount) for c in stored_charges] == [
        (dt.date(2026, 3, 1), "Anthropic", "claude-3-5-haiku-20241022", 1640, "0.00164"),
        (dt.date(2026, 3, 1), "OpenAI", "gpt-4o-mini", 315, "0.000315"),
        (dt.date(2026, 3, 2), "OpenAI", "gpt-4o-mini", 600, "0.0006"),  # priced
        (dt.date(2026, 3, 2), "Meta", "llama-3-8b-local", 0, "0"),
        (dt.date(2026, 3, 2), "OpenAI", "text-embedding-3-small", 100, "0.0001"),
    ]  # fmt: skip
    for name in ("observations.json", "observations.jsonl", "observations.csv"):
        again = importer(name, data(name))
        assert (again.charges_written, again.duplicates, again.revised) == (0, 5, 0), name
    assert stored(engine, workspace_id) == (5, 2655)


def test_a_later_export_with_a_revised_cost_replaces_that_day(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("observations.json", data("observations.json"))
    records = json.loads(data("observations.json"))
    records[0]["costDetails"]["total"] = 0.000415
    later = importer("observations-later.json", json.dumps(records))
    assert (later.charges_written, later.revised, later.duplicates) == (0, 1, 4)
    assert stored(engine, workspace_id) == (5, 2755)


def test_a_zero_total_next_to_empty_cost_details_is_a_missing_cost() -> None:
    """Older Langfuse wrote totalCost 0 when no cost was known (langfuse/langfuse#16287): priced, not free."""
    record = {"traceId": "t", "type": "GENERATION", "startTime": "2026-03-01T10:00:00.000Z", "model": "gpt-4o-mini",
              "usageDetails": {"input": 1200, "output": 300}}  # fmt: skip
    zero_without_details = {**record, "costDetails": {}, "totalCost": 0}
    zero_in_details = {**record, "costDetails": {"total": 0}, "totalCost": 0}
    zero_without_a_details_column = {**record, "totalCost": 0}
    amounts = [parse("o.json", json.dumps([r])).frame["amount"].iloc[0] for r in (
        zero_without_details, zero_in_details, zero_without_a_details_column)]  # fmt: skip
    assert amounts == [None, Decimal("0"), Decimal("0")]


def test_v2_generations_export_and_v1_api_are_read(importer) -> None:  # type: ignore[no-untyped-def]
    old = parse("generations.csv", data("generations_v2.csv"))
    assert list(old.frame["amount"]) == [Decimal("0.000315"), None]  # "$0.000315"; blank = no cost → priced
    assert list(old.frame["input_tokens"]) == [1000, 2000] and list(old.frame["output_tokens"]) == [300, 500]
    result = importer("generations.csv", data("generations_v2.csv"))
    assert (result.format, result.charges_written, result.total_usd) == ("langfuse", 2, "0.000915")  # 315 + 600
    v1 = parse("observations.json", data("observations_v1_api.json"))
    assert list(v1.frame["amount"]) == [Decimal("0.000315")]  # calculatedTotalCost
    assert list(v1.frame["input_tokens"]) == [1000] and list(v1.frame["cached_tokens"]) == [200]


# Bad files -------------------------------------------------------------------------------------------


def test_a_bad_date_names_its_row_and_column(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    bad = data("observations.csv").replace(b'"""2026-03-01T15:00:00.000Z"""', b'"""2026-13-01T15:00:00.000Z"""', 1)
    with pytest.raises(BadFile) as problem:
        importer("observations.csv", bad)
    assert (problem.value.row, problem.value.column) == (5, "startTime")
    assert stored(engine, workspace_id) == (0, 0)


def test_a_bad_cost_names_its_row(importer) -> None:  # type: ignore[no-untyped-def]
    records = json.loads(data("observations.json"))
    del records[0]["costDetails"]
    records[0]["totalCost"] = "twelve"
    with pytest.raises(BadFile) as problem:
        importer("observations.json", json.dumps(records))
    assert (problem.value.row, problem.value.column) == (1, "totalCost")


def test_a_cut_off_export_is_refused(importer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadFile, match="cut off"):
        importer("observations.json", data("observations.json")[:2000], format="langfuse")
    with pytest.raises(BadFile):
        importer("observations.csv", data("observations.csv")[:1500], format="langfuse")


def test_an_export_of_only_spans_has_no_charges(importer) -> None:  # type: ignore[no-untyped-def]
    records = [r for r in json.loads(data("observations.json")) if r["type"] in ("SPAN", "EVENT")]
    result = importer("spans.json", json.dumps(records), format="langfuse")
    assert (result.rows_read, result.charges_written) == (2, 0)
    assert any("left out" in note for note in result.notes)


def test_header_only_is_no_data(importer) -> None:  # type: ignore[no-untyped-def]
    result = importer("observations.csv", data("observations.csv").splitlines()[0] + b"\n")
    assert (result.format, result.rows_read, result.charges_written) == ("langfuse", 0, 0)


# Detection -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["observations.csv", "observations.json", "observations.jsonl", "generations_v2.csv", "observations_v1_api.json"],
)
def test_each_variant_is_detected(name: str) -> None:
    assert detect_parser(RawFile(name, data(name))).name == "langfuse"


@pytest.mark.parametrize(
    "name",
    [
        "openai_costs_response.json", "anthropic_cost_report_response.json", "openai_dashboard_costs_export.tsv",
        "helicone_export_header.csv", "litellm_spendlogs_payload_gcs.json", "stripe_balance_transaction.json",
    ],
)  # fmt: skip
def test_other_exports_are_not_mistaken_for_langfuse(name: str) -> None:
    assert get_parser("langfuse").detect(RawFile(name, (SAMPLES / name).read_bytes())) == 0


def test_the_gateway_formats_are_told_apart() -> None:
    litellm = (FIXTURES / "litellm" / "spendlogs.csv").read_bytes()
    helicone = (FIXTURES / "helicone" / "requests.jsonl").read_bytes()
    assert get_parser("langfuse").detect(RawFile("a.csv", litellm)) == 0
    assert get_parser("langfuse").detect(RawFile("a.jsonl", helicone)) == 0
    assert get_parser("litellm").detect(RawFile("o.csv", data("observations.csv"))) == 0
    assert get_parser("helicone").detect(RawFile("o.json", data("observations.json"))) == 0
