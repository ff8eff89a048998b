"""What every file parser shares: the raw file, a canonical frame, and row-level errors in plain English.

A parser turns a file into a *canonical frame*: one row per source record (a request, a day's line item),
with the columns in CANONICAL. `connectors.files.normalise` then prices, converts and rolls the frame up to
the daily charge grain. Parsers read cells as text and convert them with the column helpers below, so a bad
cell is reported with its row number and column name, or skipped when the person asked for that.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import numpy as np
import pandas as pd

from core.security import InvalidInput

MAX_BYTES = 200 * 1024 * 1024
_KEEP_TEXT_BYTES = 16 * 1024 * 1024
MAX_COUNT = 10**15  # tokens or requests in one row; far beyond any real export, well inside int64
TEXT_COLUMNS = (
    "provider", "service", "model", "line_item", "api_key", "project", "department", "customer", "feature",
)  # fmt: skip
COUNT_COLUMNS = ("input_tokens", "output_tokens", "cached_tokens", "requests")
# day: datetime64 at UTC midnight; amount: Decimal or None (None = price it from tokens); currency: ISO code;
# tags: JSON text or ""; row: the 1-based line in the file, for messages.
CANONICAL = ("day", "amount", "currency", *TEXT_COLUMNS, *COUNT_COLUMNS, "tags", "row")
# Only request-level sources know it: hour, the UTC hour of the request (0-23, or -1 for a date without a time).
OPTIONAL = ("hour",)


class BadFile(InvalidInput):
    """A file we cannot import as it is; the message names the row and column and says how to fix it."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


@dataclass(frozen=True)
class SkippedRow:
    row: int
    column: str
    reason: str


@dataclass
class RawFile:
    """A file as uploaded: its name and bytes, decoded lazily (gzip is opened transparently)."""

    name: str
    data: bytes
    first_row: int = 2  # the file line of the first data row (a piece of a larger file starts further on)
    _text: str | None = field(default=None, repr=False)
    _utf8: bool | None = field(default=None, repr=False)
    _head: str | None = field(default=None, repr=False)
    _json: Any = field(default=None, repr=False)
    _json_error: str | None = field(default=None, repr=False)
    _json_tried: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.data) > MAX_BYTES:
            raise BadFile(too_big_message(len(self.data)))
        if self.data[:2] == b"\x1f\x8b":
            self.data = _gunzip(self.data)
            self.name = self.name.removesuffix(".gz")

    @property
    def text(self) -> str:
        """The decoded text. Kept for small files; a large one is decoded again when asked, so a parser that
        reads the bytes directly (Arrow) never holds the text and the bytes at once."""
        if self._text is not None:
            return self._text
        text, self._utf8 = _decode(self.data)
        if len(self.data) <= _KEEP_TEXT_BYTES:
            self._text = text
        return text

    def utf8_bytes(self) -> bytes | memoryview:
        """The file as UTF-8 bytes without a BOM: the uploaded bytes themselves when they already are."""
        if self._utf8 is None:
            _ = self.text
        if self._utf8:
            view = memoryview(self.data)
            return view[3:] if self.data.startswith(b"\xef\xbb\xbf") else view
        return self.text.encode()

    def release(self) -> None:
        """Let go of the bytes, text and JSON once parsed, so rolling up does not hold the file as well."""
        self.data, self._text, self._json, self._head = b"", None, None, None

    @property
    def head(self) -> str:
        """The first 64 KB of text, for format detection."""
        if self._head is None:
            if self._text is not None or len(self.data) <= _KEEP_TEXT_BYTES:
                self._head = self.text[:65_536]
            else:
                text = self.text  # refuses empty, binary and zipped files with their own reasons
                self._head = text[:65_536]
        return self._head

    @property
    def first_line(self) -> str:
        return self.head.lstrip().split("\n", 1)[0].rstrip("\r")

    def json(self) -> Any:
        """The whole file as JSON (or a list of JSON Lines records); raises BadFile if it is neither."""
        if not self._json_tried:
            self._json_tried = True
            try:
                self._json = json.loads(self.text)
            except json.JSONDecodeError as exc:
                lines = [line for line in self.text.splitlines() if line.strip()]
                if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:5]):
                    self._json = _json_lines(lines)
                elif _TRAILING_COMMA.search(self.text):  # Helicone's export tool ends its array with "},\n]"
                    try:
                        self._json = json.loads(_TRAILING_COMMA.sub("]", self.text))
                    except json.JSONDecodeError:
                        self._json_error = _json_problem(exc, self.text)
                else:
                    self._json_error = _json_problem(exc, self.text)
        if self._json_error:
            raise BadFile(self._json_error)
        return self._json

    def looks_like_json(self) -> bool:
        return self.head.lstrip()[:1] in ("{", "[")


