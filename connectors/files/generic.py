"""Any other CSV or JSON: find the date, amount, vendor and description columns, and let the person confirm."""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

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
    parse_decimal,
    read_table,
    rows_from_records,
    text_of,
)
from core.classify import classify

DATE_ORDERS = ("auto", "YMD", "MDY", "DMY")
_HINTS = {
    "date": r"^(date|day|usage.?date|billing.?date|invoice.?date|period|time|timestamp|created(.?at)?|start.?time|"
    r"usage.?start.?date|date.?time|transaction.?date|posted|charged.?on)$",
    "amount": r"^(amount|cost|costs|spend|total|price|charge|charges|usd|value|amount.?usd|cost.?usd|total.?cost|"
    r"net.?amount|debit|billed|unblended.?cost|cost.?\(usd\)|amount.?\(usd\)|subtotal)$",
    "vendor": r"^(vendor|provider|supplier|merchant|payee|company|service.?provider|platform|source)$",
    "description": r"^(description|memo|details|line.?item|item|product|sku|meter|service|usage.?type|note|notes|"
    r"category|name)$",
    "model": r"^(model|model.?name|model.?id|engine)$",
    "currency": r"^(currency|ccy|currency.?code|cur)$",
    "project": r"^(project|project.?id|project.?name)$",
    "department": r"^(department|dept|team|cost.?center|cost.?centre|business.?unit)$",
    "customer": r"^(customer|customer.?id|client|account|tenant)$",
    "feature": r"^(feature|product.?feature|use.?case|workflow)$",
    "input_tokens": r"^(input.?tokens|prompt.?tokens|tokens.?in)$",
    "output_tokens": r"^(output.?tokens|completion.?tokens|tokens.?out)$",
}
_SLASH_DATE = re.compile(r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})\b(.*)$")


@dataclass(frozen=True)
class ColumnMapping:
    """Which column means what; `None` = the file has no such column."""

    date: str
    amount: str
    vendor: str | None = None
    description: str | None = None
    model: str | None = None
    currency: str | None = None
    project: str | None = None
    department: str | None = None
    customer: str | None = None
    feature: str | None = None
    input_tokens: str | None = None
    output_tokens: str | None = None
    date_order: str = "auto"  # YMD | MDY (US) | DMY (Europe) | auto
    decimal_comma: bool = False  # '1.234,56' style amounts
    default_vendor: str = ""  # who the charges are with, when there is no vendor column

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _records(raw: RawFile) -> pd.DataFrame:
    if raw.looks_like_json():
        data = raw.json()
        if isinstance(data, dict):
            lists = [value for value in data.values() if isinstance(value, list) and value]
            data = lists[0] if len(lists) == 1 else data.get("data", data.get("items", data.get("rows")))
        if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
            raise BadFile("This JSON has no list of records (objects) in it. Export a list of charges, one per item.")
        frame = rows_from_records(data)
        for column in frame.columns:
            if column != "row":
                frame[column] = frame[column].map(lambda v: "" if v is None else v)
        return frame
    return read_table(raw)


def _pick(columns: list[str], field: str, taken: set[str]) -> str | None:
    pattern = re.compile(_HINTS[field], re.IGNORECASE)
    for column in columns:
        if column not in taken and pattern.match(column.strip()):
            return column
    return None


def _parses(frame: pd.DataFrame, column: str, check: Any) -> float:
    sample = frame[column].head(50)
    sample = sample[sample.astype(str).str.strip() != ""]
    if sample.empty:
        return 0.0
    ok = 0
    for value in sample:
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            ok += 1 if check(value) else 0
    return ok / len(sample)


def _is_date(value: Any) -> bool:
    text = str(value).strip()
    if _SLASH_DATE.match(text):
        return True
    return not pd.isna(pd.to_datetime(text, errors="coerce", format="ISO8601"))


def _is_amount(value: Any) -> bool:
    return parse_decimal(value) is not None


def _guess_date_order(values: pd.Series) -> str:
    firsts, seconds = [], []
    for value in values.astype(str).head(500):
        match = _SLASH_DATE.match(str(value))  # astype(str) keeps NaN (a JSON NaN) as a float
        if match:
            firsts.append(int(match.group(1)))
            seconds.append(int(match.group(2)))
    if not firsts:
        return "YMD"
    if max(firsts) > 12:
        return "DMY"
    return "MDY"  # US order unless a day over 12 proves otherwise


