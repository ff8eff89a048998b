"""OpenAI organisation spend: dollars from the Costs API, tokens and requests from the completions Usage API.

Both are read with an organisation admin key. The page functions are pure so the file importer can turn
"API JSON saved to a file" into the same charges.
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

PROVIDER = "OpenAI"
COSTS_LIMIT = 180  # larger limits are rejected, not clamped ("Limit must be less than or equal to 180")
USAGE_LIMIT = 31  # the maximum for 1d buckets
COSTS_GROUP_BY = ("line_item", "project_id")
USAGE_GROUP_BY = ("model", "project_id", "api_key_id")


class OpenAICosts(AdminReportClient):
    """Reads an OpenAI organisation's daily costs and completions usage with an admin key (sk-admin-...)."""

    name = "openai_costs"
    provider = PROVIDER
    default_base_url = "https://api.openai.com"
    parse_float = Decimal  # costs are JSON floats: keep their exact text

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def test_connection(self, *, now: dt.datetime | None = None) -> str:
        """One small costs call (yesterday and today); a short confirmation, or ConnectorError."""
        begin, finish, days = since_yesterday(now)
        page = self._get(
            "/v1/organization/costs",
            {"start_time": _unix(begin), "end_time": _unix(finish), "bucket_width": "1d", "limit": days},
        )
        spent = sum(charge["amount_micros"] for charge in charges_from_costs_page(page))
        return f"Connected to OpenAI: the admin key reads your costs ({format_usd(spent)} spent since yesterday)."

    def fetch_charges(self, *, start: dt.date, end: dt.date, now: dt.datetime | None = None) -> Iterator[Charge]:
        """Charges for the UTC days start..end (inclusive; today is partial): cost lines, then usage lines."""
        window = report_window(start, end, now)
        if window is None:
            return
        begin, finish, days = window
        span = {"start_time": _unix(begin), "end_time": _unix(finish), "bucket_width": "1d"}
        costs_params = {**span, "group_by": list(COSTS_GROUP_BY), "limit": min(COSTS_LIMIT, days)}
        usage_params = {**span, "group_by": list(USAGE_GROUP_BY), "limit": min(USAGE_LIMIT, days)}
        # Both reports are read before the first charge is yielded, so a failure part-way imports nothing.
        costs = self._charges("/v1/organization/costs", costs_params, charges_from_costs_page)
        usage = self._charges("/v1/organization/usage/completions", usage_params, charges_from_usage_page)
        yield from costs
        yield from usage


def charges_from_costs_page(page: Any) -> list[Charge]:
    """Cost charges from one Costs API page (envelope, bare list of buckets, or one bucket); pure."""
    charges: list[Charge] = []
    for bucket in page_buckets(page, PROVIDER):
        day = _bucket_day(bucket)
        for result in bucket.get("results") or []:
            amount = result.get("amount") or {}
            value = _amount(amount.get("value"))
            if value == 0:
                continue
            currency = str(amount.get("currency") or "usd").upper()
            if currency != "USD":
                raise ConnectorError(
                    f"OpenAI reported costs in {currency[:3]}; meterr can only import US dollar costs.",
                    kind="bad_response",
                )
            line_item = clip(result.get("line_item"), 200)
            project = clip(result.get("project_id"), 80)
            api_key = clip(result.get("api_key_id"), 80)
            groups = (project, line_item, api_key) if api_key else (project, line_item)
            charges.append(
                new_charge(
                    source_key("openai_costs", day, *groups),
                    day,
                    PROVIDER,
                    model=line_item.split(", ", 1)[0][:120] if ", " in line_item else "",
                    line_item=line_item,
                    amount_micros=to_micros(value),
                    original_amount=decimal_text(value),
                    project=project,
                    api_key=api_key,
                )
            )
    return merge_charges(charges)


def charges_from_usage_page(page: Any) -> list[Charge]:
    """Token/request charges from one completions Usage API page; pure.

    They carry amount_micros=0 on purpose: the money for this usage is on the cost lines, so summing both never
    counts a dollar twice. `input_tokens` already includes cached tokens (not added again).
    """
    charges: list[Charge] = []
    for bucket in page_buckets(page, PROVIDER):
        day = _bucket_day(bucket)
        for result in bucket.get("results") or []:
            counts = {
                "input_tokens": as_int(result.get("input_tokens")),
                "output_tokens": as_int(result.get("output_tokens")),
                "cached_tokens": as_int(result.get("input_cached_tokens")),
                "requests": as_int(result.get("num_model_requests")),
            }
            if not any(counts.values()):
                continue
            model = clip(result.get("model"), 120)
            project = clip(result.get("project_id"), 80)
            api_key = clip(result.get("api_key_id"), 80)
            charges.append(
                usage_charge(
                    "openai_usage", day, PROVIDER, model=model, project=project, api_key=api_key, counts=counts
                )
            )
    return merge_charges(charges)


def charges_from_page(page: Any) -> list[Charge]:
    """Costs or usage charges, whichever kind of page this is (by its results' `object`); pure."""
    for bucket in page_buckets(page, PROVIDER):
        for result in bucket.get("results") or []:
            if result.get("object") == "organization.costs.result" or "amount" in result:
                return charges_from_costs_page(page)
            return charges_from_usage_page(page)
    return []


def _amount(value: Any) -> Decimal:
    try:
        return exact_decimal(value)
    except ValueError as exc:
        raise ConnectorError(
            f"OpenAI sent a cost we could not read ({str(value)[:40]!r}).", kind="bad_response"
        ) from exc


def _bucket_day(bucket: dict[str, Any]) -> dt.date:
    """The UTC day a bucket starts on (partial first/last buckets included)."""
    try:
        return dt.datetime.fromtimestamp(as_int(bucket["start_time"]), dt.UTC).date()
    except (KeyError, ValueError, OverflowError, OSError) as exc:
        raise ConnectorError("OpenAI sent a day we could not read (no valid start_time).", kind="bad_response") from exc


def _unix(moment: dt.datetime) -> int:
    return int(moment.timestamp())
