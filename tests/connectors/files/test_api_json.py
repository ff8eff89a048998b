"""OpenAI/Anthropic admin-API responses saved to files: the real samples, multi-page files, same keys as a sync."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine

from connectors.anthropic_costs import charges_from_page as anthropic_charges
from connectors.files import detect_parser
from connectors.files.base import BadFile, RawFile
from connectors.openai_costs import charges_from_page as openai_charges
from tests.connectors.files.conftest import SAMPLES, stored


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "format"),
    [
        ("openai_costs_response.json", "openai_api_json"),
        ("openai_usage_completions_response.json", "openai_api_json"),
        ("openai_usage_completions_cookbook_output_excerpt.json", "openai_api_json"),
        ("anthropic_cost_report_response.json", "anthropic_api_json"),
        ("anthropic_usage_report_messages_response.json", "anthropic_api_json"),
    ],
)
def test_saved_api_responses_are_recognised(name: str, format: str) -> None:
    assert detect_parser(RawFile(name, sample(name))).name == format


def test_openai_costs_sample_imports_exactly_with_the_sync_keys(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    data = sample("openai_costs_response.json")
    result = importer("costs.json", data)
    assert (result.format, result.charges_written, result.total_usd) == ("openai_api_json", 1, "0.060000")
    assert result.first_day == dt.date(2024, 11, 1)
    # The keys are the live connector's own, so a later sync of the same day finds them.
    assert [c["source_key"] for c in openai_charges(json.loads(data))] == ["openai_costs:2024-11-01::"]
    again = importer("costs.json", data)
    assert (again.charges_written, again.duplicates) == (0, 1)
    assert stored(engine, workspace_id) == (1, 60_000)


def test_anthropic_cost_report_is_cents(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(sample("anthropic_cost_report_response.json"))
    # The sample's one result is "123.78912" cents = $1.2378912 → 1,237,891 micro-dollars (half-even).
    assert data["data"][0]["results"][0]["amount"] == "123.78912"
    # Two saved pages of the same report, the second repeating the first day's line: summed, in cents, once.
    pages = [data, data]
    result = importer("anthropic.json", json.dumps(pages))
    assert result.format == "anthropic_api_json" and result.charges_written == 1
    assert result.total_usd == "2.475782"  # 247.57824 cents
    assert len(anthropic_charges(data)) == 1
    assert stored(engine, workspace_id) == (1, 2_475_782)


def test_usage_responses_carry_tokens_without_money(importer) -> None:  # type: ignore[no-untyped-def]
    result = importer("usage.json", sample("openai_usage_completions_cookbook_output_excerpt.json"))
    assert result.total_usd == "0.000000" and result.charges_written >= 1


def test_a_cut_off_response_is_refused(importer, engine: Engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    data = sample("openai_costs_response.json")
    with pytest.raises(BadFile, match="cut off"):
        importer("costs.json", data[: len(data) // 2])
    assert stored(engine, workspace_id) == (0, 0)
