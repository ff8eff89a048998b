"""OpenAI dashboard exports (Usage page → Export): the cost export and the completions usage export, CSV or TSV.

Both are the Admin API's `UsageResponse` flattened to one row per bucket and group: `start_time`/`end_time`
(Unix seconds) and their `*_iso` twins, then the result's fields (`amount` → `amount_value`/`amount_currency`).
Days without usage are rows with only the four time columns filled, sometimes with an extra trailing separator;
they are "no data", as is a file with nothing but a header (even just the four time columns).

Cost lines carry the money. Usage lines carry tokens and requests and are stored as zero-dollar charges, as the
API connector (`connectors.openai_costs`) stores them, so importing both exports never counts a dollar twice.
When there is no cost export at all, `openai_usage_priced` prices the tokens instead (chosen by hand).

Cost lines are keyed exactly as the API sync keys them (`openai_costs:<day>:<project>:<line item>`), so a cost
export and an API connection covering the same days hold the money once. Usage lines keep the roll-up's hash
after `openai_usage:<day>:` (the export splits by user, batch and tier, which the sync does not), so tokens
from a usage export and from a sync of the same days would count twice: use one or the other for tokens.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from connectors.files.base import (
    BadFile,
    Parsed,
    RawFile,
    RowErrors,
    canonical,
    count_cells,
    day_cells,
    decimal_cells,
    text_of,
)
from connectors.http import source_key

PROVIDER = "OpenAI"
SERVICE = "API"
TIME_COLUMNS = ("start_time", "end_time", "start_time_iso", "end_time_iso")
USAGE_NOTE = "Usage exports carry tokens, not dollars: import the cost export for the money."
_EXTRA = "\x00extra"  # names for cells past the header (trailing separators on empty-day rows)
_EXTRA_CELLS = 8
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n", ""})
_UNIX_SECONDS = r"\d{9,10}(\.\d+)?"


# Reading -----------------------------------------------------------------------------------------------


def _header(raw: RawFile) -> tuple[list[str], str]:
    """The header cells (lower case, trailing blanks dropped) and the separator: tab or comma."""
    if raw.looks_like_json():
        return [], ","
    line = raw.first_line
    sep = "\t" if line.count("\t") > line.count(",") else ","
    cells = [cell.strip().lower() for cell in next(csv.reader([line], delimiter=sep), [])]
    while cells and not cells[-1]:
        cells.pop()
    return cells, sep


def _is_export(header: Sequence[str]) -> bool:
    return set(TIME_COLUMNS) <= set(header)


def read_export(raw: RawFile) -> pd.DataFrame:
    """The export as a frame of strings ('' for blanks) with a `row` column (1-based file line).

    Unlike `read_table`, rows may be shorter than the header or end in extra empty cells: that is how the
    dashboard writes days without usage. Cells with text beyond the header are still an error, and so is a
    last row cut off part-way (the file was truncated while downloading).
    """
    header, sep = _header(raw)
    if len(set(header)) != len(header):
        twice = next(name for name in header if header.count(name) > 1)
        raise BadFile(f"The column '{twice}' appears twice in the header. Export the file again from OpenAI.")
    text = raw.text
    body = text.lstrip("\r\n")
    header_line = text[: len(text) - len(body)].count("\n") + 1
    extras = [f"{_EXTRA}{i}" for i in range(_EXTRA_CELLS)]
    try:
        with warnings.catch_warnings():
            # pandas only warns when a row is longer than the header and the extras: its cells would be lost.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(body),
                sep=sep,
                header=None,
                skiprows=1,
                names=[*header, *extras],
                index_col=False,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=True,
                engine="c",
            )
    except pd.errors.ParserWarning as exc:
        raise BadFile(
            "A row has more cells than the header. A value may contain the separator without quotes; export the "
            "file again from OpenAI."
        ) from exc
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in (*header, *extras)})
    except pd.errors.ParserError as exc:
        raise BadFile(
            f"A row has more cells than the header ({str(exc).strip()[:120]}). A value may contain the separator "
            "without quotes; export the file again from OpenAI."
        ) from exc
    frame = frame.fillna("")
    frame["row"] = _line_numbers(body, len(frame), header_line)
    for name in extras:
        filled = frame[name].astype(str).str.strip() != ""
        if filled.any():
            row = int(frame.loc[filled, "row"].iloc[0])
            raise BadFile(
                f"Row {row} has more cells than the header: a value may contain the separator without quotes, or "
                "rows from another file were pasted in. Export the file again from OpenAI.",
                row=row,
            )
    frame = frame.drop(columns=extras)
    _check_last_row(body, sep, header, frame)
    return frame


def _line_numbers(body: str, count: int, header_line: int) -> np.ndarray:
    """File line numbers of the data rows: exact when no cell spans lines, else counted from the header."""
    lines = body.split("\n")
    filled = [i for i, line in enumerate(lines[1:], start=1) if line.rstrip("\r")]
    if len(filled) == count:
        return np.asarray(filled, dtype=np.int64) + header_line
    return np.arange(header_line + 1, header_line + 1 + count, dtype=np.int64)


def _check_last_row(body: str, sep: str, header: list[str], frame: pd.DataFrame) -> None:
    """A last row with fewer cells than the header, and something past the time columns, was cut off."""
    if frame.empty:
        return
    last = body.rstrip("\r\n").rsplit("\n", 1)[-1].rstrip("\r")
    cells = next(csv.reader([last], delimiter=sep), [])
    if len(cells) >= len(header) or not any(cell.strip() for cell in cells[len(TIME_COLUMNS) :]):
        return
    row = int(frame["row"].iloc[-1])
    raise BadFile(
        f"Row {row} (the last one) has {len(cells)} cells but the header has {len(header)}: the file looks cut "
        "off. Download or export it again.",
        row=row,
    )


def _empty_days(frame: pd.DataFrame) -> np.ndarray:
    """Rows with nothing past the four time columns: days without usage."""
    data = [c for c in frame.columns if c not in (*TIME_COLUMNS, "row")]
    if not data:
        return np.ones(len(frame), dtype=bool)
    blank = np.ones(len(frame), dtype=bool)
    for name in data:
        blank &= (frame[name].astype(str).str.strip() == "").to_numpy()
    return blank


def _days(frame: pd.DataFrame, errors: RowErrors) -> pd.Series:
    """The UTC day each bucket starts on: `start_time` (Unix seconds), else `start_time_iso`."""
    column = "start_time"
    if "start_time" not in frame.columns or (frame["start_time"].astype(str).str.strip() == "").any():
        column = "start_time_iso" if "start_time_iso" in frame.columns else "start_time"
    if column == "start_time":
        # day_cells reads a column as Unix seconds only when every cell is one; report the odd cell out here,
        # so the message names its row rather than the first good one.
        text = frame[column].astype(str).str.strip()
        unix = text.str.fullmatch(_UNIX_SECONDS)
        if unix.any() and not unix.all():
            for row, cell in zip(frame.loc[~unix.to_numpy(), "row"], text[~unix], strict=True):
                errors.report(
                    int(row), column, f"'{cell[:40]}' is not a time in Unix seconds", "It looks like 1759622400."
                )
            frame = frame.assign(start_time=text.where(unix, "0000000000"))  # those rows are dropped or raised
    return day_cells(frame, column, errors)


def _tags(*columns: tuple[str, pd.Series]) -> list[str]:
    """JSON text per row of the non-blank values (sorted keys, so equal tags hash alike), '' when none."""
    names = [name for name, _ in columns]
    out = []
    for values in zip(*(series.tolist() for _, series in columns), strict=True):
        tags = {name: value for name, value in zip(names, values, strict=True) if value}
        out.append(json.dumps(tags, sort_keys=True) if tags else "")
    return out


def _nothing(frame: pd.DataFrame, rows_read: int, note: str) -> Parsed:
    return Parsed(frame=canonical(frame.iloc[:0]), rows_read=rows_read, notes=[note])


def _no_data_note(rows_read: int, kind: str) -> str:
    if rows_read == 0:
        return f"This export has no rows, only the header: there was no {kind} in the period exported."
    return f"Every row in this export is an empty day (only the time columns): there was no {kind} to import."


def _empty_day_note(count: int) -> str:
    return f"{count} empty day{'s' if count != 1 else ''} (rows with only the time columns) had nothing to import."


def _score(raw: RawFile, wanted: Sequence[str]) -> tuple[int, set[str]]:
    """(100 when the header has the time columns and all of `wanted`, 0 if not an export, else 50), the header."""
    try:
        header, _ = _header(raw)
    except Exception:  # detection must never raise (undecodable, empty, binary...)
        return 0, set()
    if not header or not _is_export(header):
        return 0, set()
    names = set(header)
    return (100 if set(wanted) <= names else 50), names


# Cost export --------------------------------------------------------------------------------------------


class OpenAICostsExport:
    """`start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,line_item,project_id,...`"""

    name = "openai_costs_export"
    label = "OpenAI cost export (CSV/TSV)"
    namespace = "openai_costs"

    @staticmethod
    def source_key_for(charge: dict[str, Any]) -> str:
        """The API sync's key for the same line, so an export and a sync of the same day never both count."""
        groups = [charge["project"], charge["line_item"], *([charge["api_key"]] if charge["api_key"] else [])]
        return source_key("openai_costs", charge["day"], *groups)

    def detect(self, raw: RawFile) -> int:
        score, names = _score(raw, ("amount_value",))
        if score == 100:
            return 95
        if score and names == set(TIME_COLUMNS):
            return 60  # the empty export: nothing but the time columns; either kind, no data either way
        return 0

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        frame = read_export(raw)
        _require_times(frame)
        empty = _empty_days(frame)
        rows_read = len(frame)
        if empty.all():
            return _nothing(frame, rows_read, _no_data_note(rows_read, "spend"))
        if "amount_value" not in frame.columns:
            raise BadFile(
                "This file has OpenAI's time columns but no 'amount_value' column, so it is not a cost export. "
                "Export the costs from OpenAI's Usage page, or import this file as 'OpenAI usage export (CSV/TSV)'."
            )
        data = frame[~empty]
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        day = _days(data, errors)
        amount = decimal_cells(data, "amount_value", errors)
        currency = text_of(data, "amount_currency", default="usd")
        if "amount_currency" in data.columns:
            for row in data.loc[(currency == "").to_numpy(), "row"]:
                errors.report(
                    int(row), "amount_currency", "the currency is blank", "OpenAI writes 'usd' here; export again."
                )
        line_item = text_of(data, "line_item").str.slice(0, 200)
        model = [item.split(", ", 1)[0][:120] if ", " in item else "" for item in line_item]
        out = canonical(
            data,
            day=day,
            amount=amount,
            currency=currency.str.upper().replace("", "USD"),
            provider=PROVIDER,
            service=SERVICE,
            model=model,
            line_item=line_item,
            project=text_of(data, "project_id").str.slice(0, 80),
            api_key=text_of(data, "api_key_id").str.slice(0, 80),
            tags=_tags(("organization", text_of(data, "organization_id").str.slice(0, 80))),
        )
        out = errors.keep(out)
        out = out[[a is None or a != 0 for a in out["amount"]]]  # zero lines are noise, as in the API sync
        notes = [_empty_day_note(int(empty.sum()))] if empty.any() else []
        return Parsed(frame=out, rows_read=rows_read, skipped=errors.skipped, notes=notes)


