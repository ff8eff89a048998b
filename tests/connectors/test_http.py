"""request_json: retries with backoff and Retry-After, and plain-English errors that never show the key."""

from __future__ import annotations

import datetime as dt
import email.utils
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.http import ConnectorError, _retry_after, merge_charges, request_json, source_key

KEY = "sk-admin-THISISTHESECRETKEYabc123"
URL = "https://api.example.test/v1/organization/costs"


def client_for(*responses: httpx.Response | Exception) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose transport replays `responses` in order (the last one repeats) and records requests."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses[min(len(seen) - 1, len(responses) - 1)]
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def call(client: httpx.Client, sleeps: list[float], provider: str = "OpenAI", **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {KEY}"} if provider == "OpenAI" else {"x-api-key": KEY}
    return request_json(
        client,
        "GET",
        URL,
        headers=headers,
        sleep=sleeps.append,
        provider=provider,
        **kwargs,
    )


OK = httpx.Response(200, json={"object": "page", "data": []})


def test_success_returns_the_json_and_sends_the_params() -> None:
    client, seen = client_for(OK)
    sleeps: list[float] = []
    assert call(client, sleeps, params={"group_by": ["line_item", "project_id"], "limit": 7}) == {
        "object": "page",
        "data": [],
    }
    assert seen[0].url.params.get_list("group_by") == ["line_item", "project_id"]
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert sleeps == []


def test_parse_float_keeps_the_decimal_text() -> None:
    client, _ = client_for(httpx.Response(200, content=b'{"value": 0.8958740000000000}'))
    assert call(client, [], parse_float=Decimal) == {"value": Decimal("0.8958740000000000")}


def test_429_honours_retry_after_seconds() -> None:
    client, seen = client_for(httpx.Response(429, headers={"Retry-After": "3"}), OK)
    sleeps: list[float] = []
    call(client, sleeps)
    assert sleeps == [3.0]
    assert len(seen) == 2


def test_retry_after_is_capped_at_a_minute() -> None:
    client, _ = client_for(httpx.Response(429, headers={"Retry-After": "7200"}), OK)
    sleeps: list[float] = []
    call(client, sleeps)
    assert sleeps == [60.0]


def test_retry_after_http_date() -> None:
    now = dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=12), usegmt=True)
    past = email.utils.format_datetime(now - dt.timedelta(seconds=12), usegmt=True)
    assert _retry_after(later, now) == 12.0
    assert _retry_after(past, now) == 0.0
    assert _retry_after("soon", now) is None


def test_500_then_success_backs_off_half_a_second() -> None:
    client, seen = client_for(httpx.Response(500), OK)
    sleeps: list[float] = []
    assert call(client, sleeps) == {"object": "page", "data": []}
    assert sleeps == [0.5]
    assert len(seen) == 2


def test_503_forever_is_a_server_error_after_exponential_backoff() -> None:
    client, seen = client_for(httpx.Response(503))
    sleeps: list[float] = []
    with pytest.raises(ConnectorError) as caught:
        call(client, sleeps)
    assert caught.value.kind == "server"
    assert str(caught.value) == "OpenAI is having trouble (HTTP 503); nothing was imported, try again later."
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert len(seen) == 5


def test_backoff_is_capped_at_thirty_seconds() -> None:
    client, _ = client_for(httpx.Response(502))
    sleeps: list[float] = []
    with pytest.raises(ConnectorError):
        call(client, sleeps, max_retries=8)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_429_forever_says_rate_limited() -> None:
    client, _ = client_for(httpx.Response(429))
    with pytest.raises(ConnectorError) as caught:
        call(client, [], provider="Anthropic", max_retries=2)
    assert caught.value.kind == "rate_limited"
    assert str(caught.value) == "Anthropic is rate limiting us; try again in a few minutes."


def test_401_is_plain_and_never_shows_the_key() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}
    client, seen = client_for(httpx.Response(401, json=body))
    sleeps: list[float] = []
    with pytest.raises(ConnectorError) as caught:
        call(client, sleeps)
    assert caught.value.kind == "auth"
    assert str(caught.value).startswith("OpenAI rejected the key (401). Check that you pasted the whole admin key")
    assert KEY not in str(caught.value)
    assert len(seen) == 1 and sleeps == []  # a bad key is not retried


