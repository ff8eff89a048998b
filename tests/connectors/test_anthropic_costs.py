"""Anthropic cost + usage report connector against a fake admin API that speaks the real response shapes."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.anthropic_costs import (
    AnthropicCosts,
    charges_from_costs_page,
    charges_from_page,
    charges_from_usage_page,
)
from connectors.http import ConnectorError

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
KEY = "sk-ant-admin01-SECRET-do-not-show-0123456789"
AUG_1 = dt.date(2025, 8, 1)  # the samples' bucket
COSTS = "/v1/organizations/cost_report"
USAGE = "/v1/organizations/usage_report/messages"


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def cost_result(amount: str, description: str = "Claude Opus 5 Usage - Input Tokens", **fields: Any) -> dict[str, Any]:
    result = copy.deepcopy(load_sample("anthropic_cost_report_response.json")["data"][0]["results"][0])
    result.update(amount=amount, description=description, **fields)
    return result


def usage_result(**fields: Any) -> dict[str, Any]:
    result = copy.deepcopy(load_sample("anthropic_usage_report_messages_response.json")["data"][0]["results"][0])
    result.update(fields)
    return result


def rfc3339(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeAnthropic:
    """Serves the cost report and messages usage report from results stored per UTC day.

    Like the real API: daily buckets snapped to UTC midnight, empty buckets included, at most 31 buckets per
    page, `page` cursors with has_more/next_page.
    """

    def __init__(self) -> None:
        self.costs: dict[dt.date, list[dict[str, Any]]] = {}
        self.usage: dict[dt.date, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        store = {COSTS: self.costs, USAGE: self.usage}.get(request.url.path)
        if store is None:
            return httpx.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": "nope"}})
        limit = int(params.get("limit", "7"))
        if limit > 31:
            message = f"limit: Input should be less than or equal to 31 (got {limit})"
            return httpx.Response(
                400, json={"type": "error", "error": {"type": "invalid_request_error", "message": message}}
            )
        start = dt.datetime.fromisoformat(params["starting_at"]).replace(hour=0, minute=0, second=0)
        end = dt.datetime.fromisoformat(params["ending_at"])
        buckets = []
        while start < end:
            stop = start + dt.timedelta(days=1)
            buckets.append(
                {"starting_at": rfc3339(start), "ending_at": rfc3339(stop), "results": store.get(start.date(), [])}
            )
            start = stop
        offset = int(params.get("page", "page_0").removeprefix("page_"))
        more = offset + limit < len(buckets)
        page = {
            "data": buckets[offset : offset + limit],
            "has_more": more,
            "next_page": f"page_{offset + limit}" if more else None,
        }
        return httpx.Response(200, json=page)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


def connector(handler: Any, sleeps: list[float] | None = None) -> AnthropicCosts:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return AnthropicCosts(client, KEY, sleep=(sleeps if sleeps is not None else []).append)


def at(day: dt.date, hour: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


# Pure page functions ------------------------------------------------------------------------------


def test_sample_cost_page_is_cents_as_exact_money() -> None:
    [charge] = charges_from_costs_page(load_sample("anthropic_cost_report_response.json"))
    assert charge == {
        "source_key": "anthropic_costs:2025-08-01:wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ:Claude Opus 5 Usage - Input Tokens",
        "day": AUG_1,
        "provider": "Anthropic",
        "service": "API",
        "model": "claude-opus-5",
        "line_item": "Claude Opus 5 Usage - Input Tokens",
        "amount_micros": 1_237_891,  # 123.78912 cents = $1.2378912, rounded half-even to micros
        "original_amount": "123.78912",
        "currency": "USD",
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "requests": 0,
        "api_key": "",
        "project": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
    }


def test_123_45_cents_is_a_dollar_and_23_45_cents() -> None:
    [charge] = charges_from_costs_page(
        {"data": [{"starting_at": "2025-08-01T00:00:00Z", "results": [cost_result("123.45")]}]}
    )
    assert (charge["amount_micros"], charge["original_amount"]) == (1_234_500, "123.45")


def test_sample_usage_page_adds_nested_cache_tokens() -> None:
    [charge] = charges_from_usage_page(load_sample("anthropic_usage_report_messages_response.json"))
    assert charge["source_key"] == (
        "anthropic_usage:2025-08-01:wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ:claude-opus-5:apikey_01Rj2N8SVvo6BePZj99NhmiT"
    )
    # 1500 uncached + 200 cache reads + 500 (5m) + 1000 (1h) cache writes
    assert (charge["input_tokens"], charge["cached_tokens"], charge["output_tokens"]) == (3200, 200, 500)
    assert (charge["amount_micros"], charge["original_amount"], charge["requests"]) == (0, "0", 0)
    assert (charge["model"], charge["api_key"], charge["line_item"]) == (
        "claude-opus-5",
        "apikey_01Rj2N8SVvo6BePZj99NhmiT",
        "usage",
    )


def test_default_workspace_and_same_description_twice_are_summed() -> None:
    bucket = {
        "starting_at": "2025-08-01T00:00:00Z",
        "ending_at": "2025-08-02T00:00:00Z",
        "results": [
            cost_result("0.1", workspace_id=None, inference_geo="us"),
            cost_result("0.2", workspace_id=None, inference_geo="global"),
        ],
    }
    [charge] = charges_from_costs_page([bucket])
    assert charge["source_key"] == "anthropic_costs:2025-08-01::Claude Opus 5 Usage - Input Tokens"
    assert charge["project"] == ""
    assert (charge["original_amount"], charge["amount_micros"]) == ("0.3", 3_000)


def test_empty_buckets_and_zero_results_are_skipped() -> None:
    zero = usage_result(
        uncached_input_tokens=0,
        cache_read_input_tokens=0,
        output_tokens=0,
        cache_creation={"ephemeral_5m_input_tokens": 0},
    )
    page = {
        "data": [
            {"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z", "results": []},
            {"starting_at": "2025-08-02T00:00:00Z", "ending_at": "2025-08-03T00:00:00Z", "results": [zero]},
        ]
    }
    assert charges_from_usage_page(page) == []
    assert charges_from_costs_page([{"starting_at": "2025-08-02T00:00:00Z", "results": [cost_result("0.000")]}]) == []


def test_charges_from_page_tells_costs_from_usage() -> None:
    assert charges_from_page(load_sample("anthropic_cost_report_response.json"))[0]["original_amount"] == "123.78912"
    assert charges_from_page(load_sample("anthropic_usage_report_messages_response.json"))[0]["input_tokens"] == 3200


def test_non_usd_costs_are_refused() -> None:
    with pytest.raises(ConnectorError, match="EUR"):
        charges_from_costs_page(
            [{"starting_at": "2025-08-01T00:00:00Z", "results": [cost_result("1", currency="EUR")]}]
        )


# Fetching -----------------------------------------------------------------------------------------


def test_fetch_sends_the_documented_query() -> None:
    fake = FakeAnthropic()
    fake.costs[AUG_1] = load_sample("anthropic_cost_report_response.json")["data"][0]["results"]
    now = dt.datetime(2025, 8, 3, 14, 5, 9, tzinfo=dt.UTC)
    charges = list(connector(fake).fetch_charges(start=AUG_1, end=dt.date(2025, 8, 31), now=now))

    [costs] = fake.calls(COSTS)
    assert costs.url.params.get_list("group_by[]") == ["workspace_id", "description"]
    assert costs.url.params["starting_at"] == "2025-08-01T00:00:00Z"
    assert costs.url.params["ending_at"] == "2025-08-03T14:05:09Z"  # clamped to now
    assert costs.url.params["bucket_width"] == "1d"
    assert costs.url.params["limit"] == "3"
    assert costs.headers["x-api-key"] == KEY
    assert costs.headers["anthropic-version"] == "2023-06-01"
    [usage] = fake.calls(USAGE)
    assert usage.url.params.get_list("group_by[]") == ["model", "workspace_id", "api_key_id"]
    assert [c["amount_micros"] for c in charges] == [1_237_891]


def test_fetch_follows_pages_with_at_most_31_buckets() -> None:
    fake = FakeAnthropic()
    start = dt.date(2025, 1, 1)
    fake.costs[start] = [cost_result("123.45")]
    fake.costs[dt.date(2025, 3, 10)] = [cost_result("50", "Web Search Usage", model=None, cost_type="web_search")]
    fake.usage[dt.date(2025, 2, 14)] = [usage_result()]
    charges = list(connector(fake).fetch_charges(start=start, end=dt.date(2025, 3, 31), now=at(dt.date(2025, 6, 1))))

    costs_calls = fake.calls(COSTS)
    assert [r.url.params["limit"] for r in costs_calls] == ["31", "31", "31"]  # 90 days
    assert [r.url.params.get("page") for r in costs_calls] == [None, "page_31", "page_62"]
    assert len(fake.calls(USAGE)) == 3
    assert [(c["day"], c["line_item"], c["model"], c["amount_micros"]) for c in charges] == [
        (start, "Claude Opus 5 Usage - Input Tokens", "claude-opus-5", 1_234_500),
        (dt.date(2025, 3, 10), "Web Search Usage", "", 500_000),
        (dt.date(2025, 2, 14), "usage", "claude-opus-5", 0),
    ]


def test_resync_of_a_revised_day_keeps_the_key_and_changes_the_amount() -> None:
    fake = FakeAnthropic()
    fake.costs[AUG_1] = [cost_result("123.45")]
    source = connector(fake)
    [first] = source.fetch_charges(start=AUG_1, end=AUG_1, now=at(dt.date(2025, 8, 5)))
    fake.costs[AUG_1] = [cost_result("130.01")]
    [second] = source.fetch_charges(start=AUG_1, end=AUG_1, now=at(dt.date(2025, 8, 5)))
    assert first["source_key"] == second["source_key"]
    assert (first["amount_micros"], second["amount_micros"]) == (1_234_500, 1_300_100)


def test_server_error_then_success_is_retried() -> None:
    fake = FakeAnthropic()
    fake.costs[AUG_1] = [cost_result("123.45")]
    replies = iter([httpx.Response(500), httpx.Response(529)])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(replies, None) or fake(request)

    sleeps: list[float] = []
    [charge] = connector(handler, sleeps).fetch_charges(start=AUG_1, end=AUG_1, now=at(dt.date(2025, 8, 5)))
    assert sleeps == [0.5, 1.0]
    assert charge["amount_micros"] == 1_234_500


def test_timeout_forever_is_explained() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    sleeps: list[float] = []
    with pytest.raises(ConnectorError) as caught:
        list(connector(handler, sleeps).fetch_charges(start=AUG_1, end=AUG_1, now=at(dt.date(2025, 8, 5))))
    assert caught.value.kind == "timeout"
    assert str(caught.value).startswith("Anthropic did not answer in time")
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_connection_check_reports_spend() -> None:
    fake = FakeAnthropic()
    fake.costs[AUG_1] = [cost_result("123.45"), cost_result("1000", "Claude Opus 5 Usage - Output Tokens")]
    message = connector(fake).test_connection(now=at(dt.date(2025, 8, 2), 10))
    assert message == "Connected to Anthropic: the admin key reads your costs ($11.23 spent since yesterday)."
    [request] = fake.requests
    assert request.url.params["starting_at"] == "2025-08-01T00:00:00Z"


@pytest.mark.parametrize(("status", "kind"), [(401, "auth"), (403, "forbidden")], ids=["401", "403"])
def test_bad_keys_are_explained_without_showing_the_key(status: int, kind: str) -> None:
    body = {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {KEY}"}}
    source = connector(lambda request: httpx.Response(status, json=body))
    with pytest.raises(ConnectorError) as caught:
        source.test_connection()
    assert caught.value.kind == kind
    assert "sk-ant-admin" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(source)


def test_bad_request_shows_anthropics_own_words() -> None:
    text = "starting_at: must be before ending_at"
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": text}}
    source = connector(lambda request: httpx.Response(400, json=body))
    with pytest.raises(ConnectorError) as caught:
        list(source.fetch_charges(start=AUG_1, end=AUG_1, now=at(dt.date(2025, 8, 5))))
    assert str(caught.value) == f"Anthropic refused the request (HTTP 400): {text}"