# Completions usage export -------------------------------------------------------------------------------


class OpenAIUsageExport:
    """`start_time,...,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,input_tokens,...`

    Stored as zero-dollar charges (tokens and requests); the money is on the cost export's lines.
    """

    name = "openai_usage_export"
    label = "OpenAI usage export (CSV/TSV)"
    namespace = "openai_usage"
    priced = False

    def detect(self, raw: RawFile) -> int:
        score, names = _score(raw, ("num_model_requests", "input_tokens"))
        if score == 100:
            return 95
        if score and "num_model_requests" in names and "amount_value" not in names:
            return 60  # an OpenAI usage export of another kind (images, audio...): parse says what to do
        if score and names == set(TIME_COLUMNS):
            return 50
        return 0

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        frame = read_export(raw)
        _require_times(frame)
        empty = _empty_days(frame)
        rows_read = len(frame)
        if empty.all():
            return _nothing(frame, rows_read, _no_data_note(rows_read, "usage"))
        if "input_tokens" not in frame.columns:
            raise BadFile(
                "This OpenAI usage export has no 'input_tokens' column: it counts images, audio or other units, "
                "which meterr cannot price. Import OpenAI's cost export for the money instead."
            )
        data = frame[~empty]
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        day = _days(data, errors)
        counts = {
            target: count_cells(data, source, errors)
            for target, source in (
                ("input_tokens", "input_tokens"),  # already includes the cached tokens
                ("output_tokens", "output_tokens"),
                ("cached_tokens", "input_cached_tokens"),
                ("requests", "num_model_requests"),
            )
            if source in data.columns
        }
        batch = _batch(data, errors)
        tier = text_of(data, "service_tier").str.lower().str.slice(0, 40)
        out = canonical(
            data,
            day=day,
            amount=None if self.priced else [Decimal(0)] * len(data),
            currency="USD",
            provider=PROVIDER,
            service=SERVICE,
            model=text_of(data, "model").str.slice(0, 120),
            line_item="usage",
            project=text_of(data, "project_id").str.slice(0, 80),
            api_key=text_of(data, "api_key_id").str.slice(0, 80),
            tags=_tags(
                ("user", text_of(data, "user_id").str.slice(0, 80)),
                ("batch", pd.Series(np.where(batch, "true", ""), index=data.index)),
                ("service_tier", tier.where(tier != "default", "")),
            ),
            **counts,
        )
        out = errors.keep(out)
        some = (out[["input_tokens", "output_tokens", "cached_tokens", "requests"]] != 0).any(axis=1)
        out = out[some.to_numpy()]  # buckets with nothing in them, as the API sync skips them
        notes = [self._note(out)]
        if empty.any():
            notes.append(_empty_day_note(int(empty.sum())))
        return Parsed(frame=out, rows_read=rows_read, skipped=errors.skipped, notes=notes)

    def _note(self, out: pd.DataFrame) -> str:
        return USAGE_NOTE