def test_anthropic_401_mentions_admin_key_prefix() -> None:
    client, _ = client_for(httpx.Response(401, json={"type": "error", "error": {"message": "invalid x-api-key"}}))
    with pytest.raises(ConnectorError) as caught:
        call(client, [], provider="Anthropic")
    assert "sk-ant-admin" in str(caught.value)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "expected"),
    [("OpenAI", "this looks like a project key"), ("Anthropic", "sk-ant-admin")],
    ids=["openai", "anthropic"],
)
def test_403_explains_admin_keys(provider: str, expected: str) -> None:
    client, _ = client_for(httpx.Response(403, json={"error": {"message": "Missing scopes: api.usage.read"}}))
    with pytest.raises(ConnectorError) as caught:
        call(client, [], provider=provider)
    assert caught.value.kind == "forbidden"
    assert expected in str(caught.value)
    assert KEY not in str(caught.value)


def test_openai_403_names_the_admin_key_prefix() -> None:
    client, _ = client_for(httpx.Response(403))
    with pytest.raises(ConnectorError) as caught:
        call(client, [])
    assert "sk-admin-" in str(caught.value)


def test_400_includes_the_providers_own_message() -> None:
    text = "Invalid limit provided: 366. Limit must be less than or equal to 180."
    body = {"error": {"message": text, "type": "invalid_request_error", "param": None, "code": None}}
    client, seen = client_for(httpx.Response(400, json=body))
    with pytest.raises(ConnectorError) as caught:
        call(client, [])
    assert caught.value.kind == "bad_request"
    assert str(caught.value) == f"OpenAI refused the request (HTTP 400): {text}"
    assert len(seen) == 1


def test_400_echoing_the_key_is_scrubbed() -> None:
    body = {"error": {"message": f"key {KEY} may not group by api_key_id before 1764979200"}}
    client, _ = client_for(httpx.Response(400, json=body))
    with pytest.raises(ConnectorError) as caught:
        call(client, [])
    assert KEY not in str(caught.value)
    assert "may not group by api_key_id before 1764979200" in str(caught.value)


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (httpx.ReadTimeout("timed out"), "timeout", "OpenAI did not answer in time"),
        (httpx.ConnectError("name resolution failed"), "network", "Could not reach OpenAI"),
    ],
    ids=["timeout", "network"],
)
def test_transport_failures_are_retried_then_explained(error: Exception, kind: str, text: str) -> None:
    client, seen = client_for(error)
    sleeps: list[float] = []
    with pytest.raises(ConnectorError) as caught:
        call(client, sleeps, max_retries=2)
    assert caught.value.kind == kind
    assert str(caught.value).startswith(text)
    assert sleeps == [0.5, 1.0]
    assert len(seen) == 3


def test_timeout_then_success() -> None:
    client, _ = client_for(httpx.ReadTimeout("timed out"), OK)
    sleeps: list[float] = []
    assert call(client, sleeps) == {"object": "page", "data": []}
    assert sleeps == [0.5]


def test_unreadable_body_is_a_bad_response() -> None:
    client, _ = client_for(httpx.Response(200, content=b"<html>maintenance</html>"))
    with pytest.raises(ConnectorError) as caught:
        call(client, [])
    assert caught.value.kind == "bad_response"


def test_source_key_hashes_long_group_parts() -> None:
    day = dt.date(2025, 10, 5)
    assert source_key("openai_costs", day, "proj_abc", "gpt-4o-2024-08-06, input") == (
        "openai_costs:2025-10-05:proj_abc:gpt-4o-2024-08-06, input"
    )
    assert source_key("openai_costs", day, None, "x") == "openai_costs:2025-10-05::x"
    long = source_key("openai_costs", day, "p" * 200, "l" * 200)
    assert len(long) <= 255 and long.startswith("openai_costs:2025-10-05:")
    assert long != source_key("openai_costs", day, "p" * 200, "l" * 199)


def test_merge_sums_money_exactly_once() -> None:
    def charge(original: str, micros: int) -> dict[str, object]:
        counts = {"input_tokens": 1, "output_tokens": 2, "cached_tokens": 0, "requests": 1}
        return {"source_key": "k", "original_amount": original, "amount_micros": micros, **counts}

    merged = merge_charges([charge("0.0000005", 0), charge("0.0000005", 0)])
    assert len(merged) == 1
    assert merged[0]["original_amount"] == "0.0000010"
    assert merged[0]["amount_micros"] == 1  # rounded once, from the exact sum
    assert merged[0]["input_tokens"] == 2 and merged[0]["requests"] == 2
