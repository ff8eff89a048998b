"""AWS billing: Cost Explorer `get-cost-and-usage` responses (JSON) and Cost and Usage Reports (CUR, CUR 2.0).

Bedrock lines become provider "AWS Bedrock" with the model read from the usage type ('USE1-Claude3.5Sonnet-
input-tokens') or the Marketplace product name ('Claude 3.5 Sonnet (Amazon Bedrock Edition)'); every other
AWS service is imported as provider "AWS". The two formats get separate namespaces: Cost Explorer sums (often
a month at a time) and CUR line items of the same account are different series, and one must never replace
the other's charges.
"""

from __future__ import annotations

import csv
import re
from typing import Any

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

BEDROCK_CODES = frozenset({"amazonbedrock", "amazonbedrockfoundationmodels", "amazonbedrockservice"})
_ACCOUNT = "account"  # the tag that holds the AWS account a line belongs to; kept before the others


def _bedrock(service: str, product_code: str = "") -> bool:
    return product_code.strip().lower() in BEDROCK_CODES or "bedrock" in service.lower()


def _tag_key(key: str) -> str:
    """'user:Project' / 'user_project' → 'Project' / 'project'; AWS's own ('aws:createdBy') stay as they are."""
    for prefix in ("user:", "user_"):
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix) :]
    return key


# Cost Explorer ---------------------------------------------------------------------------------------

_METRICS = ("UnblendedCost", "NetUnblendedCost", "AmortizedCost", "NetAmortizedCost", "BlendedCost")


def _pages(raw: RawFile) -> list[dict[str, Any]] | None:
    """The response (or a list of pages of it) when the JSON is Cost Explorer's; None otherwise."""
    data = raw.json()
    pages = data if isinstance(data, list) else [data]
    if pages and all(isinstance(page, dict) and isinstance(page.get("ResultsByTime"), list) for page in pages):
        return pages
    return None


