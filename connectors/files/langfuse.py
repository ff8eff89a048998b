"""Langfuse observation exports: the UI/batch export (CSV, JSON, JSONL) and the public API's observations.

One row per observation, camelCase keys: `type`, `startTime`, `model`/`providedModelName`, `usageDetails`
({input, output, total, input_cached_tokens, ...}), `costDetails` ({input, output, total} in USD), `totalCost`,
`inputUsage`/`outputUsage`, v1's `calculatedTotalCost` and `usage`, `userId`, `traceName`, `traceTags`,
`projectId`, `environment`, `metadata`. In CSV, JSON-typed cells are JSON text and dates are JSON strings
(with their quotes). Only generations and embeddings carry model cost; spans, events and the other types are
left out (counted in a note). A missing cost is priced from tokens, never taken as $0.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from connectors.files.base import BadFile, Parsed, RawFile, RowErrors, canonical, csv_header, parse_decimal
from connectors.files.gateway import (
    JsonColumn,
    classify_columns,
    column,
    csv_rows,
    dimension,
    first_record_keys,
    first_text,
    header_keys,
    json_records,
    money_cells,
    nothing_to_price,
    tag_map,
    tags_text,
    text_column,
    token_cells,
    utc_days_and_hours,
)

_SIGNS = {"type", "usagedetails", "costdetails", "totalcost", "calculatedtotalcost", "prompttokens",
          "providedmodelname", "parentobservationid", "inputusage", "tracename"}  # fmt: skip
COST_TYPES = frozenset({"GENERATION", "EMBEDDING"})


class LangfuseParser:
    name = "langfuse"
    line_by_line = True  # rows are independent: a large file may be imported a piece at a time
    label = "Langfuse observations export (CSV, JSON or JSONL)"
    namespace = "langfuse"

    def detect(self, raw: RawFile) -> int:
        try:
            keys = first_record_keys(raw) if raw.looks_like_json() else header_keys(csv_header(raw))
        except Exception:  # detection must never raise
            return 0
        if "traceid" not in keys or "starttime" not in keys:
            return 0
        return 95 if keys & _SIGNS else 50

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        frame = json_records(raw, what="Langfuse observation") if raw.looks_like_json() else csv_rows(raw)
        start = column(frame, "startTime", "start_time", "timestamp", "traceTimestamp")
        if start is None:
            raise BadFile(
                "This Langfuse export has no 'startTime' column. Export observations (not traces or scores) "
                "from Langfuse as CSV, JSON or JSONL."
            )
        rows_read = len(frame)
        notes: list[str] = []
        frame = _cost_bearing(frame, notes)
        if frame.empty:
            return Parsed(frame=canonical(frame), rows_read=rows_read, notes=notes)
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        if isinstance(frame[start].dtype, pd.StringDtype):  # CSV: dates are written as JSON strings, quotes included
            frame[start] = frame[start].str.strip().str.strip('"')
        day, hour = utc_days_and_hours(frame, start, errors)
        input_tokens, output_tokens, cached = _tokens(frame, errors)
        amount = _costs(frame, errors)

        metadata_name = column(frame, "metadata")
        metadata = JsonColumn(frame[metadata_name] if metadata_name else None, len(frame))
        dims = {name: metadata.derive(dimension(name)) for name in ("customer", "feature", "project", "department")}
        model = first_text(
            _plain(text_column(frame, "model", "providedModelName", "provided_model_name", limit=200)),
            metadata.text("ls_model_name").str.slice(0, 200),
        )
        provider, service, model_name = classify_columns(metadata.text("ls_provider"), model)
        out = canonical(
            frame,
            day=day,
            hour=hour,
            amount=nothing_to_price(amount, input_tokens, output_tokens),
            currency="USD",
            provider=provider,
            service=service,
            model=model_name,
            project=first_text(dims["project"], _plain(text_column(frame, "projectId", "project_id"))),
            department=dims["department"],
            customer=first_text(dims["customer"], _plain(text_column(frame, "userId", "user_id"))),
            feature=first_text(dims["feature"], _plain(text_column(frame, "traceName", "trace_name"))),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=np.minimum(cached, input_tokens),
            requests=1,
            tags=_tags(frame),
        )
        return Parsed(frame=errors.keep(out), rows_read=rows_read, skipped=errors.skipped, notes=notes)


def _plain(series: pd.Series) -> pd.Series:
    """A CSV cell written as a JSON string ('"abc"') without its quotes."""
    quoted = series.str.startswith('"') & series.str.endswith('"') & (series.str.len() >= 2)
    return series.where(~quoted, series.str.slice(1, -1)) if quoted.any() else series


def _cost_bearing(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Only generations and embeddings: the other observation types (spans, events, agents, tools...)
    describe the work around model calls, and Langfuse prices model calls on the generations."""
    name = column(frame, "type")
    if name is None or frame.empty:
        return frame.reset_index(drop=True)
    kinds = _plain(text_column(frame, name)).str.upper()
    keep = (kinds == "") | kinds.isin(COST_TYPES)
    if keep.all():
        return frame.reset_index(drop=True)
    left_out = Counter(kinds[~keep].tolist())
    listed = ", ".join(f"{kind} × {count:,}" for kind, count in left_out.most_common())
    notes.append(
        f"{int((~keep).sum()):,} observation(s) that are not generations or embeddings were left out ({listed}): "
        "Langfuse records model cost on generations and embeddings."
    )
    return frame[keep.to_numpy()].reset_index(drop=True)