def too_big_message(size: int) -> str:
    return (
        f"This file is {size / 1024 / 1024:,.0f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB. "
        "Export a shorter date range (for example one month at a time) and import each file."
    )


def _gunzip(data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            out = handle.read(MAX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: a corrupt deflate stream
        raise BadFile("This .gz file is damaged or cut short; download it again.") from exc
    if len(out) > MAX_BYTES:
        raise BadFile(too_big_message(len(out)))
    return out


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM (Excel), else Windows-1252."""
    return _decode(data)[0]


def _decode(data: bytes) -> tuple[str, bool]:
    """The text, and whether the bytes are UTF-8 (so a reader may use them as they are, '\r' and all)."""
    if not data.strip():
        raise BadFile("The file is empty. Export it again, and check the date range has some usage in it.")
    if data[:4] == b"PK\x03\x04":
        raise BadFile(
            "This is a spreadsheet or zip file, not CSV or JSON. Open it and save it as CSV (comma separated), "
            "or unzip it first, then import the CSV."
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return _newlines(data.decode("utf-16")), False
        except UnicodeDecodeError as exc:  # an odd number of bytes, or a broken surrogate pair
            raise BadFile("This UTF-16 file is damaged or cut short. Export it again (UTF-8 CSV if you can).") from exc
    if b"\x00" in data[:8192]:
        raise BadFile("This looks like a binary file, not CSV or JSON. Export the data as CSV or JSON and import that.")
    try:
        return _newlines(data.decode("utf-8-sig")), True
    except UnicodeDecodeError:
        return _newlines(data.decode("cp1252", errors="replace")), False


def _newlines(text: str) -> str:
    """'\\r\\n' and a lone '\\r' (old Mac exports) as '\\n': pandas ends a row at any of them, and the header
    readers split on '\\n' and hand one line to csv.reader, which refuses a '\\r' inside it."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


_TRAILING_COMMA = re.compile(r",\s*\]\s*$")


def _json_lines(lines: list[str]) -> list[Any]:
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise BadFile(
                f"Line {number} is not valid JSON ({exc.msg}). Each line of a JSON Lines file must be one complete "
                "record; the file may have been cut off while downloading.",
                row=number,
            ) from exc
    return records


def _json_problem(exc: json.JSONDecodeError, text: str) -> str:
    if exc.pos >= len(text.rstrip()) - 1 or text.rstrip()[-1:] not in ("}", "]"):
        return f"The JSON ends early (line {exc.lineno}): the file looks cut off. Download or export it again."
    return f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. Export the file again."


# Tables ----------------------------------------------------------------------------------------------


def sniff_delimiter(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_table(
    raw: RawFile,
    *,
    skip_lines: int = 0,
    delimiter: str | None = None,
    required: Sequence[str] = (),
    allow_short_rows: bool = False,
) -> pd.DataFrame:
    """A CSV/TSV as a frame of strings ('' for blanks), with a `row` column of 1-based file line numbers.

    `skip_lines` drops a preamble before the header. Rows with more cells than the header are an error;
    rows with fewer are an error unless `allow_short_rows` (a file cut off mid-row ends that way).
    """
    text = raw.text
    if skip_lines:
        text = text.split("\n", skip_lines)[-1]
    header = text.lstrip("\r\n").split("\n", 1)[0]
    sep = delimiter or sniff_delimiter(header)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise BadFile("The file has no header row. Export it again, including the column names.") from exc
    except pd.errors.ParserError as exc:
        raise BadFile(_parser_problem(str(exc), skip_lines + raw.first_row - 2)) from exc
    if not isinstance(frame.index, pd.RangeIndex):  # every row is longer than the header: pandas would quietly
        row = 2 + skip_lines  # make the first cells an index and shift each value into the wrong column
        raise BadFile(
            f"Row {row} has more cells than the header. A value may contain the separator without quotes, or "
            "every line ends with an extra separator; export it again as CSV.",
            row=row,
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame.columns) == 1 and sep == "," and required:
        raise BadFile("Only one column was found. The file may use a different separator; save it as CSV with commas.")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BadFile(
            f"The file has no column {_names(missing)}. Check you exported the right report; the columns found "
            f"were {_names(list(frame.columns)[:12])}."
        )
    frame["row"] = _line_numbers(text, len(frame), skip_lines + raw.first_row - 2)
    if not allow_short_rows and len(frame) and not text.endswith("\n"):
        # pandas fills a short row's missing cells with '', so a download cut off mid-row would import quietly;
        # such a file ends without a newline, in a last line with fewer cells than the header.
        last_line = text.rsplit("\n", 1)[-1]
        cells = next(csv.reader([last_line], delimiter=sep), [])
        if len(cells) < len(frame.columns) - 1:  # less the `row` column
            row = int(frame["row"].iloc[-1])
            raise BadFile(
                f"Row {row} has fewer cells than the header: the file looks cut off. Download or export it again.",
                row=row,
            )
    return frame.fillna("")


def _line_numbers(text: str, count: int, skip_lines: int) -> np.ndarray:
    # Rows usually sit one per line; quoted newlines are rare enough that an approximation in a message is fine.
    return np.arange(2 + skip_lines, 2 + skip_lines + count, dtype=np.int64)


def _parser_problem(message: str, skip_lines: int) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        expected, line, saw = match.groups()
        return (
            f"Row {int(line) + skip_lines} has {saw} cells but the header has {expected}. A value may contain the "
            "separator without quotes, or the file uses a different separator; export it again as CSV."
        )
    return f"The file could not be read as CSV ({message.strip()}). Export it again as CSV."


def _names(columns: Iterable[str]) -> str:
    return ", ".join(f"'{c}'" for c in columns)


def rows_from_records(records: Sequence[dict[str, Any]], *, first_row: int = 1) -> pd.DataFrame:
    """JSON records as a frame, keeping nested values as they are, with a `row` column (record number)."""
    frame = pd.DataFrame.from_records(list(records))
    frame["row"] = np.arange(first_row, first_row + len(frame), dtype=np.int64)
    return frame


# Cells -----------------------------------------------------------------------------------------------


class RowErrors:
    """Collects bad cells: raises on the first one, or (skip_bad_rows) marks the row to be dropped."""

    def __init__(self, *, skip_bad_rows: bool) -> None:
        self.skip_bad_rows = skip_bad_rows
        self.skipped: list[SkippedRow] = []
        self._bad_rows: set[int] = set()

    def report(self, row: int, column: str, reason: str, hint: str) -> None:
        if not self.skip_bad_rows:
            raise BadFile(
                f"Row {row}, column '{column}': {reason}. {hint} Or import again with 'skip bad rows' to leave "
                "such rows out.",
                row=row,
                column=column,
            )
        if row not in self._bad_rows:
            self._bad_rows.add(row)
            self.skipped.append(SkippedRow(row=row, column=column, reason=reason))

    def keep(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame without the rows that had a bad cell."""
        if not self._bad_rows:
            return frame
        return frame[~frame["row"].isin(self._bad_rows)]


_MONEY_JUNK = re.compile(r"[\s$€£¥\u00a0']")


def parse_decimal(text: Any, *, decimal_comma: bool = False) -> Decimal | None:
    """'1,234.56', '$1,234.56', '(12.30)', '-0.5', '1.2e-05', 0.06 → Decimal; '' → None; else ValueError."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ValueError("not a number")
    if isinstance(text, int | Decimal):
        return Decimal(text)
    if isinstance(text, float):
        if text != text or text in (float("inf"), float("-inf")):
            return None if text != text else _raise_not_number()
        return Decimal(repr(float(text)))  # float(): numpy floats repr as "np.float64(...)"
    value = _MONEY_JUNK.sub("", str(text))
    if not value or value.lower() in ("nan", "none", "null", "-"):
        return None
    negative = value.startswith("(") and value.endswith(")")
    if negative:
        value = value[1:-1]
    value = value.replace(".", "").replace(",", ".") if decimal_comma else value.replace(",", "")
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    if not number.is_finite():
        raise ValueError("not a finite number")
    return -number if negative else number


def _raise_not_number() -> Decimal:
    raise ValueError("not a finite number")


def decimal_cells(
    frame: pd.DataFrame, column: str, errors: RowErrors, *, required: bool = True, decimal_comma: bool = False
) -> list[Decimal | None]:
    """A column of money/number cells as Decimals (None for blanks unless required)."""
    out: list[Decimal | None] = []
    rows = frame["row"].to_numpy()
    for row, cell in zip(rows, frame[column].to_numpy(), strict=True):
        try:
            value = parse_decimal(cell, decimal_comma=decimal_comma)
        except ValueError:
            errors.report(
                int(row), column, f"'{_shorten(cell)}' is not a number", "Amounts look like 12.34, -0.5 or $1,234.56."
            )
            value = None
        else:
            if value is None and required:
                errors.report(int(row), column, "the amount is blank", "Fill in the amount (0 if there was none).")
        out.append(value)
    return out


def count_cells(frame: pd.DataFrame, column: str, errors: RowErrors) -> np.ndarray:
    """Token and request counts: '10', '10.0', 10.0 and '' (= 0) → int64; fractions and text are errors."""
    series = frame[column]
    numbers = pd.to_numeric(series.replace("", "0"), errors="coerce")
    # Not finite ('inf', '1e999') or beyond int64 ('1e30') cannot become a count either.
    bad = numbers.isna() | (numbers < 0) | (numbers != np.floor(numbers.fillna(0))) | (numbers.abs() >= MAX_COUNT)
    if bad.any():
        for row, cell in zip(frame.loc[bad, "row"], series[bad], strict=True):
            errors.report(
                int(row), column, f"'{_shorten(cell)}' is not a whole number", "Counts look like 1200 or 1200.0."
            )
        numbers = numbers.where(~bad, 0)
    return numbers.fillna(0).astype("int64").to_numpy()


_UNIX_SECONDS = re.compile(r"^\d{9,10}(\.\d+)?$")


def day_cells(
    frame: pd.DataFrame,
    column: str,
    errors: RowErrors,
    *,
    dayfirst: bool = False,
    date_format: str | None = None,
) -> pd.Series:
    """Timestamps or dates → the UTC day (datetime64 at midnight). Naive timestamps are taken as UTC.

    Unix seconds, ISO 8601 (with or without offset), and (given `date_format` or `dayfirst`) local styles.
    """
    parsed = utc_timestamps(frame, column, errors, dayfirst=dayfirst, date_format=date_format)
    return parsed.dt.tz_localize(None).dt.normalize()


def utc_timestamps(
    frame: pd.DataFrame,
    column: str,
    errors: RowErrors,
    *,
    dayfirst: bool = False,
    date_format: str | None = None,
) -> pd.Series:
    """Timestamps or dates → UTC timestamps, read as `day_cells` reads them (bad cells reported, then 1970-01-01)."""
    series = frame[column]
    text = series.astype(str).str.strip()
    if len(text) and text.str.match(_UNIX_SECONDS).all():
        parsed = pd.to_datetime(pd.to_numeric(text), unit="s", utc=True, errors="coerce")
    elif date_format:
        parsed = pd.to_datetime(text, format=date_format, utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601" if not dayfirst else None,
                                dayfirst=dayfirst)  # fmt: skip
        if parsed.isna().any() and not dayfirst:
            # Mixed styles in one column (e.g. '2026-01-05' and '2026-01-05 10:00:00+00:00').
            retry = pd.to_datetime(text[parsed.isna()], utc=True, errors="coerce", format="mixed")
            # At one resolution: the two parses may pick different ones, and filling across them is deprecated.
            parsed = parsed.dt.as_unit("s").fillna(retry.dt.as_unit("s"))
    bad = parsed.isna() | (parsed.dt.year < 1)  # '-0' or '0000-01-01' parse, but no Python date holds year 0
    if bad.any():
        for row, cell in zip(frame.loc[bad, "row"], series[bad], strict=True):
            reason = "the date is blank" if not str(cell).strip() else f"'{_shorten(cell)}' is not a date we can read"
            errors.report(int(row), column, reason, "Dates look like 2026-03-31 or 2026-03-31T14:00:00Z.")
        parsed = parsed.mask(bad, pd.Timestamp("1970-01-01", tz="UTC"))
    return parsed.dt.tz_convert("UTC")


def _shorten(cell: Any) -> str:
    text = str(cell)
    return text if len(text) <= 40 else text[:37] + "..."


# Parsers ---------------------------------------------------------------------------------------------


@dataclass
class Parsed:
    """A parser's output: the canonical frame plus what it had to leave out."""

    frame: pd.DataFrame
    rows_read: int
    skipped: list[SkippedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Daily charges already in final form (API responses saved to a file reuse the API connector's own
    # conversion, so a file and a sync of the same data share source keys); `frame` is then ignored.
    charges: list[dict[str, Any]] | None = None


class Parser(Protocol):
    """One export format. `name` is what `--format` takes; `namespace` prefixes the charges' source keys
    (formats that describe the same data, e.g. an API response saved to a file and the API itself, share one)."""

    name: str
    label: str
    namespace: str

    def detect(self, raw: RawFile) -> int:
        """How sure we are this file is ours: 0 (no) to 100 (certain)."""
        ...

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed: ...


def canonical(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    """A canonical frame from `row` of `frame` and the given columns (values or arrays); defaults for the rest."""
    out = pd.DataFrame({"row": frame["row"].to_numpy()})
    for name, value in columns.items():
        if name not in CANONICAL and name not in OPTIONAL:
            raise KeyError(f"{name} is not a canonical column")
        if isinstance(value, pd.Series):
            if len(value) != len(out):
                raise ValueError(f"{name} has {len(value)} values for {len(out)} rows")
            # By position; Arrow-backed text stays Arrow (a round trip through numpy costs ~0.3 s per million).
            value = value.to_numpy() if isinstance(value.dtype, pd.CategoricalDtype) else value.reset_index(drop=True)
        out[name] = value
    for name in TEXT_COLUMNS:
        if name not in out:
            out[name] = ""
    for name in COUNT_COLUMNS:
        if name not in out:
            out[name] = 0
    if "amount" not in out:
        out["amount"] = None
    if "currency" not in out:
        out["currency"] = "USD"
    if "tags" not in out:
        out["tags"] = ""
    if "day" not in out:
        out["day"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    return out[[*CANONICAL, *(name for name in OPTIONAL if name in out)]]


def text_of(frame: pd.DataFrame, *names: str, default: str = "") -> pd.Series:
    """The first of `names` the frame has, as clean text; `default` when it has none of them."""
    for name in names:
        if name in frame.columns:
            series = frame[name]
            if series.dtype != object and not isinstance(series.dtype, pd.StringDtype):
                series = series.astype(object)  # numbers (JSON): fillna("") on float64 is deprecated in pandas
            return series.fillna("").astype(str).str.strip()
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def find_column(columns: Iterable[str], *candidates: str) -> str | None:
    """The frame's own spelling of a column, matched without regard to case, spaces or underscores."""

    def squash(name: str) -> str:
        return re.sub(r"[\s_/\-.]", "", name).lower()

    wanted = {squash(c): c for c in candidates}
    for column in columns:
        if squash(column) in wanted:
            return column
    return None


def csv_header(raw: RawFile) -> list[str]:
    """The header cells of a CSV/TSV file (empty when the file is JSON)."""
    if raw.looks_like_json():
        return []
    line = raw.first_line
    row = next(csv.reader([line], delimiter=sniff_delimiter(line)), [])
    return [cell.strip() for cell in row]


Detector = Callable[[RawFile], int]