class AwsCostExplorerParser:
    name = "aws_cost_explorer"
    label = "AWS Cost Explorer get-cost-and-usage (JSON)"
    namespace = "aws_ce"

    def detect(self, raw: RawFile) -> int:
        try:
            if not raw.looks_like_json() or "ResultsByTime" not in raw.text:
                return 0
            return 95 if _pages(raw) else 0
        except Exception:
            return 0

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        pages = _pages(raw)
        if pages is None:
            raise BadFile(
                "This JSON is not a Cost Explorer response (it has no 'ResultsByTime'). Save the output of "
                "'aws ce get-cost-and-usage --output json' and import that."
            )
        entries, notes = self._entries(pages)
        if not entries:
            return Parsed(frame=canonical(pd.DataFrame({"row": []})), rows_read=0, notes=notes)
        seen = {name for entry in entries for name in entry["metrics"]}
        metric = next((m for m in _METRICS if m in seen), None)
        if metric is None:
            raise BadFile(
                f"This response has no cost metric (only {', '.join(sorted(seen)) or 'none'}). Run "
                "get-cost-and-usage again with --metrics UnblendedCost."
            )
        if len(seen & set(_METRICS)) > 1:
            notes.append(f"The response has several cost metrics; we imported {metric}.")

        amount_column = f"Metrics.{metric}.Amount"
        frame = pd.DataFrame(
            {
                "row": range(1, len(entries) + 1),
                "TimePeriod.Start": [str(e["start"] or "") for e in entries],
                "TimePeriod.End": [str(e["end"] or "") for e in entries],
                amount_column: [_metric(e["metrics"], metric).get("Amount") for e in entries],
                "unit": [str(_metric(e["metrics"], metric).get("Unit") or "") for e in entries],
            }
        )
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        day = day_cells(frame, "TimePeriod.Start", errors)
        ends = pd.to_datetime(frame["TimePeriod.End"], utc=True, errors="coerce", format="mixed").dt.tz_localize(None)
        if ((ends - day).dt.days > 1).any():
            notes.append(
                "Cost Explorer gave one figure per month (or longer period); each is dated on the period's first "
                "day. For spend by day, run get-cost-and-usage with --granularity DAILY."
            )
        amount = decimal_cells(frame, amount_column, errors)
        currency = [u.upper() if re.fullmatch(r"[A-Za-z]{3}", u) else "USD" for u in frame["unit"]]

        columns: dict[str, list[Any]] = {n: [] for n in ("provider", "service", "model", "line_item", "project",
                                                           "department", "tags")}  # fmt: skip
        cut = 0
        for entry in entries:
            service, usage_type, record_type, tags = self._dimensions(entry["keys"], entry["definitions"])
            bedrock = _bedrock(service) or (
                not service and "token" in usage_type.lower() and bool(model_in(usage_type))
            )
            project, department = project_and_department(tags)
            text, truncated = tags_json(tags, first=(_ACCOUNT,))
            cut += truncated
            columns["provider"].append("AWS Bedrock" if bedrock else "AWS")
            columns["service"].append(service[:80])
            columns["model"].append(model_in(usage_type, service) if bedrock else "")
            columns["line_item"].append((usage_type or record_type)[:200])
            columns["project"].append(project)
            columns["department"].append(department)
            columns["tags"].append(text)
        if cut:
            notes.append(tags_note(cut))
        out = canonical(frame, day=day, amount=amount, currency=currency, **columns)
        return Parsed(frame=errors.keep(out), rows_read=len(entries), skipped=errors.skipped, notes=notes)

    @staticmethod
    def _entries(pages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        """One entry per group (or per period's Total when the query was not grouped)."""
        entries: list[dict[str, Any]] = []
        estimated = more = False
        for page in pages:
            definitions = [d for d in page.get("GroupDefinitions") or [] if isinstance(d, dict)]
            more = more or bool(page.get("NextPageToken"))
            for result in page["ResultsByTime"]:
                if not isinstance(result, dict):
                    continue
                period = result.get("TimePeriod") or {}
                estimated = estimated or bool(result.get("Estimated"))
                groups = [g for g in result.get("Groups") or [] if isinstance(g, dict)]
                base = {"start": period.get("Start"), "end": period.get("End"), "definitions": definitions}
                if groups:  # when grouped, Total is {}: the groups are the figures
                    entries.extend(
                        {**base, "keys": list(g.get("Keys") or []), "metrics": g.get("Metrics") or {}} for g in groups
                    )
                elif result.get("Total"):
                    entries.append({**base, "keys": [], "metrics": result["Total"]})
        notes = []
        if estimated:
            notes.append(
                "Some periods are marked Estimated (the month is still open). Import a later export after the "
                "month closes: it replaces these figures."
            )
        if more:
            notes.append(
                "The response has a NextPageToken: Cost Explorer has more results. Fetch every page (call again "
                "with --next-page-token) and import each one, or save them together as a JSON list."
            )
        return entries, notes

    @staticmethod
    def _dimensions(keys: list[Any], definitions: list[dict[str, Any]]) -> tuple[str, str, str, dict[str, str]]:
        """(service, usage type, record type, tags) from a group's keys and the query's GroupDefinitions."""
        service = usage_type = record_type = ""
        tags: dict[str, str] = {}
        for index, key in enumerate(str(k) for k in keys):
            definition = definitions[index] if index < len(definitions) else {}
            kind = str(definition.get("Type") or ("TAG" if "$" in key else "DIMENSION")).upper()
            name = str(definition.get("Key") or ("SERVICE" if index == 0 else f"KEY{index + 1}"))
            if kind in ("TAG", "COST_CATEGORY"):
                tag, _, value = key.partition("$")  # 'Environment$Dev'; 'Environment$' = untagged
                tags[_tag_key(tag or name)] = value
            elif name.upper() == "SERVICE":
                service = key
            elif name.upper() == "USAGE_TYPE":
                usage_type = key
            elif name.upper() == "RECORD_TYPE":
                record_type = key
                tags["record_type"] = key
            elif name.upper() == "LINKED_ACCOUNT":
                tags[_ACCOUNT] = key
            else:
                tags[name.lower()] = key
        return service, usage_type, record_type, clean_tags(tags)


def _metric(metrics: Any, name: str) -> dict[str, Any]:
    value = metrics.get(name) if isinstance(metrics, dict) else None
    return value if isinstance(value, dict) else {}


# Cost and Usage Report -------------------------------------------------------------------------------

_USAGE_LINES = frozenset({"", "usage", "discountedusage", "savingsplancoveredusage", "savingsplannegation"})
_NEGATIVE_LINES = frozenset({"credit", "refund"})
_PART = re.compile(r"(-\d{5}\.csv|part-\d+[^/]*\.csv)$", re.IGNORECASE)


def _cur_header(raw: RawFile) -> set[str]:
    line = raw.first_line
    return {re.sub(r"[\s_/\-.]", "", c).lower() for c in next(csv.reader([line]), [])}


class AwsCurParser:
    name = "aws_cur"
    label = "AWS Cost and Usage Report (CUR or CUR 2.0, CSV)"
    namespace = "aws_cur"

    def detect(self, raw: RawFile) -> int:
        try:
            if raw.looks_like_json():
                return 0
            header = _cur_header(raw)
        except Exception:
            return 0
        return 95 if {"lineitemunblendedcost", "lineitemusagestartdate"} <= header else 0

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        table = read_cloud_table(raw)
        columns = [c for c in table.columns if c != "row"]
        start = find_column(columns, "lineItem/UsageStartDate")
        cost = find_column(columns, "lineItem/UnblendedCost")
        if not start or not cost:
            raise BadFile(
                "The report has no 'lineItem/UsageStartDate' or 'lineItem/UnblendedCost' column "
                "(line_item_usage_start_date / line_item_unblended_cost in CUR 2.0). Check the export includes them."
            )
        notes: list[str] = []
        if _PART.search(raw.name):
            notes.append(
                "AWS splits a large month into several files. Join the parts into one file before importing: "
                "a day that spans two parts would otherwise keep only the last part's figure."
            )
        if table.empty:
            return Parsed(frame=canonical(table), rows_read=0, notes=notes)

        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        day = day_cells(table, start, errors)
        amounts = decimal_cells(table, cost, errors)
        kinds = text_of(table, find_column(columns, "lineItem/LineItemType") or "")
        amount = [
            None if a is None else -abs(a) if kind.lower() in _NEGATIVE_LINES else a
            for a, kind in zip(amounts, kinds.tolist(), strict=True)
        ]

        def col(*names: str) -> list[str]:
            return text_of(table, first_column(columns, *names) or "").tolist()

        code = col("lineItem/ProductCode")
        product = col("product/ProductName", "product_product_name")
        products_map = col("product")
        usage_type = col("lineItem/UsageType")
        description = col("lineItem/LineItemDescription")
        account = col("lineItem/UsageAccountId")
        tag_columns = self._tag_columns(columns)
        tag_map = col("resource_tags")
        tag_values = [text_of(table, c).tolist() for c in tag_columns.values()]
        tag_names = list(tag_columns)

        lines: dict[tuple[str, ...], tuple[str, str, str, str]] = {}
        labels: dict[tuple[str, ...], tuple[str, str, str, bool]] = {}
        out_cols: dict[str, list[str]] = {n: [] for n in ("provider", "service", "model", "line_item", "project",
                                                           "department", "tags")}  # fmt: skip
        unreadable = cut = 0
        for i, kind in enumerate(kinds.tolist()):
            name = product[i] or self._product_name(products_map[i])
            key = (code[i], name, usage_type[i], description[i], kind)
            if key not in lines:
                lines[key] = self._line(*key)
            tag_key = (account[i], tag_map[i], *(values[i] for values in tag_values))
            if tag_key not in labels:
                tags = {_tag_key(n): v[i] for n, v in zip(tag_names, tag_values, strict=True)}
                parsed = map_cell(tag_map[i])
                if parsed is None:
                    unreadable += 1
                    parsed = {}
                tags.update({_tag_key(str(k)): v for k, v in parsed.items()})
                tags = clean_tags(tags)
                if account[i]:
                    tags[_ACCOUNT] = account[i]
                project, department = project_and_department(tags)
                text, truncated = tags_json(tags, first=(_ACCOUNT,))
                labels[tag_key] = (project, department, text, truncated)
            provider, service, model, line_item = lines[key]
            project, department, text, truncated = labels[tag_key]
            cut += truncated
            for column, value in zip(out_cols, (provider, service, model, line_item, project, department, text),
                                     strict=True):  # fmt: skip
                out_cols[column].append(value)
        if unreadable:
            notes.append(f"{unreadable} line(s) had resource tags we could not read; they were imported without.")
        if cut:
            notes.append(tags_note(cut))
        out = canonical(
            table,
            day=day,
            amount=amount,
            currency=text_of(table, find_column(columns, "lineItem/CurrencyCode") or "").replace("", "USD"),
            **out_cols,
        )
        return Parsed(frame=errors.keep(out), rows_read=len(table), skipped=errors.skipped, notes=notes)

    @staticmethod
    def _tag_columns(columns: list[str]) -> dict[str, str]:
        """{tag key: column} for legacy 'resourceTags/user:team' and Athena's 'resource_tags_user_team'."""
        found: dict[str, str] = {}
        for column in columns:
            if column.lower().startswith("resourcetags/"):
                found[column.split("/", 1)[1]] = column
            elif column.lower().startswith("resource_tags_"):
                found[column[len("resource_tags_") :]] = column
        return found

    @staticmethod
    def _product_name(cell: str) -> str:
        """CUR 2.0's `product` map column: its product_name entry."""
        if not cell:
            return ""
        parsed = map_cell(cell) or {}
        return str(parsed.get("product_name") or parsed.get("ProductName") or "").strip()

    @staticmethod
    def _line(code: str, product: str, usage_type: str, description: str, kind: str) -> tuple[str, str, str, str]:
        """(provider, service, model, line item) for one kind of line."""
        bedrock = _bedrock(product, code)
        service = (product or code)[:80]
        model = model_in(usage_type, product, description) if bedrock else ""
        if kind.lower() in _USAGE_LINES:
            line_item = usage_type or description
        else:  # Credit, Refund, Tax, Fee, ...: keep them apart from the usage they relate to
            line_item = f"{kind}: {description or usage_type}"
        return ("AWS Bedrock" if bedrock else "AWS"), service, model, line_item[:200]


PARSERS = [AwsCostExplorerParser(), AwsCurParser()]