# Tokens ----------------------------------------------------------------------------------------------


def _usage_counts(details: Any) -> tuple[int, int, int] | None:
    """(input incl. cached, output, cached reads) from a usageDetails map; None when it has no counts.

    Langfuse's own keys add up (input = fresh input, input_cached_tokens = cached reads, output = output...),
    so input is every key starting with 'input' plus Anthropic-style 'cache_*_input_tokens'. OpenAI-style
    maps (prompt_tokens, completion_tokens) are read as they are."""
    if not isinstance(details, dict) or not details:
        return None
    counts: dict[str, int] = {}
    for key, value in details.items():
        try:
            counts[str(key).lower()] = int(Decimal(str(value)))
        except (ArithmeticError, ValueError):
            continue
    if not any(k.startswith(("input", "output")) or "input" in k for k in counts):
        if "prompt_tokens" in counts or "completion_tokens" in counts:
            cached = counts.get("cached_tokens", counts.get("prompt_tokens_details.cached_tokens", 0))
            return counts.get("prompt_tokens", 0), counts.get("completion_tokens", 0), cached
        return None
    inputs = sum(v for k, v in counts.items() if k.startswith("input") or (k != "total" and "input" in k))
    outputs = sum(v for k, v in counts.items() if k.startswith("output"))
    cached = sum(v for k, v in counts.items() if ("cache_read" in k or "cached" in k) and "output" not in k)
    return inputs, outputs, cached


