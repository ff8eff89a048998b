"""What the request-level gateway exports (Helicone, Langfuse, LiteLLM) share.

These files hold one row per request, often a million of them, so everything here works on whole columns:
text cells are parsed once per distinct value, JSON fields are pulled out of JSON text with one vectorised
regular expression, and money cells take a fast path when they are plain numbers.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from connectors.files.base import (
    MAX_COUNT,
    BadFile,
    RawFile,
    RowErrors,
    count_cells,
    day_cells,
    decimal_cells,
    find_column,
    read_table,
    rows_from_records,
    sniff_delimiter,
    utc_timestamps,
)
from core.classify import classify

# Plain numbers of sane size take the quick path; anything else goes through the shared `decimal_cells`.
_PLAIN_NUMBER = r"^-?(\d{1,12}(\.\d*)?|\.\d+)([eE](-\d{1,2}|\+?\d))?$"
# A timestamp whose UTC day is its first ten characters: naive (= UTC), Z, or a zero offset.
_UTC_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?)?"
    r"\s*(Z|z|UTC|[+-]00(:?00)?)?$"
)
_UNIX_TIME = r"\d{9,10}(\.\d+)?"  # Unix seconds, as `day_cells` reads them
# A property or metadata key, lower case and without separators, → the charge dimension it names.
DIMENSION_KEYS = {
    "customer": ("customer", "customerid", "customername", "client", "clientid", "tenant", "tenantid", "account",
                 "accountid", "organization", "company"),
    "feature": ("feature", "featurename", "usecase", "workflow", "product", "productfeature"),
    "project": ("project", "projectid", "projectname", "app", "appname", "application"),
    "department": ("department", "dept", "team", "teamname", "costcenter", "costcentre", "businessunit"),
}  # fmt: skip
TAG_KEYS = ("environment", "env", "stage")
_KEY_TO_DIMENSION = {key: dim for dim, keys in DIMENSION_KEYS.items() for key in keys}


def squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# Files ----------------------------------------------------------------------------------------------


def _without_leading_newlines(data: bytes | memoryview) -> memoryview:
    view = memoryview(data)
    start = 0
    while start < len(view) and view[start] in (10, 13):
        start += 1
    return view[start:]


def csv_rows(raw: RawFile) -> pd.DataFrame:
    """The same frame as `read_table(raw)`, read with Arrow's multi-threaded CSV reader (a million rows in
    about two seconds instead of six). Whatever Arrow will not read cleanly (ragged rows, repeated column
    names) goes through `read_table`, whose errors name the row and say how to fix it."""
    header = raw.head.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
    sep = sniff_delimiter(header)
    names = [name.strip() for name in next(csv.reader([header], delimiter=sep), [])]
    if not names or len(set(names)) != len(names) or any(not name for name in names):
        return read_table(raw)
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(_without_leading_newlines(raw.utf8_bytes())),
            parse_options=pa_csv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
            read_options=pa_csv.ReadOptions(skip_rows=1, column_names=names),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return read_table(raw)
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)
    frame.columns = names
    frame["row"] = np.arange(raw.first_row, raw.first_row + len(frame), dtype=np.int64)
    return frame


def json_records(raw: RawFile, *, what: str) -> pd.DataFrame:
    """A JSON array, JSON Lines, one object, or an API envelope ({"data": [...]}) as a frame of records.

    Blanks (null) become '' so the cell converters treat them as empty.
    """
    records = _unwrap(raw.json())
    if records is None:
        raise BadFile(f"This JSON has no list of {what} records in it. Export the records as a JSON array or JSONL.")
    if not records:
        return pd.DataFrame({"row": np.zeros(0, dtype=np.int64)})
    bad = next((i for i, item in enumerate(records, start=1) if not isinstance(item, dict)), None)
    if bad is not None:
        raise BadFile(
            f"Record {bad} is not a JSON object. Each {what} record must be an object with named fields.", row=bad
        )
    frame = rows_from_records(records)
    for name in frame.columns:
        if name == "row" or not frame[name].isna().any():
            continue
        if pd.api.types.is_string_dtype(frame[name].dtype) and frame[name].dtype != object:
            frame[name] = frame[name].fillna("")
        else:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), "")
    return frame


def _unwrap(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("data", "items", "records", "rows", "logs", "observations"):
            if isinstance(data.get(key), list):
                return list(data[key])
        return [data]  # a single record (a logger payload)
    return None


def first_record_keys(raw: RawFile) -> set[str]:
    """The squashed keys of the first JSON record (empty when the file is not JSON); for detection."""
    if not raw.looks_like_json():
        return set()
    try:
        records = _unwrap(raw.json()) or []
    except BadFile:
        return set()
    first = records[0] if records else None
    return {squash(str(k)) for k in first} if isinstance(first, dict) else set()


def header_keys(columns: Iterable[str]) -> set[str]:
    return {squash(str(c)) for c in columns}


def column(frame: pd.DataFrame, *candidates: str) -> str | None:
    """The frame's spelling of the first candidate it has (candidates in order of preference)."""
    names = [c for c in frame.columns if c != "row"]
    for candidate in candidates:
        found = find_column(names, candidate)
        if found is not None:
            return found
    return None


