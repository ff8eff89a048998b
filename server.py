"""Process entry: `streamlit run server.py` serves the app, the JSON API, webhooks and the hourly sync."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import streamlit as st
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors import alerting, api_spec, notify, read_api
from connectors.files.outcomes import OutcomesRejected, parse_outcome_json
from connectors.read_api import ApiRefused, Params
from connectors.sync import sync_all
from connectors.webhooks import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    STRIPE_SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRejected,
    parse_charge_event,
    parse_stripe_event,
    too_large,
    verify_signature,
    verify_stripe_signature,
)
from core import queries
from core.api_tokens import authenticate_token, has_scope
from core.crypto import SecretBox, SecretError
from core.db import cached_engine, migration_status, session_scope, upgrade
from core.models import Connection, WebhookEvent, utcnow
from core.outcomes import load_outcome_names, upsert_outcome_counts
from core.revenue import upsert_revenue
from core.settings import PROJECT_ROOT, current_settings

log = logging.getLogger("meterr.webhooks")
api_log = logging.getLogger("meterr.api")
_MAX_ID = 2**63 - 1


async def health(request: Request) -> JSONResponse:
    """Is the database reachable, and is its schema at the newest migration?"""
    status = migration_status(cached_engine(current_settings().database_url))
    body = {
        "status": "ok" if status.up_to_date else "degraded",
        "database": "reachable" if status.reachable else "unreachable",
        "migrations": "current" if status.up_to_date else ("behind" if status.reachable else "unknown"),
        "revision": status.current,
        "head": status.head,
    }
    return JSONResponse(body, status_code=200 if status.up_to_date else 503)


# Webhooks: bodies and secrets are never logged; every answer is JSON with a plain-English `error`.


class _Duplicate(Exception):
    """This event was applied before: acknowledge it and write nothing."""


async def charge_webhook(request: Request) -> JSONResponse:
    """Charges pushed by a sender signing with its connection's secret (see connectors/webhooks.py)."""
    connection_id: int = request.path_params["connection_id"]
    headers = request.headers
    return await _answer(
        request,
        lambda body: _receive_charges(
            connection_id, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), body
        ),
        what=f"charge webhook {connection_id}",
    )


async def stripe_webhook(request: Request) -> JSONResponse:
    """Stripe events (charges, refunds, balance transactions) as revenue, for the workspace whose secret signed them."""
    signature = request.headers.get(STRIPE_SIGNATURE_HEADER)
    return await _answer(request, lambda body: _receive_stripe(signature, body), what="Stripe webhook")


async def _answer(request: Request, receive: Callable[[bytes], dict[str, Any]], *, what: str) -> JSONResponse:
    try:
        body = await _read_body(request)
        result = await run_in_threadpool(receive, body)
    except WebhookRejected as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    except _Duplicate:
        return JSONResponse({"status": "duplicate"})
    except Exception as exc:  # never a traceback to the sender; the type is enough to start looking
        log.error("%s failed: %s", what, type(exc).__name__)
        return JSONResponse(
            {"error": "meterr could not store this delivery, so nothing was applied; send it again later."},
            status_code=500,
        )
    return JSONResponse(result)


