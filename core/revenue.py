"""Money in: revenue rows (Stripe balance transactions) stored idempotently and read back per day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from core.models import Revenue, Workspace
from core.security import InvalidInput

# Stripe's currency minor units: amounts arrive as integers of the smallest unit ("cents or local equivalent").
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
KINDS = ("charge", "refund", "fee", "dispute", "other")
# What makes two versions of a revenue row the same; a difference in any of them is a revision.
_FIELDS = ("day", "kind", "customer", "description", "amount_micros", "original_amount", "currency")
_CHUNK = 500
_REVENUE = Revenue.metadata.tables["revenue"]
_WORKSPACE = Workspace.metadata.tables["workspace"]


@dataclass(frozen=True)
class UpsertCounts:
    written: int = 0
    duplicates: int = 0
    revised: int = 0


def minor_unit_exponent(currency: str) -> int:
    """How many decimal places an amount in `currency` has in Stripe's integer amounts (0, 2 or 3)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"{currency!r} is not a three-letter currency code")
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def minor_to_decimal(amount: int, currency: str) -> Decimal:
    """An integer amount in the currency's smallest unit as exact major units: (1234, 'usd') → Decimal('12.34')."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"{amount!r} is not a whole number of minor units")
    return Decimal(f"{amount}e-{minor_unit_exponent(currency)}")


def _as_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """One revenue row as column values, checked: a bad row from a connector is a bug, so it raises."""
    key = row["source_key"]
    if not isinstance(key, str) or not key or len(key) > 255:
        raise ValueError(f"revenue source_key {key!r} must be text of 1 to 255 characters")
    day = row["day"]
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ValueError(f"revenue {key}: day must be a date, not {day!r}")
    kind = row["kind"]
    if kind not in KINDS:
        raise ValueError(f"revenue {key}: kind {kind!r} is not one of {', '.join(KINDS)}")
    micros = row["amount_micros"]
    if isinstance(micros, bool) or not isinstance(micros, int):
        raise ValueError(f"revenue {key}: amount_micros must be an integer, not {micros!r}")
    currency = str(row.get("currency", "USD")).upper()
    minor_unit_exponent(currency)
    return {
        "source_key": key,
        "day": day,
        "kind": kind,
        "customer": str(row.get("customer") or "")[:80],
        "description": str(row.get("description") or "")[:255],
        "amount_micros": micros,
        "original_amount": str(row["original_amount"])[:40],
        "currency": currency,
    }


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterable[list[Mapping[str, Any]]]:
    chunk: list[Mapping[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def upsert_revenue(
    session: Session, *, workspace_id: int, rows: Iterable[Mapping[str, Any]], connection_id: int | None = None
) -> UpsertCounts:
    """Write revenue rows idempotently on (workspace, source_key): new keys inserted, changed ones replaced.

    A key seen twice in one call raises InvalidInput, and the caller's transaction then writes nothing.
    """
    written = duplicates = revised = 0
    seen: set[str] = set()
    for chunk in _chunks(rows, _CHUNK):
        values = [_as_values(row) for row in chunk]
        for value in values:
            if value["source_key"] in seen:
                raise InvalidInput(f"The revenue key '{value['source_key']}' appears twice in one import.")
            seen.add(value["source_key"])
        existing = {
            found.source_key: tuple(getattr(found, f) for f in _FIELDS)
            for found in session.execute(
                select(_REVENUE.c.source_key, *(_REVENUE.c[f] for f in _FIELDS)).where(
                    _REVENUE.c.workspace_id == workspace_id,
                    _REVENUE.c.source_key.in_([v["source_key"] for v in values]),
                )
            )
        }
        fresh: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for value in values:
            old = existing.get(value["source_key"])
            if old is None:
                fresh.append({**value, "workspace_id": workspace_id, "connection_id": connection_id})
            elif old != tuple(value[f] for f in _FIELDS):
                changed.append({**{f"b_{f}": value[f] for f in _FIELDS}, "b_key": value["source_key"]})
            else:
                duplicates += 1
        if fresh:
            session.execute(insert(_REVENUE), fresh)
        if changed:
            session.execute(
                update(_REVENUE)
                .where(_REVENUE.c.workspace_id == workspace_id, _REVENUE.c.source_key == bindparam("b_key"))
                .values({f: bindparam(f"b_{f}") for f in _FIELDS}),
                changed,
            )
        written += len(fresh)
        revised += len(changed)
    if written or revised:
        # Cached views (revenue vs spend) key on data_version, so they must see the change.
        session.execute(
            update(_WORKSPACE).where(_WORKSPACE.c.id == workspace_id).values(data_version=_WORKSPACE.c.data_version + 1)
        )
    return UpsertCounts(written=written, duplicates=duplicates, revised=revised)


def load_revenue_daily(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Revenue per day in [start, end] by kind and customer: columns day, kind, customer, amount_micros (signed)."""
    day = _REVENUE.c.day
    rows = session.execute(
        select(day, _REVENUE.c.kind, _REVENUE.c.customer, func.sum(_REVENUE.c.amount_micros))
        .where(_REVENUE.c.workspace_id == workspace_id, day >= start, day <= end)
        .group_by(day, _REVENUE.c.kind, _REVENUE.c.customer)
        .order_by(day, _REVENUE.c.kind, _REVENUE.c.customer)
    ).all()
    return pd.DataFrame(
        {
            "day": pd.to_datetime(pd.Series([r[0] for r in rows], dtype="object"))
            if rows
            else pd.Series(dtype="datetime64[ns]"),
            "kind": pd.Series([r[1] for r in rows], dtype="str"),
            "customer": pd.Series([r[2] for r in rows], dtype="str"),
            # PostgreSQL sums BIGINT as NUMERIC (Decimal); every value is a whole number of micros.
            "amount_micros": pd.Series([int(r[3]) for r in rows], dtype="int64"),
        }
    )
