"""LiteLLM proxy spend logs: the `LiteLLM_SpendLogs` table as CSV, `/spend/logs` JSON, logger payloads (JSONL).

One row per request: `spend` (USD float), `prompt_tokens`/`completion_tokens`, `startTime` (naive = UTC),
`model` + `custom_llm_provider`, `end_user` (the customer), `team_id`, hashed `api_key`, `metadata` (JSON text or
object: key and team aliases, `project_id`) and `request_tags` (JSON text or list). Failed requests log
spend 0 and still count as requests. `normalise.roll_up` turns the requests into daily charges.
"""

from __future__ import annotations

import numpy as np

from connectors.files.base import BadFile, Parsed, RawFile, RowErrors, canonical, csv_header
from connectors.files.gateway import (
    JsonColumn,
    classify_columns,
    column,
    csv_rows,
    first_record_keys,
    first_text,
    header_keys,
    json_records,
    money_cells,
    nothing_to_price,
    tag_cells,
    text_column,
    token_cells,
    utc_days_and_hours,
)

_SIGNS = {"requestid", "calltype", "customllmprovider", "modelgroup", "apikey", "enduser", "requesttags", "teamid",
          "cachehit"}  # fmt: skip


class LiteLLMParser:
    name = "litellm"
    line_by_line = True  # rows are independent: a large file may be imported a piece at a time
    label = "LiteLLM spend logs (CSV or JSON)"
    namespace = "litellm"

    def detect(self, raw: RawFile) -> int:
        try:
            keys = first_record_keys(raw) if raw.looks_like_json() else header_keys(csv_header(raw))
        except Exception:  # detection must never raise
            return 0
        if "spend" not in keys or "starttime" not in keys:
            return 0
        if keys & _SIGNS:
            return 95
        return 60 if "prompttokens" in keys else 0  # spend + startTime alone could be anyone's ledger

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        frame = json_records(raw, what="LiteLLM spend log") if raw.looks_like_json() else csv_rows(raw)
        start = column(frame, "startTime", "start_time")
        spend = column(frame, "spend", "cost", "response_cost")
        if start is None:
            raise BadFile(
                "This LiteLLM spend log has no 'startTime' column. Export the LiteLLM_SpendLogs table with its "
                "startTime, spend, model and token columns."
            )
        if spend is None:
            raise BadFile(
                "This LiteLLM spend log has no 'spend' column. Export the LiteLLM_SpendLogs table with its "
                "startTime, spend, model and token columns."
            )
        if frame.empty:
            return Parsed(frame=canonical(frame), rows_read=0)
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        day, hour = utc_days_and_hours(frame, start, errors)
        amount = money_cells(frame, spend, errors)
        tokens = {
            field: token_cells(frame, name, errors) if name else np.zeros(len(frame), dtype=np.int64)
            for field, name in (
                ("input_tokens", column(frame, "prompt_tokens")),
                ("output_tokens", column(frame, "completion_tokens")),
            )
        }
        metadata_name = column(frame, "metadata")
        metadata = JsonColumn(frame[metadata_name] if metadata_name else None, len(frame))
        # Cached prompt tokens, when the usage object was kept in metadata (OpenAI- or Anthropic-style names).
        cached = np.maximum(metadata.number("cached_tokens"), metadata.number("cache_read_input_tokens"))
        cached = np.minimum(cached, tokens["input_tokens"])

        model = first_text(text_column(frame, "model", limit=200), text_column(frame, "model_group", limit=200))
        provider, service, model_name = classify_columns(text_column(frame, "custom_llm_provider"), model)
        api_key = first_text(metadata.text("user_api_key_alias"), text_column(frame, "api_key"))
        project = first_text(metadata.text("project_id"), metadata.text("user_api_key_team_alias"))
        tags_name = column(frame, "request_tags")
        out = canonical(
            frame,
            day=day,
            hour=hour,
            amount=nothing_to_price(amount, tokens["input_tokens"], tokens["output_tokens"]),
            currency="USD",
            provider=provider,
            service=service,
            model=model_name,
            api_key=api_key.str.slice(0, 80),
            project=project.str.slice(0, 80),
            department=text_column(frame, "team_id"),
            customer=text_column(frame, "end_user"),
            input_tokens=tokens["input_tokens"],
            output_tokens=tokens["output_tokens"],
            cached_tokens=cached,
            requests=1,
            tags=tag_cells(JsonColumn(frame[tags_name], len(frame))) if tags_name else "",
        )
        return Parsed(frame=errors.keep(out), rows_read=len(frame), skipped=errors.skipped)


PARSERS = [LiteLLMParser()]
