"""Connecting data from the UI: each action checks the role in the database, does the work, and audits.

Keys never go into session state or logs: a key typed into the wizard is handed straight to the connector
(and sealed, when the person chose to store it).
"""

from __future__ import annotations

import datetime as dt
import secrets as token_source
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import httpx

from connectors import catalog
from connectors.files.generic import ColumnMapping
from connectors.http import ConnectorError
from connectors.imports import ImportResult, Preview, import_file, preview_file
from connectors.sync import Progress, SyncResult, build_source, sync_connection
from core import price_overrides, queries
from core.crypto import hint
from core.money import format_usd
from core.pricing import workspace_pricer
from ui.context import Context, require_role
from ui.db import get_engine, get_settings, open_session

HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class ConnectionRow:
    id: int
    name: str
    provider: str
    method: str
    status: str
    last_synced: dt.datetime | None
    last_error: str | None
    key_hint: str | None
    charges: int
    total: str


def load_connection_rows(context: Context) -> list[ConnectionRow]:
    with open_session() as session:
        connections = queries.load_connections(session, workspace_id=context.workspace_id)
        stats = queries.load_connection_stats(session, workspace_id=context.workspace_id)
        rows = []
        for c in connections:
            assert c.id is not None
            count, micros = stats.get(c.id, (0, 0))
            rows.append(
                ConnectionRow(
                    id=c.id,
                    name=c.name,
                    provider=c.provider,
                    method=c.method,
                    status=c.status,
                    last_synced=c.last_synced_at,
                    last_error=c.last_error,
                    key_hint=c.secret_hint,
                    charges=count,
                    total=format_usd(micros),
                )  # fmt: skip
            )
    return rows


def _connection_for_files(context: Context, source_id: str) -> int:
    """One file connection per source and workspace, so the list shows where the imports came from."""
    source = catalog.source(source_id)
    with open_session() as session:
        for connection in queries.load_connections(session, workspace_id=context.workspace_id):
            if connection.method == catalog.FILE and connection.provider == source.label:
                assert connection.id is not None
                return connection.id
        created = queries.create_connection(
            session, workspace_id=context.workspace_id, provider=source.label, method=catalog.FILE,
            name=f"{source.label} exports",
        )  # fmt: skip
        assert created.id is not None
        return created.id


def preview_upload(
    context: Context, *, name: str, data: bytes, format: str | None, mapping: ColumnMapping | None,
    skip_bad_rows: bool, rates: Mapping[str, Decimal],
) -> Preview:  # fmt: skip
    """The import's preview, priced as the import will be: at the workspace's negotiated rates where it has any."""
    with open_session() as session:
        pricer = workspace_pricer(price_overrides.load_price_overrides(session, workspace_id=context.workspace_id))
    return preview_file(
        name=name, data=data, format=format, mapping=mapping, skip_bad_rows=skip_bad_rows, rates=rates, pricer=pricer
    )


def import_upload(
    context: Context, *, source_id: str, name: str, data: bytes, format: str | None, mapping: ColumnMapping | None,
    skip_bad_rows: bool, rates: Mapping[str, Decimal],
) -> ImportResult:  # fmt: skip
    """Import one uploaded file, all or nothing, recorded against the source's file connection."""
    require_role(context, "admin")
    connection_id = _connection_for_files(context, source_id)
    with open_session() as session:
        result = import_file(
            session, workspace_id=context.workspace_id, name=name, data=data, format=format, mapping=mapping,
            skip_bad_rows=skip_bad_rows, rates=rates, connection_id=connection_id,
        )  # fmt: skip
        connection = queries.load_connection(session, workspace_id=context.workspace_id, connection_id=connection_id)
        queries.save_sync_state(session, connection=connection, cursor=None, error=None, when=dt.datetime.now(dt.UTC))
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="data.imported",
            filename=name[:120], format=result.format, total_usd=result.total_usd,
        )  # fmt: skip
    return result


def _client() -> httpx.Client:
    return httpx.Client(timeout=HTTP_TIMEOUT)


def test_key(source_id: str, key: str) -> str:
    """Try the key against the provider; a confirmation sentence, or ConnectorError in plain English."""
    provider = catalog.PROVIDER_OF[source_id]
    key = key.strip()
    if not key:
        raise ConnectorError("Paste the key first.", kind="auth")
    with _client() as client:
        source = build_source(provider, secret=key, client=client, base_url=get_settings().api_base(provider))
        return str(source.test_connection())


