"""Helicone request exports: the export tool's CSV, and the raw API records as a JSON array or JSON Lines.

One row per request: `cost` (USD), `prompt_tokens` (the fresh, uncached ones), `completion_tokens`,
`prompt_cache_read_tokens`/`prompt_cache_write_tokens`, `request_created_at` (naive = UTC), `request_model` and
`provider`, `request_properties` (custom properties: a Customer, Feature, Project or Team property names that
dimension) and `request_user_id` (Helicone-User-Id: the customer when no Customer property says otherwise).
`normalise.roll_up` turns the requests into daily charges.

Quirks handled here: the export tool's CSV writes `model`/`latency` from fields the API does not return (so
they are often empty), escapes JSON cells twice ({""a"":""b""}), and its JSON array ends with a trailing
comma; Helicone stores $0 for models it has no price for; read straight from ClickHouse, cost is in
nano-dollars.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from connectors.files.base import BadFile, Parsed, RawFile, RowErrors, canonical, csv_header
from connectors.files.gateway import (
    JsonColumn,
    classify_columns,
    column,
    csv_rows,
    dimension,
    dimensions_of,
    first_record_keys,
    first_text,
    header_keys,
    json_records,
    money_cells,
    nothing_to_price,
    tags_text,
    text_column,
    token_cells,
    utc_days_and_hours,
)

_SIGNS = {"requestproperties", "requestuserid", "responsestatus", "requestmodel", "promptcachereadtokens",
          "delayms", "signedbodyurl", "heliconeuser", "cachereferenceid"}  # fmt: skip
# Helicone's provider names that are not the company behind the model: gateways, or Helicone's own spellings.
_VENDORS = {
    "aws": "bedrock", "bedrock": "bedrock", "x": "xai", "together": "together_ai", "fireworks": "fireworks_ai",
    "helicone": "", "local": "", "cloudflare": "", "openrouter": "", "vercel": "", "2yfv": "", "custom": "",
}  # fmt: skip
_NANO = Decimal("1e-9")
_PREFIX = "helicone-property-"


class HeliconeParser:
    name = "helicone"
    line_by_line = True  # rows are independent: a large file may be imported a piece at a time
    label = "Helicone request export (CSV, JSON or JSONL)"
    namespace = "helicone"

    def detect(self, raw: RawFile) -> int:
        try:
            keys = first_record_keys(raw) if raw.looks_like_json() else header_keys(csv_header(raw))
        except Exception:  # detection must never raise
            return 0
        if "requestcreatedat" not in keys or not keys & {"responseid", "requestid"}:
            return 0
        return 95 if keys & _SIGNS else 50

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        frame = json_records(raw, what="Helicone request") if raw.looks_like_json() else csv_rows(raw)
        created = column(frame, "request_created_at", "response_created_at", "created_at")
        if created is None:
            raise BadFile(
                "This Helicone export has no 'request_created_at' column. Export the requests again with "
                "Helicone's export tool (CSV, JSON or JSONL)."
            )
        if frame.empty:
            return Parsed(frame=canonical(frame), rows_read=0)
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        notes: list[str] = []
        day, hour = utc_days_and_hours(frame, created, errors)
        tokens = {
            field: token_cells(frame, name, errors) if name else np.zeros(len(frame), dtype=np.int64)
            for field, name in (
                ("prompt", column(frame, "prompt_tokens")),
                ("completion", column(frame, "completion_tokens")),
                ("cache_read", column(frame, "prompt_cache_read_tokens")),
                ("cache_write", column(frame, "prompt_cache_write_tokens")),
            )
        }
        # Helicone's prompt_tokens are the fresh ones; ours include cached reads and writes (as OpenAI counts).
        input_tokens = tokens["prompt"] + tokens["cache_read"] + tokens["cache_write"]
        used = input_tokens + tokens["completion"]
        cost = column(frame, "cost", "cost_usd", "costUSD")
        amount: list[Decimal | None] = money_cells(frame, cost, errors) if cost else [None] * len(frame)
        amount = _from_nano_dollars(frame, cost, amount, used, notes)
        amount = _unpriced_zeros(amount, np.where(_cache_hits(frame), 0, used), notes)

        model = _model(frame, notes)
        vendor = text_column(frame, "provider").str.lower().replace(_VENDORS)
        provider, service, model_name = classify_columns(vendor, model)
        properties_name = column(frame, "request_properties", "properties")
        properties = JsonColumn(frame[properties_name] if properties_name else None, len(frame))
        dims = {
            name: properties.derive(dimension(name, strip_prefix=_PREFIX))
            for name in ("customer", "feature", "project", "department")
        }
        out = canonical(
            frame,
            day=day,
            hour=hour,
            amount=nothing_to_price(amount, used),
            currency="USD",
            provider=provider,
            service=service,
            model=model_name,
            project=dims["project"],
            department=dims["department"],
            customer=first_text(dims["customer"], text_column(frame, "request_user_id", "user_id")),
            feature=dims["feature"],
            input_tokens=input_tokens,
            output_tokens=tokens["completion"],
            cached_tokens=tokens["cache_read"],
            requests=1,
            tags=properties.derive(_environment_tag),
        )
        return Parsed(frame=errors.keep(out), rows_read=len(frame), skipped=errors.skipped, notes=notes)


def _environment_tag(properties: Any) -> str:
    environment = dimensions_of(properties, strip_prefix=_PREFIX).get("environment", "")
    return tags_text({"environment": environment}) if environment else ""


def _model(frame: pd.DataFrame, notes: list[str]) -> pd.Series:
    """The model: request_model (API records), model (the export tool's column, often empty), the model
    Helicone saw in the response, or the one named in the request body."""
    model = first_text(
        text_column(frame, "request_model", limit=200),
        text_column(frame, "model", limit=200),
        text_column(frame, "response_model", limit=200),
        text_column(frame, "model_override", limit=200),
    )
    body = column(frame, "request_body")
    if (model == "").any() and body is not None:
        model = first_text(model, JsonColumn(frame[body], len(frame)).text("model").str.slice(0, 200))
    blank = int((model == "").sum())
    if blank:
        notes.append(
            f"{blank:,} request(s) name no model (Helicone's export tool often leaves the CSV 'model' column "
            "empty), so their spend is filed under provider 'Other'. Export JSONL to keep the model names."
        )
    return model


def _cache_hits(frame: pd.DataFrame) -> np.ndarray:
    """Requests Helicone answered from its cache (a cache_reference_id other than the all-zero one): their
    $0 is real."""
    name = column(frame, "cache_reference_id")
    if name is None:
        return np.zeros(len(frame), dtype=bool)
    reference = text_column(frame, name).str.strip("-0")
    return (reference != "").to_numpy(dtype=bool)


def _from_nano_dollars(
    frame: pd.DataFrame, cost: str | None, amount: list[Decimal | None], used: np.ndarray, notes: list[str]
) -> list[Decimal | None]:
    """Costs read straight from Helicone's ClickHouse are whole nano-dollars (USD × 1,000,000,000); the API
    and the export tool divide. Whole numbers that would mean more than a cent per token are nano-dollars."""
    if cost is None:
        return amount
    known = [a for a in amount if a is not None]
    if not known or any(a != a.to_integral_value() for a in known):
        return amount
    text = frame[cost].astype(str)
    if text.str.contains(r"[.eE]", regex=True).any():
        return amount
    total = sum(known, Decimal(0))
    tokens = int(used.sum())
    if total <= 0 or (tokens and total / tokens <= Decimal("0.01")):
        return amount
    notes.append("Costs are whole nano-dollars (Helicone's stored form), so each was divided by 1,000,000,000.")
    return [None if a is None else a * _NANO for a in amount]


def _unpriced_zeros(amount: list[Decimal | None], used: np.ndarray, notes: list[str]) -> list[Decimal | None]:
    """Helicone records $0 for a request whose model it has no price for. A $0 request that used tokens is
    priced from its tokens instead (or listed as unpriced), not stored as free."""
    zero = np.fromiter((a is not None and a == 0 for a in amount), dtype=bool, count=len(amount))
    suspect = zero & (used > 0)
    count = int(suspect.sum())
    if not count:
        return amount
    notes.append(
        f"{count:,} request(s) used tokens but show $0 in Helicone (Helicone had no price for the model); "
        "meterr priced them from their tokens."
    )
    out = list(amount)
    for i in np.flatnonzero(suspect).tolist():
        out[i] = None
    return out


PARSERS = [HeliconeParser()]
