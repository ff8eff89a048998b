"""Azure cost details / exports: column spellings, US dates, currencies, tags, refunds and Azure OpenAI meters."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from connectors.files import detect_parser, get_parser
from connectors.files.azure import provider_and_model
from connectors.files.base import BadFile, RawFile
from core.db import session_scope
from core.models import Charge
from tests.connectors.files.conftest import FIXTURES, SAMPLES, stored

AZURE = FIXTURES / "azure"
MINE = ("gcp_console", "gcp_bigquery", "aws_cost_explorer", "aws_cur", "azure_cost")
SUBSCRIPTION = "contoso-ai-prod"


def fixture(name: str) -> str:
    return (AZURE / name).read_text()


def parse(name: str, text: str, *, skip_bad_rows: bool = False):  # type: ignore[no-untyped-def]
    raw = RawFile(name, text.encode())
    return detect_parser(raw).parse(raw, skip_bad_rows=skip_bad_rows)


def charges(engine: Engine, workspace_id: int) -> list[Charge]:
    with session_scope(engine) as session:
        rows = session.execute(select(Charge).where(Charge.workspace_id == workspace_id)).scalars().all()
        session.expunge_all()
    return sorted(rows, key=lambda c: (c.day, c.line_item, c.amount_micros))


def test_mca_cost_details_us_dates_refunds_and_openai_meters() -> None:
    frame = parse("details.csv", fixture("cost_details_mca.csv")).frame
    assert [d.date() for d in frame["day"]] == [
        dt.date(2026, 6, 1),
        dt.date(2026, 6, 1),
        dt.date(2026, 6, 13),
        dt.date(2026, 6, 2),
        dt.date(2026, 6, 1),
        dt.date(2026, 6, 2),
        dt.date(2026, 6, 1),
    ]  # fmt: skip  (MM/DD/YYYY)
    assert list(frame["amount"]) == [Decimal(v) for v in ["5.375", "8.12", "1.1", "0.62", "4.608", "-2.00", "0.96"]]
    assert list(frame["provider"]) == ["Azure OpenAI"] * 4 + ["Azure"] * 3  # Speech is Cognitive Services too
    assert list(frame["model"][:4]) == ["gpt-4o-0806", "gpt-4o-0806", "gpt-4.1", "gpt-5.4"]
    assert list(frame["service"][:4]) == ["Cognitive Services"] * 3 + ["Foundry Models"]
    assert frame["line_item"].iloc[5] == "Refund: D4s v5"
    # Resource group = project, lower-cased: the export mixes 'RG-Chatbot' and 'rg-chatbot'.
    assert list(frame["project"]) == ["rg-chatbot"] * 3 + ["rg-agents", "rg-data", "rg-data", "rg-voice"]
    assert frame["department"].iloc[0] == "ml-platform"
    assert json.loads(frame["tags"].iloc[0]) == {"env": "prod", "subscription": SUBSCRIPTION, "team": "ml-platform"}
    assert set(frame["currency"]) == {"USD"}


def test_mca_imports_exactly_once_and_revises(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    first = importer("details.csv", fixture("cost_details_mca.csv"))
    assert first.format == "azure_cost"
    assert (first.rows_read, first.charges_written) == (7, 7)
    assert first.total_usd == "18.783000"  # 5.375 + 8.12 + 1.1 + 0.62 + 4.608 - 2.00 + 0.96
    assert (first.first_day, first.last_day) == (dt.date(2026, 6, 1), dt.date(2026, 6, 13))
    again = importer("details-copy.csv", fixture("cost_details_mca.csv"))
    assert (again.charges_written, again.duplicates, again.revised) == (0, 7, 0)
    later = fixture("cost_details_mca.csv").replace(",812,0.01,8.12,8.12,", ",900,0.01,9.00,9.00,")
    revised = importer("details-later.csv", later)
    assert (revised.charges_written, revised.revised, revised.duplicates) == (0, 1, 6)
    assert stored(engine, workspace_id) == (7, 19_663_000)
    gpt = [c for c in charges(engine, workspace_id) if c.line_item == "gpt-4o-0806-Outp-glbl Tokens"]
    assert [(c.provider, c.model, c.project, c.amount_micros) for c in gpt] == [
        ("Azure OpenAI", "gpt-4o-0806", "rg-chatbot", 9_000_000)
    ]


def test_resource_group_casing_does_not_split_a_charge() -> None:
    lines = fixture("cost_details_mca.csv").splitlines(keepends=True)
    shouting = lines[2].replace(",rg-chatbot,", ",RG-CHATBOT,")
    frame = parse("details.csv", lines[0] + lines[2] + shouting).frame
    assert list(frame["project"]) == ["rg-chatbot", "rg-chatbot"]


def test_2019_export_schema_euros_and_tags_without_braces(importer) -> None:  # type: ignore[no-untyped-def]
    frame = parse("usage.csv", fixture("usage_export_2019_schema.csv")).frame
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 5, 31), dt.date(2026, 5, 31), dt.date(2026, 6, 1)]
    assert list(frame["currency"]) == ["EUR"] * 3
    assert list(frame["model"]) == ["text-embedding-ada-002", "", "gpt-4o-mini-0718"]
    assert json.loads(frame["tags"].iloc[0]) == {
        "project": "semantic-search", "subscription": "fabrikam-search", "team": "search",
    }  # fmt: skip
    with pytest.raises(BadFile, match="EUR"):
        importer("usage.csv", fixture("usage_export_2019_schema.csv"))
    result = importer("usage.csv", fixture("usage_export_2019_schema.csv"), rates={"EUR": Decimal("1.10")})
    assert (result.format, result.charges_written, result.total_usd) == ("azure_cost", 3, "2.200000")


def test_camel_case_export_prefers_billing_currency_cost() -> None:
    frame = parse("export.csv", fixture("export_camel_case.csv")).frame
    assert [d.date() for d in frame["day"]] == [dt.date(2026, 6, 7)] * 2  # 06/07 is 7 June
    assert list(frame["amount"]) == [Decimal("0.88"), Decimal("0.087")]
    assert list(frame["provider"]) == ["Azure OpenAI", "Azure"]
    assert frame["model"].iloc[0] == "o3-mini"
    assert list(frame["project"]) == ["rg-agents", "rg-agents"]  # resourceGroupName
    euros = fixture("export_camel_case.csv").replace(
        ",Usage,USD,USD,0.88,0.88,0.88,0.88,", ",Usage,EUR,USD,0.80,0.88,0.88,0.80,"
    )
    frame = parse("export.csv", euros).frame
    assert (frame["amount"].iloc[0], frame["currency"].iloc[0]) == (Decimal("0.80"), "EUR")


def test_day_first_dates_are_noticed() -> None:
    lines = fixture("cost_details_mca.csv").splitlines(keepends=True)
    text = lines[0] + lines[3].replace("06/13/2026", "13/06/2026") + lines[4].replace("06/02/2026", "02/06/2026")
    parsed = parse("details.csv", text)
    assert [d.date() for d in parsed.frame["day"]] == [dt.date(2026, 6, 13), dt.date(2026, 6, 2)]
    assert any("day-first" in note for note in parsed.notes)


def test_unreadable_tags_are_noted_and_the_row_kept() -> None:
    lines = fixture("cost_details_mca.csv").splitlines(keepends=True)
    text = lines[0] + lines[7].replace('"{""team"": ""voice""}"', "team=voice;broken")
    parsed = parse("details.csv", text)
    assert json.loads(parsed.frame["tags"].iloc[0]) == {"subscription": SUBSCRIPTION}
    assert any("could not read" in note for note in parsed.notes)


def test_azure_errors(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    text = fixture("cost_details_mca.csv")
    impossible = text.replace("06/13/2026", "02/30/2026")
    with pytest.raises(BadFile, match=r"Row 4, column 'Date': '2026-02-30' is not a date"):
        importer("bad.csv", impossible)
    skipped = importer("bad.csv", impossible, skip_bad_rows=True)
    assert ([(s.row, s.column) for s in skipped.skipped], skipped.charges_written) == ([(4, "Date")], 6)
    bad_cost = text.replace(",500,0.0022,1.1,1.1,", ",500,0.0022,one,1.1,")
    with pytest.raises(BadFile, match=r"Row 4, column 'CostInBillingCurrency': 'one' is not a number"):
        importer("bad.csv", bad_cost)
    with pytest.raises(BadFile, match="Row 8 has fewer cells"):
        importer("cut.csv", text.rstrip("\n")[: text.rstrip("\n").rindex(",Usage,")])
    with pytest.raises(BadFile, match="CostInBillingCurrency"):
        importer("ledger.csv", "When,What\n2026-06-01,3.00\n", format="azure_cost")
    header = importer("empty.csv", text.splitlines(keepends=True)[0])
    assert (header.format, header.rows_read, header.charges_written) == ("azure_cost", 0, 0)
    assert stored(engine, workspace_id) == (6, 17_683_000)  # only the skip-bad-rows import wrote anything


@pytest.mark.parametrize("name", ["cost_details_mca.csv", "usage_export_2019_schema.csv", "export_camel_case.csv"])
def test_each_azure_export_is_detected(name: str) -> None:
    raw = RawFile(name, (AZURE / name).read_bytes())
    assert detect_parser(raw).name == "azure_cost"
    assert all(get_parser(p).detect(raw) < 60 for p in MINE if p != "azure_cost")


def test_other_files_are_not_taken_for_azure_exports() -> None:
    ledger = RawFile("ledger.csv", b"Date,Vendor,Description,Cost\n2026-03-04,Microsoft,Azure OpenAI,12.00\n")
    assert get_parser("azure_cost").detect(ledger) == 0
    for sample in sorted(SAMPLES.iterdir()):
        assert get_parser("azure_cost").detect(RawFile(sample.name, sample.read_bytes())) == 0, sample.name


@pytest.mark.parametrize(
    ("category", "subcategory", "meter", "expected"),
    [
        ("Cognitive Services", "Azure OpenAI", "gpt-4o-0806-Inp-glbl Tokens", ("Azure OpenAI", "gpt-4o-0806")),
        ("Azure OpenAI", "", "gpt 4o mini0718 BatchOutp DataZone Tokens", ("Azure OpenAI", "gpt-4o-mini-0718")),
        ("Foundry Models", "Azure OpenAI GPT5", "5.4 opt Gl 1M Tokens", ("Azure OpenAI", "gpt-5.4")),
        ("Cognitive Services", "", "Text-Embedding-3-Large Tokens", ("Azure OpenAI", "text-embedding-3-large")),
        (
            "Foundry Models",
            "Azure Llama Models",
            "Llama-3.3-70B-Instruct Inp Tokens",
            ("Azure", "llama-3.3-70b-instruct"),
        ),
        ("Cognitive Services", "Speech", "S1 Speech To Text", ("Azure", "")),
        ("Virtual Machines", "Dv5 Series", "D4s v5", ("Azure", "")),
    ],
)
def test_azure_openai_meters(category: str, subcategory: str, meter: str, expected: tuple[str, str]) -> None:
    assert provider_and_model(category, subcategory, meter, "") == expected
