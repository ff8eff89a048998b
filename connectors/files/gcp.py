"""Google Cloud billing: the console's cost table CSV and the BigQuery billing export (CSV or JSON).

Both list every Google Cloud service. Vertex AI / Gemini lines become provider "Google" (with the model read
from the SKU where it names one); the rest become "Google Cloud", still imported: it is spend the person chose
to import. Credits are negative and count, so the total is the net cost Google bills.
"""

from __future__ import annotations

import csv
import json
import re
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
    day_cells,
    decimal_cells,
    find_column,
    parse_decimal,
    text_of,
)
from connectors.files.cloud import (
    clean_tags,
    first_column,
    map_cell,
    model_in,
    project_and_department,
    read_cloud_table,
    tags_json,
    tags_note,
)

_AI = re.compile(r"vertex ai|gemini|generative language|claude|imagen|\bveo\b|model garden", re.IGNORECASE)


def provider_and_model(service: str, sku: str) -> tuple[str, str]:
    """("Google", model) for Vertex AI / Gemini lines, ("Google Cloud", "") for the rest of Google Cloud."""
    if _AI.search(service) or _AI.search(sku):
        return "Google", model_in(sku, service)
    return "Google Cloud", ""


def _squash(name: str) -> str:
    return re.sub(r"[\s_/\-.]", "", name).lower()


def _line_item(sku: str, credit_type: str, cost_type: str, service: str) -> str:
    if sku:
        return sku[:200]
    if credit_type:
        return f"Credit: {credit_type}"[:200]
    if cost_type and cost_type.lower() not in ("regular", "usage"):
        return cost_type[:1].upper() + cost_type[1:]
    return service[:200]


def _rows_of(frame: pd.DataFrame, **columns: pd.Series) -> list[tuple[Any, ...]]:
    return list(zip(*(columns[name].tolist() for name in columns), strict=True)) if len(frame) else []


# Console cost table ----------------------------------------------------------------------------------

_COST = re.compile(r"^(?P<unrounded>unrounded\s+)?cost\s*\((?P<unit>[^)]*)\)$", re.IGNORECASE)
_NET = re.compile(r"^(?P<unrounded>unrounded\s+)?subtotal\s*\((?P<unit>[^)]*)\)$", re.IGNORECASE)
_CREDIT = re.compile(
    r"^(?P<unrounded>unrounded\s+)?(?P<kind>credits?|savings programs|other savings|discounts?|promotions?)"
    r"\s*\((?P<unit>[^)]*)\)$",
    re.IGNORECASE,
)
_TABLE_COLUMNS = frozenset(
    _squash(c)
    for c in (
        "Billing account name", "Project ID", "Project name", "Cost type", "Credit type", "Usage start date",
        "SKU ID", "Service ID", "Month",
    )
)  # fmt: skip
_FOOTERS = frozenset({"total", "rounding error", "subtotal"})
_SYMBOLS = {
    "$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "ca$": "CAD", "c$": "CAD",
    "a$": "AUD", "au$": "AUD", "r$": "BRL", "nz$": "NZD", "hk$": "HKD", "s$": "SGD", "chf": "CHF", "₩": "KRW",
}  # fmt: skip


def _header(raw: RawFile) -> tuple[int, list[str], dict[str, str]] | None:
    """(lines before the table's header, the header cells, the invoice preamble as {lowercase key: value})."""
    preamble: dict[str, str] = {}
    for index, line in enumerate(raw.head.split("\n")[:60]):
        cells = [cell.strip() for cell in next(csv.reader([line.rstrip("\r")]), [])]
        squashed = {_squash(cell) for cell in cells}
        has_cost = any(_COST.match(cell) or _NET.match(cell) for cell in cells)
        if has_cost and squashed & {"servicedescription", "skudescription"}:
            return index, cells, preamble
        if len(cells) >= 2 and cells[0]:
            preamble[cells[0].lower()] = cells[1]
    return None


def _currency_of_unit(unit: str) -> str | None:
    unit = unit.strip()
    if re.fullmatch(r"[A-Za-z]{3}", unit):
        return unit.upper()
    return _SYMBOLS.get(unit.lower())


def _month_day(text: str) -> str:
    """'202607', '2026-07', 'July 2026' → '2026-07-01' (other text unchanged, so it is reported as a bad date)."""
    text = text.strip()
    match = re.fullmatch(r"(\d{4})-?(\d{2})", text)
    if match:
        return f"{match.group(1)}-{match.group(2)}-01"
    parsed = pd.to_datetime(text, format="%B %Y", errors="coerce")
    if pd.isna(parsed):
        parsed = pd.to_datetime(text, format="%b %Y", errors="coerce")
    return text if pd.isna(parsed) else parsed.strftime("%Y-%m-01")


