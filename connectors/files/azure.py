"""Azure cost details / Cost Management exports (CSV): EA, MCA and pay-as-you-go, old and new column spellings.

Azure OpenAI lines (meter category "Cognitive Services", "Azure OpenAI" or "Foundry Models" with an OpenAI
meter) become provider "Azure OpenAI" with the model read from the meter name ('gpt-4o-0806-Inp-glbl Tokens');
every other Azure line is imported as provider "Azure". The resource group is the project.
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

_DATES = ("Date", "UsageDateTime", "UsageDate")
# MCA: CostInBillingCurrency; EA / pay-as-you-go: Cost; older exports: PreTaxCost; old EA usage files: ExtendedCost.
_AMOUNTS = ("CostInBillingCurrency", "Cost", "PreTaxCost", "ExtendedCost", "CostInUsd")
_CURRENCIES = ("BillingCurrency", "BillingCurrencyCode", "Currency", "CurrencyCode")
_SUBSCRIPTION = "subscription"  # the tag holding the subscription a line belongs to; kept before the others

_OPENAI = re.compile(r"openai", re.IGNORECASE)
_AI_CATEGORY = re.compile(r"cognitive services|foundry|azure ai", re.IGNORECASE)
_OPENAI_MODEL = re.compile(r"^(gpt|o\d|text-embedding|dall-e|whisper|davinci|babbage|ada)")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(.*)$")


def _squash(name: str) -> str:
    return re.sub(r"[\s_/\-.]", "", name).lower()


def _header(raw: RawFile) -> set[str]:
    line = raw.first_line
    return {_squash(cell) for cell in next(csv.reader([line]), [])}


def provider_and_model(category: str, subcategory: str, meter: str, product: str) -> tuple[str, str]:
    """("Azure OpenAI", model) for Azure OpenAI meters; ("Azure", model or "") for everything else."""
    model = ""
    gpt5 = re.match(r"^(\d+(?:\.\d+)?)\s", meter)
    if gpt5 and re.search(r"gpt", f"{subcategory} {product}", re.IGNORECASE):
        model = f"gpt-{gpt5.group(1)}"  # 'Azure OpenAI GPT5' meters are a bare version: '5.4 inp Gl 1M Tokens'
    ai = bool(_AI_CATEGORY.search(category) or _OPENAI.search(f"{category} {subcategory} {product}"))
    if ai and not model:
        model = model_in(meter, subcategory, product)
    openai = _OPENAI.search(f"{category} {subcategory} {product}") or (ai and _OPENAI_MODEL.match(model))
    return ("Azure OpenAI" if openai else "Azure"), model


class AzureCostParser:
    name = "azure_cost"
    label = "Azure cost details / Cost Management export (CSV)"
    namespace = "azure"

    def detect(self, raw: RawFile) -> int:
        try:
            if raw.looks_like_json():
                return 0
            header = _header(raw)
        except Exception:
            return 0
        has = {_squash(c) for c in (*_DATES, *_AMOUNTS)} & header
        dated = bool(has & {_squash(c) for c in _DATES})
        costed = bool(has & {_squash(c) for c in _AMOUNTS})
        return 92 if "metercategory" in header and dated and costed else 0

    def parse(self, raw: RawFile, *, skip_bad_rows: bool) -> Parsed:
        table = read_cloud_table(raw)
        columns = [c for c in table.columns if c != "row"]
        date = first_column(columns, *_DATES)
        amount_column = first_column(columns, *_AMOUNTS)
        if not date or not amount_column:
            raise BadFile(
                "The file has no 'Date' or 'CostInBillingCurrency' (or 'Cost') column. Download the cost details "
                "again from Cost Management → Exports or Cost analysis → Download."
            )
        if table.empty:
            return Parsed(frame=canonical(table), rows_read=0)
        notes: list[str] = []
        errors = RowErrors(skip_bad_rows=skip_bad_rows)
        day = day_cells(table.assign(**{date: self._iso_dates(table[date], notes)}), date, errors)
        amounts = decimal_cells(table, amount_column, errors)
        charge_type = text_of(table, find_column(columns, "ChargeType") or "")
        amount = [
            None if a is None else -abs(a) if kind.lower() == "refund" else a
            for a, kind in zip(amounts, charge_type.tolist(), strict=True)
        ]
        if _squash(amount_column) == "costinusd":
            currency: Any = "USD"
        else:
            currency = text_of(table, first_column(columns, *_CURRENCIES) or "").replace("", "USD")

        def col(*names: str) -> list[str]:
            return text_of(table, first_column(columns, *names) or "").tolist()

        category, subcategory = col("MeterCategory"), col("MeterSubCategory")
        meter, product = col("MeterName"), col("ProductName", "Product")
        consumed = col("ConsumedService")
        group = col("ResourceGroup", "ResourceGroupName")
        subscription = col("SubscriptionName", "SubscriptionId", "SubscriptionGuid")
        tag_cells = col("Tags")

        out_cols: dict[str, list[str]] = {n: [] for n in ("provider", "service", "model", "line_item", "project",
                                                           "department", "tags")}  # fmt: skip
        lines: dict[tuple[str, ...], tuple[str, str, str, str]] = {}
        labels: dict[tuple[str, str], tuple[str, str, bool]] = {}
        unreadable = cut = 0
        for i, kind in enumerate(charge_type.tolist()):
            key = (category[i], subcategory[i], meter[i], product[i], consumed[i], kind)
            if key not in lines:
                lines[key] = self._line(*key)
            label_key = (subscription[i], tag_cells[i])
            if label_key not in labels:
                parsed = map_cell(tag_cells[i])
                if parsed is None:
                    unreadable += 1
                    parsed = {}
                tags = clean_tags(parsed)
                if subscription[i]:
                    tags[_SUBSCRIPTION] = subscription[i]
                _, department = project_and_department(tags)
                text, truncated = tags_json(tags, first=(_SUBSCRIPTION,))
                labels[label_key] = (department, text, truncated)
            provider, service, model, line_item = lines[key]
            department, text, truncated = labels[label_key]
            cut += truncated
            # Azure treats resource group names case-insensitively and its exports mix 'RG-ML' and 'rg-ml'.
            values = (provider, service, model, line_item, group[i].lower()[:80], department, text)
            for column, value in zip(out_cols, values, strict=True):
                out_cols[column].append(value)
        if unreadable:
            notes.append(f"{unreadable} line(s) had tags we could not read; they were imported without tags.")
        if cut:
            notes.append(tags_note(cut))
        out = canonical(table, day=day, amount=amount, currency=currency, **out_cols)
        return Parsed(frame=errors.keep(out), rows_read=len(table), skipped=errors.skipped, notes=notes)

    @staticmethod
    def _iso_dates(values: pd.Series, notes: list[str]) -> pd.Series:
        """Azure writes US dates (MM/DD/YYYY); a first number over 12 means the file was saved day-first."""
        text = values.astype(str).str.strip()
        matches = text.str.extract(_SLASH_DATE)
        if matches[0].isna().all():
            return text
        firsts = pd.to_numeric(matches[0], errors="coerce")
        day_first = bool((firsts > 12).any())
        if day_first:
            notes.append("The dates are day-first (DD/MM/YYYY), as a spreadsheet saves them outside the US.")
        month, day = (2, 1) if day_first else (1, 2)

        def iso(m: re.Match[str]) -> str:
            return f"{m.group(3)}-{m.group(month):0>2}-{m.group(day):0>2}{m.group(4)}"

        return text.str.replace(_SLASH_DATE, iso, regex=True)

    @staticmethod
    def _line(
        category: str, subcategory: str, meter: str, product: str, consumed: str, kind: str
    ) -> tuple[str, str, str, str]:
        """(provider, service, model, line item) for one kind of meter."""
        provider, model = provider_and_model(category, subcategory, meter, product)
        service = (category or consumed)[:80]
        line_item = meter or subcategory or product
        if kind and kind.lower() != "usage":  # Purchase, Refund, UnusedReservation, ...
            line_item = f"{kind}: {line_item}"
        return provider, service, model, line_item[:200]


PARSERS = [AzureCostParser()]