def create_api_connection(context: Context, *, source_id: str, key: str, store: bool) -> int:
    """A new API connection; the key is sealed when `store`, else kept nowhere (the caller uses it once)."""
    require_role(context, "admin")
    source = catalog.source(source_id)
    provider = catalog.PROVIDER_OF[source_id]
    with open_session() as session:
        connection = queries.create_connection(
            session, workspace_id=context.workspace_id, provider=provider, method=catalog.API_KEY,
            name=f"{source.label} ({'key ' + hint(key) if store else 'used once'})",
        )  # fmt: skip
        if store:
            queries.save_connection_secret(session, connection=connection, secret=key.strip(), box=_box())
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="connection.created",
            provider=provider, method=catalog.API_KEY, stored=store,
        )  # fmt: skip
        assert connection.id is not None
        return connection.id


def _box():  # type: ignore[no-untyped-def]
    return get_settings().secret_box()


def run_sync(
    context: Context, *, connection_id: int, key: str | None = None, days: int = 90, progress: Progress | None = None
) -> SyncResult:
    """Backfill or sync one API connection (a use-once `key` is passed straight through)."""
    require_role(context, "admin")
    with open_session() as session:
        provider = queries.load_connection(
            session, workspace_id=context.workspace_id, connection_id=connection_id
        ).provider
    with _client() as client:
        result = sync_connection(
            get_engine(), workspace_id=context.workspace_id, connection_id=connection_id, client=client,
            today=dt.datetime.now(dt.UTC).date(), box=_box(), secret=key.strip() if key else None,
            base_url=get_settings().api_base(provider), backfill_days=days, progress=progress,
        )  # fmt: skip
    with open_session() as session:
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="connection.synced",
            connection_id=connection_id, ok=result.ok,
        )  # fmt: skip
    return result


def create_webhook_connection(context: Context, *, source_id: str) -> tuple[int, str]:
    """A webhook connection with a fresh signing secret, returned once so the person can copy it."""
    require_role(context, "admin")
    source = catalog.source(source_id)
    provider = "Stripe" if source_id == "stripe" else "Webhook"
    secret = token_source.token_urlsafe(32) if provider != "Stripe" else ""
    with open_session() as session:
        connection = queries.create_connection(
            session, workspace_id=context.workspace_id, provider=provider, method=catalog.WEBHOOK,
            name=f"{source.label} webhook",
        )  # fmt: skip
        if secret:
            queries.save_connection_secret(session, connection=connection, secret=secret, box=_box())
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="connection.created",
            provider=provider, method=catalog.WEBHOOK,
        )  # fmt: skip
        assert connection.id is not None
        return connection.id, secret


def save_stripe_signing_secret(context: Context, *, connection_id: int, secret: str) -> None:
    """Stripe issues the endpoint's signing secret (whsec_...); we store it sealed."""
    require_role(context, "admin")
    if not secret.strip().startswith("whsec_"):
        raise ConnectorError(
            "A Stripe signing secret starts with whsec_; copy it from the endpoint's page.", kind="auth"
        )
    with open_session() as session:
        connection = queries.load_connection(session, workspace_id=context.workspace_id, connection_id=connection_id)
        queries.save_connection_secret(session, connection=connection, secret=secret.strip(), box=_box())


def remove_connection(context: Context, *, connection_id: int) -> None:
    require_role(context, "admin")
    with open_session() as session:
        connection = queries.remove_connection(session, workspace_id=context.workspace_id, connection_id=connection_id)
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="connection.removed",
            name=connection.name,
        )  # fmt: skip


def edit_connection(context: Context, *, connection_id: int, name: str, new_key: str = "") -> None:
    """Rename a connection, and (API keys) replace its stored key; the new key is tested by the next sync."""
    require_role(context, "admin")
    name = name.strip()
    if not name or len(name) > 120:
        raise ConnectorError("Give the connection a name (up to 120 characters).", kind="bad_request")
    with open_session() as session:
        connection = queries.load_connection(session, workspace_id=context.workspace_id, connection_id=connection_id)
        connection.name = name
        if new_key.strip():
            if connection.method != catalog.API_KEY:
                raise ConnectorError("Only API connections have a key to replace.", kind="bad_request")
            queries.save_connection_secret(session, connection=connection, secret=new_key.strip(), box=_box())
            connection.status, connection.last_error = "active", None
        session.add(connection)
        queries.save_audit(
            session, workspace_id=context.workspace_id, user_id=context.user_id, action="connection.edited",
            connection_id=connection_id, key_replaced=bool(new_key.strip()),
        )  # fmt: skip
