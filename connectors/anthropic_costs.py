"""Anthropic organisation spend: the cost report (amounts in cents) and the messages usage report (tokens).

Both are read with an organisation admin key (sk-ant-admin...). The page functions are pure so the file
importer can turn "API JSON saved to a file" into the same charges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from connectors.http import (
    AdminReportClient,
    Charge,
    ConnectorError,
    as_int,
    clip,
    decimal_text,
    exact_decimal,
    merge_charges,
    new_charge,
    page_buckets,
    report_window,
    since_yesterday,
    source_key,
    usage_charge,
)
from core.money import format_usd, to_micros

PROVIDER = "Anthropic"
API_VERSION = "2023-06-01"
CENTS = Decimal(100)  # the cost report's `amount` is a decimal string in cents: "123.45" is $1.2345
LIMIT = 31  # the maximum number of daily buckets per page for both reports
COSTS_GROUP_BY = ("workspace_id", "description")
USAGE_GROUP_BY = ("model", "workspace_id", "api_key_id")


class AnthropicCosts(AdminReportClient):
    """Reads an Anthropic organisation's daily costs and messages usage with an admin key."""

    name = "anthropic_costs"
    provider = PROVIDER
    default_base_url = "https://api.anthropic.com"

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key, "anthropic-version": API_VERSION}

    def test_connection(self, *, now: dt.datetime | None = None) -> str:
        """One small cost-report call (yesterday and today); a short confirmation, or ConnectorError."""
        begin, finish, days = since_yesterday(now)
        page = self._get(
            "/v1/organizations/cost_report",
            {"starting_at": _rfc3339(begin), "ending_at": _rfc3339(finish), "bucket_width": "1d", "limit": days},
        )
        spent = sum(charge["amount_micros"] for charge in charges_from_costs_page(page))
        return f"Connected to Anthropic: the admin key reads your costs ({format_usd(spent)} spent since yesterday)."

    def fetch_charges(self, *, start: dt.date, end: dt.date, now: dt.datetime | None = None) -> Iterator[Charge]:
        """Charges for the UTC days start..end (inclusive; today is partial): cost lines, then usage lines."""
        window = report_window(start, end, now)
        if window is None:
            return
        begin, finish, days = window
        span = {"starting_at": _rfc3339(begin), "ending_at": _rfc3339(finish), "bucket_width": "1d"}
        limit = min(LIMIT, days)
        cost_params = {**span, "group_by[]": list(COSTS_GROUP_BY), "limit": limit}
        usage_params = {**span, "group_by[]": list(USAGE_GROUP_BY), "limit": limit}
        # Both reports are read before the first charge is yielded, so a failure part-way imports nothing.
        costs = self._charges("/v1/organizations/cost_report", cost_params, charges_from_costs_page, CENTS)
        usage = self._charges("/v1/organizations/usage_report/messages", usage_params, charges_from_usage_page)
        yield from costs
        yield from usage


def charges_from_costs_page(page: Any) -> list[Charge]:
    """Cost charges from one cost-report page (envelope, bare list of buckets, or one bucket); pure.

    `amount` is cents as a decimal string; `original_amount` keeps that text and amount_micros is amount / 100.
    """
    charges: list[Charge] = []
    for bucket in page_buckets(page, PROVIDER):
        day = _bucket_day(bucket)
        for result in bucket.get("results") or []:
            cents = _cents(result.get("amount"))
            if cents == 0:
                continue
            currency = str(result.get("currency") or "USD").upper()
            if currency != "USD":
                raise ConnectorError(
                    f"Anthropic reported costs in {currency[:3]}; meterr can only import US dollar costs.",
                    kind="bad_response",
                )
            description = clip(result.get("description"), 200)
            workspace = clip(result.get("workspace_id"), 80)
            charges.append(
                new_charge(
                    source_key("anthropic_costs", day, workspace, description),
                    day,
                    PROVIDER,
                    model=clip(result.get("model"), 120),
                    line_item=description,
                    amount_micros=to_micros(cents / CENTS),
                    original_amount=decimal_text(cents),
                    project=workspace,
                )
            )
    return merge_charges(charges, divisor=CENTS)


def charges_from_usage_page(page: Any) -> list[Charge]:
    """Token charges from one messages usage-report page; pure.

    They carry amount_micros=0 on purpose: the money for this usage is on the cost lines, so summing both never
    counts a dollar twice. input_tokens = uncached + cache reads + cache writes (5m and 1h); cached_tokens = cache
    reads. The report has no request count, so `requests` stays 0.
    """
    charges: list[Charge] = []
    for bucket in page_buckets(page, PROVIDER):
        day = _bucket_day(bucket)
        for result in bucket.get("results") or []:
            creation = result.get("cache_creation") or {}
            cache_read = as_int(result.get("cache_read_input_tokens"))
            cache_write = as_int(creation.get("ephemeral_5m_input_tokens")) + as_int(
                creation.get("ephemeral_1h_input_tokens")
            )
            counts = {
                "input_tokens": as_int(result.get("uncached_input_tokens")) + cache_read + cache_write,
                "output_tokens": as_int(result.get("output_tokens")),
                "cached_tokens": cache_read,
            }
            if not any(counts.values()):
                continue
            model = clip(result.get("model"), 120)
            workspace = clip(result.get("workspace_id"), 80)
            api_key = clip(result.get("api_key_id"), 80)
            charges.append(
                usage_charge(
                    "anthropic_usage", day, PROVIDER, model=model, project=workspace, api_key=api_key, counts=counts
                )
            )
    return merge_charges(charges)


def charges_from_page(page: Any) -> list[Charge]:
    """Cost or usage charges, whichever kind of page this is (cost results have an `amount`); pure."""
    for bucket in page_buckets(page, PROVIDER):
        for result in bucket.get("results") or []:
            return charges_from_costs_page(page) if "amount" in result else charges_from_usage_page(page)
    return []


def _cents(value: Any) -> Decimal:
    try:
        return exact_decimal(value)
    except ValueError as exc:
        raise ConnectorError(
            f"Anthropic sent a cost we could not read ({str(value)[:40]!r}).", kind="bad_response"
        ) from exc


def _bucket_day(bucket: dict[str, Any]) -> dt.date:
    """The UTC day a bucket starts on."""
    try:
        moment = dt.datetime.fromisoformat(str(bucket["starting_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise ConnectorError(
            "Anthropic sent a day we could not read (no valid starting_at).", kind="bad_response"
        ) from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