def text_column(frame: pd.DataFrame, *candidates: str, limit: int = 80) -> pd.Series:
    """The first candidate column as stripped text ('' when the file has none), cut to `limit` characters."""
    name = column(frame, *candidates)
    if name is None:
        return pd.Series([""] * len(frame), index=frame.index, dtype=str)
    series = frame[name]
    if series.dtype == object:
        series = series.map(_scalar_text)
    return series.fillna("").astype(str).str.strip().str.slice(0, limit)


def _scalar_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def first_text(*options: pd.Series) -> pd.Series:
    """Per row, the first non-blank of several text columns."""
    out = options[0]
    for other in options[1:]:
        out = out.where(out != "", other)
    return out


# Cells ----------------------------------------------------------------------------------------------


def money_cells(frame: pd.DataFrame, name: str, errors: RowErrors, *, required: bool = False) -> list[Decimal | None]:
    """Amounts as exact Decimals: plain numbers ('0.000054999999999999995', '5.5e-05') in one quick pass,
    anything else ('$1.20', '(3.00)', JSON floats, bad cells) through the shared `decimal_cells`."""
    series = frame[name]
    if series.dtype == object or not pd.api.types.is_string_dtype(series.dtype):
        return decimal_cells(frame, name, errors, required=required)
    text = series.fillna("").str.strip()
    plain = text.str.fullmatch(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
    values = text.to_numpy(dtype=object)
    if plain.all():
        return list(map(Decimal, values))
    out: list[Decimal | None] = [None] * len(values)
    for i in np.flatnonzero(plain).tolist():
        out[i] = Decimal(values[i])
    rest = np.flatnonzero(~plain)
    others = decimal_cells(frame.iloc[rest], name, errors, required=required)
    for i, value in zip(rest.tolist(), others, strict=True):
        out[i] = value
    return out


def _arrow(series: pd.Series) -> pa.ChunkedArray | pa.Array | None:
    """The Arrow array behind a text column (no copy), or None when the column is not Arrow text."""
    if series.dtype == object or not pd.api.types.is_string_dtype(series.dtype):
        return None
    try:
        return pa.array(series.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None


def token_cells(frame: pd.DataFrame, name: str, errors: RowErrors) -> np.ndarray:
    """Token counts as int64: whole-number text is cast by Arrow in one step; anything else ('10.0', blanks,
    bad cells) goes through the shared `count_cells`, which reports bad cells by row."""
    text = _arrow(frame[name])
    if text is not None:
        try:
            values = pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = None
        if values is not None and (values >= 0).all() and (values < MAX_COUNT).all():
            return np.asarray(values, dtype=np.int64)
    return count_cells(frame, name, errors)


def utc_days(frame: pd.DataFrame, name: str, errors: RowErrors) -> pd.Series:
    """The UTC day of each timestamp, as `day_cells` gives it."""
    return utc_days_and_hours(frame, name, errors)[0]


def utc_days_and_hours(frame: pd.DataFrame, name: str, errors: RowErrors) -> tuple[pd.Series, np.ndarray]:
    """The UTC day of each timestamp, as `day_cells` gives it, and its UTC hour (-1 for a date without a time).

    When every cell is naive, Z or +00:00, day and hour are the first thirteen characters, so only the distinct
    hours are parsed; other offsets (where the UTC day can differ from the written one) and bad cells go through
    `utc_timestamps`."""
    text = _arrow(frame[name])
    if text is not None and len(text):
        stripped = pc.utf8_trim_whitespace(text)
        if pc.all(pc.match_substring_regex(stripped, _UTC_TIMESTAMP)).as_py():
            codes, uniques = pd.factorize(pd.Series(pc.utf8_slice_codeunits(stripped, 0, 13), dtype="str"))
            heads = [str(head) for head in uniques]
            # The distinct days go through `day_cells` itself, so its rules (and any range it refuses) hold.
            distinct = pd.DataFrame({"day": [head[:10] for head in heads], "row": np.arange(len(heads))})
            check = RowErrors(skip_bad_rows=True)
            days = day_cells(distinct, "day", check)
            if not check.skipped and (codes >= 0).all():
                hours = np.array([_hour_of(head) for head in heads], dtype=np.int8)
                return pd.Series(days.to_numpy()[codes], index=frame.index), hours[codes]
    stamps = utc_timestamps(frame, name, errors)
    cells = frame[name].astype(str).str.strip()
    timed = cells.str.contains(":", regex=False, na=False) | cells.str.fullmatch(_UNIX_TIME, na=False)
    hours = np.where(timed.to_numpy(dtype=bool), stamps.dt.hour.to_numpy(), -1).astype(np.int8)
    return stamps.dt.tz_localize(None).dt.normalize(), hours


def _hour_of(head: str) -> int:
    """'2026-01-05T14' → 14; a date alone ('2026-01-05', '2026-01-05Z') has no hour: -1."""
    return int(head[11:13]) if len(head) == 13 and head[10] in "T " and head[11:13].isdigit() else -1


def _parse_json_text(value: Any, parse_float: Callable[[str], Any]) -> Any:
    if not isinstance(value, str):
        return None if value is None else value
    text = value.strip()
    if not text or text in ("null", "None", "-"):
        return None
    candidates = [text]
    if text.startswith(('{""', '[""')):  # quotes doubled by a CSV writer that escaped twice
        candidates.append(text.replace('""', '"'))
    for candidate in candidates:
        try:
            return json.loads(candidate, parse_float=parse_float)
        except (json.JSONDecodeError, ValueError):
            continue
    if text[:1] in "{[":
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    return None


class JsonColumn:
    """A column of JSON cells (text, or objects from a JSON file) read once per distinct value.

    `text(key)` and `number(key)` pull one field out of every cell: on text cells with a regular expression
    run by Arrow over the distinct values (no per-row JSON parsing), on objects by looking the key up.
    """

    def __init__(self, series: pd.Series | None, length: int) -> None:
        self.objects: list[Any] | None = None
        self._parsed: list[Any] | None = None
        if series is None:
            self.codes = np.zeros(length, dtype=np.int64)
            self.uniques = pa.array([""] * (1 if length else 0), type=pa.large_string())
            return
        if series.dtype == object and any(isinstance(v, dict | list) for v in series):
            self.objects = [v if isinstance(v, dict | list) else _parse_json_text(v, float) for v in series]
            self.codes = np.arange(length, dtype=np.int64)
            self.uniques = pa.array([], type=pa.large_string())
            return
        codes, uniques = pd.factorize(series.fillna("").astype(str), sort=False)
        self.codes = codes.astype(np.int64)
        texts = pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())
        # Quotes doubled by a CSV writer that escaped twice ({""a"":""b""}): undo it for those cells only.
        doubled = pc.or_(pc.starts_with(texts, '{""'), pc.starts_with(texts, '[""'))
        if pc.any(doubled).as_py():
            texts = pc.if_else(doubled, pc.replace_substring(texts, '""', '"'), texts)
        self.uniques = texts

    def _spread(self, values: Sequence[str]) -> pd.Series:
        """Per-distinct-value results → one per row, as Arrow text (a take, not a Python loop)."""
        return pd.Series(pd.array(list(values), dtype="str")).take(self.codes).reset_index(drop=True)

    def _found(self, key: str, value_pattern: str) -> list[str]:
        texts = self.uniques
        found = [""] * len(texts)
        if not len(texts):
            return found
        mask = pc.match_substring(texts, f'"{key}"')
        if not pc.any(mask).as_py():
            return found
        pattern = '"' + re.escape(key) + r'"\s*:\s*' + value_pattern
        matched = pc.extract_regex(texts.filter(mask), pattern).field("v").to_pylist()
        for position, value in zip(np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist(), matched,
                                   strict=True):  # fmt: skip
            found[position] = value or ""
        return found

    def text(self, key: str) -> pd.Series:
        """The string value of `"key": "..."` anywhere in each cell; '' when absent or not a string."""
        if self.objects is not None:
            return pd.Series([_dict_field(v, key) for v in self.objects], dtype="str")
        values = self._found(key, r'"(?P<v>(?:[^"\\]|\\.)*)"')
        return self._spread([_unescape(v) if "\\" in v else v for v in values])

    def number(self, key: str) -> np.ndarray:
        """The whole-number value of `"key": 123` anywhere in each cell; 0 when absent."""
        if self.objects is not None:
            return np.array([_int_or_zero(_dict_field(v, key)) for v in self.objects], dtype=np.int64)
        values = np.array([int(v) if v else 0 for v in self._found(key, r"(?P<v>\d+)")], dtype=np.int64)
        return values[self.codes] if len(values) else np.zeros(len(self.codes), dtype=np.int64)

    def derive(self, function: Callable[[Any], str]) -> pd.Series:
        """`function(parsed JSON)` for every cell as text, computed once per distinct cell."""
        if self.objects is not None:
            return pd.Series([function(value) for value in self.objects], dtype="str")
        if self._parsed is None:
            self._parsed = [_parse_json_text(text, Decimal) for text in self.uniques.to_pylist()]
        return self._spread([function(value) for value in self._parsed])


def _int_or_zero(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0


def _unescape(text: str) -> str:
    try:
        return str(json.loads(f'"{text}"'))
    except json.JSONDecodeError:
        return text


def _dict_field(value: Any, key: str) -> str:
    """The scalar value of `key` in a dict (or JSON text of one), the top level first, then nested ones."""
    if isinstance(value, str):
        if f'"{key}"' not in value and f"'{key}'" not in value:
            return ""
        value = _parse_json_text(value, float)
    level = [value]
    while level:
        nested: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
            if isinstance(item, dict):
                found = item.get(key)
                if found is not None and found != "" and not isinstance(found, dict | list | bool):
                    return str(found)
            nested.extend(v for v in children if isinstance(v, dict | list))
        level = nested
    return ""


# Dimensions, tags, providers ------------------------------------------------------------------------


def dimensions_of(properties: Mapping[str, Any] | None, *, strip_prefix: str = "") -> dict[str, str]:
    """customer/feature/project/department (and an environment tag) from custom properties or metadata
    whose key names say so: {'Helicone-Property-Customer': 'acme'} → {'customer': 'acme'}."""
    found: dict[str, str] = {}
    if not isinstance(properties, Mapping):
        return found
    for key, value in properties.items():
        if value is None or isinstance(value, dict | list):
            continue
        name = str(key)
        if strip_prefix and name.lower().startswith(strip_prefix):
            name = name[len(strip_prefix) :]
        squashed = squash(name)
        text = str(value).strip()[:80]
        if not text:
            continue
        dimension = _KEY_TO_DIMENSION.get(squashed)
        if dimension and dimension not in found:
            found[dimension] = text
        elif squashed in TAG_KEYS and "environment" not in found:
            found["environment"] = text
    return found


def dimension(name: str, *, strip_prefix: str = "") -> Callable[[Any], str]:
    """A function reading one dimension (customer, feature, project, department) from properties/metadata."""

    def pick(properties: Any) -> str:
        return dimensions_of(properties, strip_prefix=strip_prefix).get(name, "")

    return pick


def tag_map(tags: Any) -> dict[str, str]:
    """A list of tags (['prod', 'team:search']) → {'prod': 'true', 'team': 'search'}; a dict stays a dict.

    LiteLLM's automatic 'User-Agent: ...' tags are left out: they name client library versions, not spend."""
    if isinstance(tags, dict):
        return {str(k)[:60]: str(v)[:60] for k, v in tags.items() if v is not None}
    if isinstance(tags, str):
        tags = [tags] if tags.strip() else []
    if not isinstance(tags, list):
        return {}
    out: dict[str, str] = {}
    for tag in tags:
        if tag is None or isinstance(tag, dict | list):
            continue
        text = str(tag).strip()
        if not text or text.lower().startswith("user-agent"):
            continue
        key, sep, value = text.partition(":")
        if sep and key.strip() and value.strip():
            out[key.strip()[:60]] = value.strip()[:60]
        else:
            out[text[:60]] = "true"
    return out


def tags_text(tags: Mapping[str, str]) -> str:
    """Tags as the canonical frame holds them: sorted JSON text, '' when there are none."""
    return json.dumps(dict(sorted(tags.items())), sort_keys=True) if tags else ""


def tag_cells(cells: JsonColumn) -> pd.Series:
    """A column of tag lists (JSON text or lists) as canonical tag text, worked out once per distinct value."""
    return cells.derive(lambda value: tags_text(tag_map(value)))


def classify_columns(vendor: pd.Series, model: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(provider, service, model) per row, classifying each distinct (vendor, model) pair once.

    The part of a model id before '/' ('bedrock/anthropic.claude…', 'azure/gpt-4o') says who served it when
    the vendor column is blank."""
    key = vendor.fillna("").astype(str) + "\x1f" + model.fillna("").astype(str)
    codes, uniques = pd.factorize(key, sort=False)
    providers, services, models = [], [], []
    for pair in uniques:
        vendor_text, model_text = str(pair).split("\x1f", 1)
        route = model_text.split("/", 1)[0] if "/" in model_text else ""
        result = classify(vendor_text or route, "", model_text)
        providers.append(result.provider[:40])
        services.append(result.service[:80])
        models.append(result.model[:120])

    def spread(values: list[str]) -> pd.Series:
        return pd.Series(pd.array(values, dtype="str")).take(codes).reset_index(drop=True)

    return spread(providers), spread(services), spread(models)


def nothing_to_price(amount: list[Decimal | None], *token_columns: np.ndarray) -> list[Decimal | None]:
    """Rows with no cost and no tokens (failed or empty requests) cost $0: there is nothing to price, and
    they still count as requests. Rows with tokens keep None and are priced from their tokens."""
    if not token_columns:
        return amount
    used = np.zeros(len(amount), dtype=bool)
    for tokens in token_columns:
        used |= np.asarray(tokens) > 0
    zero = Decimal(0)
    return [zero if value is None and not spent else value for value, spent in zip(amount, used.tolist(), strict=True)]
