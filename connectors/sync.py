"""The sync runner: pull each API connection's recent days, upsert them, and move its cursor after commit.

Providers revise recent days, so every sync re-reads a trailing window before the cursor; upserts replace
revised amounts and skip identical ones, so a re-run never duplicates. A backfill is split into windows so a
person sees progress and can stop it; each window commits on its own, with the cursor, so a stopped backfill
keeps what it finished and the next sync carries on from there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import stripe
from sqlalchemy import Engine

from connectors.anthropic_costs import AnthropicCosts
from connectors.http import ConnectorError
from connectors.openai_costs import OpenAICosts
from connectors.stripe_revenue import StripeRevenue
from core import queries
from core.crypto import SecretBox, SecretError
from core.db import session_scope
from core.money import decimal_string
from core.revenue import upsert_revenue

log = logging.getLogger(__name__)
BACKFILL_DAYS = 90
TRAILING_DAYS = 7  # providers finalise the last few days late; re-read them every time
WINDOW_DAYS = 30
Progress = Callable[[float, str], None]


class SpendSource(Protocol):
    def test_connection(self) -> str: ...
    def fetch_charges(self, *, start: dt.date, end: dt.date) -> Iterator[dict[str, Any]]: ...


class RevenueSource(Protocol):
    def test_connection(self) -> str: ...
    def fetch_revenue(self, *, start: dt.date, end: dt.date) -> Iterator[dict[str, Any]]: ...


def build_source(provider: str, *, secret: str, client: httpx.Client, base_url: str | None = None) -> Any:
    """The connector for a provider, handed its key and HTTP client (tests hand in fakes and local servers)."""
    if provider == "OpenAI":
        return OpenAICosts(client, secret, base_url or "https://api.openai.com")
    if provider == "Anthropic":
        return AnthropicCosts(client, secret, base_url or "https://api.anthropic.com")
    if provider == "Stripe":
        if base_url:
            return StripeRevenue(stripe.StripeClient(secret, base_addresses={"api": base_url}, max_network_retries=2))
        return StripeRevenue(stripe.StripeClient(secret, max_network_retries=2))
    raise ConnectorError(
        f"meterr cannot sync {provider} over an API; import its export files instead.", kind="bad_request"
    )


@dataclass
class SyncResult:
    connection_id: int
    name: str
    provider: str
    ok: bool
    message: str
    charges_written: int = 0
    revised: int = 0
    duplicates: int = 0
    total_micros: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    windows_done: int = 0
    windows: int = 0

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1 if self.first_day and self.last_day else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id, "name": self.name, "provider": self.provider, "ok": self.ok,
            "message": self.message, "charges_written": self.charges_written, "revised": self.revised,
            "duplicates": self.duplicates, "total_usd": decimal_string(self.total_micros),
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
        }  # fmt: skip


def sync_window(cursor: str | None, *, today: dt.date, backfill_days: int = BACKFILL_DAYS) -> tuple[dt.date, dt.date]:
    """The days to read: a backfill when never synced, else from a week before the cursor up to today."""
    if cursor:
        start = dt.date.fromisoformat(cursor) - dt.timedelta(days=TRAILING_DAYS)
    else:
        start = today - dt.timedelta(days=backfill_days - 1)
    return start, today


def windows(start: dt.date, end: dt.date, size: int = WINDOW_DAYS) -> list[tuple[dt.date, dt.date]]:
    out = []
    while start <= end:
        stop = min(end, start + dt.timedelta(days=size - 1))
        out.append((start, stop))
        start = stop + dt.timedelta(days=1)
    return out


def sync_connection(
    engine: Engine,
    *,
    workspace_id: int,
    connection_id: int,
    client: httpx.Client,
    today: dt.date,
    box: SecretBox | None = None,
    secret: str | None = None,
    base_url: str | None = None,
    backfill_days: int = BACKFILL_DAYS,
    progress: Progress | None = None,
) -> SyncResult:
    """Sync one API connection. `secret` is a use-once key; otherwise the stored one is opened with `box`."""
    with session_scope(engine) as session:
        connection = queries.load_connection(session, workspace_id=workspace_id, connection_id=connection_id)
        provider, name, cursor = connection.provider, connection.name, connection.cursor
        if connection.method != "api_key":
            raise ConnectorError(f"'{name}' is not an API connection; nothing to sync.", kind="bad_request")
        if secret is None:
            if box is None or not connection.secret_ciphertext:
                raise ConnectorError(
                    f"'{name}' has no stored key (it was used once). Enter the key again to sync.", kind="auth"
                )
            try:
                secret = queries.load_connection_secret(
                    session, workspace_id=workspace_id, connection_id=connection_id, box=box
                )
            except SecretError as exc:
                raise ConnectorError(str(exc).capitalize() + ".", kind="auth") from exc
    result = SyncResult(connection_id=connection_id, name=name, provider=provider, ok=True, message="")
    start, end = sync_window(cursor, today=today, backfill_days=backfill_days)
    parts = windows(start, end)
    result.windows = len(parts)
    try:
        source = build_source(provider, secret=secret, client=client, base_url=base_url)
        for number, (low, high) in enumerate(parts, start=1):
            if progress:
                progress((number - 1) / len(parts), f"Reading {provider} {low:%d %b %Y} – {high:%d %b %Y}…")
            _sync_part(engine, source, result, workspace_id=workspace_id, connection_id=connection_id, days=(low, high))
            result.windows_done = number
    except ConnectorError as problem:
        result.ok = False
        result.message = str(problem)
        with session_scope(engine) as session:
            connection = queries.load_connection(session, workspace_id=workspace_id, connection_id=connection_id)
            queries.save_sync_state(session, connection=connection, cursor=None, error=str(problem), when=_now())
        return result
    if progress:
        progress(1.0, "Done.")
    result.message = _summary(result)
    return result


def _sync_part(
    engine: Engine,
    source: Any,
    result: SyncResult,
    *,
    workspace_id: int,
    connection_id: int,
    days: tuple[dt.date, dt.date],
) -> None:
    low, high = days
    revenue = hasattr(source, "fetch_revenue")
    # Read the whole window before opening a transaction: a failure part-way writes nothing for it.
    rows = list(source.fetch_revenue(start=low, end=high) if revenue else source.fetch_charges(start=low, end=high))
    with session_scope(engine) as session:
        connection = queries.load_connection(session, workspace_id=workspace_id, connection_id=connection_id)
        if revenue:
            counts = upsert_revenue(session, workspace_id=workspace_id, rows=rows, connection_id=connection_id)
            written, revised, duplicates = counts.written, counts.revised, counts.duplicates
        else:
            queries.allocator_for(session, workspace_id=workspace_id)(rows)
            batch = queries.create_import(
                session, workspace_id=workspace_id, source=source.name, connection_id=connection_id
            )
            upserted = queries.upsert_charges(session, workspace_id=workspace_id, rows=rows, import_id=batch.id)
            queries.finish_import(
                session, batch=batch, result=upserted, rows_read=len(rows),
                total_micros=sum(int(r["amount_micros"]) for r in rows), first_day=low, last_day=high,
            )  # fmt: skip
            written, revised, duplicates = upserted.written, upserted.revised, upserted.duplicates
        # The cursor is the last whole day read; it commits with the data or not at all.
        queries.save_sync_state(session, connection=connection, cursor=high.isoformat(), error=None, when=_now())
    result.charges_written += written
    result.revised += revised
    result.duplicates += duplicates
    result.total_micros += sum(int(r["amount_micros"]) for r in rows)
    if rows:
        first, last = min(r["day"] for r in rows), max(r["day"] for r in rows)
        result.first_day = first if result.first_day is None else min(result.first_day, first)
        result.last_day = last if result.last_day is None else max(result.last_day, last)


def _summary(result: SyncResult) -> str:
    from core.money import format_usd

    if not result.days:
        return f"{result.name}: connected, but there was no spend in the period read."
    noun = "revenue" if result.provider == "Stripe" else "spend"
    days = f"{result.days} day{'s' if result.days != 1 else ''}"
    return f"Imported {format_usd(result.total_micros)} of {noun} across {days} from {result.provider}."


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sync_all(
    engine: Engine,
    *,
    client: httpx.Client,
    box: SecretBox,
    today: dt.date,
    base_url_for: Callable[[str], str | None] = lambda provider: None,
    workspace_id: int | None = None,
    connection_id: int | None = None,
) -> list[SyncResult]:
    """Sync every stored-key API connection (of one workspace, or one connection); one failure stops no other."""
    with session_scope(engine) as session:
        targets = queries.load_syncable_connections(session, workspace_id=workspace_id, connection_id=connection_id)
    results = []
    for ws_id, conn_id, provider in targets:
        try:
            results.append(
                sync_connection(
                    engine,
                    workspace_id=ws_id,
                    connection_id=conn_id,
                    client=client,
                    today=today,
                    box=box,
                    base_url=base_url_for(provider),
                )  # fmt: skip
            )
        except ConnectorError as problem:
            results.append(SyncResult(conn_id, "", provider, ok=False, message=str(problem)))
    return results