class OpenAIUsagePriced(OpenAIUsageExport):
    """The usage export priced from its tokens (genai-prices, as of each day), for when there is no cost export."""

    name = "openai_usage_priced"
    label = "OpenAI usage export, priced from tokens"
    priced = True

    def detect(self, raw: RawFile) -> int:
        # Never the first choice: the plain (zero-dollar) reading wins; pick this one by hand.
        return 80 if super().detect(raw) >= 95 else 0

    def _note(self, out: pd.DataFrame) -> str:
        note = (
            "Priced from tokens at OpenAI's list prices as of each day. If you also import OpenAI's cost export "
            "for these days, import this file again as 'OpenAI usage export (CSV/TSV)' first, so its dollars are "
            "not counted twice."
        )
        if any("batch" in tags or "service_tier" in tags for tags in map(json.loads, filter(None, out["tags"]))):
            note += (
                " Some usage was Batch or a non-default service tier, which OpenAI bills at other rates; it is "
                "priced at the standard rate here, so treat those amounts as estimates."
            )
        return note


def _require_times(frame: pd.DataFrame) -> None:
    if "start_time" not in frame.columns and "start_time_iso" not in frame.columns:
        raise BadFile("The file has no 'start_time' column. Export it again from OpenAI's Usage page.")


def _batch(frame: pd.DataFrame, errors: RowErrors) -> np.ndarray:
    """`batch` cells (TRUE/FALSE, true/false, 1/0, blank) as booleans."""
    text = text_of(frame, "batch").str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    for row, cell in zip(frame.loc[bad.to_numpy(), "row"], text[bad], strict=True):
        errors.report(int(row), "batch", f"'{cell[:40]}' is not TRUE or FALSE", "OpenAI writes TRUE or FALSE here.")
    return text.isin(_TRUE).to_numpy()


PARSERS = [OpenAICostsExport(), OpenAIUsageExport(), OpenAIUsagePriced()]
