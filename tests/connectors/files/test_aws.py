"""AWS: Cost Explorer get-cost-and-usage JSON and Cost and Usage Reports (legacy CUR and CUR 2.0)."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.files import detect_parser, get_parser
from connectors.files.base import BadFile, RawFile
from connectors.files.cloud import model_in
from core.db import session_scope
from core.models import Charge
from tests.connectors.files.conftest import FIXTURES, SAMPLES, stored

AWS = FIXTURES / "aws"
MINE = ("gcp_console", "gcp_bigquery", "aws_cost_explorer", "aws_cur", "azure_cost")


def fixture(name: str) -> str:
    return (AWS / name).read_text()


def ce_sample() -> dict[str, Any]:
    return json.loads((SAMPLES / "aws_ce_get_cost_and_usage_response.json").read_text())


def parse(name: str, data: str | bytes, fmt: str | None = None, *, skip_bad_rows: bool = False):  # type: ignore[no-untyped-def]
    raw = RawFile(name, data.encode() if isinstance(data, str) else data)
    parser = get_parser(fmt) if fmt else detect_parser(raw)
    return parser.parse(raw, skip_bad_rows=skip_bad_rows)


def charges(engine: Engine, workspace_id: int) -> list[Charge]:
    with session_scope(engine) as session:
        rows = session.execute(select(Charge).where(Charge.workspace_id == workspace_id)).scalars().all()
        session.expunge_all()
    return sorted(rows, key=lambda c: (c.day, c.line_item, c.amount_micros))


# Cost Explorer ---------------------------------------------------------------------------------------


def test_the_cli_example_sums_groups_when_total_is_empty(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    data = (SAMPLES / "aws_ce_get_cost_and_usage_response.json").read_text()
    parsed = parse("ce.json", data)
    frame = parsed.frame
    assert list(frame["amount"]) == [Decimal("40.3543773134"), Decimal("0.2682364644")]  # UnblendedCost
    assert [d.date() for d in frame["day"]] == [dt.date(2017, 9, 1)] * 2  # TimePeriod.Start
    assert list(frame["service"]) == ["Amazon Simple Storage Service"] * 2
    assert list(frame["provider"]) == ["AWS", "AWS"]
    assert list(frame["tags"]) == ["", '{"Environment":"Dev"}']  # 'Environment$' = untagged
    assert any("several cost metrics; we imported UnblendedCost" in n for n in parsed.notes)
    assert any("one figure per month" in n for n in parsed.notes)

    result = importer("ce.json", data)
    assert result.format == "aws_cost_explorer"
    assert (result.rows_read, result.charges_written) == (2, 2)
    # Each charge rounds to micro-dollars: 40.354377|3134 and 0.268236|4644.
    assert result.total_usd == "40.622613"
    again = importer("ce-again.json", data)
    assert (again.charges_written, again.duplicates, again.revised) == (0, 2, 0)
    assert stored(engine, workspace_id) == (2, 40_622_613)


def test_daily_bedrock_by_service_and_usage_type(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    result = importer("ce-daily.json", fixture("ce_daily_service_usage_type.json"))
    assert (result.rows_read, result.charges_written) == (6, 6)
    # 12.3456 + 30.0000000001 (→ 30.000000) + 4.5 + 0.9984 + 0 + 8.1
    assert result.total_usd == "55.944000"
    assert (result.first_day, result.last_day) == (dt.date(2026, 6, 1), dt.date(2026, 6, 2))
    assert any("Estimated" in note for note in result.notes)
    stored_charges = charges(engine, workspace_id)
    bedrock = [(c.provider, c.model, c.line_item) for c in stored_charges if c.provider == "AWS Bedrock"]
    assert bedrock == [
        ("AWS Bedrock", "claude-3-5-sonnet", "USE1-Claude3.5Sonnet-input-tokens"),
        ("AWS Bedrock", "claude-3-5-sonnet", "USE1-Claude3.5Sonnet-output-tokens"),
        ("AWS Bedrock", "claude-3-7-sonnet", "USE1-MP:USE1_InputTokenCount-Units"),  # Marketplace: model from service
        ("AWS Bedrock", "claude-3-5-sonnet", "USE1-Claude3.5Sonnet-input-tokens"),
    ]
    assert {c.service for c in stored_charges if c.provider == "AWS"} == {
        "Amazon Elastic Compute Cloud - Compute", "Tax",
    }  # fmt: skip


def test_an_estimated_day_is_replaced_by_the_final_figure(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("ce-daily.json", fixture("ce_daily_service_usage_type.json"))
    final = json.loads(fixture("ce_daily_service_usage_type.json"))
    final["ResultsByTime"][1]["Estimated"] = False
    final["ResultsByTime"][1]["Groups"][0]["Metrics"]["UnblendedCost"]["Amount"] = "8.4"
    result = importer("ce-daily-final.json", json.dumps(final))
    assert (result.charges_written, result.revised, result.duplicates) == (0, 1, 5)
    assert not any("Estimated" in note for note in result.notes)
    assert stored(engine, workspace_id) == (6, 56_244_000)


def test_an_ungrouped_response_uses_the_total() -> None:
    response = {
        "GroupDefinitions": [],
        "ResultsByTime": [
            {"TimePeriod": {"Start": "2026-06-01", "End": "2026-06-02"}, "Total": {
                "UnblendedCost": {"Amount": "17.25", "Unit": "USD"}}, "Groups": [], "Estimated": False},
            {"TimePeriod": {"Start": "2026-06-02", "End": "2026-06-03"}, "Total": {}, "Groups": [], "Estimated": False},
        ],
    }  # fmt: skip
    parsed = parse("total.json", json.dumps(response))
    assert parsed.rows_read == 1  # the empty second day has nothing in it
    assert list(parsed.frame["amount"]) == [Decimal("17.25")]
    assert (parsed.frame["provider"].iloc[0], parsed.frame["service"].iloc[0]) == ("AWS", "")
    assert not any("per month" in note for note in parsed.notes)


def test_tag_and_account_groups_become_project_department_and_tags() -> None:
    response = {
        "GroupDefinitions": [{"Type": "TAG", "Key": "project"}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
        "ResultsByTime": [{"TimePeriod": {"Start": "2026-06-01", "End": "2026-06-02"}, "Total": {}, "Groups": [
            {"Keys": ["project$chatbot", "111122223333"], "Metrics": {"AmortizedCost": {"Amount": "3", "Unit": "USD"}}},
            {"Keys": ["project$", "444455556666"], "Metrics": {"AmortizedCost": {"Amount": "1", "Unit": "USD"}}},
        ], "Estimated": False}],
    }  # fmt: skip
    frame = parse("tags.json", json.dumps(response)).frame
    assert list(frame["project"]) == ["chatbot", ""]
    assert [json.loads(t) for t in frame["tags"]] == [
        {"account": "111122223333", "project": "chatbot"},
        {"account": "444455556666"},
    ]
    assert list(frame["amount"]) == [Decimal("3"), Decimal("1")]  # AmortizedCost when it is the only cost metric
    team = copy.deepcopy(response)
    team["GroupDefinitions"][0]["Key"] = "team"
    team["ResultsByTime"][0]["Groups"][0]["Keys"][0] = "team$ml"
    assert parse("team.json", json.dumps(team)).frame["department"].iloc[0] == "ml"


def test_pages_saved_together_and_a_next_page_token() -> None:
    first, second = ce_sample(), ce_sample()
    first["NextPageToken"] = "token-1"
    second["ResultsByTime"][0]["TimePeriod"] = {"Start": "2017-10-01", "End": "2017-11-01"}
    parsed = parse("pages.json", json.dumps([first, second]))
    assert parsed.rows_read == 4
    assert sorted({d.date() for d in parsed.frame["day"]}) == [dt.date(2017, 9, 1), dt.date(2017, 10, 1)]
    alone = parse("page1.json", json.dumps(first))
    assert any("NextPageToken" in note for note in alone.notes)


def test_cost_explorer_errors(importer) -> None:  # type: ignore[no-untyped-def]
    bad = ce_sample()
    bad["ResultsByTime"][0]["Groups"][1]["Metrics"]["UnblendedCost"]["Amount"] = "n/a"
    with pytest.raises(BadFile, match=r"Row 2, column 'Metrics.UnblendedCost.Amount': 'n/a' is not a number"):
        importer("bad.json", json.dumps(bad))
    skipped = importer("bad.json", json.dumps(bad), skip_bad_rows=True)
    assert (skipped.charges_written, [s.row for s in skipped.skipped]) == (1, [2])
    bad_day = ce_sample()
    bad_day["ResultsByTime"][0]["TimePeriod"]["Start"] = "2017-09-31"
    with pytest.raises(BadFile, match=r"column 'TimePeriod.Start': '2017-09-31' is not a date"):
        importer("bad.json", json.dumps(bad_day))
    usage_only = ce_sample()
    for group in usage_only["ResultsByTime"][0]["Groups"]:
        group["Metrics"] = {"UsageQuantity": group["Metrics"]["UsageQuantity"]}
    with pytest.raises(BadFile, match="no cost metric"):
        importer("usage.json", json.dumps(usage_only))
    with pytest.raises(BadFile, match="cut off"):
        importer("cut.json", json.dumps(ce_sample())[:-30], format="aws_cost_explorer")
    with pytest.raises(BadFile, match="not a Cost Explorer response"):
        importer("other.json", '{"data": []}', format="aws_cost_explorer")
    empty = importer("empty.json", '{"GroupDefinitions": [], "ResultsByTime": []}')
    assert (empty.format, empty.rows_read, empty.charges_written) == ("aws_cost_explorer", 0, 0)


# Cost and Usage Reports ------------------------------------------------------------------------------


def test_legacy_cur_bedrock_credits_refunds_and_tax() -> None:
    frame = parse("cur.csv", fixture("cur_legacy.csv")).frame
    assert list(frame["amount"]) == [Decimal(v) for v in
                                     ["3.6", "2.4", "9.75", "1.5", "0.9984", "-5", "-0.5", "1.13", "1.2"]]  # fmt: skip
    assert list(frame["provider"]) == ["AWS Bedrock"] * 4 + ["AWS"] + ["AWS Bedrock", "AWS", "AWS Bedrock"] + [
        "AWS Bedrock"
    ]
    assert list(frame["model"][:4]) == ["claude-3-5-sonnet"] * 3 + ["claude-sonnet-4"]
    assert list(frame["line_item"][5:8]) == [
        "Credit: AWS Activate Credits",
        "Refund: Refund for service disruption",
        "Tax: Tax for product code AmazonBedrock",
    ]
    assert (frame["project"].iloc[0], frame["department"].iloc[0]) == ("chatbot", "ml")
    assert json.loads(frame["tags"].iloc[0]) == {"Project": "chatbot", "account": "111122223333", "team": "ml"}
    assert frame["project"].iloc[4] == "data-pipeline"
    assert [d.date() for d in frame["day"]][-1] == dt.date(2026, 6, 2)


def test_legacy_cur_gzipped_imports_exactly_once(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    data = gzip.compress(fixture("cur_legacy.csv").encode())
    first = importer("acme-cur-00001.csv.gz", data)
    assert first.format == "aws_cur"
    # Hourly input-token lines for 2026-06-01 (3.6 + 2.4) roll up into one charge.
    assert (first.rows_read, first.charges_written) == (9, 8)
    assert first.total_usd == "15.078400"  # 6.0 + 9.75 + 1.5 + 0.9984 - 5 - 0.5 + 1.13 + 1.2
    assert any("several files" in note for note in first.notes)  # a part of a split month
    again = importer("acme-cur.csv", fixture("cur_legacy.csv"))
    assert (again.charges_written, again.duplicates, again.revised) == (0, 8, 0)
    assert stored(engine, workspace_id) == (8, 15_078_400)


def test_a_later_cur_delivery_revises_the_month(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    importer("cur.csv", fixture("cur_legacy.csv"))
    later = fixture("cur_legacy.csv").replace(",650,USD,0.015,9.75,0.015,9.75,", ",700,USD,0.015,10.5,0.015,10.5,")
    result = importer("cur-later.csv", later)
    assert (result.charges_written, result.revised, result.duplicates) == (0, 1, 7)
    assert stored(engine, workspace_id) == (8, 15_828_400)


def test_cur2_snake_case_with_map_columns(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    parsed = parse("cur2.csv", fixture("cur2.csv"))
    frame = parsed.frame
    assert list(frame["amount"]) == [Decimal("2.5"), Decimal("0.75"), Decimal("0.12"), Decimal("-1.0")]
    assert list(frame["model"]) == ["claude-3-5-sonnet", "claude-3-haiku", "", ""]
    assert list(frame["service"]) == ["Amazon Bedrock"] * 2 + ["Amazon Simple Storage Service", "Amazon Bedrock"]
    assert (frame["project"].iloc[0], frame["department"].iloc[0]) == ("search", "relevance")
    assert json.loads(frame["tags"].iloc[0]) == {"account": "444455556666", "project": "search", "team": "relevance"}
    result = importer("cur2.csv", fixture("cur2.csv"))
    assert (result.format, result.charges_written, result.total_usd) == ("aws_cur", 4, "2.370000")
    # Athena's map text for the same tags gives the same charges.
    athena = fixture("cur2.csv").replace(
        '"{""user_project"":""search"",""user_team"":""relevance""}"', '"{user_project=search, user_team=relevance}"'
    )
    assert athena != fixture("cur2.csv")
    again = importer("cur2-athena.csv", athena)
    assert (again.charges_written, again.duplicates) == (0, 4)
    assert stored(engine, workspace_id) == (4, 2_370_000)


def test_a_positive_credit_or_refund_still_reduces_spend() -> None:
    text = fixture("cur2.csv").replace(",Credit,", ",Refund,").replace(",-1.0,AWS Activate", ",1.0,AWS Activate")
    assert parse("cur2.csv", text).frame["amount"].iloc[-1] == Decimal("-1.0")


def test_unreadable_resource_tags_are_noted_not_fatal() -> None:
    text = fixture("cur2.csv").replace('"{""user_project"":""search"",""user_team"":""relevance""}"', "{oops")
    parsed = parse("cur2.csv", text)
    assert parsed.frame["project"].iloc[0] == "" and any("could not read" in n for n in parsed.notes)


def test_cur_errors_name_the_row_and_column(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    bad = fixture("cur_legacy.csv").replace(",0.0416,0.9984,0.0416,0.9984,", ",0.0416,abc,0.0416,0.9984,")
    with pytest.raises(BadFile, match=r"Row 6, column 'lineItem/UnblendedCost': 'abc' is not a number"):
        importer("bad.csv", bad)
    bad_date = fixture("cur2.csv").replace("2026-07-01T00:00:00.000Z,2026-07-02", "2026-13-01T00:00:00.000Z,2026-07-02")
    with pytest.raises(BadFile, match=r"Row 4, column 'line_item_usage_start_date'"):
        importer("bad.csv", bad_date)
    with pytest.raises(BadFile, match="lineItem/UsageStartDate"):
        importer("ledger.csv", "Date,Amount\n2026-06-01,3.00\n", format="aws_cur")
    text = fixture("cur_legacy.csv")
    with pytest.raises(BadFile, match="Row 10 has fewer cells"):
        importer("cut.csv", text[: text.rindex("InvokeModelInference")])
    with pytest.raises(BadFile, match="damaged or cut short"):
        importer("cut.csv.gz", gzip.compress(text.encode())[:-20])
    assert stored(engine, workspace_id) == (0, 0)
    header = text.splitlines(keepends=True)[0]
    empty = importer("empty.csv", header)
    assert (empty.format, empty.rows_read, empty.charges_written) == ("aws_cur", 0, 0)


# Detection and model names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ce_daily_service_usage_type.json", "aws_cost_explorer"),
        ("cur_legacy.csv", "aws_cur"),
        ("cur2.csv", "aws_cur"),
    ],
)
def test_each_aws_export_is_detected(name: str, expected: str) -> None:
    raw = RawFile(name, (AWS / name).read_bytes())
    assert detect_parser(raw).name == expected
    assert all(get_parser(p).detect(raw) < 60 for p in MINE if p != expected)


def test_other_files_are_not_taken_for_aws_exports() -> None:
    ledger = RawFile("ledger.csv", b"Date,Vendor,Description,Amount\n2026-03-04,AWS,Amazon Bedrock,12.00\n")
    assert get_parser("aws_cur").detect(ledger) == 0 and get_parser("aws_cost_explorer").detect(ledger) == 0
    for sample in sorted(SAMPLES.iterdir()):
        raw = RawFile(sample.name, sample.read_bytes())
        assert get_parser("aws_cur").detect(raw) == 0, sample.name
        if sample.name != "aws_ce_get_cost_and_usage_response.json":
            assert get_parser("aws_cost_explorer").detect(raw) == 0, sample.name


@pytest.mark.parametrize(
    ("texts", "model"),
    [
        (("USE1-Claude3.5Sonnet-input-tokens",), "claude-3-5-sonnet"),
        (("USE1-ClaudeInstant-output-tokens",), "claude-instant"),
        (("USE1-MP:USE1_InputTokenCount-Units", "Claude Sonnet 4 (Amazon Bedrock Edition)"), "claude-sonnet-4"),
        (("USW2-Llama3.1-70B-instruct-input-tokens",), "llama-3.1-70b-instruct"),
        (("USE1-NovaLite-input-tokens",), "nova-lite"),
        (("USE1-BoxUsage:t3.medium", "Run Command"), ""),
    ],
)
def test_bedrock_models_from_usage_types(texts: tuple[str, ...], model: str) -> None:
    assert model_in(*texts) == model