async def _read_body(request: Request) -> bytes:
    """The body, refusing more than 1 MB before reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large()
    return bytes(body)


def _secret_box() -> SecretBox:
    return current_settings().secret_box()


def _claim_event(session: Session, connection: Connection, *, source: str, event_id: str) -> None:
    """Record the event in this transaction, or raise _Duplicate when it was applied before."""
    assert connection.id is not None
    seen = session.exec(
        select(WebhookEvent.id).where(
            col(WebhookEvent.workspace_id) == connection.workspace_id,
            col(WebhookEvent.source) == source,
            col(WebhookEvent.event_id) == event_id,
        )
    ).first()
    if seen is not None:
        raise _Duplicate
    session.add(
        WebhookEvent(
            workspace_id=connection.workspace_id, connection_id=connection.id, source=source, event_id=event_id
        )
    )
    try:
        session.flush()
    except IntegrityError:  # the same event delivered twice at once: the other delivery applies it
        raise _Duplicate from None


def _receive_charges(
    connection_id: int, timestamp_header: str | None, signature_header: str | None, body: bytes
) -> dict[str, Any]:
    engine = cached_engine(current_settings().database_url)
    with session_scope(engine) as session:
        connection = session.get(Connection, connection_id) if connection_id <= _MAX_ID else None
        if connection is None or connection.method != "webhook" or connection.provider == "Stripe":
            raise WebhookRejected(404, "unknown webhook")
        assert connection.id is not None
        try:
            secret = queries.load_connection_secret(
                session, workspace_id=connection.workspace_id, connection_id=connection.id, box=_secret_box()
            )
        except (queries.NotFound, SecretError):
            log.warning("charge webhook %s: no signing secret that can be opened", connection.id)
            raise WebhookRejected(
                503, "This webhook has no usable signing secret; a workspace admin must set it again in meterr."
            ) from None
        verify_signature(
            secret, timestamp_header=timestamp_header, signature_header=signature_header, body=body, now=time.time()
        )
        event_id, rows = parse_charge_event(
            body, received_on=dt.datetime.now(dt.UTC).date(), connection_id=connection.id
        )
        # Event ids are the sender's own: scoped to the connection so two senders cannot collide.
        _claim_event(session, connection, source="charges", event_id=f"{connection.id}:{event_id}")
        queries.allocator_for(session, workspace_id=connection.workspace_id)(rows)
        queries.upsert_charges(session, workspace_id=connection.workspace_id, rows=rows)
        connection.last_synced_at = utcnow()
        session.add(connection)
    return {"status": "ok", "charges": len(rows)}


def _stripe_secrets(session: Session, connections: list[Connection]) -> Iterator[tuple[Connection, str]]:
    box = _secret_box()
    for connection in connections:
        assert connection.id is not None
        try:
            yield (
                connection,
                queries.load_connection_secret(
                    session, workspace_id=connection.workspace_id, connection_id=connection.id, box=box
                ),
            )
        except (queries.NotFound, SecretError):
            log.warning("Stripe webhook connection %s: no signing secret that can be opened", connection.id)


def _receive_stripe(signature_header: str | None, body: bytes) -> dict[str, Any]:
    engine = cached_engine(current_settings().database_url)
    with session_scope(engine) as session:
        connections = list(
            session.exec(
                select(Connection)
                .where(col(Connection.provider) == "Stripe", col(Connection.method) == "webhook")
                .order_by(col(Connection.id))
            )
        )
        connection = verify_stripe_signature(
            _stripe_secrets(session, connections), signature_header=signature_header, body=body, now=time.time()
        )
        event = parse_stripe_event(body)
        if not event.rows and not event.skipped:
            return {"status": "ignored", "reason": f"this {event.event_type} event carries no revenue for meterr"}
        _claim_event(session, connection, source="stripe", event_id=event.event_id)
        upsert_revenue(session, workspace_id=connection.workspace_id, rows=event.rows, connection_id=connection.id)
        connection.last_synced_at = utcnow()
        session.add(connection)
    answer: dict[str, Any] = {"status": "ok", "revenue": len(event.rows)}
    if event.skipped:
        answer["skipped"] = event.skipped
    return answer


# The JSON API: the bearer token alone decides the workspace. Tokens and bodies are never logged.

_UNAUTHORISED = (
    "A valid API token is required: send the header 'Authorization: Bearer mtr_...' with a token created in "
    "meterr under Settings, API tokens."
)
_OUTCOMES_TOO_LARGE = "The body is larger than 1 MB; send fewer outcomes per request."


async def outcomes_api(request: Request) -> JSONResponse:
    """Daily outcome counts for the token's workspace; a day sent again replaces its count, so retries are safe."""
    authorization = request.headers.get("authorization")
    try:
        body = await _read_body(request)
        result = await run_in_threadpool(_receive_outcomes, authorization, body)
    except WebhookRejected as exc:  # from _read_body: the body is too large
        message = _OUTCOMES_TOO_LARGE if exc.status == 413 else exc.message
        return JSONResponse({"error": message}, status_code=exc.status)
    except OutcomesRejected as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)
    except Exception as exc:  # never a traceback to the sender; the type is enough to start looking
        api_log.error("outcomes API failed: %s", type(exc).__name__)
        return JSONResponse(
            {"error": "meterr could not store these outcomes, so nothing was applied; send them again later."},
            status_code=500,
        )
    return JSONResponse(result)


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _receive_outcomes(authorization: str | None, body: bytes) -> dict[str, Any]:
    engine = cached_engine(current_settings().database_url)
    with session_scope(engine) as session:
        token = authenticate_token(session, _bearer(authorization))
        if token is None:  # missing, malformed, unknown and revoked all answer alike
            raise OutcomesRejected(401, _UNAUTHORISED)
        if not has_scope(token, "outcomes:write"):
            raise OutcomesRejected(
                403, "This token may not write outcomes; create a token with the outcomes:write scope."
            )
        workspace_id = token.workspace_id
        rows = parse_outcome_json(
            body,
            definitions=load_outcome_names(session, workspace_id=workspace_id),
            today=dt.datetime.now(dt.UTC).date(),
        )
        result = upsert_outcome_counts(session, workspace_id=workspace_id, rows=rows)
        queries.save_audit(
            session, workspace_id=workspace_id, user_id=None, action="outcomes.api_write", token_id=token.id,
            token_name=token.name, rows=len(rows), written=result.written, replaced=result.replaced,
            unchanged=result.unchanged,
        )  # fmt: skip
    return {"status": "ok", "written": result.written, "replaced": result.replaced}