class GcpConsoleParser:
    name = "gcp_console"
    label = "Google Cloud cost table (CSV)"
    namespace = "gcp_console"

    def detect(self, raw: RawFile) -> int:
        try:
            if raw.looks_like_json():
                return 0
            found = _header(raw)
        except Exception:
            return 0
        if found is None:
            return 0
        index, cells, _ = found
        sure = index > 0 or {_squash(c) for c in cells} & _TABLE_COLUMNS
        return 95 if sure else 70

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        found = _header(raw)
        if found is None:
            raise BadFile(
                "We could not find the cost table's header row (the line with 'Service description' and "
                "'Cost ($)'). Download the CSV again from Billing → Cost table → Download CSV."
            )
        index, _, preamble = found
        frame = read_cloud_table(raw, skip_lines=index, delimiter=",")
        columns = [c for c in frame.columns if c != "row"]
        notes: list[str] = []

        amount_column, credit_columns, unit = self._money_columns(columns)
        currency = self._currency(frame, columns, preamble, unit)

        cost_type = text_of(frame, find_column(columns, "Cost type") or "")
        service = text_of(frame, find_column(columns, "Service description") or "")
        sku = text_of(frame, find_column(columns, "SKU description") or "")
        first_cells = frame[columns[0]].astype(str).str.strip().str.lower()
        kind_or_first = cost_type.str.lower().where(cost_type != "", first_cells)
        footer = cost_type.str.lower().isin(_FOOTERS) | ((service == "") & (sku == "") & first_cells.isin(_FOOTERS))
        totals = frame[footer]
        data = frame[~footer]
        if data.empty:
            return Parsed(frame=canonical(data), rows_read=0)

        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        day = self._days(data, columns, preamble, errors, notes)
        amount = decimal_cells(data, amount_column, errors)
        for column in credit_columns:
            credits = decimal_cells(data, column, errors, required=False)
            amount = [
                None if a is None else a - abs(c) if c is not None else a for a, c in zip(amount, credits, strict=True)
            ]

        service, sku = service[~footer], sku[~footer]
        credit_type = text_of(data, find_column(columns, "Credit type") or "")
        kinds = cost_type[~footer]
        project = text_of(data, find_column(columns, "Project ID") or "")
        project = project.where(project != "", text_of(data, find_column(columns, "Project name") or ""))
        providers, models, items = [], [], []
        for svc, item, credit, kind in _rows_of(data, s=service, k=sku, c=credit_type, t=kinds):
            provider, model = provider_and_model(svc, item)
            providers.append(provider)
            models.append(model)
            items.append(_line_item(item, credit, kind, svc))
        out = canonical(
            data,
            day=day,
            amount=amount,
            currency=currency[~footer] if isinstance(currency, pd.Series) else currency,
            provider=providers,
            service=service.str.slice(0, 80),
            model=models,
            line_item=items,
            project=project.str.slice(0, 80),
        )
        out = errors.keep(out)
        if not errors.skipped:
            notes.extend(self._check_total(out, totals, amount_column, kind_or_first[footer]))
        return Parsed(frame=out, rows_read=len(data), skipped=errors.skipped, notes=notes)

    @staticmethod
    def _money_columns(columns: list[str]) -> tuple[str, list[str], str]:
        """(the amount column, credit columns to add, the currency unit in the headers)."""

        def pick(pattern: re.Pattern[str]) -> tuple[str, str] | None:
            matches = [(c, m) for c in columns if (m := pattern.match(c))]
            if not matches:
                return None
            column, match = next(((c, m) for c, m in matches if m.group("unrounded")), matches[0])
            return column, match.group("unit")

        net = pick(_NET)
        if net:  # a subtotal is already net of credits and savings
            return net[0], [], net[1]
        cost = pick(_COST)
        if cost is None:
            raise BadFile("The cost table has no 'Cost ($)' column. Download the CSV again with the cost columns.")
        kinds: dict[str, str] = {}
        for column in columns:
            match = _CREDIT.match(column)
            if match:
                kind = match.group("kind").lower()
                if kind not in kinds or match.group("unrounded"):
                    kinds[kind] = column
        return cost[0], list(kinds.values()), cost[1]

    def _currency(self, frame: pd.DataFrame, columns: list[str], preamble: dict[str, str], unit: str) -> Any:
        column = first_column(columns, "Currency", "Currency code")
        if column:
            return text_of(frame, column)
        stated = preamble.get("currency", "").strip()
        if stated:
            return stated.upper()
        code = _currency_of_unit(unit)
        if code is None:
            raise BadFile(
                f"We could not tell the currency from the cost column's unit '({unit})'. Add a line "
                "'Currency,EUR' (with your billing currency) above the header row and import again."
            )
        return code

    @staticmethod
    def _days(
        data: pd.DataFrame, columns: list[str], preamble: dict[str, str], errors: RowErrors, notes: list[str]
    ) -> pd.Series:
        start = find_column(columns, "Usage start date")
        if start:
            day = day_cells(data, start, errors)
            end = find_column(columns, "Usage end date")
            if end:
                ends = pd.to_datetime(data[end].astype(str), utc=True, errors="coerce", format="mixed")
                if ((ends.dt.tz_localize(None) - day).dt.days > 1).any():
                    notes.append(
                        "Google's cost table has one line per SKU for the whole period, so each line is dated on "
                        "its usage start date. For spend by day, import the BigQuery billing export instead."
                    )
            return day
        month = first_column(columns, "Month", "Invoice month")
        if month:
            months = data.assign(**{month: data[month].astype(str).map(_month_day)})
            return day_cells(months, month, errors)
        invoice_month = preamble.get("invoice month", "").strip()
        if invoice_month:
            notes.append(f"The file has no usage dates; every line is dated on the first day of {invoice_month}.")
            months = data.assign(_month=_month_day(invoice_month))
            return day_cells(months, "_month", errors)
        raise BadFile(
            "The cost table has no 'Usage start date' column. In Billing → Cost table, show the usage date "
            "columns, then download the CSV again."
        )

    @staticmethod
    def _check_total(out: pd.DataFrame, totals: pd.DataFrame, column: str, kinds: pd.Series) -> list[str]:
        """A note when the lines do not add up to the file's own Total row (a cut-off or filtered file)."""
        total = rounding = None
        for cell, kind in zip(totals[column].tolist(), kinds.str.lower().tolist(), strict=True):
            try:
                value = parse_decimal(cell)
            except ValueError:
                continue
            if kind == "total" and value is not None:
                total = value
            elif kind == "rounding error" and value is not None:
                rounding = (rounding or Decimal(0)) + value
        if total is None or out["currency"].nunique() > 1:
            return []
        lines = sum((a for a in out["amount"] if a is not None), Decimal(0))
        if abs(lines + (rounding or Decimal(0)) - total) <= Decimal("0.01"):
            return []
        return [
            f"The lines add up to {lines:f} but the file's Total row says {total:f}. The file may be cut off or "
            "filtered; check it against the invoice."
        ]