def suggest_mapping(raw: RawFile) -> ColumnMapping:
    """Our best guess at the columns, for the person to confirm or change."""
    frame = _records(raw)
    columns = [str(c) for c in frame.columns if c != "row"]
    taken: set[str] = set()
    found: dict[str, str | None] = {}
    for field_name in _HINTS:
        column = _pick(columns, field_name, taken)
        found[field_name] = column
        if column:
            taken.add(column)
    # A column named like a date or an amount is taken at its word (bad cells are reported row by row later);
    # otherwise the content decides.
    if not found["date"]:
        found["date"] = next((c for c in columns if c not in taken and _parses(frame, c, _is_date) >= 0.8), None)
    if not found["amount"]:
        candidates = [c for c in columns if c not in taken and c != found["date"]]
        found["amount"] = next((c for c in candidates if _parses(frame, c, _is_amount) >= 0.8), None)
    if not found["date"] or not found["amount"]:
        missing = " and ".join(n for n in ("date", "amount") if not found[n])
        raise BadFile(
            f"We could not find a {missing} column. The file needs one column of dates and one of amounts; "
            "choose them in the column-mapping step."
        )
    sample = frame[found["amount"]].astype(str).head(200)
    comma_style = sample.str.match(r"^-?[\d.]*\d,\d{1,2}$").any()
    decimal_comma = bool(comma_style) and not sample.str.contains(r"\.\d{1,2}$").any()
    mapping = ColumnMapping(
        date=found["date"],
        amount=found["amount"],
        date_order=_guess_date_order(frame[found["date"]]),
        decimal_comma=decimal_comma,
    )
    extras: dict[str, Any] = {name: found[name] for name in _HINTS if name not in ("date", "amount")}
    return replace(mapping, **extras)


def _sample(raw: RawFile) -> RawFile:
    """The first rows of a large CSV, enough to recognise its columns without reading it all."""
    head = raw.head
    if len(head) < len(raw.text):
        head = head[: head.rfind("\n") + 1] or head
    return RawFile(raw.name, head.encode())


def columns_of(raw: RawFile) -> list[str]:
    return [str(c) for c in _records(raw).columns if c != "row"]


def _iso_dates(values: pd.Series, order: str) -> pd.Series:
    """'03/04/2026 10:00' → '2026-03-04 10:00' (MDY) or '2026-04-03 10:00' (DMY); ISO text is left alone."""
    text = values.astype(str).str.strip()
    if order not in ("MDY", "DMY"):
        return text
    month, day = (1, 2) if order == "MDY" else (2, 1)

    def iso(m: re.Match[str]) -> str:
        return f"{_year(m.group(3))}-{m.group(month):0>2}-{m.group(day):0>2}{m.group(4)}"

    return text.str.replace(_SLASH_DATE, iso, regex=True)


def _year(text: str) -> str:
    return f"20{text}" if len(text) == 2 else text


class GenericParser:
    name = "generic"
    label = "Any CSV or JSON (date and amount columns)"
    namespace = "file"

    def __init__(self, mapping: ColumnMapping | None = None) -> None:
        self.mapping = mapping

    def detect(self, raw: RawFile) -> int:
        try:
            suggest_mapping(raw if raw.looks_like_json() else _sample(raw))
        except BadFile:
            return 0
        return 5  # a fallback: any specific format that recognises the file wins

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        mapping = self.mapping or suggest_mapping(raw)
        frame = _records(raw)
        names = [v for k, v in mapping.as_dict().items() if isinstance(v, str) and v and k not in (
            "date_order", "default_vendor")]  # fmt: skip
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise BadFile(f"The file has no column '{missing[0]}'. Pick another column in the mapping step.")
        if frame.empty:
            return Parsed(frame=canonical(frame), rows_read=0)
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        order = mapping.date_order if mapping.date_order != "auto" else _guess_date_order(frame[mapping.date])
        dated = frame.assign(**{mapping.date: _iso_dates(frame[mapping.date], order)})
        day = day_cells(dated, mapping.date, errors)
        # With token columns, a blank amount means "price it from the tokens".
        priced_by_tokens = bool(mapping.input_tokens or mapping.output_tokens)
        amount = decimal_cells(
            frame, mapping.amount, errors, required=not priced_by_tokens, decimal_comma=mapping.decimal_comma
        )
        counts = {
            name: count_cells(frame, getattr(mapping, name), errors)
            for name in ("input_tokens", "output_tokens")
            if getattr(mapping, name)
        }
        vendor = text_of(frame, mapping.vendor or "", default=mapping.default_vendor)
        description = text_of(frame, mapping.description or "")
        model = text_of(frame, mapping.model or "")
        classified = [classify(v, d, m) for v, d, m in zip(vendor, description, model, strict=True)]
        out = canonical(
            frame,
            day=day,
            amount=amount,
            currency=text_of(frame, mapping.currency or "", default="USD").replace("", "USD"),
            provider=[c.provider for c in classified],
            service=[c.service for c in classified],
            model=[c.model for c in classified],
            line_item=description.str.slice(0, 200),
            project=text_of(frame, mapping.project or "").str.slice(0, 80),
            department=text_of(frame, mapping.department or "").str.slice(0, 80),
            customer=text_of(frame, mapping.customer or "").str.slice(0, 80),
            feature=text_of(frame, mapping.feature or "").str.slice(0, 80),
            **counts,
        )
        return Parsed(frame=errors.keep(out), rows_read=len(frame), skipped=errors.skipped)

    def with_mapping(self, mapping: ColumnMapping) -> GenericParser:
        return GenericParser(replace(mapping))


PARSERS = [GenericParser()]
