"""OpenAI Costs + Usage connector against a fake admin API that speaks the real response shapes."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import ConnectorError
from connectors.openai_costs import (
    OpenAICosts,
    charges_from_costs_page,
    charges_from_page,
    charges_from_usage_page,
)

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
KEY = "sk-admin-SECRET-do-not-show-0123456789"
DAY = 86_400
NOV_1 = dt.date(2024, 11, 1)  # the samples' bucket: start_time 1730419200


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def cost_result(value: float, line_item: str | None = None, project: str | None = None) -> dict[str, Any]:
    result = copy.deepcopy(load_sample("openai_costs_response.json")["data"][0]["results"][0])
    result["amount"]["value"] = value
    result.update(line_item=line_item, project_id=project)
    return result


def usage_result(**fields: Any) -> dict[str, Any]:
    result = copy.deepcopy(load_sample("openai_usage_completions_response.json")["data"][0]["results"][0])
    result.update(fields)
    return result


class FakeOpenAI:
    """Serves /organization/costs and /organization/usage/completions from results stored per UTC day.

    Like the real API it cuts buckets at UTC midnight (first and last may be partial), returns empty buckets,
    pages `limit` buckets at a time via next_page, and rejects limits above 180 (costs) / 31 (usage 1d).
    """

    def __init__(self) -> None:
        self.costs: dict[dt.date, list[dict[str, Any]]] = {}
        self.usage: dict[dt.date, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        if request.url.path == "/v1/organization/costs":
            store, cap = self.costs, 180
        elif request.url.path == "/v1/organization/usage/completions":
            store, cap = self.usage, 31
        else:
            return httpx.Response(404, json={"error": {"message": "Not found"}})
        limit = int(params.get("limit", "7"))
        if limit > cap:
            message = f"Invalid limit provided: {limit}. Limit must be less than or equal to {cap}."
            return httpx.Response(400, json={"error": {"message": message, "type": "invalid_request_error"}})
        start, end = int(params["start_time"]), int(params["end_time"])
        buckets = []
        while start < end:
            stop = min((start // DAY + 1) * DAY, end)
            day = dt.datetime.fromtimestamp(start, dt.UTC).date()
            buckets.append({"object": "bucket", "start_time": start, "end_time": stop, "results": store.get(day, [])})
            start = stop
        offset = int(params.get("page", "page_0").removeprefix("page_"))
        more = offset + limit < len(buckets)
        page = {
            "object": "page",
            "data": buckets[offset : offset + limit],
            "has_more": more,
            "next_page": f"page_{offset + limit}" if more else None,
        }
        return httpx.Response(200, json=page)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


def connector(handler: Any, sleeps: list[float] | None = None) -> OpenAICosts:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return OpenAICosts(client, KEY, sleep=(sleeps if sleeps is not None else []).append)


def at(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)


# Pure page functions ------------------------------------------------------------------------------


def test_sample_costs_page_is_exact_money() -> None:
    [charge] = charges_from_costs_page(load_sample("openai_costs_response.json"))
    assert charge == {
        "source_key": "openai_costs:2024-11-01::",
        "day": NOV_1,
        "provider": "OpenAI",
        "service": "API",
        "model": "",
        "line_item": "",
        "amount_micros": 60_000,
        "original_amount": "0.06",
        "currency": "USD",
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "requests": 0,
        "api_key": "",
        "project": "",
    }


def test_sample_usage_page_counts_tokens_without_money() -> None:
    [charge] = charges_from_usage_page(load_sample("openai_usage_completions_response.json"))
    assert charge["source_key"] == "openai_usage:2024-11-01:::"
    assert (charge["input_tokens"], charge["cached_tokens"], charge["output_tokens"], charge["requests"]) == (
        1000,  # already includes the 400 cached and 100 cache-write tokens
        400,
        500,
        5,
    )
    assert (charge["amount_micros"], charge["original_amount"], charge["line_item"]) == (0, "0", "usage")


def test_cookbook_buckets_keyed_by_utc_day_and_empty_bucket_skipped() -> None:
    charges = charges_from_usage_page(load_sample("openai_usage_completions_cookbook_output_excerpt.json"))
    assert [(c["day"], c["input_tokens"], c["requests"]) for c in charges] == [
        (dt.date(2025, 1, 11), 141_201, 470),  # partial first bucket, 17:31 UTC -> midnight
        (dt.date(2025, 1, 12), 45_949, 150),
        (dt.date(2025, 1, 13), 3_718_360, 3_053),
        (dt.date(2025, 2, 10), 332, 8),  # partial last bucket, ends "now"
    ]
    assert charges[2]["cached_tokens"] == 76_544


def test_line_item_gives_the_model_only_when_shaped_like_one() -> None:
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1759622400,
                "end_time": 1759708800,
                "results": [
                    cost_result(0.5617712500000000, "gpt-4o-2024-08-06, input", "proj_abc"),
                    cost_result(1.25, "Image models", "proj_abc"),
                ],
            }
        ],
    }
    first, second = charges_from_costs_page(page)
    assert first["source_key"] == "openai_costs:2025-10-05:proj_abc:gpt-4o-2024-08-06, input"
    assert (first["model"], first["line_item"], first["project"]) == (
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06, input",
        "proj_abc",
    )
    assert first["amount_micros"] == 561_771  # $0.56177125 is 561,771.25 micros: rounded half-even
    assert (second["model"], second["amount_micros"]) == ("", 1_250_000)


def test_same_key_twice_is_summed_exactly_not_in_floats() -> None:
    bucket = {"start_time": 1730419200, "end_time": 1730505600, "results": [cost_result(0.1), cost_result(0.2)]}
    [charge] = charges_from_costs_page([bucket])
    assert charge["original_amount"] == "0.3"  # 0.1 + 0.2 in floats is 0.30000000000000004
    assert charge["amount_micros"] == 300_000


def test_zero_results_and_empty_buckets_are_skipped() -> None:
    zero_usage = usage_result(
        input_tokens=0, output_tokens=0, input_cached_tokens=0, num_model_requests=0, model="gpt-4o"
    )
    page = [
        {"start_time": 1730419200, "end_time": 1730505600, "results": [cost_result(0.0, "x")]},
        {"start_time": 1730505600, "end_time": 1730592000, "results": []},
    ]
    assert charges_from_costs_page(page) == []
    assert charges_from_usage_page([{"start_time": 1730419200, "results": [zero_usage]}]) == []


def test_non_usd_costs_are_refused() -> None:
    result = cost_result(1.0)
    result["amount"]["currency"] = "eur"
    with pytest.raises(ConnectorError, match="EUR"):
        charges_from_costs_page([{"start_time": 1730419200, "results": [result]}])


def test_charges_from_page_tells_costs_from_usage() -> None:
    assert charges_from_page(load_sample("openai_costs_response.json"))[0]["amount_micros"] == 60_000
    assert charges_from_page(load_sample("openai_usage_completions_response.json"))[0]["input_tokens"] == 1000
    with pytest.raises(ConnectorError) as caught:
        charges_from_page({"hello": "world"})
    assert caught.value.kind == "bad_response"


# Fetching -----------------------------------------------------------------------------------------


def test_fetch_sends_the_documented_query() -> None:
    fake = FakeOpenAI()
    fake.costs[NOV_1] = load_sample("openai_costs_response.json")["data"][0]["results"]
    now = at(dt.date(2024, 11, 3), 15, 30)
    charges = list(connector(fake).fetch_charges(start=NOV_1, end=dt.date(2024, 11, 30), now=now))

    [costs] = fake.calls("/v1/organization/costs")
    assert costs.url.params.get_list("group_by") == ["line_item", "project_id"]
    assert costs.url.params["bucket_width"] == "1d"
    assert costs.url.params["start_time"] == "1730419200"  # 2024-11-01 00:00 UTC
    assert costs.url.params["end_time"] == str(int(now.timestamp()))  # clamped to now, not 2024-12-01
    assert costs.url.params["limit"] == "3"
    assert costs.headers["authorization"] == f"Bearer {KEY}"
    [usage] = fake.calls("/v1/organization/usage/completions")
    assert usage.url.params.get_list("group_by") == ["model", "project_id", "api_key_id"]
    assert usage.url.params["start_time"] == "1730419200"
    assert [c["amount_micros"] for c in charges] == [60_000]


def test_fetch_follows_next_page_and_never_asks_for_too_many_buckets() -> None:
    fake = FakeOpenAI()
    start = dt.date(2024, 1, 1)
    fake.costs[start] = [cost_result(0.06, "gpt-4o-2024-08-06, input", "proj_a")]
    fake.costs[start + dt.timedelta(days=190)] = [cost_result(2.5, "gpt-4o-2024-08-06, output", "proj_a")]
    fake.usage[start + dt.timedelta(days=100)] = [
        usage_result(model="gpt-4o-2024-08-06", project_id="proj_a", api_key_id="key_1")
    ]
    charges = list(
        connector(fake).fetch_charges(start=start, end=start + dt.timedelta(days=199), now=at(dt.date(2025, 1, 1)))
    )

    costs_calls = fake.calls("/v1/organization/costs")
    usage_calls = fake.calls("/v1/organization/usage/completions")
    assert [r.url.params["limit"] for r in costs_calls] == ["180", "180"]
    assert len(usage_calls) == 7 and all(r.url.params["limit"] == "31" for r in usage_calls)
    assert [r.url.params.get("page") for r in costs_calls] == [None, "page_180"]
    assert [(c["day"], c["amount_micros"], c["input_tokens"]) for c in charges] == [
        (dt.date(2024, 1, 1), 60_000, 0),
        (dt.date(2024, 7, 9), 2_500_000, 0),
        (dt.date(2024, 4, 10), 0, 1000),
    ]
    assert charges[2]["source_key"] == "openai_usage:2024-04-10:proj_a:gpt-4o-2024-08-06:key_1"
    assert charges[2]["api_key"] == "key_1"


def test_today_is_a_partial_bucket_keyed_by_its_utc_day() -> None:
    fake = FakeOpenAI()
    today = dt.date(2024, 11, 3)
    fake.costs[today] = [cost_result(0.25, "gpt-4o-2024-08-06, input")]
    [charge] = connector(fake).fetch_charges(start=NOV_1, end=today, now=at(today, 9))
    assert charge["day"] == today
    last = fake.calls("/v1/organization/costs")[0]
    assert last.url.params["end_time"] == str(int(at(today, 9).timestamp()))


def test_resync_of_a_revised_day_keeps_the_key_and_changes_the_amount() -> None:
    fake = FakeOpenAI()
    fake.costs[NOV_1] = [cost_result(0.06, "gpt-4o-2024-08-06, input", "proj_a")]
    source = connector(fake)
    now = at(dt.date(2024, 11, 5))
    [first] = source.fetch_charges(start=NOV_1, end=NOV_1, now=now)
    fake.costs[NOV_1] = [cost_result(0.0725, "gpt-4o-2024-08-06, input", "proj_a")]
    [second] = source.fetch_charges(start=NOV_1, end=NOV_1, now=now)
    assert first["source_key"] == second["source_key"]
    assert (first["amount_micros"], second["amount_micros"]) == (60_000, 72_500)


def test_long_decimal_text_is_kept_exactly() -> None:
    body = (
        b'{"object":"page","has_more":false,"next_page":null,"data":[{"object":"bucket","start_time":1759622400,'
        b'"end_time":1759708800,"results":[{"object":"organization.costs.result","amount":{"value":0.8958740000000000,'
        b'"currency":"usd"},"line_item":null,"project_id":null}]}]}'
    )
    source = connector(lambda request: httpx.Response(200, content=body))
    [charge] = source.fetch_charges(start=dt.date(2025, 10, 5), end=dt.date(2025, 10, 5), now=at(dt.date(2025, 11, 1)))
    assert (charge["original_amount"], charge["amount_micros"]) == ("0.8958740000000000", 895_874)


def test_a_range_in_the_future_asks_nothing() -> None:
    fake = FakeOpenAI()
    assert list(connector(fake).fetch_charges(start=NOV_1, end=NOV_1, now=at(dt.date(2024, 10, 31), 23))) == []
    assert fake.requests == []


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        list(connector(FakeOpenAI()).fetch_charges(start=NOV_1, end=NOV_1, now=dt.datetime(2024, 11, 5)))


def test_rate_limit_is_waited_out_with_retry_after() -> None:
    fake = FakeOpenAI()
    fake.costs[NOV_1] = [cost_result(0.06)]
    replies = iter([httpx.Response(429, headers={"Retry-After": "2"})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(replies, None) or fake(request)

    sleeps: list[float] = []
    charges = list(connector(handler, sleeps).fetch_charges(start=NOV_1, end=NOV_1, now=at(dt.date(2024, 11, 5))))
    assert sleeps == [2.0]
    assert charges[0]["amount_micros"] == 60_000


def test_limit_error_from_openai_is_shown_in_its_own_words() -> None:
    text = "Invalid limit provided: 366. Limit must be less than or equal to 180."
    source = connector(lambda request: httpx.Response(400, json={"error": {"message": text}}))
    with pytest.raises(ConnectorError) as caught:
        list(source.fetch_charges(start=NOV_1, end=NOV_1, now=at(dt.date(2024, 11, 5))))
    assert caught.value.kind == "bad_request"
    assert text in str(caught.value)


def test_connection_check_reports_spend_and_never_the_key() -> None:
    fake = FakeOpenAI()
    now = at(NOV_1 + dt.timedelta(days=1), 8)
    fake.costs[NOV_1] = [cost_result(0.06), cost_result(1.2, "x")]
    message = connector(fake).test_connection(now=now)
    assert message == "Connected to OpenAI: the admin key reads your costs ($1.26 spent since yesterday)."
    [request] = fake.requests
    assert request.url.params["start_time"] == "1730419200"
    assert request.url.params["limit"] == "2"


@pytest.mark.parametrize(("status", "kind"), [(401, "auth"), (403, "forbidden")], ids=["401", "403"])
def test_connection_check_explains_bad_keys(status: int, kind: str) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
    source = connector(lambda request: httpx.Response(status, json=body))
    with pytest.raises(ConnectorError) as caught:
        source.test_connection()
    assert caught.value.kind == kind
    assert KEY not in str(caught.value) and KEY not in repr(source)