# Reads: the token alone decides the workspace. Authenticated in a short transaction of its own (it records the
# token's last use), so the read after it, which may forecast for a second, holds no write lock.

_FORBIDDEN_READ = (
    "This token may not read spend, budgets or forecasts; create a token with the spend:read scope in meterr under "
    "Settings, API tokens."
)
_READ_FAILED = "meterr could not read these numbers just now; nothing is wrong with the request, try again later."
# Each /api/v1 path and its methods (GET answers HEAD too), for the 405s of the catch-all below.
_API_METHODS = {
    path: tuple(method for op in operations for method in ((op.upper(), "HEAD") if op == "get" else (op.upper(),)))
    for path, operations in api_spec.build_openapi()["paths"].items()
}
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_Read = Callable[[Session, int, Params, dt.date], dict[str, Any]]


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _reader_workspace(authorization: str | None) -> int:
    """The workspace of a live token with the spend:read scope; ApiRefused (401/403) otherwise."""
    engine = cached_engine(current_settings().database_url)
    with session_scope(engine) as session:
        token = authenticate_token(session, _bearer(authorization))
        if token is None:  # missing, malformed, unknown and revoked all answer alike
            raise ApiRefused(401, _UNAUTHORISED)
        if not has_scope(token, "spend:read"):
            raise ApiRefused(403, _FORBIDDEN_READ)
        return token.workspace_id


def _read(authorization: str | None, params: Params, today: dt.date, read: _Read) -> dict[str, Any]:
    workspace_id = _reader_workspace(authorization)
    with session_scope(cached_engine(current_settings().database_url)) as session:
        return read(session, workspace_id, params, today)


async def _read_answer(request: Request, read: _Read) -> JSONResponse:
    """Authenticate, then run `read(session, workspace_id, params, today)` off the event loop and answer JSON."""
    authorization = request.headers.get("authorization")
    params = list(request.query_params.multi_items())
    try:
        body = await run_in_threadpool(_read, authorization, params, _utc_today(), read)
    except ApiRefused as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)
    except Exception as exc:  # never a traceback to the caller; the type is enough to start looking
        api_log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"error": _READ_FAILED}, status_code=500)
    return JSONResponse(body)


def _spend(session: Session, workspace_id: int, params: Params, today: dt.date) -> dict[str, Any]:
    query = read_api.parse_spend_query(params, today=today)
    return read_api.load_spend_json(session, workspace_id=workspace_id, query=query)


def _budgets(session: Session, workspace_id: int, params: Params, today: dt.date) -> dict[str, Any]:
    read_api.parse_no_params(params, path="/api/v1/budgets")
    return read_api.load_budgets_json(session, workspace_id=workspace_id, today=today)


def _forecast(session: Session, workspace_id: int, params: Params, today: dt.date) -> dict[str, Any]:
    scope = read_api.parse_forecast_scope(params)
    return read_api.load_forecast_json(session, workspace_id=workspace_id, today=today, scope=scope)


def _summary(session: Session, workspace_id: int, params: Params, today: dt.date) -> dict[str, Any]:
    period = read_api.parse_period(params, today=today)
    return read_api.load_summary_json(session, workspace_id=workspace_id, today=today, period=period)


async def spend_api(request: Request) -> JSONResponse:
    """Spend per day or month, optionally by provider, model, department, project or customer."""
    return await _read_answer(request, _spend)


async def budgets_api(request: Request) -> JSONResponse:
    """Every budget this month with its projection, state and exceed date."""
    return await _read_answer(request, _budgets)


async def forecast_api(request: Request) -> JSONResponse:
    """The month-end forecast with its ranges and the months after, for the workspace or one scope."""
    return await _read_answer(request, _forecast)


async def summary_api(request: Request) -> JSONResponse:
    """A month's headline numbers."""
    return await _read_answer(request, _summary)


async def openapi_document(request: Request) -> JSONResponse:
    """The OpenAPI 3.1 document of /api/v1; public, it holds no workspace's data."""
    return JSONResponse(api_spec.build_openapi())


async def api_not_found(request: Request) -> JSONResponse:
    """Anything else under /api/v1 answers JSON, never the app's HTML page."""
    path = request.url.path.rstrip("/") or "/"
    methods = _API_METHODS.get(path)
    if methods is not None:
        return JSONResponse(
            {"error": f"{path} answers {' and '.join(m for m in methods if m != 'HEAD')} only."},
            status_code=405,
            headers={"Allow": ", ".join(methods)},
        )
    return JSONResponse(
        {"error": "There is no such endpoint; the API's endpoints are described at /api/v1/openapi.json."},
        status_code=404,
    )


