"""OpenAI and Anthropic admin-API responses saved to a file: read with the API connectors' own converters.

So a saved response and a live sync of the same days produce the same source keys and never double count.
A file may hold one page, a list of pages, or (as the OpenAI cookbook prints it) a bare list of buckets.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from connectors import anthropic_costs, openai_costs
from connectors.files.base import BadFile, Parsed, RawFile, canonical, rows_from_records
from connectors.http import ConnectorError, merge_charges


def _pages(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and data and all(isinstance(item, dict) and "data" in item for item in data):
        return list(data)
    return [data]


def _first_result(data: Any) -> dict[str, Any] | None:
    for page in _pages(data):
        buckets = page.get("data") if isinstance(page, dict) else page
        if isinstance(page, dict) and "results" in page:
            buckets = [page]
        for bucket in buckets if isinstance(buckets, list) else []:
            results = bucket.get("results") if isinstance(bucket, dict) else None
            if isinstance(results, list) and results and isinstance(results[0], dict):
                return results[0]
    return None


def _has_buckets(data: Any, time_key: str) -> bool:
    for page in _pages(data):
        buckets = page.get("data") if isinstance(page, dict) else page
        if isinstance(page, dict) and time_key in page:
            return True
        if isinstance(buckets, list) and buckets and isinstance(buckets[0], dict) and time_key in buckets[0]:
            return True
    return False


class _ApiJson:
    name = ""
    label = ""
    namespace = ""
    time_key = ""
    divisor = Decimal(1)  # Anthropic's amounts are cents; merging re-derives dollars from them
    convert: Callable[[Any], list[dict[str, Any]]]

    def _mine(self, result: dict[str, Any] | None) -> bool:
        raise NotImplementedError

    def detect(self, raw: RawFile) -> int:
        if not raw.looks_like_json():
            return 0
        try:
            data = raw.json()
        except BadFile:
            return 0
        if not _has_buckets(data, self.time_key):
            return 0
        return 90 if self._mine(_first_result(data)) else 40

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        data = raw.json()
        if not _has_buckets(data, self.time_key):
            raise BadFile(f"This JSON is not a {self.label}: it has no daily buckets with '{self.time_key}'.")
        try:
            charges = merge_charges(
                (c for page in _pages(data) for c in type(self).convert(page)), divisor=self.divisor
            )
        except ConnectorError as exc:
            raise BadFile(f"{exc} The file may be incomplete; save the API response again.") from exc
        except ValueError as exc:  # the converters' own number readers (as_int, exact_decimal) refusing a value
            raise BadFile(f"A number in this file cannot be read: {exc}. Save the API response again.") from exc
        buckets = sum(len(p.get("data") or []) if isinstance(p, dict) else len(p) for p in _pages(data))
        return Parsed(frame=canonical(rows_from_records([])), rows_read=buckets, charges=charges)


class OpenAIApiJson(_ApiJson):
    name = "openai_api_json"
    label = "OpenAI Costs/Usage API response (JSON)"
    namespace = "openai"
    time_key = "start_time"
    convert = staticmethod(openai_costs.charges_from_page)

    def _mine(self, result: dict[str, Any] | None) -> bool:
        return bool(result) and str((result or {}).get("object", "")).startswith("organization.")


class AnthropicApiJson(_ApiJson):
    name = "anthropic_api_json"
    label = "Anthropic cost/usage report response (JSON)"
    namespace = "anthropic"
    time_key = "starting_at"
    divisor = Decimal(100)
    convert = staticmethod(anthropic_costs.charges_from_page)

    def _mine(self, result: dict[str, Any] | None) -> bool:
        keys = set(result or {})
        return bool(keys & {"uncached_input_tokens", "cache_read_input_tokens", "cost_type", "token_type"}) or (
            isinstance((result or {}).get("amount"), str)
        )


PARSERS = [OpenAIApiJson(), AnthropicApiJson()]