# BigQuery billing export -----------------------------------------------------------------------------

_BQ = {
    "day": ("usage_start_time",),
    "cost": ("cost",),
    "currency": ("currency",),
    "service": ("service.description",),
    "sku": ("sku.description",),
    "project": ("project.id",),
    "project_name": ("project.name",),
    "credits": ("credits",),
    "labels": ("labels",),
    "cost_type": ("cost_type",),
}
_BQ_SQUASHED = {"usagestarttime", "cost"}


def _path(record: dict[str, Any], dotted: str) -> Any:
    """record['service']['description'], or a flat 'service.description' / 'service_description' key."""
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            break
    if value is not None:
        return value
    for key in (dotted, dotted.replace(".", "_")):
        if key in record:
            return record[key]
    return None


def _bq_records(raw: RawFile) -> list[dict[str, Any]] | None:
    data = raw.json()
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        return None
    return data


def _looks_bigquery(keys: set[str]) -> bool:
    squashed = {_squash(k) for k in keys}
    return squashed >= _BQ_SQUASHED and bool(
        squashed & {"servicedescription", "skudescription", "service", "sku", "billingaccountid"}
    )


class GcpBigQueryParser:
    name = "gcp_bigquery"
    label = "Google Cloud billing export from BigQuery (CSV or JSON)"
    namespace = "gcp_bigquery"

    def detect(self, raw: RawFile) -> int:
        try:
            if raw.looks_like_json():
                records = _bq_records(raw)
                return 92 if records and _looks_bigquery(set(records[0])) else 0
            header = [c.strip() for c in next(csv.reader([raw.first_line]), [])]
            return 92 if _looks_bigquery(set(header)) and not any(_COST.match(c) for c in header) else 0
        except Exception:
            return 0

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        fields = self._fields(raw)
        if fields.empty:
            return Parsed(frame=canonical(fields), rows_read=0)
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        notes: list[str] = []
        day = day_cells(fields.assign(day=fields["day"].map(_utc_text)), "day", errors)
        costs = decimal_cells(fields, "cost", errors)
        credits = [self._credits(row, cell, errors) for row, cell in zip(fields["row"], fields["credits"], strict=True)]
        amount = [None if c is None else c + k for c, k in zip(costs, credits, strict=True)]

        providers, models, items, projects, departments, tags = [], [], [], [], [], []
        unreadable = cut = 0
        rows = _rows_of(fields, s=fields["service"], k=fields["sku"], t=fields["cost_type"], p=fields["project"],
                        n=fields["project_name"], g=fields["labels"])  # fmt: skip
        for service, sku, kind, project, project_name, labels in rows:
            provider, model = provider_and_model(service, sku)
            providers.append(provider)
            models.append(model)
            items.append(_line_item(sku, "", kind, service))
            parsed = map_cell(labels)
            if parsed is None:
                unreadable += 1
                parsed = {}
            cleaned = clean_tags(parsed)
            by_tag, department = project_and_department(cleaned)
            projects.append((project or project_name or by_tag)[:80])
            departments.append(department)
            text, truncated = tags_json(cleaned)
            cut += truncated
            tags.append(text)
        if unreadable:
            notes.append(
                f"{unreadable} line(s) had labels we could not read; those lines were imported without labels."
            )
        if cut:
            notes.append(tags_note(cut))
        currency = fields["currency"].replace("", "USD")
        if (fields["currency"] == "").all():
            notes.append("The export has no currency column; the costs were taken as US dollars.")
        out = canonical(
            fields,
            day=day,
            amount=amount,
            currency=currency,
            provider=providers,
            service=fields["service"].str.slice(0, 80),
            model=models,
            line_item=items,
            project=projects,
            department=departments,
            tags=tags,
        )
        return Parsed(frame=errors.keep(out), rows_read=len(fields), skipped=errors.skipped, notes=notes)

    @staticmethod
    def _fields(raw: RawFile) -> pd.DataFrame:
        """The export's fields we use, one row per record, as text (credits and labels as they come)."""
        if raw.looks_like_json():
            records = _bq_records(raw)
            if records is None:
                raise BadFile("This JSON is not a list of billing export rows. Export the table as JSON or CSV again.")
            frame = pd.DataFrame({"row": np.arange(1, len(records) + 1, dtype=np.int64)})
            for field, (path,) in _BQ.items():
                values = [_path(record, path) for record in records]
                if field in ("credits", "labels", "cost"):
                    # object dtype: JSON numbers stay Python floats (read exactly via repr), not numpy floats
                    frame[field] = pd.Series(["" if v is None else v for v in values], dtype=object)
                else:
                    frame[field] = ["" if v is None else str(v).strip() for v in values]
            missing = [path for field, (path,) in _BQ.items() if field in ("day", "cost")
                       and all(_path(r, path) is None for r in records)]  # fmt: skip
            if records and missing:
                raise BadFile(f"The export rows have no '{missing[0]}' field. Export the whole billing table again.")
            return frame
        table = read_cloud_table(raw)
        columns = [c for c in table.columns if c != "row"]
        frame = pd.DataFrame({"row": table["row"].to_numpy()})
        for field, (path,) in _BQ.items():
            column = find_column(columns, path)
            if column is None and field in ("day", "cost"):
                raise BadFile(f"The file has no '{path}' column. Export the whole billing table again.")
            frame[field] = text_of(table, column or "").to_numpy()
        return frame

    @staticmethod
    def _credits(row: int, cell: Any, errors: RowErrors) -> Decimal:
        """The sum of a row's credits (negative), from a list or its JSON text."""
        items = cell
        if isinstance(cell, str):
            text = cell.strip()
            if not text:
                return Decimal(0)
            try:
                items = json.loads(text, parse_float=Decimal)
            except json.JSONDecodeError:
                items = text
        if items is None:
            return Decimal(0)
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            errors.report(
                int(row), "credits", f"'{str(cell)[:40]}' is not a list of credits",
                'Credits look like [{"name": "Free tier", "amount": -0.5}].',
            )  # fmt: skip
            return Decimal(0)
        total = Decimal(0)
        for item in items:
            try:
                value = parse_decimal(item.get("amount"))
            except ValueError:
                errors.report(int(row), "credits", f"the credit amount '{item.get('amount')}' is not a number",
                              "Credit amounts look like -0.5.")  # fmt: skip
                continue
            total += value or Decimal(0)
        return total


def _utc_text(value: Any) -> str:
    """BigQuery writes TIMESTAMPs as '2026-06-01 07:00:00 UTC'."""
    return re.sub(r"\s*UTC$", "+00:00", str(value).strip())


PARSERS = [GcpConsoleParser(), GcpBigQueryParser()]