def _sync_if_leader(holder: str, interval: dt.timedelta) -> int:
    """Run the scheduled sync when this replica holds (or takes) the lease; returns connections synced."""
    settings = current_settings()
    engine = cached_engine(settings.database_url)
    now = utcnow()
    with session_scope(engine) as session:
        if not queries.acquire_lease(session, name="sync", holder=holder, ttl=interval, now=now):
            return 0
    with httpx.Client(timeout=60) as client:
        results = sync_all(
            engine, client=client, box=settings.secret_box(), today=now.date(), base_url_for=settings.api_base
        )
    for result in results:
        if not result.ok:
            log.warning("scheduled sync of connection %s failed: %s", result.connection_id, result.message)
    return len(results)


def _alerts_run(holder: str, interval: dt.timedelta) -> int:
    """Evaluate every workspace (when this replica holds the lease) and send due deliveries (always: each
    delivery is claimed row by row, so replicas share the sending without sending anything twice)."""
    settings = current_settings()
    engine = cached_engine(settings.database_url)
    now = utcnow()
    with session_scope(engine) as session:
        leader = queries.acquire_lease(session, name="alerts", holder=holder, ttl=interval, now=now)
    with httpx.Client(timeout=30) as client:
        fired = 0
        if leader:
            runs, report = alerting.run_all_workspaces(
                engine, settings.secret_box(), client=client, today=now.date(), now=now, base_url=settings.base_url
            )
            fired = sum(len(run.fired) for run in runs)
        else:
            report = notify.deliver_due(
                lambda: session_scope(engine), settings.secret_box(), client=client, now=now, base_url=settings.base_url
            )
    if report.failed or report.retrying:
        log.warning("alert deliveries: %s sent, %s to retry, %s failed", report.sent, report.retrying, report.failed)
    return fired


def _reports_run(holder: str, interval: dt.timedelta) -> int:
    """Send the weekly reports that are due; returns how many went out. Every replica looks (no lease): each
    (workspace, week) row is claimed by exactly one of them, which builds and sends that report."""
    from connectors import llm, report_mail  # the report stack (PDF, charts, LLM client) loads only when used

    settings = current_settings()
    engine = cached_engine(settings.database_url)
    with httpx.Client(timeout=60) as client:
        outcomes = report_mail.send_due_reports(
            lambda: session_scope(engine), settings.secret_box(), now=utcnow(), base_url=settings.base_url,
            llm=llm.llm_config(settings), http_client=client,
        )  # fmt: skip
    return sum(1 for outcome in outcomes if outcome.status == "sent")  # failures are logged where they happen


async def _every(minutes: int, job: Callable[[str, dt.timedelta], int], name: str) -> None:
    holder = f"{socket.gethostname()}:{os.getpid()}"
    interval = dt.timedelta(minutes=minutes)
    await asyncio.sleep(30)  # let the server finish starting first
    while True:
        try:
            await run_in_threadpool(job, holder, interval)
        except Exception:  # the scheduler must outlive any one failure; the next run tries again
            log.exception("scheduled %s failed", name)
        await asyncio.sleep(interval.total_seconds())


def _warm_up() -> None:
    """Import statsmodels' ETS (~1.5 s) before anyone opens the Forecast page, so its first view only forecasts."""
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    settings = current_settings()
    upgrade(cached_engine(settings.database_url))
    tasks = [asyncio.create_task(run_in_threadpool(_warm_up))]
    if settings.sync_interval_minutes:
        tasks.append(asyncio.create_task(_every(settings.sync_interval_minutes, _sync_if_leader, "sync")))
    if settings.alert_interval_minutes:
        tasks.append(asyncio.create_task(_every(settings.alert_interval_minutes, _alerts_run, "alert run")))
    if settings.report_interval_minutes:
        tasks.append(asyncio.create_task(_every(settings.report_interval_minutes, _reports_run, "weekly reports")))
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


app = st.App(
    str(PROJECT_ROOT / "Home.py"),
    routes=[
        Route("/api/health", health, methods=["GET"]),
        Route("/api/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route("/api/webhooks/{connection_id:int}", charge_webhook, methods=["POST"]),
        Route("/api/v1/outcomes", outcomes_api, methods=["POST"]),
        Route("/api/v1/spend", spend_api, methods=["GET"]),
        Route("/api/v1/budgets", budgets_api, methods=["GET"]),
        Route("/api/v1/forecast", forecast_api, methods=["GET"]),
        Route("/api/v1/summary", summary_api, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi_document, methods=["GET"]),
        # Last: whatever else is under /api/v1 (an unknown path, or a known one with another method).
        Route("/api/v1", api_not_found, methods=_ANY_METHOD),
        Route("/api/v1/{rest:path}", api_not_found, methods=_ANY_METHOD),
    ],
    lifespan=lifespan,
)