def _tokens(frame: pd.DataFrame, errors: RowErrors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token counts from usageDetails, else the inputUsage/outputUsage (or promptTokens/completionTokens)
    columns, else v1's `usage` object."""
    n = len(frame)
    inputs = np.zeros(n, dtype=np.int64)
    outputs = np.zeros(n, dtype=np.int64)
    cached = np.zeros(n, dtype=np.int64)
    found = np.zeros(n, dtype=bool)
    for name in ("usageDetails", "usage_details", "usage"):
        source = column(frame, name)
        if source is None:
            continue
        cells = JsonColumn(frame[source], n)
        counted = cells.derive(lambda d: ",".join(map(str, c)) if (c := _usage_counts(d)) else "")
        has = (counted != "").to_numpy(dtype=bool) & ~found
        if has.any():
            parts = counted[has].str.split(",", expand=True).astype("int64").to_numpy()
            inputs[has], outputs[has], cached[has] = parts[:, 0], parts[:, 1], parts[:, 2]
            found |= has
    if found.all():
        return inputs, outputs, cached
    for target, names in (
        (inputs, ("inputUsage", "promptTokens", "prompt_tokens", "input_usage")),
        (outputs, ("outputUsage", "completionTokens", "completion_tokens", "output_usage")),
    ):
        source = column(frame, *names)
        if source is not None:
            values = token_cells(frame.assign(**{source: _counts_text(frame[source])}), source, errors)
            target[~found] = values[~found]
    return inputs, outputs, cached


def _counts_text(series: pd.Series) -> pd.Series:
    if series.dtype == object:
        return series.map(lambda v: "" if v is None else v)
    return _plain(series.fillna("").astype(str).str.strip())


# Cost ------------------------------------------------------------------------------------------------


def _detail_cost(details: Any) -> str:
    """The cost a costDetails map gives: its 'total', else the sum of its parts; '' when it gives none.

    Langfuse writes no 'total' when the parts are more than input and output (langfuse/langfuse#15961), and
    its converters then report totalCost as 0, so the parts are the better source."""
    if not isinstance(details, dict) or not details:
        return ""
    values: dict[str, Decimal] = {}
    for key, value in details.items():
        try:
            number = parse_decimal(value)
        except ValueError:
            continue
        if number is not None:
            values[str(key).lower()] = number
    if not values:
        return ""
    total = values.get("total")
    if total is None:
        total = sum((v for k, v in values.items() if k != "total"), Decimal(0))
    return f"{total:f}"


def _costs(frame: pd.DataFrame, errors: RowErrors) -> list[Decimal | None]:
    """USD per observation: costDetails first, then totalCost / calculatedTotalCost / v1 usage.totalCost.

    A 0 next to empty costDetails is how older Langfuse versions wrote a missing cost (langfuse/langfuse#16287);
    it is read as missing and priced from tokens, not stored as free."""
    n = len(frame)
    amount: list[Decimal | None] = [None] * n
    details_name = column(frame, "costDetails", "cost_details")
    from_details = np.zeros(n, dtype=bool)
    if details_name is not None:
        detail = JsonColumn(frame[details_name], n).derive(_detail_cost)
        from_details = (detail != "").to_numpy(dtype=bool)
        texts = detail.tolist()
        for i in np.flatnonzero(from_details).tolist():
            amount[i] = Decimal(texts[i])
    if from_details.all():
        return amount
    fallback: list[Decimal | None] = [None] * n
    for names in (("totalCost", "total_cost"), ("calculatedTotalCost", "calculated_total_cost")):
        source = column(frame, *names)
        if source is None:
            continue
        cells = frame.assign(**{source: _counts_text(frame[source])})
        values = money_cells(cells, source, errors)
        fallback = [old if old is not None else new for old, new in zip(fallback, values, strict=True)]
    usage = column(frame, "usage")
    if usage is not None:
        from_usage = JsonColumn(frame[usage], n).derive(lambda d: _scalar(d, "totalCost"))
        fallback = [
            old if old is not None or not text else Decimal(text)
            for old, text in zip(fallback, from_usage.tolist(), strict=True)
        ]
    for i in np.flatnonzero(~from_details).tolist():
        value = fallback[i]
        amount[i] = None if value is not None and value == 0 and details_name is not None else value
    return amount


def _scalar(details: Any, key: str) -> str:
    if not isinstance(details, dict):
        return ""
    try:
        value = parse_decimal(details.get(key))
    except ValueError:
        return ""
    return "" if value is None else f"{value:f}"


# Dimensions ------------------------------------------------------------------------------------------


def _tags(frame: pd.DataFrame) -> pd.Series:
    """traceTags (a JSON list) plus the environment when it is not Langfuse's 'default'."""
    n = len(frame)
    tags_name = column(frame, "traceTags", "trace_tags", "tags")
    tag_text = (
        JsonColumn(frame[tags_name], n).derive(lambda value: tags_text(tag_map(value)))
        if tags_name
        else pd.Series([""] * n, dtype="str")
    )
    environment = _plain(text_column(frame, "environment", limit=60))
    environment = environment.where(environment.str.lower() != "default", "")
    if not (environment != "").any():
        return tag_text
    key = tag_text + "\x1f" + environment
    codes, uniques = pd.factorize(key, sort=False)
    merged = []
    for item in uniques:
        text, env = str(item).split("\x1f", 1)
        tags: dict[str, str] = dict(json.loads(text)) if text else {}
        if env:
            tags["environment"] = env
        merged.append(tags_text(tags))
    return pd.Series(pd.array(merged, dtype="str")).take(codes).reset_index(drop=True)


PARSERS = [LangfuseParser()]
